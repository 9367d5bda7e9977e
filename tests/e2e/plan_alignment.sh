#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Block alignment through the engine's tokenizer path: requests planned to share N full blocks
# share exactly N after the chat template and tokenization by `kvtier tokenize --mode chat` (the
# code kvtier serve runs). Always with the approximate tokenizer; with the exact Llama 3 and
# o200k_harmony BPEs too when the test-only npm packages are installed.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}" "${KVTIER_SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cap=(--g1-blocks 300 --g2-blocks 200 --g3-blocks 6000)

# check PLAN TEMPLATE [TOKENIZER]: engine-path hash_ids == plan hash_ids for sampled requests,
# and warmup/replay requests of one group share exactly SHARED blocks.
check() {
    local plan=$1 tpl=$2 shared=$3 tok=${4:-}
    local targs=(--template "$tpl" --vocab 32000) # tiny's vocabulary for the approximate path
    [ -n "$tok" ] && targs+=(--tokenizer "$tok")
    tail -n +2 "$plan" | awk 'NR % 5 == 1' > "$tmp/sample"
    jq -c .messages "$tmp/sample" |
        "$KVTIER" tokenize "${targs[@]}" --mode chat-jsonl 2>/dev/null > "$tmp/eng"
    [ "$(jq -c '[.tokens, .hash_ids]' "$tmp/eng")" = "$(jq -c '[.input_tokens, .hash_ids]' "$tmp/sample")" ] ||
        fail "$plan: engine-path tokens or hash_ids differ from the plan"
    local n
    n=$(wc -l < "$tmp/sample")
    local pairs
    pairs=$(tail -n +2 "$plan" | jq -s --argjson s "$shared" '
        [.[] | select(.phase == "warmup")] as $w
        | [.[] | select(.phase == "replay") as $r
           | ($w[] | select(.group == $r.group)) as $p
           | [range(0; [($p.hash_ids|length), ($r.hash_ids|length)] | min)]
           | map(select($p.hash_ids[.] == $r.hash_ids[.])) | length] as $c
        | if ($c | length) > 0 and all($c[]; . == $s) then ($c | length) else -1 end')
    [ "$pairs" -gt 0 ] || fail "$plan: warmup/replay pairs do not share exactly $shared blocks"
    echo "$plan: $n requests re-tokenized by the engine path match; $pairs pairs share exactly $shared blocks"
}

timeout 60 "$KVTIER" plan -w A -d S -m tiny "${cap[@]}" -o "$tmp/approx.jsonl" 2>/dev/null
check "$tmp/approx.jsonl" llama3 192
# Hugging Face's Llama 3.1 template (dated system header, trimmed contents) through a model
# profile that names it
mkdir -p "$tmp/p/models"
ln -s "$KVTIER_PROFILES/workloads" "$tmp/p/workloads"
ln -s "$KVTIER_PROFILES/hardware" "$tmp/p/hardware"
sed 's/^chat_template: .*/chat_template: llama31/; s/^name: tiny/name: tiny31/' \
    "$KVTIER_PROFILES/models/tiny.yaml" > "$tmp/p/models/tiny31.yaml"
timeout 60 "$KVTIER" plan --profiles "$tmp/p" -w A -d S -m tiny31 "${cap[@]}" -o "$tmp/l31.jsonl" 2>/dev/null
head -1 "$tmp/l31.jsonl" | jq -e '.chat_template == "llama31"' >/dev/null || fail "llama31 header"
check "$tmp/l31.jsonl" llama31 192

npmdir="$KVTIER_SRC/tests/npm"
if command -v node >/dev/null 2>&1 && [ -d "$npmdir/node_modules/llama3-tokenizer-js" ] &&
    [ -d "$npmdir/node_modules/gpt-tokenizer" ]; then
    timeout 60 node "$npmdir/export.mjs" "$tmp/tok" >/dev/null
    timeout 60 "$KVTIER" plan -w A -d S -m llama8b_fp8 -t "$tmp/tok/llama3.json" "${cap[@]}" \
        -o "$tmp/llama.jsonl" 2>/dev/null
    head -1 "$tmp/llama.jsonl" | jq -e '.tokenizer == "bpe"' >/dev/null || fail "header tokenizer"
    check "$tmp/llama.jsonl" llama31 192 "$tmp/tok/llama3.json"
    # C/S on GPT-OSS: harmony template, system 256 + document 5888 = 192 blocks
    timeout 60 "$KVTIER" plan -w C -d S -m gptoss120b_mxfp4 -t "$tmp/tok/o200k_harmony.json" \
        "${cap[@]}" -o "$tmp/oss.jsonl" 2>/dev/null
    check "$tmp/oss.jsonl" harmony 192 "$tmp/tok/o200k_harmony.json"
else
    echo "exact-tokenizer alignment skipped: npm packages absent (run scripts/install-deps)"
fi
echo "ok"
