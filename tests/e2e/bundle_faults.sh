#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults before and around the run: unknown mode/model/workload/stack names list the valid ones
# (exit 2); a stack whose program is missing, or that dies at start, still yields a complete
# bundle with SERVER_UNHEALTHY and its logs (exit 3); a server that lists another model gives
# MODEL_NOT_LOADED; an external stack whose KVBM metrics port is closed gives
# KVBM_METRICS_UNREACHABLE while its environment is still read back through --pid.
source "$(dirname "$0")/bundle_lib.sh"
FX="$KVTIER_FIXTURES/bundle/stacks"

expect_usage() { # ARGS... ; the stderr must contain $WANT
  RC=0
  "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --out "$WORK/u" "$@" >/dev/null 2>"$WORK/u.err" || RC=$?
  [ "$RC" -eq 2 ] || fail "$* exited $RC, want 2"
  grep -q -- "$WANT" "$WORK/u.err" || fail "$*: stderr lacks '$WANT': $(cat "$WORK/u.err")"
}
WANT="valid: B0, B1, B2, B2p, B3, C" expect_usage --model tiny --mode B1,B9
WANT="tiny" expect_usage --model no_such_model --mode B1
WANT="A" expect_usage --model tiny --workload Z --mode B1
WANT="builtin" expect_usage --model tiny --stack no_such_stack --mode B1
WANT="valid: S, L" expect_usage --model tiny --dataset M --mode B1
ok "unknown names list the valid ones, exit 2"
# --thresholds must be a mapping of non-negative numbers (issue 11 #13)
printf -- '- 1\n- 2\n' > "$WORK/th-list.yaml"
WANT="must be a mapping" expect_usage --model tiny --mode B1 --thresholds "$WORK/th-list.yaml"
echo 'not yaml at all' > "$WORK/th-text.yaml"
WANT="must be a mapping" expect_usage --model tiny --mode B1 --thresholds "$WORK/th-text.yaml"
echo 'error_rate_max: -0.5' > "$WORK/th-neg.yaml"
WANT="'error_rate_max' must be a finite number >= 0" expect_usage --model tiny --mode B1 --thresholds "$WORK/th-neg.yaml"
ok "--thresholds that is not a mapping, or negative, is refused (exit 2)"
# a kvtier-kvcache in --disk-cache-dir that kvtier did not make (a symlink; a full unmarked
# directory) is refused before anything runs, and nothing in it is deleted
mkdir -p "$WORK/cd1" "$WORK/cd2/kvtier-kvcache" "$WORK/victim"
echo data > "$WORK/victim/dynamo-kvbm-disk-cache-x"
ln -s "$WORK/victim" "$WORK/cd1/kvtier-kvcache"
WANT="symlink" expect_usage --model tiny --mode B2 --disk-cache-dir "$WORK/cd1"
# the message names the directory, not a profile file read earlier
! grep -q "\.yaml" "$WORK/u.err" || fail "error names an unrelated file: $(cat "$WORK/u.err")"
echo data > "$WORK/cd2/kvtier-kvcache/dynamo-kvbm-disk-cache-y"
WANT="no .kvtier-kvcache-owner marker" expect_usage --model tiny --mode B0 --disk-cache-dir "$WORK/cd2"
[ -s "$WORK/victim/dynamo-kvbm-disk-cache-x" ] && [ -s "$WORK/cd2/kvtier-kvcache/dynamo-kvbm-disk-cache-y" ] ||
  fail "a refused cache directory lost files"
ok "a cache directory kvtier did not make is refused (exit 2), nothing deleted"

