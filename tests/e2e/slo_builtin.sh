#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier sweep and kvtier slo on the builtin stack (tiny model, workload A: replay of primed
# project prefixes; the real-time engine so disk reads and modelled recompute share one clock).
# Bad input (unknown SLO key, inverted range, zero resolution, an axis the workload cannot
# vary, bad values) exits 2 naming the problem before anything runs. The B1 sweep shows TTFT
# rising with concurrency; the SLO limit is set between B1's measured TTFT at concurrency 1 and
# 2 (a reference measured in this run, not a constant), and kvtier slo then finds a larger
# concurrency under it for B2p than for B1. A probe's estimate equals kvtier compare's reading
# of the same bundles, and a rerun reuses every finished probe. Slow (about 1.5 minutes).
source "$(dirname "$0")/bundle_lib.sh"
# the shipped profiles with workload A's answers cut to 8-16 tokens: TTFT (prefill, disk reads)
# is what is searched on, and the decode of 64-256 tokens would only lengthen every probe
PROF=$WORK/profiles
cp -r "$KVTIER_PROFILES" "$PROF"
sed -i 's/output_tokens: \[64, 256\]/output_tokens: [8, 16]/' "$PROF/workloads/A.yaml"
grep -q 'output_tokens: \[8, 16\]' "$PROF/workloads/A.yaml" || fail "workload A's output_tokens not found"
COMMON=(--profiles "$PROF" --stack "$KVTIER_FIXTURES/bundle/stacks/builtin-replay.yaml"
  --model tiny --workload A --disk-cache-dir "$DISKDIR" --interval 250ms --drop-caches no
  --max-requests 6 --repeats 1 --settle-quiet 500ms --settle-timeout 3s --steady no)

# bad input: exit 2, a message naming the key, nothing created
bad() {
  local want=$1; shift
  local rc=0
  "$KVTIER" "$@" --out "$WORK/bad" >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
  [ "$rc" -eq 2 ] || fail "$* -> exit $rc, want 2: $(cat "$WORK/bad.err")"
  grep -q -- "$want" "$WORK/bad.err" || fail "$* -> message lacks '$want': $(cat "$WORK/bad.err")"
  [ ! -e "$WORK/bad" ] || fail "$*: created $WORK/bad before failing"
}
bad ttft_p97_ms slo "${COMMON[@]}" --mode B1 --slo ttft_p97_ms=100
bad throughput_rps slo "${COMMON[@]}" --mode B1 --slo throughput_rps=3
bad inverted slo "${COMMON[@]}" --mode B1 --slo ttft_p50_ms=100 --min 8 --max 4
bad resolution slo "${COMMON[@]}" --mode B1 --slo ttft_p50_ms=100 --resolution 0
bad context slo "${COMMON[@]}" --mode B1 --slo ttft_p50_ms=100 --axis context
bad sideways sweep "${COMMON[@]}" --mode B1 --axis sideways --values 1
bad "'0'" sweep "${COMMON[@]}" --mode B1 --values 0,2
bad inverted sweep "${COMMON[@]}" --mode B1 --from 8 --to 2
bad B7 slo "${COMMON[@]}" --mode B1,B7 --slo ttft_p50_ms=100
bad "needs mode C" slo "${COMMON[@]}" --mode B1 --slo ttft_p50_ms=100 --c-levels 1MiB,1GiB
bad "--probe" slo "${COMMON[@]}" --mode C --slo ttft_p50_ms=100 --c-levels 25%,50%
bad "two levels" slo "${COMMON[@]}" --mode C --slo ttft_p50_ms=100 --c-levels 1MiB
ok "bad input: exit 2 naming the key, nothing launched"

# Style 1: the B1 curve
T0=$SECONDS
RC=0
timeout 200 "$KVTIER" sweep "${COMMON[@]}" --mode B1 --axis concurrency --values 1,2 \
  --out "$WORK/sweep" >"$WORK/sweep.out" 2>"$WORK/sweep.err" || RC=$?
