#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs that end early: Ctrl-C (SIGINT) during the pressure phase and a server killed with
# SIGKILL mid-run both yield a complete bundle with everything measured so far, marked
# RUN_INTERRUPTED (and SERVER_UNHEALTHY with the exit code for the crash), exit code 3, and
# nothing left running.
source "$(dirname "$0")/bundle_lib.sh"
STEADY=""  # all four phases: the interrupt may land in steady

start_bg() { # ARGS...: kvtier bundle in the background, BG_PID set
  "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --workload A --stack "$FAST" \
    --disk-cache-dir "$DISKDIR" --out "$WORK/res" --interval 250ms --drop-caches no \
    --rate-scale 4 --settle-quiet 500ms --settle-timeout 3s "$@" \
    >"$WORK/bg.out" 2>"$WORK/bg.err" &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
wait_for() { # GLOB: bounded poll until a file matching GLOB exists
  for _ in $(seq 1 600); do
    compgen -G "$1" >/dev/null && return 0
    kill -0 "$BG_PID" 2>/dev/null || fail "bundle ended before $1 appeared: $(tail -3 "$WORK/bg.err")"
    sleep 0.1
  done
  fail "timed out waiting for $1"
}

# 1. Ctrl-C in the pressure phase
start_bg --mode B2p --max-requests 6
wait_for "$WORK/res/*/B2p/r01/metrics_delta/phase_pressure_kvbm_metrics_start.json"
kill -INT "$BG_PID"
RC=0
wait "$BG_PID" || RC=$?
[ "$RC" -eq 3 ] || fail "SIGINT: exit $RC, want 3: $(tail -3 "$WORK/bg.err")"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B2p)
schema_ok "$B"
pyq "$B/verdict.json" '"RUN_INTERRUPTED" in s["reason_codes"] and not s["run_valid"]'
pyq "$B/verdict.json" 's["details"]["RUN_INTERRUPTED"]["phase"] in ("pressure", "replay", "steady")'
# the requests the runner cancelled itself are not server errors (issue 11 #14)
pyq "$B/verdict.json" '"ERROR_RATE_HIGH" not in s["reason_codes"]'
pyq "$G/group_summary.json" 's["interrupted"] is True and s["all_run_valid"] is False'
[ -s "$B/raw/records.jsonl" ] || fail "records measured before the interrupt were lost"
[ -s "$B/metrics_delta/phase_warmup_kvbm_metrics_delta.json" ] || fail "warmup deltas lost"
no_leftovers "$G"
rm -rf "$WORK/res"
ok "SIGINT mid-run -> complete bundle, RUN_INTERRUPTED, exit 3"

# 2. the server is killed in the pressure phase
start_bg --mode B1 --max-requests 6
wait_for "$WORK/res/*/B1/r01/metrics_delta/phase_pressure_kvbm_metrics_start.json"
READY=$(compgen -G "$WORK/res/*/B1/r01/raw/stack/work/ready.json" | head -1)
SPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$READY")
kill -KILL "$SPID"
RC=0
wait "$BG_PID" || RC=$?
[ "$RC" -eq 3 ] || fail "server crash: exit $RC, want 3"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B1)
schema_ok "$B"
pyq "$B/verdict.json" '"SERVER_UNHEALTHY" in s["reason_codes"] and "RUN_INTERRUPTED" in s["reason_codes"]'
pyq "$B/verdict.json" 's["details"]["SERVER_UNHEALTHY"]["exit_code"] == 137'
[ -s "$B/raw/records.jsonl" ] || fail "records lost after the crash"
no_leftovers "$G"
ok "server killed mid-run -> SERVER_UNHEALTHY + RUN_INTERRUPTED, exit 3"

# 3. SIGTERM while waiting for a stack that never becomes ready (timeout 1800 s): the wait ends
#    at once with RUN_INTERRUPTED (issue 11 #7)
rm -rf "$WORK/res"
"$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --workload A \
  --stack "$KVTIER_FIXTURES/bundle/stacks/never-ready.yaml" --disk-cache-dir "$DISKDIR" \
  --out "$WORK/res" --drop-caches no --mode B1 --max-requests 2 >"$WORK/bg.out" 2>"$WORK/bg.err" &
BG_PID=$!
PIDS+=("$BG_PID")
wait_for "$WORK/res/*/B1/r01/raw/stack/engine.log"
sleep 1
T0=$(date +%s)
kill -TERM "$BG_PID"
RC=0
wait "$BG_PID" || RC=$?
[ $(( $(date +%s) - T0 )) -le 20 ] || fail "the readiness wait ignored SIGTERM"
[ "$RC" -eq 3 ] || fail "SIGTERM in the readiness wait: exit $RC, want 3: $(tail -3 "$WORK/bg.err")"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B1)
pyq "$B/verdict.json" '"RUN_INTERRUPTED" in s["reason_codes"] and s["details"]["RUN_INTERRUPTED"]["phase"] == "startup"'
pyq "$B/verdict.json" 's["evidence"]["health"]["healthy_at_start"] is None'
no_leftovers "$G"
ok "SIGTERM during the readiness wait -> RUN_INTERRUPTED at once, exit 3"

# 4. the runner itself dies (SIGKILL): its stack goes with it (parent-death signal), and the
#    next run removes the cgroup it left (issue 11 #6)
rm -rf "$WORK/res"
start_bg --mode B1 --max-requests 6
wait_for "$WORK/res/*/B1/r01/metrics_delta/phase_warmup_kvbm_metrics_start.json"
READY=$(compgen -G "$WORK/res/*/B1/r01/raw/stack/work/ready.json" | head -1)
SPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$READY")
RUNNER=$BG_PID
kill -KILL "$RUNNER"
wait "$RUNNER" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$SPID" 2>/dev/null || fail "kvtier serve ($SPID) outlived its killed runner"
STALE=$(for r in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/blkio; do
  compgen -G "$r/kvtier-$RUNNER-*" || true; done)
rm -rf "$WORK/res"
run_bundle --stack "$KVTIER_FIXTURES/bundle/stacks/crash-at-start.yaml" --mode B1 --max-requests 2
for d in $STALE; do [ ! -e "$d" ] || fail "stale cgroup $d of the killed runner not removed"; done
ok "runner killed -> its stack is gone; the next run removed ${STALE:-no} stale cgroup"

# 5. a second Ctrl-C (seconds after the first) ends the runner and its stack's process groups
rm -rf "$WORK/res"
start_bg --mode B1 --max-requests 6
wait_for "$WORK/res/*/B1/r01/metrics_delta/phase_warmup_kvbm_metrics_start.json"
READY=$(compgen -G "$WORK/res/*/B1/r01/raw/stack/work/ready.json" | head -1)
SPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$READY")
kill -STOP "$SPID" # a stack that would not stop on its own
kill -INT "$BG_PID"
sleep 3
if kill -0 "$BG_PID" 2>/dev/null; then kill -INT "$BG_PID"; fi
RC=0
wait "$BG_PID" || RC=$?
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$SPID" 2>/dev/null || { kill -KILL "$SPID"; fail "stack left running after a second Ctrl-C"; }
ok "second Ctrl-C -> runner ends (exit $RC), its stack killed"
