#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault injection: resets mid-stream, 5xx, 429 with Retry-After, garbage SSE, error events
# mid-stream and a server that never sends a first token each land in the right error class,
# nothing hangs, and Ctrl-C (SIGINT) still writes everything measured (exit 3, interrupted).
source "$(dirname "$0")/load_lib.sh"

run_mode() { # NAME MODE EVERY EXTRA_LOAD_ARGS...
  local name=$1 mode=$2 every=$3; shift 3
  start_responder "$name" --mode "$mode" --fault-every "$every" --interval-us 300
  local port_var="PORT_$name"
  timeout 50 "$KVTIER" load --url "http://127.0.0.1:${!port_var}" --isl 16 --osl 8 \
    --requests 12 --rate 100 --arrival constant --out "$WORK/$name" --quiet "$@" ||
    fail "$mode run failed"
}

run_mode reset reset 2
recs "$WORK/reset/records.jsonl" 'len(r) == 12 and sum(x["error"] == "stream_error" for x in r) == 6 and sum(x["error"] is None for x in r) == 6'
# a reset stream ends short (an RST may also purge tokens not read yet, so 0 is possible)
recs "$WORK/reset/records.jsonl" 'all(x["client_tokens"] < 8 for x in r if x["error"])'

run_mode e5xx 5xx 3
recs "$WORK/e5xx/records.jsonl" 'sum(x["error"] == "http_5xx" and x["http_status"] == 503 for x in r) == 4 and sum(x["error"] is None for x in r) == 8'
pyq "$WORK/e5xx/summary.json" 's["phases"]["all"]["errors_by_class"]["http_5xx"] == 4 and abs(s["phases"]["all"]["error_rate"] - 4/12) < 1e-9'

run_mode e429 429 2
recs "$WORK/e429/records.jsonl" 'sum(x["error"] == "http_4xx" and x["http_status"] == 429 and x.get("retry_after_s") == 2 for x in r) == 6'

run_mode garbage garbage 2
recs "$WORK/garbage/records.jsonl" 'sum(x["error"] == "stream_error" and "malformed" in x.get("error_detail", "") for x in r) == 6'

run_mode errev error-event 2
recs "$WORK/errev/records.jsonl" 'sum(x["error"] == "stream_error" and "injected failure" in x.get("error_detail", "") for x in r) == 6'

start_s=$(date +%s)
run_mode never never 2 --first-token-timeout 1s
recs "$WORK/never/records.jsonl" 'sum(x["error"] == "timeout" and x["t_first_token_ns"] is None for x in r) == 6 and sum(x["error"] is None for x in r) == 6'
[ $(( $(date +%s) - start_s )) -lt 15 ] || fail "first-token timeout did not bound the run"

# SIGINT mid-run: stop sending, cancel what is in flight, write it all, exit 3
start_responder slow --interval-us 20000
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_slow" --isl 16 --osl 100 \
  --requests 1000 --rate 20 --out "$WORK/int" --quiet &
LP=$!
PIDS+=($LP)
for _ in $(seq 100); do [ -s "$WORK/int/records.jsonl" ] && break; sleep 0.05; done
sleep 3
kill -INT "$LP"
set +e
wait "$LP"
rc=$?
set -e
[ "$rc" = 3 ] || fail "interrupted run exit $rc (want 3)"
pyq "$WORK/int/summary.json" 's["interrupted"] is True and 0 < s["phases"]["all"]["requests"] < 1000 and s["phases"]["all"]["not_sent"] > 0'
recs "$WORK/int/records.jsonl" 'sum(x["error"] == "cancelled" for x in r) >= 1 and sum(x["error"] is None for x in r) >= 1'
recs "$WORK/int/records.jsonl" 'len(r) == json.load(open(path.replace("records.jsonl","summary.json")))["phases"]["all"]["requests"]'
checks
echo "load_faults: ok"
