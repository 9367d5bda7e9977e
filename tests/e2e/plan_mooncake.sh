#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Mooncake round trip through the real binary: a trace imported with the engine's block size
# and raw token prompts exports back to the same rows (lengths, timestamps, hash-id structure);
# a family plan exports with the Mooncake length invariant on every row.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat > "$tmp/trace.jsonl" <<'ROWS'
{"timestamp": 0, "input_length": 128, "output_length": 10, "hash_ids": [0, 1, 2, 3]}
{"timestamp": 250, "input_length": 96, "output_length": 12, "hash_ids": [0, 1, 4]}
{"timestamp": 900, "input_length": 40, "output_length": 5, "hash_ids": [5, 6]}
{"timestamp": 1800, "input_length": 160, "output_length": 9, "hash_ids": [0, 1, 2, 3, 7]}
ROWS
timeout 60 "$KVTIER" plan --trace "$tmp/trace.jsonl" --trace-tokens-per-hash 32 -e completions \
    -m tiny --g1-blocks 100 --g2-blocks 100 --g3-blocks 1000 -o "$tmp/plan.jsonl" \
    --export-mooncake "$tmp/out.jsonl" 2>/dev/null
norm() { jq -c '{timestamp, input_length, output_length, hash_ids}' "$1"; }
diff <(norm "$tmp/trace.jsonl") <(norm "$tmp/out.jsonl") || fail "round trip differs"
head -1 "$tmp/plan.jsonl" | jq -e '.reuse_opportunity_tokens.steady == (2 + 4) * 32' >/dev/null ||
    fail "trace reuse opportunity"
echo "trace round trip: $(wc -l < "$tmp/out.jsonl") rows identical"

timeout 60 "$KVTIER" plan -w B -d S -m tiny --g1-blocks 600 --g2-blocks 400 --g3-blocks 8000 \
    -o "$tmp/b.jsonl" 2>/dev/null
"$KVTIER" plan --export-from "$tmp/b.jsonl" --export-mooncake "$tmp/b.mc" 2>/dev/null
[ "$(wc -l < "$tmp/b.mc")" -eq $(($(wc -l < "$tmp/b.jsonl") - 1)) ] || fail "export row count"
jq -e -s 'all(.[]; ((.hash_ids | length) - 1) * 32 < .input_length
                   and .input_length <= (.hash_ids | length) * 32)' "$tmp/b.mc" >/dev/null ||
    fail "exported rows break (n-1)*B < input_length <= n*B"
jq -e -s '[.[] | select(.session_id != null and .delay != null)] | length > 0' "$tmp/b.mc" >/dev/null ||
    fail "session turns lack session_id/delay"
echo "ok"
