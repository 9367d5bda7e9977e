#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier report --results on the fixture results (a kvtier matrix output of the builtin stack:
# one row, B1/B2/B2p, their compare documents): the pack's files, the engine banner, the
# headline from the compare documents, every number linked to an existing bundle file, the
# rollups, the figures; then bad input: a missing folder, a folder without bundles, a malformed
# bundle file (exit 2 naming it, nothing written, no temporary folder left), an --out that is
# not a pack, and bundles of two engines (refused by report and by compare unless asked for).
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_FIXTURES:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-report.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
RES="$WORK/results"
cp -r "$KVTIER_FIXTURES/pack/results" "$RES"
PACK="$WORK/evidence"

"$KVTIER" report --results "$RES" --out "$PACK" >"$WORK/out" 2>"$WORK/err" ||
  fail "report: $(cat "$WORK/err")"
for f in index.html TECHBRIEF_EVIDENCE.md METHOD.md pack.json RESULTS/bundles.csv \
  RESULTS/bundles.json RESULTS/rollups.csv RESULTS/rollups.json; do
  [ -s "$PACK/$f" ] || fail "missing $f"
done
[ -d "$PACK/RESULTS/results/rows" ] || fail "RESULTS/results does not lead to the results"
grep -q "^engine: emulated" "$WORK/out" || fail "engine line: $(cat "$WORK/out")"
grep -q "^index: $PACK/index.html" "$WORK/out" || fail "index line"
grep -q "EMULATED ENGINE" "$PACK/TECHBRIEF_EVIDENCE.md" || fail "no engine banner in the brief"
grep -q 'class="banner emulated"' "$PACK/index.html" || fail "no emulated banner in index.html"
grep -q "B2p vs B1" "$PACK/TECHBRIEF_EVIDENCE.md" || fail "headline table lacks B2p vs B1"
for s in "### 1. Mechanism" "### 2. OS corroboration" "### 3. User-visible impact" \
  "### 4. Repeatability" "### Regimes" "### Not decision-grade, and why" "## Figures"; do
  grep -q "^$s" "$PACK/TECHBRIEF_EVIDENCE.md" || fail "the brief lacks '$s'"
done
grep -q "waiting on \`kvtier slo\`" "$PACK/TECHBRIEF_EVIDENCE.md" || fail "waiting rows not said"
grep -q "^## Controls per mode" "$PACK/METHOD.md" || fail "METHOD.md lacks the controls"
grep -q "kvtier.*bundle.*--mode B1,B2,B2p" "$PACK/METHOD.md" || fail "METHOD.md lacks the commands"
python3 - "$PACK" <<'PY' || fail "pack contents"
import csv, json, os, re, sys
pack = sys.argv[1]
md = open(os.path.join(pack, "TECHBRIEF_EVIDENCE.md")).read()
links = re.findall(r"\]\(([^)]+)\)", md)
assert len(links) > 100, len(links)
for l in links:
    p = os.path.normpath(os.path.join(pack, l))
    assert os.path.exists(p), "broken link " + l
# numbers link to bundle files
assert re.search(r"\[\d+(\.\d+)?\]\([^)]*/B2p/r01/summary\.json\)", md)
assert re.search(r"\[\d+\]\([^)]*metrics_delta/phase_replay_kvbm_metrics_delta\.json\)", md)
rows = list(csv.DictReader(open(os.path.join(pack, "RESULTS/bundles.csv"))))
assert len(rows) == 3 and {r["mode"] for r in rows} == {"B1", "B2", "B2p"}
assert all(r["engine"] == "emulated" for r in rows)
roll = json.load(open(os.path.join(pack, "RESULTS/rollups.json")))["rollups"]
assert len(roll) == 3 and all(r["bundles"] == 1 for r in roll)
pj = json.load(open(os.path.join(pack, "pack.json")))
assert pj["engine"]["kind"] == "emulated" and pj["bundles"] == 3 and pj["records"] == 90
figs = {f["name"]: f for f in pj["figures"]}
assert len(figs) == 5
for n in ("fig1_ttft_vs_concurrency", "fig3_kvbm_timeline", "fig4_iostat_timeline",
          "fig5_await_vs_ttft"):
    assert figs[n]["drawn"], n
    for ext in ("dat", "gp"):
        assert os.path.getsize(os.path.join(pack, "FIGURES", n + "." + ext)) > 0, n
    if figs[n]["rendered"]:
        for ext in ("png", "svg"):
            assert os.path.getsize(os.path.join(pack, "FIGURES", n + "." + ext)) > 0, n
