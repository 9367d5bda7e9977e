#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Mode C ladder on the builtin stack (docs/bundle.md "Mode C ladder"): two read-limit
# levels given as shares of a probe ceiling run as two arms of one group, each with its own
# directories, quick summary (arm, c_read_bps) and cgroup read limit; the group summary has
# the ladder report and the chart files are written. Bad ladders are refused before anything
# runs (exit 2, naming the problem).
source "$(dirname "$0")/bundle_lib.sh"
cat > "$WORK/probe.json" <<'J'
{"kind": "kvtier.probe", "ceilings": [
  {"rw": "randread", "block_size_bytes": 262144, "bw_bytes_per_s": 67108864, "iops": 256},
  {"rw": "randwrite", "block_size_bytes": 262144, "bw_bytes_per_s": 33554432, "iops": 128}]}
J
set +e
"$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --mode C --c-levels 25%,50% \
  --out "$WORK/bad" > /dev/null 2> "$WORK/bad1.txt"
R1=$?
"$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --mode B2 --c-levels 8MiB,1GiB \
  --out "$WORK/bad" > /dev/null 2> "$WORK/bad2.txt"
R2=$?
set -e
[ "$R1" -eq 2 ] && grep -q -- "--probe" "$WORK/bad1.txt" || fail "% levels without --probe: exit $R1: $(cat "$WORK/bad1.txt")"
[ "$R2" -eq 2 ] && grep -q "needs mode C" "$WORK/bad2.txt" || fail "--c-levels without C: exit $R2: $(cat "$WORK/bad2.txt")"
run_bundle --stack "$FAST" --mode C --c-levels 12.5%,100% --probe "$WORK/probe.json" --max-requests 2 --seed 9
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "exit $RC: $(tail -5 "$WORK/err.txt")"
G=$(group_dir "$WORK/res")
schema_ok "$(bundle_dir "$G" 'C@12.5%')"
python3 - "$G" <<'PY' || fail "ladder report"
import json, os, sys
g = sys.argv[1]
gs = json.load(open(f"{g}/group_summary.json"))
lad = gs["c_ladder"]
arms = {l["arm"]: l for l in lad["levels"]}
assert set(arms) == {"C@12.5%", "C@100%"}, arms
assert arms["C@12.5%"]["read_bps"] == 8388608 and arms["C@100%"]["read_bps"] == 67108864, arms
assert arms["C@12.5%"]["pct"] == 12.5
assert set(gs["per_mode"]) == {"C@12.5%", "C@100%"}, gs["per_mode"].keys()
assert [sorted(b) for b in gs["block_order"]] == [["C@100%", "C@12.5%"]], gs["block_order"]
valid = 0
for arm, l in arms.items():
    q = json.load(open(f"{g}/{arm}/r01/quick_summary.json"))
    assert q["arm"] == arm and q["mode"] == "C" and q["c_read_bps"] == l["read_bps"], q
    m = json.load(open(f"{g}/{arm}/r01/manifest.json"))
    assert m["mode"]["constraints"]["io_max_rbps"] == l["read_bps"], m["mode"]["constraints"]
    cg = m.get("cgroup") or {}
    if cg.get("limits_applied"):
        assert cg["io_max_rbps"] == l["read_bps"], cg
    valid += q["run_valid"]
    assert l["n"] == (1 if q["run_valid"] else 0), l
assert lad["n"] == valid
# one repeat per level: two points, no rank statistic
assert lad["outcome"] == "insufficient" and lad["spearman_rho"] is None, lad
rows = [r for r in open(f"{g}/c_ladder.dat") if not r.startswith("#")]
assert len(rows) == valid, rows
assert os.path.exists(f"{g}/c_ladder.gp")
print("ladder:", {a: (l["read_bps"], l["replay_ttft_p95_ms"]) for a, l in arms.items()}, lad["outcome"])
PY
if command -v gnuplot >/dev/null; then [ -s "$G/c_ladder.svg" ] || fail "no ladder chart"; fi
no_leftovers "$G"
ok "Mode C ladder: two levels as arms, limits applied per arm, c_ladder report and chart files; bad ladders exit 2"
