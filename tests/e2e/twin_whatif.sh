#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier whatif: (1) self-prediction: the twin replays fixture bundles recorded from the builtin
# engine in real time (demo configuration tiny/cpu_small, Workload A; B0 and B1 of every seed)
# and predicts their replay-phase TTFT p50 within 10 %, with the host's per-step lateness taken
# from each run's own ITL (--clock-from-itl); B2p bundles are replayed and their error printed,
# not asserted: the engine read them from a shared real disk the twin only models; (2) a grid runs far faster than real time and writes
# JSON, CSV and an SVG chart; (3) a grid estimated over --budget-s is refused without --yes
# (exit 2) and runs with it; bad axes and modes are usage errors.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}" "${KVTIER_FIXTURES:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-whatif.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
FIX="$KVTIER_FIXTURES/twin/bundles"

N=0
for b in $(ls -d "$FIX"/*/*/B*/r01); do
  "$KVTIER" whatif --bundle "$b" --clock-from-itl --json > "$W/self.json" 2> "$W/err.txt" ||
    fail "$b: $(cat "$W/err.txt")"
  python3 - "$W/self.json" <<'PY' || fail "$b: replay TTFT p50 not predicted within 10 %"
import json, sys
s = json.load(open(sys.argv[1]))
r = s["phases"]["replay"]
m, t = r["ttft_p50_ms_measured"], r["ttft_p50_ms_twin"]
err = abs(t - m) / m
late = s["step_lateness_ms"]
print(f"{s['mode']:4s} replay TTFT p50 measured {m:8.1f} ms, twin {t:8.1f} ms ({100 * err:4.1f} %), "
      f"host lateness {late:+.2f} ms/step")
assert s["engine"] == "builtin"
assert s["mode"] == "B2p" or err <= 0.10
PY
  N=$((N + 1))
done
[ "$N" -ge 6 ] || fail "only $N fixture bundles"
echo "ok - whatif predicts the builtin engine's own replay TTFT p50 within 10 %"

"$KVTIER" whatif --model tiny --hardware cpu_small --context 1024,2048,4096 --ssd-read-gbps 0.5,4 \
  --cpu-cache-gb 0.05 --disk-cache-gb 1 --users 6 --concurrency 2 --g1-blocks 256 --out "$W/g" \
  > "$W/grid.txt" 2> "$W/err.txt" || fail "grid: $(cat "$W/err.txt")"
cat "$W/grid.txt"
python3 - "$W/g" <<'PY' || fail "grid outputs"
import csv, json, sys, xml.dom.minidom
d = sys.argv[1]
s = json.load(open(f"{d}/whatif.json"))
assert s["kind"] == "kvtier.whatif" and "twin" in s["source"]
assert len(s["points"]) == 6 and s["error_bar_pct"] is None
assert s["speedup_vs_real_time"] >= 100, s["speedup_vs_real_time"]
for p in s["points"]:
    assert p["modes"]["B1"]["n"] == 6 and p["modes"]["B2p"]["n"] == 6, p
    assert p["modes"]["B1"]["onboard_disk_blocks"] == 0
rows = list(csv.DictReader(open(f"{d}/whatif.csv")))
assert len(rows) == 6 and float(rows[0]["B1_ttft_p50_ms"]) > 0
svg = xml.dom.minidom.parse(f"{d}/whatif.svg")
assert len(svg.getElementsByTagName("polyline")) == 3  # B1 + B2p at two SSD rates
print("speedup vs real time:", round(s["speedup_vs_real_time"]))
PY
"$KVTIER" whatif --model tiny --hardware cpu_small --context 4096 --ssd-read-gbps 4 --users 8 \
  --cpu-cache-gb 0.05 --disk-cache-gb 1 --g1-blocks 256 --slo-ttft-p95-ms 400 --json > "$W/cap.json" \
  2> "$W/err.txt" || fail "capacity: $(cat "$W/err.txt")"
python3 - "$W/cap.json" <<'PY' || fail "Style 2 capacity"
import json, sys
p = json.load(open(sys.argv[1]))["points"][0]["modes"]
b1, b2 = p["B1"]["capacity_concurrency"], p["B2p"]["capacity_concurrency"]
print(f"capacity at replay TTFT p95 <= 400 ms: B1 {b1}, B2p {b2}")
assert isinstance(b1, int) and isinstance(b2, int) and 0 <= b1 <= b2 <= 8 and b2 >= 1
PY
echo "ok - grid results, chart, Style 2 capacity, faster than real time"

set +e
"$KVTIER" whatif --model tiny --hardware cpu_small --context 1024,2048 --users 4 --g1-blocks 256 \
  --cpu-cache-gb 0.05 --disk-cache-gb 1 --budget-s 0.0000001 > /dev/null 2> "$W/err.txt"; RC=$?
set -e
[ "$RC" -eq 2 ] && grep -q -- "--yes" "$W/err.txt" || fail "over budget: exit $RC $(cat "$W/err.txt")"
"$KVTIER" whatif --model tiny --hardware cpu_small --context 1024,2048 --users 4 --g1-blocks 256 \
  --cpu-cache-gb 0.05 --disk-cache-gb 1 --budget-s 0.0000001 --yes > /dev/null 2> "$W/err.txt" ||
  fail "--yes: $(cat "$W/err.txt")"
for bad in "--grid nope=1,2" "--grid context=0" "--modes B1,B9" "--context 1k,x"; do
  set +e
  # shellcheck disable=SC2086
  "$KVTIER" whatif --model tiny --hardware cpu_small $bad > /dev/null 2> "$W/err.txt"; RC=$?
  set -e
  [ "$RC" -eq 2 ] || fail "$bad: exit $RC $(cat "$W/err.txt")"
done
echo "ok - budget confirmation and usage errors"
