#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier load against the instant SSE responder: records with the §6 keys, the summary layout,
# AIPerf-style export, X-Request-Id and standard fields only (strict responder answers 400
# otherwise), the API key is sent but written nowhere, --json, plans with sessions and carried
# history, a bad plan line named by file:line, an unreachable URL recorded as connect errors,
# and --extra-body really reaching the server (strict mode rejects it), a closed-loop ramp.
source "$(dirname "$0")/load_lib.sh"
SECRET="sk-e2e-$RANDOM$RANDOM-secret"
start_responder A --strict --expect-auth "$SECRET" --interval-us 500 --role-chunk
URL="http://127.0.0.1:$PORT_A"

# 1. synthetic open loop
KVTIER_API_KEY="$SECRET" timeout 60 "$KVTIER" load --url "$URL" --isl 64 --osl 8 --requests 120 \
  --warmup 5 --rate 200 --arrival constant --out "$WORK/o1" --json --quiet > "$WORK/o1.json" ||
  fail "synthetic run failed"
recs "$WORK/o1/records.jsonl" 'len(r) == 125 and all(x["error"] is None and x["http_status"] == 200 for x in r)'
recs "$WORK/o1/records.jsonl" 'all(set(["id","phase","session_id","turn","t_intended_ns","t_sent_ns","t_first_byte_ns","t_first_token_ns","t_first_content_ns","t_last_token_ns","t_end_ns","prompt_tokens","completion_tokens","cached_tokens","plan_input_tokens","http_status","error"]) <= set(x) for x in r)'
recs "$WORK/o1/records.jsonl" 'all(x["t_intended_ns"] <= x["t_sent_ns"] <= x["t_first_byte_ns"] <= x["t_first_token_ns"] <= x["t_last_token_ns"] <= x["t_end_ns"] for x in r)'
recs "$WORK/o1/records.jsonl" 'all(x["completion_tokens"] == 8 and x["client_tokens"] == 8 and len(x["chunk_gaps_ns"]) == 7 for x in r)'
# the role-only first chunk is not a token: first token is the first content chunk
recs "$WORK/o1/records.jsonl" 'all(x["t_first_token_ns"] == x["t_first_content_ns"] for x in r)'
recs "$WORK/o1/records.jsonl" 'sum(x["phase"] == "warmup" for x in r) == 5'
pyq "$WORK/o1/summary.json" 's["schema_version"] == 1 and s["phases"]["all"]["requests"] == 120 and s["phases"]["main"]["requests"] == 120 and s["phases"]["warmup"]["requests"] == 5'
pyq "$WORK/o1/summary.json" 'all(set(s["phases"]["main"][k]) == {"n","mean","stddev","min","p50","p90","p95","p99","p999","max","p50_ci","p90_ci","p95_ci","p99_ci","p999_ci"} for k in ["ttft_ms","ttft_sent_ms","ttfc_ms","itl_ms","tpot_ms","e2e_ms","client_lag_ms"])'
pyq "$WORK/o1/summary.json" 'all(k in s["phases"]["all"] for k in ["requests","errors","error_rate","duration_s","throughput_rps","output_tps","goodput_rps"])'
# constant 200/s for 120 requests: about 0.6 s of sending, achieved rate close to requested
pyq "$WORK/o1/summary.json" '150 < s["phases"]["main"]["throughput_rps"] < 230'
pyq "$WORK/o1/summary.json" '190 < s["phases"]["main"]["send_rate_per_s"] < 210 and isinstance(s["phases"]["main"]["client_lag_exceeded"], bool)'
pyq "$WORK/o1/summary.json" 's["phases"]["main"]["ttft_ms"]["p50"] >= s["phases"]["main"]["ttft_sent_ms"]["p50"]'
pyq "$WORK/o1.json" 's["phases"]["all"]["requests"] == 120'
python3 - "$WORK/o1/profile_export.jsonl" <<'PY' || fail "profile_export"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 125
for x in rows:
    assert set(x) == {"metadata", "metrics", "error"}
    assert x["metadata"]["x_request_id"]
    assert x["metrics"]["time_to_first_token"]["unit"] == "ms"
    assert x["error"] is None
