#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The twin predicting the builtin engine live (slow suite, ~1 min): a real `kvtier bundle` of the
# demo configuration (tiny on cpu_small, Workload A, mode B1, real-time clock, 4 requests per
# phase) is replayed by `kvtier whatif --bundle`; the replay-phase TTFT p50 must agree within
# 10 %. The bundle's requests go through HTTP, SSE and the engine's scheduler thread; the twin
# sees only the bundle's files; --clock-from-itl adds the run's own per-step host lateness
# (measured minus predicted ITL). Disk reads are kept out (B1) so foreign I/O on a shared test
# disk cannot move the measured side.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}" "${KVTIER_FIXTURES:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-twinlive.XXXXXX")
DISK=$(mktemp -d "${KVTIER_E2E_DISK_DIR:-/var/tmp}/kvtier-e2e-kv.XXXXXX")
trap 'rm -rf "$W" "$DISK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
RC=0
timeout 240 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --workload A \
  --stack "$KVTIER_FIXTURES/bundle/stacks/builtin-replay.yaml" --mode B1 --max-requests 4 --seed 5 \
  --disk-cache-dir "$DISK" --out "$W/res" --interval 250ms --drop-caches no > "$W/out.txt" 2> "$W/err.txt" || RC=$?
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "bundle exit $RC: $(tail -5 "$W/err.txt")"
B=$(ls -d "$W"/res/*/B1/r01)
"$KVTIER" whatif --bundle "$B" --clock-from-itl --json > "$W/self.json" 2> "$W/err.txt" || fail "whatif: $(cat "$W/err.txt")"
python3 - "$W/self.json" <<'PY' || fail "replay TTFT p50 not predicted within 10 %"
import json, sys
s = json.load(open(sys.argv[1]))
for ph in ("replay", "all"):
    r = s["phases"][ph]
    m, t = r["ttft_p50_ms_measured"], r["ttft_p50_ms_twin"]
    print(f"{ph:7s} TTFT p50 measured {m:8.1f} ms, twin {t:8.1f} ms ({100 * abs(t - m) / m:4.1f} %)")
print(f"host lateness {s['step_lateness_ms']:+.2f} ms per step")
r = s["phases"]["replay"]
assert abs(r["ttft_p50_ms_twin"] - r["ttft_p50_ms_measured"]) <= 0.10 * r["ttft_p50_ms_measured"]
PY
echo "ok - the twin predicts a live builtin run's replay TTFT p50 within 10 %"