assert not figs["fig2_max_concurrency_slo"]["drawn"]
assert "slo.json" in figs["fig2_max_concurrency_slo"]["why_not"]
assert "r = " in figs["fig5_await_vs_ttft"]["caption"]
PY
ok "pack: files, banner, headline, linked numbers, rollups, figures"

# a second run replaces the pack in place
"$KVTIER" report --results "$RES" --out "$PACK" >/dev/null 2>&1 || fail "second report"
[ -z "$(ls -d "$WORK"/evidence.* 2>/dev/null)" ] || fail "temporary folders left behind"
ok "a previous pack is replaced, no temporary folder left"

# bad input: exit 2, the path named, nothing written
expect2() { # NAME WANT ARGS...
  local name=$1 want=$2
  shift 2
  local rc=0
  "$KVTIER" report "$@" >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
  [ "$rc" -eq 2 ] || fail "$name: exit $rc, want 2: $(cat "$WORK/bad.err")"
  grep -q -- "$want" "$WORK/bad.err" || fail "$name: message lacks '$want': $(cat "$WORK/bad.err")"
}
expect2 "missing folder" "$WORK/nope" --results "$WORK/nope" --out "$WORK/p1"
mkdir "$WORK/empty"
expect2 "no bundles" "$WORK/empty.*no run bundle" --results "$WORK/empty" --out "$WORK/p2"
BAD="$WORK/badres"
cp -r "$RES" "$BAD"
SUM=$(ls "$BAD"/rows/*/*/B2/r01/summary.json)
echo '{"phases": ' >"$SUM"
expect2 "malformed summary" "$SUM" --results "$BAD" --out "$WORK/p3"
[ ! -e "$WORK/p3" ] || fail "a pack was written from a malformed bundle"
[ -z "$(ls -d "$WORK"/p3.* 2>/dev/null)" ] || fail "temporary folder left after an error"
REC=$(ls "$RES"/rows/*/*/B1/r01/raw/records.jsonl)
cp -r "$RES" "$WORK/badrec"
REC2=$(ls "$WORK"/badrec/rows/*/*/B1/r01/raw/records.jsonl)
printf '{"id": "x", \n' >>"$REC2"
expect2 "malformed record" "$REC2" --results "$WORK/badrec" --out "$WORK/p4"
[ ! -e "$WORK/p4" ] || fail "a pack was written from a malformed record"
mkdir -p "$WORK/notapack" && touch "$WORK/notapack/precious.txt"
expect2 "out not a pack" "not an evidence pack" --results "$RES" --out "$WORK/notapack"
[ -e "$WORK/notapack/precious.txt" ] || fail "a folder that is not a pack was touched"
ok "bad input: exit 2 naming the path; nothing written half"

# engines are never mixed silently
MIX="$WORK/mixed"
cp -r "$RES" "$MIX"
MAN=$(ls "$MIX"/rows/*/*/B2/r01/manifest.json)
python3 - "$MAN" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["engine"] = {"kind": "real", "stack": "dynamo-trtllm", "stack_kind": "dynamo-trtllm",
               "versions": {"dynamo_version": "test"}}
json.dump(m, open(sys.argv[1], "w"))
PY
expect2 "mixed engines" "emulated engine and of a real stack" --results "$MIX" --out "$WORK/p5"
"$KVTIER" report --results "$MIX" --out "$WORK/p6" --allow-mixed-engines >/dev/null 2>&1 ||
  fail "--allow-mixed-engines refused"