PY
# the key went over the wire (the strict responder answers 401 otherwise) but was written nowhere
if grep -rl -- "$SECRET" "$WORK/o1" "$WORK/o1.json"; then fail "API key leaked into an output file"; fi

# 2. without the key: 401 recorded as http_4xx, run completes
timeout 60 env -u KVTIER_API_KEY -u OPENAI_API_KEY "$KVTIER" load --url "$URL" --isl 8 --osl 2 \
  --requests 5 --out "$WORK/o2" --quiet || fail "run without key failed"
recs "$WORK/o2/records.jsonl" 'len(r) == 5 and all(x["error"] == "http_4xx" and x["http_status"] == 401 for x in r)'
# OPENAI_API_KEY is the fallback
OPENAI_API_KEY="$SECRET" timeout 60 "$KVTIER" load --url "$URL" --isl 8 --osl 2 --requests 3 \
  --out "$WORK/o2b" --quiet || fail "OPENAI_API_KEY run failed"
recs "$WORK/o2b/records.jsonl" 'all(x["error"] is None for x in r)'

# 3. a non-standard field only when asked for; the strict server rejects it (like Dynamo did)
KVTIER_API_KEY="$SECRET" timeout 60 "$KVTIER" load --url "$URL" --isl 8 --osl 2 --requests 3 \
  --extra-body '{"session_id":"x"}' --out "$WORK/o3" --quiet || fail "extra-body run failed"
recs "$WORK/o3/records.jsonl" 'all(x["error"] == "http_4xx" and x["http_status"] == 400 for x in r)'

# 4. a plan with phases, sessions and carried history (completions endpoint)
cat > "$WORK/plan.jsonl" <<'PLAN'
{"kind":"kvtier.plan","schema_version":1,"endpoint":"completions","phases":[{"name":"warmup","arrival":"closed","concurrency":2},{"name":"replay","arrival":"constant","rate_per_s":50}],"capacity":{"g1_blocks":1}}
{"id":"w-0","phase":"warmup","prompt":"warm up","output_tokens":2}
{"id":"w-1","phase":"warmup","prompt":"warm up again","output_tokens":2}
{"id":"s1-0","phase":"replay","session_id":"s1","turn":0,"t_offset_ns":0,"prompt":"hello","output_tokens":3,"hash_ids":[1]}
{"id":"s2-0","phase":"replay","session_id":"s2","turn":0,"t_offset_ns":10000000,"prompt":"hi","output_tokens":3}
{"id":"s1-1","phase":"replay","session_id":"s1","turn":1,"t_offset_ns":null,"think_time_ns":50000000,"carry_history":true,"prompt":" more","output_tokens":4,"some_future_key":{"x":1}}
{"id":"s1-2","phase":"replay","session_id":"s1","turn":2,"think_time_ns":1000000,"carry_history":true,"prompt":" again","output_tokens":2}
PLAN
KVTIER_API_KEY="$SECRET" timeout 60 "$KVTIER" load --url "$URL" --plan "$WORK/plan.jsonl" \
  --out "$WORK/o4" --quiet || fail "plan run failed"
recs "$WORK/o4/records.jsonl" 'len(r) == 6 and all(x["error"] is None for x in r)'
python3 - "$WORK/o4/records.jsonl" <<'PY' || fail "session timing"
import json, sys
r = {x["id"]: x for x in map(json.loads, open(sys.argv[1]))}
# turn 1 intended exactly at turn 0's end + 50 ms think time
d = r["s1-1"]["t_intended_ns"] - r["s1-0"]["t_end_ns"]
assert 50_000_000 <= d < 52_000_000, d
assert r["s1-2"]["t_intended_ns"] >= r["s1-1"]["t_end_ns"] + 1_000_000
# carried history makes the later turn's prompt longer than its own text
assert r["s1-2"]["prompt_tokens"] > r["s2-0"]["prompt_tokens"]
assert r["s1-1"]["turn"] == 1 and r["s1-1"]["session_id"] == "s1"
PY
pyq "$WORK/o4/summary.json" 's["phases"]["replay"]["requests"] == 4 and s["phases"]["all"]["requests"] == 4 and s["endpoint"] == "completions"'

