#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier load against the emulated engine (kvtier serve): synthetic chat with exact output
# lengths and usage counts; a Mooncake trace sent as token ids is token-exact and equal hash
# ids are reused (cached_tokens); a plan written by kvtier plan runs phase by phase; the
# engine's failure injection lands in the right error classes; a request longer than
# --max-context is refused unsent.
source "$(dirname "$0")/load_lib.sh"
: "${KVTIER_PROFILES:?}"

start_serve() { # NAME serve-options...
  local name=$1; shift
  local ready="$WORK/$name.ready"
  "$KVTIER" serve --profiles "$KVTIER_PROFILES" --model tiny --hardware cpu_small --port 0 \
    --metrics-port 0 --ready-file "$ready" --speedup 20 "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$ready" ] && break; sleep 0.05; done
  [ -s "$ready" ] || fail "kvtier serve $name did not become ready: $(cat "$WORK/$name.log")"
  eval "PORT_$name=$(sed -E 's/.*"http_port": ([0-9]+).*/\1/' "$ready")"
}

start_serve S
URL="http://127.0.0.1:$PORT_S"

# 1. synthetic chat, open loop: exact output length, usage from the server
timeout 50 "$KVTIER" load --url "$URL" --model tiny --isl 64 --osl 8 --requests 30 --rate 20 \
  --out "$WORK/syn" --quiet || fail "synthetic run failed"
recs "$WORK/syn/records.jsonl" 'len(r) == 30 and all(x["error"] is None and x["completion_tokens"] == 8 and x["client_tokens"] == 8 and x["prompt_tokens"] >= 64 for x in r)'
pyq "$WORK/syn/summary.json" 's["phases"]["all"]["tpot_ms"]["n"] == 30 and s["phases"]["all"]["itl_ms"]["n"] == 30 * 7'

# 2. Mooncake trace as token ids: token-exact prompts, shared hash ids are cache hits
cat > "$WORK/trace.jsonl" <<'T'
{"timestamp":0,"input_length":70,"output_length":4,"hash_ids":[1,2,3]}
{"timestamp":300,"input_length":90,"output_length":4,"hash_ids":[1,2,5]}
{"timestamp":600,"input_length":70,"output_length":4,"hash_ids":[1,2,3]}
T
timeout 50 "$KVTIER" load --url "$URL" --model tiny --trace "$WORK/trace.jsonl" \
  --tokens-per-hash-id 32 --prompt-ids --out "$WORK/tr" --quiet || fail "trace run failed"
recs "$WORK/tr/records.jsonl" 'len(r) == 3 and all(x["error"] is None and x["prompt_tokens"] == x["plan_input_tokens"] for x in r)'
recs "$WORK/tr/records.jsonl" 'r[0]["cached_tokens"] == 0 and r[1]["cached_tokens"] == 64 and r[2]["cached_tokens"] == 64'
# intended times follow the trace timestamps
recs "$WORK/tr/records.jsonl" 'abs((r[2]["t_intended_ns"] - r[0]["t_intended_ns"]) - 600_000_000) < 1000'

# 3. a plan written by kvtier plan, every phase bounded to 2 s of intended sends
timeout 60 "$KVTIER" plan --profiles "$KVTIER_PROFILES" -w A -d S -m tiny --seed 3 \
  --g1-blocks 64 --g2-blocks 256 --g3-blocks 4096 -o "$WORK/plan.jsonl" 2>/dev/null ||
  fail "kvtier plan failed"
timeout 60 "$KVTIER" load --url "$URL" --model tiny --plan "$WORK/plan.jsonl" --duration 2s \
  --out "$WORK/plan" --quiet || fail "plan run failed"
recs "$WORK/plan/records.jsonl" 'len(r) >= 4 and all(x["error"] is None for x in r)'
recs "$WORK/plan/records.jsonl" 'all(x["prompt_tokens"] == x["plan_input_tokens"] for x in r)'
pyq "$WORK/plan/summary.json" 'all(p in s["phases"] for p in ["warmup", "pressure", "replay", "steady", "all"]) and s["phases"]["all"]["requests"] == sum(s["phases"][p]["requests"] for p in ["pressure", "replay", "steady"])'

# 4. the engine's failure injection
start_serve F --inject-5xx-every 3
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_F" --model tiny --isl 16 --osl 4 \
  --requests 12 --rate 20 --out "$WORK/f5" --quiet || fail "5xx run failed"
recs "$WORK/f5/records.jsonl" 'sum(x["error"] == "http_5xx" for x in r) == 4 and sum(x["error"] is None for x in r) == 8'
start_serve C --inject-cut-stream-every 2
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_C" --model tiny --isl 16 --osl 16 \
  --requests 8 --rate 20 --out "$WORK/fc" --quiet || fail "cut-stream run failed"
recs "$WORK/fc/records.jsonl" 'sum(x["error"] == "stream_error" for x in r) == 4 and sum(x["error"] is None for x in r) == 4'
start_serve D --inject-first-token-delay 5s
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_D" --model tiny --isl 16 --osl 4 \
  --requests 4 --rate 20 --first-token-timeout 1s --out "$WORK/fd" --quiet ||
  fail "first-token delay run failed"
recs "$WORK/fd/records.jsonl" 'len(r) == 4 and all(x["error"] == "timeout" for x in r)'

# 5. a request longer than the engine accepts is refused before it is sent: recorded as
# "refused" with the reason, counted in the summary, and the server never sees it
start_serve X
cat > "$WORK/long.jsonl" <<'T'
{"timestamp":0,"input_length":70,"output_length":4,"hash_ids":[1]}
{"timestamp":100,"input_length":990,"output_length":20,"hash_ids":[7,8]}
{"timestamp":200,"input_length":70,"output_length":4,"hash_ids":[1]}
T
timeout 50 "$KVTIER" load --url "http://127.0.0.1:$PORT_X" --model tiny --trace "$WORK/long.jsonl" \
  --prompt-ids --max-context 1000 --out "$WORK/lc" --quiet ||
  fail "context-limited run failed"
recs "$WORK/lc/records.jsonl" 'len(r) == 3 and [x["error"] for x in r] == [None, "refused", None]'
recs "$WORK/lc/records.jsonl" 'r[1]["t_sent_ns"] is None and r[1]["http_status"] is None and "990 prompt + 20 output tokens exceed the engine\x27s context of 1000" in r[1]["error_detail"]'
pyq "$WORK/lc/summary.json" 's["context_limit"] == {"max_context_tokens": 1000, "source": "kvtier load --max-context", "refused": 1} and s["phases"]["all"]["errors_by_class"]["refused"] == 1'
python3 - "http://127.0.0.1:$PORT_X/metrics" <<'PY' || fail "the server saw the refused request"
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
n = sum(float(l.rsplit(" ", 1)[1]) for l in page.splitlines()
        if l.startswith("dynamo_frontend_requests_total{"))
assert n == 2, n
PY
checks
echo "load_serve: ok"
