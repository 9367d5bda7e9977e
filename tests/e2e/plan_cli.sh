#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier plan through the real binary: byte-identical plans for the same inputs, the header's
# inputs and arithmetic, and bad input refused with exit 2 and a message naming file, line and
# field (malformed profile, malformed trace row, Dataset L on an 8k engine).
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cap=(--g1-blocks 600 --g2-blocks 400 --g3-blocks 8000)
fail() { echo "FAIL: $*"; exit 1; }

"$KVTIER" plan --help | grep -q -- "--g3-blocks" || fail "--help lacks the capacity options"
for w in A B C D; do
    timeout 60 "$KVTIER" plan -w "$w" -d S -m tiny --seed 5 "${cap[@]}" -o "$tmp/$w.1" 2>/dev/null
    timeout 60 "$KVTIER" plan -w "$w" -d S -m tiny --seed 5 "${cap[@]}" -o "$tmp/$w.2" 2>/dev/null
    cmp -s "$tmp/$w.1" "$tmp/$w.2" || fail "workload $w: same inputs, different plans"
    head -1 "$tmp/$w.1" | jq -e '.kind == "kvtier.plan" and .tokenizer == "approx"
        and (.phases | map(.name)) == ["warmup","pressure","replay","steady"]
        and .pressure.exceeds_g1_g2 and .pressure.fits_g3
        and (.reuse_opportunity_tokens.replay > 0) and .capacity.g3_blocks == 8000' >/dev/null ||
        fail "workload $w: header"
    n=$(($(wc -l < "$tmp/$w.1") - 1))
    [ "$n" -eq "$(head -1 "$tmp/$w.1" | jq .requests)" ] || fail "workload $w: request count"
    echo "workload $w: $n requests, deterministic"
done
timeout 60 "$KVTIER" plan -w A -d S -m tiny --seed 6 "${cap[@]}" -o "$tmp/A.3" 2>/dev/null
cmp -s "$tmp/A.1" "$tmp/A.3" && fail "different seeds gave the same plan"

# --corpus: prompts drawn from a directory of text (here kvtier's own sources), still aligned
timeout 60 "$KVTIER" plan -w A -d S -m tiny "${cap[@]}" --corpus "$KVTIER_SRC/src" -o "$tmp/corpus.jsonl" 2>/dev/null
head -1 "$tmp/corpus.jsonl" | jq -e '.text_source | startswith("corpus ")' >/dev/null || fail "corpus source"
tail -n +2 "$tmp/corpus.jsonl" | jq -e -s '
    [.[] | select(.phase == "warmup")][0] as $w
    | [.[] | select(.phase == "replay" and .group == $w.group)][0] as $r
    | ([range(0; [($w.hash_ids | length), ($r.hash_ids | length)] | min)]
       | until(length == 0 or ($w.hash_ids[.[0]] != $r.hash_ids[.[0]]); .[1:]) | .[0]) == 192
      and ([.[].messages[] | .content | test("File: ")] | any)' >/dev/null ||
    fail "corpus plan alignment"
set +e
"$KVTIER" plan -w A -d S -m tiny "${cap[@]}" --corpus "$tmp/nonexistent" -o "$tmp/x" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "nonexistent" "$tmp/err" || fail "missing corpus: exit $rc $(cat "$tmp/err")"
echo "corpus plan: aligned"

# Dataset L on an 8k engine is refused with the reason
set +e
"$KVTIER" plan -w C -d L -m llama8b_fp8 -o "$tmp/x" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "L on llama8b_fp8: exit $rc"
grep -q "max_sequence_length >= 32768" "$tmp/err" || fail "L refusal reason: $(cat "$tmp/err")"
[ ! -e "$tmp/x" ] || fail "a refused plan left a file"

# malformed profile: file, line and field
mkdir -p "$tmp/p/workloads"
ln -s "$KVTIER_PROFILES/models" "$tmp/p/models"
ln -s "$KVTIER_PROFILES/hardware" "$tmp/p/hardware"
sed 's/query_tokens: \[48, 384\]/query_tokens: [384, 48]/' "$KVTIER_PROFILES/workloads/A.yaml" > "$tmp/p/workloads/A.yaml"
line=$(grep -n 'query_tokens: \[384, 48\]' "$tmp/p/workloads/A.yaml" | head -1 | cut -d: -f1)
set +e
"$KVTIER" plan --profiles "$tmp/p" -w A -d S -m tiny "${cap[@]}" -o "$tmp/x" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "malformed profile: exit $rc"
grep -q "workloads/A.yaml:$line: datasets.S.classes\[0\].query_tokens" "$tmp/err" ||
    fail "malformed profile message: $(cat "$tmp/err")"

# malformed trace row: file, line and field
printf '%s\n' '{"timestamp": 0, "input_length": 40, "output_length": 4, "hash_ids": [1, 2]}' \
    '{"timestamp": 5, "input_length": 40, "output_length": 4, "hash_ids": [1, "x"]}' > "$tmp/t.jsonl"
set +e
"$KVTIER" plan --trace "$tmp/t.jsonl" --trace-tokens-per-hash 32 -m tiny "${cap[@]}" -o "$tmp/x" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "malformed trace: exit $rc"
grep -q 't.jsonl:2: field "hash_ids\[1\]"' "$tmp/err" || fail "malformed trace message: $(cat "$tmp/err")"

# unknown workload and unknown option
set +e
"$KVTIER" plan -w Q -m tiny "${cap[@]}" -o "$tmp/x" 2>/dev/null; rc1=$?
"$KVTIER" plan --g4-blocks 1 2>/dev/null; rc2=$?
set -e
[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] || fail "unknown workload/option: exit $rc1/$rc2"
echo "ok"
