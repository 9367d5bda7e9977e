#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier serve with a real byte-level BPE tokenizer.json (a small fixture with the Llama 3 special
# tokens): prompts are counted exactly by it, chat requests go through the template with special
# tokens, and generated text re-tokenizes to exactly the generated number of tokens (filler words
# are single tokens), so a reply sent back in the next turn shares its KV blocks.
source "$(dirname "$0")/serve_lib.sh"
TOK="$KVTIER_FIXTURES/engine/tokenizer.json"
start_server -- --g1-blocks 256 --tokenizer "$TOK"
grep -q "tokenizer=bpe" "$WORK/server.log" || fail "startup line does not say tokenizer=bpe"
body=$(curl -sf "$URL/v1/completions" -d '{"model":"tiny","prompt":"hello the user question","max_tokens":10,"ignore_eos":true}')
[ "$(echo "$body" | json_int prompt_tokens)" = 4 ] || fail "BPE prompt count: $body"
text=$(echo "$body" | sed -E 's/.*"text":"([^"]*)".*/\1/')
back=$(curl -sf "$URL/v1/completions" -d "{\"model\":\"tiny\",\"prompt\":\"$text\",\"max_tokens\":1}" | json_int prompt_tokens)
[ "$back" = 10 ] || fail "generated text re-tokenizes to $back tokens, not 10: '$text'"
ok "exact BPE counts; 10 generated tokens re-tokenize to 10"
body=$(curl -sf "$URL/v1/chat/completions" -d '{"model":"tiny","messages":[{"role":"system","content":"you are a careful assistant"},{"role":"user","content":"hello"}],"max_tokens":7,"ignore_eos":true}')
[ "$(echo "$body" | json_int completion_tokens)" = 7 ] || fail "chat output length"
p=$(echo "$body" | json_int prompt_tokens)
[ "$p" -ge 15 ] && [ "$p" -le 40 ] || fail "chat prompt of $p tokens: template special tokens not single tokens?"
ok "chat through the Llama 3 template: $p prompt tokens"
stop_server
