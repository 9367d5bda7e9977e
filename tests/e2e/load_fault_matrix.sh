#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault matrix of kvtier load (issue 11 item 15): for each fault (connection resets, 5xx and
# 429 storms, malformed and empty streams, a whole-server stall, the server killed mid-run,
# SIGINT / SIGTERM (timeout(1)) / SIGHUP mid-run, a server quoting the API key, credentials in
# --url, a plan with a repeated request id) it checks that everything measured is in
# records.jsonl (every line whole and parseable, one per request the summary counts), that the
# summary says what happened (error classes, "interrupted"), that no secret reached a file, and
# that no process of the run is left behind. Bounded: about 30 s on an idle machine.
source "$(dirname "$0")/load_lib.sh"

LOAD_ARGS=(--isl 16 --osl 8 --requests 12 --rate 100 --arrival constant --quiet)

# whole FILE: the JSONL file ends with a newline and every line parses
whole() { recs "$1" 'open(path, "rb").read().endswith(b"\n") and all(isinstance(x, dict) for x in r)'; }

# measured NAME: records, export and summary agree on the request count; nothing left running
measured() {
  local out="$WORK/out-$1"
  [ -s "$out/summary.json" ] || fail "$1: no summary.json"
  whole "$out/records.jsonl"
  whole "$out/profile_export.jsonl"
  recs "$out/records.jsonl" 'len(r) == json.load(open(path.replace("records.jsonl", "summary.json")))["phases"]["all"]["requests"]'
  recs "$out/profile_export.jsonl" 'len(r) == json.load(open(path.replace("profile_export.jsonl", "summary.json")))["phases"]["all"]["requests"]'
  if pgrep -f -- "out-$1( |$)" >/dev/null; then fail "$1: a process of the run is still running"; fi
}

run_case() { # NAME MODE EVERY [responder args --] [load args]
  local name=$1 mode=$2 every=$3; shift 3
  local rargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do rargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  start_responder "$name" --mode "$mode" --fault-every "$every" --interval-us 300 "${rargs[@]}"
  local port_var="PORT_$name"
  timeout 50 "$KVTIER" load --url "http://127.0.0.1:${!port_var}" "${LOAD_ARGS[@]}" \
    --out "$WORK/out-$name" "$@" || fail "$name: load exit $?"
  measured "$name"
}

S='json.load(open(path.replace("records.jsonl", "summary.json")))'

run_case reset reset 2
recs "$WORK/out-reset/records.jsonl" "sum(x['error'] == 'stream_error' for x in r) == 6 and $S['phases']['all']['errors_by_class']['stream_error'] == 6"

run_case e5xx 5xx 1
recs "$WORK/out-e5xx/records.jsonl" "all(x['error'] == 'http_5xx' and x['http_status'] == 503 for x in r) and $S['phases']['all']['errors_by_class']['http_5xx'] == 12"

run_case e429 429 1
recs "$WORK/out-e429/records.jsonl" "all(x['error'] == 'http_4xx' and x['retry_after_s'] == 2 for x in r) and $S['phases']['all']['error_rate'] == 1"

run_case garbage garbage 3
recs "$WORK/out-garbage/records.jsonl" "sum(x['error'] == 'stream_error' and 'malformed' in x['error_detail'] for x in r) == 4"

# an empty stream ([DONE] only) where 8 tokens were asked is a stream error, not a success
run_case empty empty 2
recs "$WORK/out-empty/records.jsonl" "sum(x['error'] == 'stream_error' and 'no tokens' in x['error_detail'] for x in r) == 6 and sum(x['error'] is None for x in r) == 6"

# the whole server stalls 1.5 s on its 3rd POST (after one warm-up GET): the first-token
# timeout ends the requests caught behind it
run_case stall stall-once 0 --stall-at 4 --stall-ms 1500 -- --first-token-timeout 1s \
  --warm-connections 1
recs "$WORK/out-stall/records.jsonl" "sum(x['error'] == 'timeout' for x in r) >= 1 and sum(x['error'] is None for x in r) >= 1"

