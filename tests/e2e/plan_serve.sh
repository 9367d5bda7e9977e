#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A kvtier plan through the real stack of the project: kvtier serve (tiny model, G1/G2/G3 sized
# as the plan says, disk filter off as in mode B2p) driven by kvtier load. The server's usage
# counts must equal the plan's token counts for every request (the prompt is built token-exact,
# template applied last), and the replay phase must show the reuse the plan created.
set -euo pipefail
. "$(dirname "$0")/serve_lib.sh"
# G1 holds 2 of the 6 primed 192-block prefixes; G2 4; G3 all of them plus the pressure.
G1=400 G2=762 G3=7629
timeout 60 "$KVTIER" plan -w A -d S -m tiny --seed 3 --g1-blocks $G1 --g2-blocks $G2 \
  --g3-blocks $G3 --rate-scale 20 --max-requests 12 -o "$WORK/plan.jsonl" 2>/dev/null
head -1 "$WORK/plan.jsonl" | jq -e '.pressure.exceeds_g1_g2 and .pressure.fits_g3' >/dev/null ||
  fail "plan pressure arithmetic"
start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=$G2 DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=$G3 \
  DYN_KVBM_DISK_CACHE_DIR="$DISKDIR" DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true DYN_KVBM_METRICS=true -- \
  --g1-blocks $G1 --speedup 50
timeout 120 "$KVTIER" load --url "$URL" --model tiny --plan "$WORK/plan.jsonl" --out "$WORK/out" --quiet \
  2>"$WORK/load.err" || fail "load failed: $(tail -5 "$WORK/load.err")"
n_plan=$(($(wc -l < "$WORK/plan.jsonl") - 1))
rec="$WORK/out/records.jsonl"
[ "$(wc -l < "$rec")" -eq "$n_plan" ] || fail "records $(wc -l < "$rec") != plan requests $n_plan"
jq -e -s 'all(.[]; .error == null or .error == "")' "$rec" >/dev/null || fail "request errors"
jq -e -s 'all(.[]; .prompt_tokens == .plan_input_tokens)' "$rec" >/dev/null ||
  fail "server prompt_tokens differ from the plan: $(jq -c -s 'map(select(.prompt_tokens != .plan_input_tokens))[0]' "$rec")"
ok "$n_plan requests: server usage.prompt_tokens == plan input_tokens for every one"
opp=$(head -1 "$WORK/plan.jsonl" | jq .reuse_opportunity_tokens.replay)
cached=$(jq -s '[.[] | select(.phase == "replay") | .cached_tokens // 0] | add' "$rec")
echo "replay: plan reuse opportunity $opp tokens, server cached $cached tokens"
[ "$cached" -ge $((opp / 2)) ] || fail "replay reused $cached of $opp tokens"
d2d=$(metric kvbm_onboard_blocks_d2d)
h2d=$(metric kvbm_onboard_blocks_h2d)
echo "onboarded blocks: disk->device $d2d, host->device $h2d"
awk -v a="$d2d" -v b="$h2d" 'BEGIN { exit !(a + b > 0) }' || fail "no onboarding from G2/G3"
ok "reuse observed"