grep -q 'class="banner mixed"' "$WORK/p6/index.html" || fail "mixed pack without a mixed banner"
G=$(dirname "$(dirname "$(dirname "$MAN")")")
RC=0
"$KVTIER" compare --baseline "$G/B1" --treatment "$G/B2" --out "$WORK/c.json" --quiet \
  2>"$WORK/c.err" || RC=$?
[ "$RC" -eq 2 ] || fail "compare of two engines: exit $RC, want 2"
grep -q "allow-mixed-engines" "$WORK/c.err" || fail "compare message: $(cat "$WORK/c.err")"
RC=0
"$KVTIER" compare --baseline "$G/B1" --treatment "$G/B2" --out "$WORK/c.json" --quiet \
  --allow-mixed-engines 2>/dev/null || RC=$?
[ "$RC" -eq 3 ] || fail "compare --allow-mixed-engines: exit $RC, want 3"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "ENGINE_MISMATCH" in d["reason_codes"] and d["engine"]["kind"] == "mixed"' "$WORK/c.json" ||
  fail "mixed compare not marked"
grep -q "MIXED" "$WORK/c.md" || fail "compare Markdown does not say the engines are mixed"
ok "mixed engines: refused by report and compare unless asked for, then marked"

# Style 1 / Style 2 documents (the sweep.json / slo.json contract of issue 13) are drawn
SS="$WORK/searches"
cp -r "$RES" "$SS"
mkdir -p "$SS/rows/02_sweep_tiny_A_S_B1-B2p" "$SS/rows/03_slo_tiny_A_S_B1-B2p"
cat >"$SS/rows/02_sweep_tiny_A_S_B1-B2p/sweep.json" <<'JSON'
{"schema_version": 1, "axis": "concurrency", "modes": {
 "B1": [{"value": 1, "ttft_ms": {"p95": {"value": 900, "lo": 800, "hi": 1000, "n": 60},
                                  "p99": {"value": 990, "lo": 900, "hi": 1200, "n": 60}}},
        {"value": 4, "ttft_ms": {"p95": {"value": 2900, "lo": 2500, "hi": 3300, "n": 60},
                                  "p99": {"value": 3500, "lo": 3000, "hi": 4000, "n": 60}}}],
 "B2p": [{"value": 1, "ttft_ms": {"p95": {"value": 150, "lo": 120, "hi": 180, "n": 60},
                                   "p99": {"value": 200, "lo": 150, "hi": 260, "n": 60}}},
         {"value": 4, "ttft_ms": {"p95": {"value": 400, "lo": 350, "hi": 480, "n": 60},
                                   "p99": {"value": 600, "lo": 500, "hi": 700, "n": 60}}}]}}
JSON
cat >"$SS/rows/03_slo_tiny_A_S_B1-B2p/slo.json" <<'JSON'
{"schema_version": 1, "slo": {"ttft_p95_ms": 2000, "error_rate": 0.01}, "axis": "concurrency",
 "modes": {"B1": {"max": 2, "bracket": [2, 3], "probes": []},
           "B2p": {"max": 8, "bracket": [8, null], "probes": []}},
 "comparison": {}}
JSON
"$KVTIER" report --results "$SS" --out "$WORK/pss" >/dev/null 2>"$WORK/ss.err" ||
  fail "report with searches: $(cat "$WORK/ss.err")"
python3 - "$WORK/pss" <<'PY' || fail "search figures"
import json, os, sys
pj = json.load(open(os.path.join(sys.argv[1], "pack.json")))
figs = {f["name"]: f for f in pj["figures"]}
assert figs["fig2_max_concurrency_slo"]["drawn"], figs["fig2_max_concurrency_slo"]
assert figs["fig1_ttft_vs_concurrency"]["caption"].startswith("Style 1 sweeps")
md = open(os.path.join(sys.argv[1], "TECHBRIEF_EVIDENCE.md")).read()
assert "Style 2 (largest concurrency under the SLO" in md and "B2p 8" in md
PY
echo "ok - sweep.json and slo.json: figure 1 curves, figure 2 bars, Style 2 capacity in words"
