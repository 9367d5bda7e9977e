#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The OpenAI API as Dynamo's frontend serves it: /v1/models, /health, /live; exact output
# lengths with max_tokens / max_completion_tokens + ignore_eos or min_tokens; the SSE format
# (role-only first chunk, one chunk per token, finish chunk, usage chunk, [DONE]); deterministic
# text; cached_tokens from the device prefix cache, also across chat turns.
source "$(dirname "$0")/serve_lib.sh"
start_server -- --g1-blocks 256
page "$URL/v1/models" | grep -q '"id":"kvtier/tiny"' || fail "/v1/models"
page "$URL/health" | grep -q '"status":"healthy"' || fail "/health"
page "$URL/live" | grep -q '"status":"live"' || fail "/live"
ok "models, health, live"

# exact lengths, unary completions
for n in 1 17 64; do
  body=$(curl -sf "$URL/v1/completions" -d "{\"model\":\"kvtier/tiny\",\"prompt\":\"count the words\",\"max_tokens\":$n,\"ignore_eos\":true}")
  [ "$(echo "$body" | json_int completion_tokens)" = "$n" ] || fail "completion_tokens != $n: $body"
  words=$(echo "$body" | sed -E 's/.*"text":"([^"]*)".*/\1/' | wc -w)
  [ "$words" = "$n" ] || fail "text has $words words, expected $n"
  echo "$body" | grep -q '"finish_reason":"length"' || fail "finish_reason"
done
ok "max_tokens + ignore_eos give exact lengths (1, 17, 64)"
body=$(curl -sf "$URL/v1/completions" -d '{"model":"tiny","prompt":"min tokens","max_tokens":12,"min_tokens":12}')
[ "$(echo "$body" | json_int completion_tokens)" = 12 ] || fail "min_tokens = max_tokens"
body=$(curl -sf "$URL/v1/completions" -d '{"model":"tiny","prompt":"natural end","max_tokens":4000}')
n=$(echo "$body" | json_int completion_tokens)
echo "$body" | grep -q '"finish_reason":"stop"' || fail "no natural stop: $body"
[ "$n" -lt 4000 ] || fail "natural stop at the cap"
ok "min_tokens honoured; without ignore_eos the reply stops on its own ($n tokens)"
a=$(curl -sf "$URL/v1/completions" -d '{"model":"tiny","prompt":"same","max_tokens":20,"ignore_eos":true}' | sed -E 's/.*"text":"([^"]*)".*/\1/')
b=$(curl -sf "$URL/v1/completions" -d '{"model":"tiny","prompt":"same","max_tokens":20,"ignore_eos":true}' | sed -E 's/.*"text":"([^"]*)".*/\1/')
[ "$a" = "$b" ] || fail "text not deterministic"
ok "generated text is deterministic per request"

# streaming chat with usage
curl -sfN "$URL/v1/chat/completions" -d '{"model":"tiny","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"hello"}],"max_completion_tokens":9,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' >"$WORK/sse"
grep -c '^data: ' "$WORK/sse" >/dev/null
head -1 "$WORK/sse" | grep -q '"delta":{"role":"assistant","content":""}' || fail "first chunk not role-only"
[ "$(grep -c '"delta":{"content":' "$WORK/sse")" = 9 ] || fail "expected 9 token chunks"
grep -q '"finish_reason":"length"' "$WORK/sse" || fail "no finish chunk"
grep -q '"choices":\[\],"usage":{"prompt_tokens":[0-9]*,"completion_tokens":9' "$WORK/sse" || fail "usage chunk"
[ "$(grep '^data: ' "$WORK/sse" | tail -1)" = "data: [DONE]" ] || fail "no [DONE]"
ok "SSE chat: role chunk, 9 token chunks, finish, usage, [DONE]"
curl -sfN "$URL/v1/completions" -d '{"model":"tiny","prompt":"stream me","max_tokens":5,"ignore_eos":true,"stream":true}' >"$WORK/sse2"
[ "$(grep -c '"text":" ' "$WORK/sse2")" = 5 ] || fail "completions stream token count"
grep -q usage "$WORK/sse2" && fail "usage without include_usage"
ok "SSE completions: 5 token chunks, no usage unless asked"

# device prefix reuse across chat turns
sys=$(printf 'You are a careful assistant. %.0s' $(seq 1 40))
t1=$(curl -sf "$URL/v1/chat/completions" -d "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"$sys\"},{\"role\":\"user\",\"content\":\"first question\"}],\"max_tokens\":40,\"ignore_eos\":true}")
reply=$(echo "$t1" | sed -E 's/.*"content":"([^"]*)".*/\1/')
p1=$(echo "$t1" | json_int prompt_tokens)
t2=$(curl -sf "$URL/v1/chat/completions" -d "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"$sys\"},{\"role\":\"user\",\"content\":\"first question\"},{\"role\":\"assistant\",\"content\":\"$reply\"},{\"role\":\"user\",\"content\":\"second\"}],\"max_tokens\":4,\"ignore_eos\":true}")
c2=$(echo "$t2" | json_int cached_tokens)
[ "$c2" -ge $(( (p1 / 32) * 32 )) ] || fail "turn 2 reused $c2 tokens, turn 1 prompt had $p1"
[ $((c2 % 32)) = 0 ] || fail "cached tokens not whole blocks"
ok "turn 2 reuses $c2 cached tokens (turn 1 prompt $p1 tokens)"
page "$URL/metrics" | grep -q 'dynamo_frontend_requests_total{model="kvtier/tiny",endpoint="chat_completions",request_type="stream",status="success"' || fail "frontend request counter"
stop_server
ok "frontend metrics count the requests; clean shutdown"