# a server that quotes the API key in its error body: the key reaches no file
KVTIER_API_KEY=sk-kvtier-test-0123456789 run_case echo echo-key 2
recs "$WORK/out-echo/records.jsonl" "sum(x['error'] == 'http_4xx' and 'Incorrect API key provided: Bearer ***' in x['error_detail'] for x in r) == 6"
for f in records.jsonl profile_export.jsonl summary.json; do
  if grep -q "sk-kvtier-test" "$WORK/out-echo/$f"; then fail "echo: the API key is in $f"; fi
done

# credentials in --url (userinfo, query) reach no file
start_responder cred
timeout 50 "$KVTIER" load --url "http://alice:pw-s3cret@127.0.0.1:$PORT_cred/?api_key=q-s3cret" \
  "${LOAD_ARGS[@]}" --out "$WORK/out-cred" || fail "cred: load failed"
measured cred
pyq "$WORK/out-cred/summary.json" "s['url'] == 'http://***@127.0.0.1:$PORT_cred/?api_key=***' and s['phases']['all']['errors'] == 0"
if grep -rq "s3cret" "$WORK/out-cred"; then fail "cred: a URL credential reached a file"; fi

# the server is killed (SIGKILL) when its 10th POST arrives: the streams in flight break,
# every later request cannot connect; the run ends on its own and records every request
start_responder killed --interval-us 20000 --die-at 10
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_killed" --isl 16 --osl 20 \
  --requests 40 --rate 20 --arrival constant --quiet --out "$WORK/out-killed" ||
  fail "killed: load exit $?"
measured killed
recs "$WORK/out-killed/records.jsonl" "len(r) == 40 and sum(x['error'] == 'connect' for x in r) >= 20 and sum(x['error'] == 'stream_error' for x in r) >= 1 and $S['interrupted'] is False"

# stop signals mid-run (1 s streams at 20 req/s, signalled 2.5 s in: some requests are done,
# about 20 in flight): stop sending, cancel what is in flight, write it all, exit 3
start_responder slow --interval-us 20000
signal_case() { # NAME SIGNAL
  "$KVTIER" load --url "http://127.0.0.1:$PORT_slow" --isl 16 --osl 50 --requests 1000 \
    --rate 20 --quiet --out "$WORK/out-$1" &
  local lp=$!
  PIDS+=($lp)
  for _ in $(seq 200); do [ -e "$WORK/out-$1/records.jsonl" ] && break; sleep 0.05; done
  sleep 2.5
  kill "-$2" "$lp"
  local rc=0
  wait "$lp" || rc=$?
  [ "$rc" = 3 ] || fail "$1: exit $rc after SIG$2 (want 3)"
  measured "$1"
  recs "$WORK/out-$1/records.jsonl" "sum(x['error'] == 'cancelled' for x in r) >= 1 and sum(x['error'] is None for x in r) >= 1 and $S['interrupted'] is True and $S['phases']['all']['not_sent'] > 0"
}
signal_case sigint INT
signal_case sighup HUP
# timeout(1) passes a SIGTERM on to kvtier and then to its whole process group (two copies)
timeout --preserve-status 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_slow" --isl 16 \
  --osl 50 --requests 1000 --rate 20 --quiet --out "$WORK/out-sigterm" &
TP=$!
PIDS+=($TP)
for _ in $(seq 200); do [ -e "$WORK/out-sigterm/records.jsonl" ] && break; sleep 0.05; done
sleep 2.5
kill -TERM "$TP"
rc=0
wait "$TP" || rc=$?
[ "$rc" = 3 ] || fail "sigterm: exit $rc under timeout(1) (want 3)"
measured sigterm
recs "$WORK/out-sigterm/records.jsonl" "sum(x['error'] is None for x in r) >= 1 and $S['interrupted'] is True"

# a plan that repeats a request id is refused (exit 2) naming the line
printf '%s\n' '{"id":"a","prompt":"x"}' '{"id":"b","prompt":"x"}' '{"id":"a","prompt":"y"}' > "$WORK/dup.jsonl"
rc=0
"$KVTIER" load --url "http://127.0.0.1:$PORT_slow" --plan "$WORK/dup.jsonl" --out "$WORK/out-dup" \
  2> "$WORK/dup.err" || rc=$?
[ "$rc" = 2 ] || fail "dup: exit $rc (want 2)"
grep -q 'dup.jsonl:3:.*repeats the id of line 1' "$WORK/dup.err" || fail "dup: $(cat "$WORK/dup.err")"

checks
echo "load_fault_matrix: ok"