# 5. a bad plan line is named (file:line and field) and is a usage error
cp "$WORK/plan.jsonl" "$WORK/bad.jsonl"
echo '{"id":"oops","phase":"replay","prompt":"x","output_tokens":"many"}' >> "$WORK/bad.jsonl"
set +e
timeout 30 "$KVTIER" load --url "$URL" --plan "$WORK/bad.jsonl" --out "$WORK/o5" 2> "$WORK/o5.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad plan exit $rc"
grep -q 'bad.jsonl:8' "$WORK/o5.err" || fail "bad plan error does not name line 8: $(cat "$WORK/o5.err")"
grep -q 'output_tokens' "$WORK/o5.err" || fail "bad plan error does not name the field"

# 6. nothing listens there: every request is a connect error, nothing hangs
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 60 "$KVTIER" load --url "http://127.0.0.1:$DEAD" --isl 8 --osl 2 --requests 4 --rate 100 \
  --out "$WORK/o6" --quiet || fail "unreachable run failed"
recs "$WORK/o6/records.jsonl" 'len(r) == 4 and all(x["error"] == "connect" and x["t_first_token_ns"] is None for x in r)'
pyq "$WORK/o6/summary.json" 's["phases"]["all"]["errors"] == 4 and s["phases"]["all"]["goodput_rps"] == 0'
# DNS failure
timeout 60 "$KVTIER" load --url "http://no-such-host.invalid:8000" --isl 8 --osl 2 --requests 2 \
  --out "$WORK/o7" --quiet --connect-timeout 2s || fail "dns run failed"
recs "$WORK/o7/records.jsonl" 'len(r) == 2 and all(x["error"] == "connect" for x in r)'
# usage errors
set +e
"$KVTIER" load --url "$URL" --out "$WORK/o8" 2>/dev/null; [ $? = 2 ] || fail "no source must be a usage error"
"$KVTIER" load --url "$URL" --isl 8 --requests 2 --rate 5 --concurrency 2 --out "$WORK/o8" 2>/dev/null
[ $? = 2 ] || fail "--rate with --concurrency must be a usage error"
set -e

# 7. a closed-loop ramp opens the 8 slots 50 ms apart (each opening is the intended time of
#    the request it takes; a request lasts ~100 ms, so the slots fill), never more than 8 in
#    flight; --busy-poll measures the same way
KVTIER_API_KEY="$SECRET" timeout 60 "$KVTIER" load --url "$URL" --isl 8 --osl 200 --requests 40 \
  --concurrency 8 --ramp 400ms --busy-poll --out "$WORK/o9" --quiet || fail "ramp run failed"
recs "$WORK/o9/records.jsonl" 'len(r) == 40 and all(x["error"] is None for x in r)'
recs "$WORK/o9/records.jsonl" 'set(min(y["t_intended_ns"] for y in r) + k * 50_000_000 for k in range(8)) <= set(x["t_intended_ns"] for x in r)'
recs "$WORK/o9/records.jsonl" 'max(sum(y["t_sent_ns"] <= x["t_sent_ns"] < y["t_end_ns"] for y in r) for x in r) <= 8'
recs "$WORK/o9/records.jsonl" 'all(x["t_sent_ns"] - x["t_intended_ns"] < 20_000_000 for x in r)'
pyq "$WORK/o9/summary.json" 's["schedule"][0]["ramp_ns"] == 400_000_000 and s["schedule"][0]["closed_loop"]'
"$KVTIER" load --help > "$WORK/help.txt"; grep -q -- "--max-concurrency" "$WORK/help.txt" || fail "--help incomplete"
checks
echo "load_basic: ok"