[ "$RC" -eq 3 ] || fail "sweep exit $RC (want 3: one repeat): $(tail -5 "$WORK/sweep.err")"
S=$WORK/sweep/sweep.json
pyq "$S" 's["kind"] == "kvtier.sweep" and s["axis"] == "concurrency" and s["engine"] == "builtin"'
pyq "$S" '[p["value"] for p in s["modes"]["B1"]] == [1, 2] and "INSUFFICIENT_REPEATS" in s["reason_codes"]'
pyq "$S" 'all(set(p["ttft_ms"]["p95"]) >= {"value", "lo", "hi", "n"} for p in s["modes"]["B1"])'
pyq "$S" 's["modes"]["B1"][1]["ttft_ms"]["p50"]["value"] > s["modes"]["B1"][0]["ttft_ms"]["p50"]["value"]'
pyq "$S" 's["modes"]["B1"][0]["ttft_ms"]["p50"]["supported"] and not s["modes"]["B1"][0]["ttft_ms"]["p95"]["supported"]'
[ -s "$WORK/sweep/sweep.md" ] && [ -s "$WORK/sweep/sweep_ttft.gp" ] || fail "sweep.md or chart script missing"
if command -v gnuplot >/dev/null; then [ -s "$WORK/sweep/sweep_ttft.svg" ] || fail "no sweep chart"; fi
SWEEP_S=$((SECONDS - T0))
ok "sweep: B1 TTFT rises from concurrency 1 to 2 (${SWEEP_S} s)"

# Style 2: the limit just under B1's TTFT p50 at concurrency 2, measured just now (B2p replays
# from disk and ran about half of B1's TTFT at 2 on this stack; B1 at 1 is a third of it)
LIMIT=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["modes"]["B1"]
print(round(0.85 * s[1]["ttft_ms"]["p50"]["value"]))' "$S")
T0=$SECONDS
RC=0
timeout 200 "$KVTIER" slo "${COMMON[@]}" --mode B1,B2p --slo "ttft_p50_ms=$LIMIT,error_rate=0.05" \
  --axis concurrency --min 1 --max 2 --out "$WORK/slo" >"$WORK/slo.out" 2>"$WORK/slo.err" || RC=$?
[ "$RC" -eq 3 ] || fail "slo exit $RC (want 3: one repeat): $(tail -5 "$WORK/slo.err")"
SLO_S=$((SECONDS - T0))
J=$WORK/slo/slo.json
pyq "$J" 's["kind"] == "kvtier.slo" and s["engine"] == "builtin" and s["axis"] == "concurrency"'
pyq "$J" 's["slo"] == {"ttft_p50_ms": '"$LIMIT"', "error_rate": 0.05}'
pyq "$J" '(s["modes"]["B2p"]["max"] or 0) > (s["modes"]["B1"]["max"] or 0)'
pyq "$J" 'all(len(m["bracket"]) == 2 and m["probes"] for m in s["modes"].values())'
pyq "$J" 'all(p["group"] and p["bundles"] for m in s["modes"].values() for p in m["probes"])'
pyq "$J" '"B2p" in s["comparison"]["modes"] and s["comparison"]["baseline"] == "B1"'
[ -s "$WORK/slo/slo.md" ] && [ -s "$WORK/slo/slo_max.gp" ] || fail "slo.md or chart script missing"
ok "slo: B2p sustains concurrency $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["modes"]["B2p"]["max"], "vs B1", s["modes"]["B1"]["max"])' "$J") under ttft_p50_ms=$LIMIT (${SLO_S} s)"

# the search read what compare reads: the same bundles, the same numbers
G1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["modes"]["B1"]["probes"][0]["group"])' "$J")
G2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["modes"]["B2p"]["probes"][0]["group"])' "$J")
RC=0
"$KVTIER" compare --baseline "$G1/B1" --treatment "$G2/B2p" --out "$WORK/cmp.json" --quiet \
  2>"$WORK/cmp.err" || RC=$?
[ "$RC" -eq 3 ] || fail "compare exit $RC: $(cat "$WORK/cmp.err")"
python3 - "$J" "$WORK/cmp.json" <<'PY' || fail "slo and compare read different numbers"
import json, sys
slo, cmp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for mode, side in (("B1", "baseline"), ("B2p", "treatment")):
    est = slo["modes"][mode]["probes"][0]["metrics"]["ttft_p50_ms"]["estimate"]
    assert abs(est - cmp["metrics"]["ttft_p50_ms"][side]["mean"]) < 1e-9, (mode, est)
