#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Exact token-id parity of kvtier's BPE with two independent tokenizers (test-only npm packages
# installed by scripts/install-deps into tests/npm/node_modules): their vocabularies and merges
# are exported to tokenizer.json files, a varied corpus (code, many scripts, emoji, numbers,
# whitespace runs, special tokens, plus seeded random strings) is encoded by both sides and
# every id must match; decoding kvtier's ids must give the text back. Skips (exit 77) with a
# reason when node or the npm packages are absent.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_SRC:?}"
npmdir="$KVTIER_SRC/tests/npm"
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node is not installed (scripts/install-deps installs it)"; exit 77
fi
if [ ! -d "$npmdir/node_modules/llama3-tokenizer-js" ] || [ ! -d "$npmdir/node_modules/gpt-tokenizer" ]; then
    echo "SKIP: npm packages absent in tests/npm/node_modules (run scripts/install-deps)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 60 node "$npmdir/export.mjs" "$tmp/tok" >/dev/null
timeout 60 node "$npmdir/reference.mjs" "$KVTIER_SRC/tests/fixtures/tokenizer/parity_corpus.json" "$tmp/ref" 500 >/dev/null
total=$(wc -l < "$tmp/ref/texts.jsonl")
fail=0
for m in llama3 o200k_harmony; do
    timeout 60 "$KVTIER" tokenize --tokenizer "$tmp/tok/$m.json" --mode jsonl < "$tmp/ref/texts.jsonl" > "$tmp/$m.mine"
    bad=$(paste -d '\t' "$tmp/ref/$m.ids" "$tmp/$m.mine" | awk -F '\t' '$1 != $2' | wc -l)
    echo "$m: $((total - bad))/$total texts with identical ids"
    if [ "$bad" -ne 0 ]; then
        fail=1
        paste -d '\t' "$tmp/ref/texts.jsonl" "$tmp/ref/$m.ids" "$tmp/$m.mine" | awk -F '\t' '$2 != $3' | head -3
    fi
    # decode(encode(text)) == text for a few corpus texts (code, CJK, emoji, whitespace)
    for i in 3 8 9 18; do
        sed -n "${i}p" "$tmp/ref/texts.jsonl" | jq -j . > "$tmp/in.txt"
        "$KVTIER" tokenize --tokenizer "$tmp/tok/$m.json" < "$tmp/in.txt" > "$tmp/ids.json"
        "$KVTIER" tokenize --tokenizer "$tmp/tok/$m.json" --mode decode < "$tmp/ids.json" > "$tmp/out.txt"
        if ! cmp -s "$tmp/in.txt" "$tmp/out.txt"; then
            echo "$m: decode(encode(text $i)) differs"; fail=1
        fi
    done
done
exit $fail
