#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Phase settling on the builtin stack (docs/bundle.md "Phase settling"): a wait that can never
# be satisfied (quiet 5 s, bounded at 400 ms) times out between every two phases, is recorded
# in raw/phases.json and summary.json with the counters it watched, reaches the evidence and
# raises the soft SETTLE_TIMEOUT (the run stays valid); the next phase starts after the wait.
# With --hit-rate yes, KVBM's hit-rate gauges of every phase are read after the engine's next
# refresh (1 s in the fixture) and reach summary.json and the evidence; the summary's storage
# section sets vendor assertions beside the probe, or says there is no profile for this device.
source "$(dirname "$0")/bundle_lib.sh"
SETTLE="--settle-quiet 5s --settle-timeout 400ms --hit-rate yes" run_bundle --stack "$FAST" \
  --mode B2 --max-requests 2 --seed 5
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "exit $RC: $(tail -5 "$WORK/err.txt")"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B2)
schema_ok "$B"
# the seams of this session's evidence fields: the summary the real load generator wrote, read
# by the real evidence builder into what the gates judge
pyq "$B/verdict.json" 'isinstance(s["evidence"]["phases"]["replay"]["send_lag_p99_ms"], float)'
pyq "$B/verdict.json" 's["evidence"]["phases"]["replay"]["ttft_p50_supported"] in (True, False)'
pyq "$B/verdict.json" 's["evidence"]["noise"]["other_io_source"] in ("ebpf_block_layer", "proc_io_upper_bound", "mixed") and s["evidence"]["noise"]["device_bytes"] >= 0'
pyq "$B/summary.json" 's["phases"]["replay"]["send_lag_ms"]["n"] == s["phases"]["replay"]["client_lag_ms"]["n"]'
python3 - "$B" <<'PY' || fail "settle records"
import json, sys
b = sys.argv[1]
phases = json.load(open(f"{b}/raw/phases.json"))["phases"]
summary = json.load(open(f"{b}/summary.json"))["phases"]
verdict = json.load(open(f"{b}/verdict.json"))
assert len(phases) >= 2, phases
for i, p in enumerate(phases):
    st = p.get("settle")
    if i == len(phases) - 1:
        assert st is None, f"settled after the last phase {p['name']}"
        continue
    assert st["status"] == "timed_out", st
    assert 0.4 <= st["waited_s"] < 3 and st["quiet_required_s"] == 5 and st["timeout_s"] == 0.4, st
    assert st["samples"] >= 2, st
    for k in ("kvbm_offload_blocks_h2d", "server_write_bytes", "device_write_bytes"):
        assert k in st["moved"], (k, st)
    # B2 has a KVBM endpoint and the stack runs: both counters were readable
    assert st["moved"]["kvbm_offload_blocks_h2d"] is not None, st
    assert st["moved"]["server_write_bytes"] is not None, st
    assert summary[p["name"]]["settle_after"]["status"] == "timed_out"
    assert verdict["evidence"]["phases"][p["name"]]["settle_after"]["status"] == "timed_out"
    assert verdict["details"]["SETTLE_TIMEOUT"][p["name"]]["waited_s"] >= 0.4
    # the next phase begins after the wait
    nxt = phases[i + 1]
    assert nxt["t_start_ns"] - p["t_end_ns"] >= 0.4e9, (p, nxt)
for p in phases:
    h = p["kvbm_hit_rate"]
    assert h["status"] == "after_refresh" and h["refresh_s"] == 1, h
    assert h["read_s_after_phase_end"] >= 1 and h["waited_s"] < 2, h
    assert 0 <= h["host"] <= 1 and 0 <= h["disk"] <= 1, h
    assert summary[p["name"]]["kvbm_hit_rate"] == h
    assert verdict["evidence"]["phases"][p["name"]]["kvbm_hit_rate"]["host"] == h["host"]
st = json.load(open(f"{b}/summary.json"))["storage"]
v, e = st["vendor_vs_measured"], st["endurance"]
assert v["status"] == "matched" or "no storage profile for this device" in v["reason"], v
assert e["status"] == "ok" or e["reason"], e
assert "SETTLE_TIMEOUT" in verdict["reason_codes"], verdict["reason_codes"]
assert verdict["run_valid"] is True and verdict["decision_grade"] is False
print("settle waits:", [(p["name"], p["settle"]["waited_s"]) for p in phases[:-1]])
PY
no_leftovers "$G"
ok "settle timeouts between phases recorded, in the evidence and SETTLE_TIMEOUT"
