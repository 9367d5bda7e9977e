#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier calibrate on fixture bundles of the builtin engine (tests/fixtures/twin/bundles: B0, B1
# and B2p of two seeds, real-time clock): the fitted profile passes the held-out bar, is a
# hardware profile whatif can load (the seam: calibrate's YAML into whatif's error bar), and bad
# input is refused with exit 2 naming the problem: no bundles, a corrupt record line, bundles of
# two hardware profiles without --group (with --group: one profile per group).
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}" "${KVTIER_FIXTURES:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-twin.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
FIX="$KVTIER_FIXTURES/twin/bundles"
pyq() {
  python3 - "$1" "$2" <<'PY' || fail "$1: $2"
import json, sys
s = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(1)
PY
}

"$KVTIER" calibrate --results "$FIX" --out "$W/fit.yaml" --name tiny_box_fitted > "$W/out.txt" 2> "$W/err.txt" ||
  fail "calibrate exit $?: $(cat "$W/err.txt")"
cat "$W/out.txt"
grep -q "held-out MAPE" "$W/out.txt" || fail "no held-out MAPE line"
pyq "$W/fit.json" 's["n_held_out"] >= 2 and s["n_train"] >= 3'
pyq "$W/fit.json" 's["pass"] is True and s["mape_held_out_pct"] <= 15'
pyq "$W/fit.json" 's["engine"] == "builtin" and "builtin emulation" in s["source"]'
pyq "$W/fit.json" 'all(c["mode"] in ("B0", "B1", "B2p") for c in s["cases"])'
grep -q '^name: tiny_box_fitted$' "$W/fit.yaml" || fail "profile name not written"
grep -q 'held_out_mape_pct:' "$W/fit.yaml" || fail "no calibration section"
# the seam: the fitted profile drives whatif, whose predictions carry its error bar
B2=$(ls -d "$FIX"/*/*/B2p/r01 | head -1)
"$KVTIER" whatif --bundle "$B2" --hardware "$W/fit.yaml" --json > "$W/wi.json" 2> "$W/err.txt" ||
  fail "whatif with the fitted profile: $(cat "$W/err.txt")"
pyq "$W/wi.json" 's["hardware"] == "tiny_box_fitted" and s["error_bar_pct"] is not None'
"$KVTIER" whatif --model tiny --hardware "$W/fit.yaml" --context 1024,4096 --cpu-cache-gb 0.05 \
  --disk-cache-gb 1 --users 6 --g1-blocks 256 > "$W/grid.txt" 2> "$W/err.txt" || fail "grid: $(cat "$W/err.txt")"
grep -q "twin predictions +-" "$W/grid.txt" || fail "grid output lacks the error bar: $(cat "$W/grid.txt")"
echo "ok - calibrate passes on fixture bundles and its profile feeds whatif"

# bad input: exit 2, the problem named
set +e
"$KVTIER" calibrate --results "$W" --out "$W/x.yaml" 2> "$W/err.txt"; RC=$?
set -e
[ "$RC" -eq 2 ] && grep -q "no run bundle found" "$W/err.txt" || fail "empty results: exit $RC $(cat "$W/err.txt")"
mkdir -p "$W/bad"
cp -r "$(dirname "$B2")" "$W/bad/"
sed -i '3s/.*/{"id": oops/' "$W/bad/r01/raw/records.jsonl"
set +e
"$KVTIER" calibrate --results "$W/bad" --out "$W/x.yaml" 2> "$W/err.txt"; RC=$?
set -e
[ "$RC" -eq 2 ] && grep -q "records.jsonl:3" "$W/err.txt" || fail "corrupt record: exit $RC $(cat "$W/err.txt")"
[ ! -e "$W/x.yaml" ] || fail "a profile was written from bad input"
mkdir -p "$W/mixed"
for d in "$FIX"/*/*/B1/r01; do cp -r "$d" "$W/mixed/$(basename "$(dirname "$(dirname "$(dirname "$d")")")")"; done
M2=$(ls -d "$W"/mixed/* | tail -1)
python3 - "$M2/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["hardware"] = "dgx_spark_gb10"
json.dump(m, open(sys.argv[1], "w"))
PY
set +e
"$KVTIER" calibrate --results "$W/mixed" --out "$W/m.yaml" 2> "$W/err.txt"; RC=$?
set -e
[ "$RC" -eq 2 ] && grep -q "2 model/hardware groups" "$W/err.txt" && grep -q "hardware dgx_spark_gb10" "$W/err.txt" ||
  fail "mixed set: exit $RC $(cat "$W/err.txt")"
set +e
"$KVTIER" calibrate --results "$W/mixed" --out "$W/m.yaml" --group > /dev/null 2> "$W/err.txt"; RC=$?
set -e
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "--group: exit $RC $(cat "$W/err.txt")"
[ -s "$W/m.cpu_small.tiny.yaml" ] && [ -s "$W/m.dgx_spark_gb10.tiny.yaml" ] || fail "--group wrote $(ls "$W")"
echo "ok - bad input refused with exit 2; --group fits one profile per group"