PY
ok "a probe's estimate equals kvtier compare's reading of the same bundles"

# resume: every finished probe is reused, nothing runs again
T0=$SECONDS
RC=0
"$KVTIER" slo "${COMMON[@]}" --mode B1,B2p --slo "ttft_p50_ms=$LIMIT,error_rate=0.05" \
  --axis concurrency --min 1 --max 2 --out "$WORK/slo" >"$WORK/slo2.out" 2>"$WORK/slo2.err" || RC=$?
[ "$RC" -eq 3 ] || fail "slo rerun exit $RC"
pyq "$J" 'all(p["reused"] for m in s["modes"].values() for p in m["probes"])'
[ $((SECONDS - T0)) -lt 20 ] || fail "the rerun took $((SECONDS - T0)) s: probes were not reused"
ok "rerun reused every probe"
# the Mode C ladder's Style 2 side: mode C searched once per read limit, each level's limit
# reaching its bundles, and c_ladder reading the capacities the searches found (one probe per
# level here: --min 1 --max 1)
T0=$SECONDS
RC=0
timeout 200 "$KVTIER" slo "${COMMON[@]}" --mode C --c-levels 256KiB,1GiB \
  --slo "ttft_p50_ms=$LIMIT,error_rate=0.05" --axis concurrency --min 1 --max 1 \
  --out "$WORK/ladder" >"$WORK/ladder.out" 2>"$WORK/ladder.err" || RC=$?
[ "$RC" -eq 3 ] || fail "slo --c-levels exit $RC: $(tail -5 "$WORK/ladder.err")"
LAD_S=$((SECONDS - T0))
python3 - "$WORK/ladder" <<'PY' || fail "ladder capacity report"
import glob, json, os, sys
d = sys.argv[1]
s = json.load(open(f"{d}/slo.json"))
lad = s["c_ladder"]
assert set(s["modes"]) == {"C@256KiB", "C@1GiB"}, s["modes"].keys()
assert [l["arm"] for l in lad["levels"]] == ["C@256KiB", "C@1GiB"], lad
for l in lad["levels"]:
    r = s["modes"][l["arm"]]
    assert r["c_read_bps"] == l["read_bps"] and l["status"] == r["status"], (l, r)
    want = {"found": r["max"], "all_pass": r["max"], "none_pass": 0}[r["status"]]
    assert l["capacity"] == want and l["bracket"] == r["bracket"], (l, r)
    for p in r["probes"]:
        for b in p["bundles"]:
            m = json.load(open(f"{b}/manifest.json"))
            assert m["mode"]["constraints"]["io_max_rbps"] == l["read_bps"], m["mode"]
assert lad["n"] == 2 and lad["outcome"] == "insufficient", lad
assert os.path.exists(f"{d}/c_ladder_capacity.gp") and os.path.exists(f"{d}/c_ladder_capacity.dat")
assert "Mode C ladder" in open(f"{d}/slo.md").read()
print("ladder:", {l["arm"]: (l["capacity"], l["censored"]) for l in lad["levels"]})
PY
if command -v gnuplot >/dev/null; then [ -s "$WORK/ladder/c_ladder_capacity.svg" ] || fail "no ladder chart"; fi
grep -q "Mode C ladder: rho" "$WORK/ladder.out" || fail "no ladder line: $(cat "$WORK/ladder.out")"
# the evidence pack reads the same slo.json: the levels' capacities and the ladder's statistic
"$KVTIER" report --results "$WORK/ladder" --out "$WORK/ladder-pack" >/dev/null 2>"$WORK/lp.err" ||
  fail "report over the ladder: $(cat "$WORK/lp.err")"
grep -q "Mode C ladder (capacity against the read limit): Spearman" "$WORK/ladder-pack/TECHBRIEF_EVIDENCE.md" ||
  fail "the pack lacks the ladder's statistic"
grep -q "C@256KiB" "$WORK/ladder-pack/FIGURES/fig2_max_concurrency_slo.dat" || fail "figure 2 lacks the levels"
ok "slo --c-levels: one search per read limit, limits applied, c_ladder from the searches (${LAD_S} s)"
echo "# sweep ${SWEEP_S} s, slo ${SLO_S} s, ladder ${LAD_S} s"