# the program does not exist
run_bundle --stack "$FX/broken-exec.yaml" --mode B2 --max-requests 2
[ "$RC" -eq 3 ] || fail "broken exec: exit $RC, want 3"
B=$(bundle_dir "$(group_dir "$WORK/res")" B2)
pyq "$B/verdict.json" 's["run_valid"] is False and "SERVER_UNHEALTHY" in s["reason_codes"]'
pyq "$B/verdict.json" '"No such file" in s["details"]["SERVER_UNHEALTHY"]["why"][0]'
pyq "$B/manifest.json" '"start_error" in s["stack"]["launch"]["processes"][0]'
# an engine that never started loaded no model anyone saw, and has no TTFT (issue 11 #14)
pyq "$B/verdict.json" 's["evidence"]["health"]["model_loaded"] is None and "MODEL_NOT_LOADED" not in s["reason_codes"]'
grep -q "replay TTFT p50 n/a" "$WORK/out.txt" || fail "no-TTFT bundle printed as: $(grep 'TTFT' "$WORK/out.txt")"
for f in manifest.json summary.json quick_summary.json verdict.json raw/records.jsonl raw/server.log; do
  [ -e "$B/$f" ] || fail "broken exec bundle lacks $f"
done
rm -rf "$WORK/res"
ok "missing stack program -> SERVER_UNHEALTHY bundle"

# the stack dies at start: its log and exit code are in the bundle
run_bundle --stack "$FX/crash-at-start.yaml" --mode B1 --max-requests 2
[ "$RC" -eq 3 ] || fail "crash at start: exit $RC, want 3"
B=$(bundle_dir "$(group_dir "$WORK/res")" B1)
pyq "$B/verdict.json" '"SERVER_UNHEALTHY" in s["reason_codes"] and "exited with code 7" in s["details"]["SERVER_UNHEALTHY"]["why"][0]'
grep -q "engine boom" "$B/raw/server.log" || fail "server.log lacks the engine's message"
grep -q "engine boom" "$B/raw/stack/engine.log" || fail "raw/stack/engine.log lacks the message"
rm -rf "$WORK/res"
ok "stack dying at start -> SERVER_UNHEALTHY with exit code and logs"

# the server lists another model
run_bundle --stack "$FX/wrong-model.yaml" --mode B1 --max-requests 2 --ready-timeout 3s
[ "$RC" -eq 3 ] || fail "wrong model: exit $RC, want 3"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B1)
pyq "$B/verdict.json" '"MODEL_NOT_LOADED" in s["reason_codes"] and not s["run_valid"]'
pyq "$B/verdict.json" '"somebody/other-model" in s["details"]["MODEL_NOT_LOADED"]["why"][0] or "kvtier/tiny" in s["evidence"]["health"]["error"]'
no_leftovers "$G"
rm -rf "$WORK/res"
ok "model not listed -> MODEL_NOT_LOADED, engine stopped"

# external stack with the KVBM metrics port closed
rm -f "$WORK/ready"
env DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=512 DYN_KVBM_CPU_CACHE_GB=1 DYN_KVBM_METRICS=true \
  "$KVTIER" serve --profiles "$KVTIER_PROFILES" --model tiny --hardware cpu_small --port 0 \
  --metrics-port 0 --g1-blocks 256 --speedup 4 --ready-file "$WORK/ready" >"$WORK/serve.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
[ -s "$WORK/ready" ] || fail "external engine not ready"
PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$WORK/ready")
run_bundle --stack external --mode B1 --max-requests 2 --url "http://127.0.0.1:$PORT" \
  --kvbm-metrics-url "http://127.0.0.1:9/metrics" --served-model kvtier/tiny --pid "$SPID" \
  --cpu-cache-blocks 512 --ready-timeout 10s
[ "$RC" -eq 3 ] || fail "external: exit $RC, want 3"
B=$(bundle_dir "$(group_dir "$WORK/res")" B1)
pyq "$B/verdict.json" '"KVBM_METRICS_UNREACHABLE" in s["reason_codes"] and not s["run_valid"]'
pyq "$B/verdict.json" 's["details"]["KVBM_METRICS_UNREACHABLE"]["url"] == "http://127.0.0.1:9/metrics"'
pyq "$B/manifest.json" 's["stack"]["observed_config"]["source"].endswith("/environ") and s["stack"]["observed_config"]["mismatches"] == []'
kill -0 "$SPID" || fail "the external stack must be left running"
ok "external stack: metrics port closed -> KVBM_METRICS_UNREACHABLE; environment read back via --pid"
