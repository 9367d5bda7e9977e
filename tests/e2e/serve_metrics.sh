#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Both metrics endpoints are valid Prometheus text (a small validator: metric and label syntax,
# a TYPE before every family's samples, one TYPE per family, numeric values, histogram buckets
# cumulative with +Inf equal to _count); every kvbm_* family is registered at 0 before any
# request, unlabelled, with counters lacking _total; the effective configuration is exported.
source "$(dirname "$0")/serve_lib.sh"

validate() {
  awk '
    function bad(m) { print "invalid Prometheus text line " NR ": " m ": " $0; err = 1; exit 1 }
    /^# HELP / { if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) bad("help name"); next }
    /^# TYPE / {
      if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) bad("type name")
      if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) bad("type")
      if ($3 in typed) bad("duplicate TYPE"); typed[$3] = $4; next }
    /^#/ { next }
    /^$/ { next }
    {
      if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? [^ ]+$/) bad("sample syntax")
      name = $0; sub(/[{ ].*/, "", name)
      fam = name; sub(/_(bucket|sum|count)$/, "", fam)
      if (!(name in typed) && !(fam in typed)) bad("sample before its TYPE")
      v = $NF
      if (v !~ /^([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$/) bad("value")
      if (name ~ /_bucket$/) {
        key = $0; sub(/,?le="[^"]*"/, "", key); sub(/ [^ ]+$/, "", key)
        if ((key in last) && v + 0 < last[key]) bad("bucket not cumulative")
        last[key] = v + 0
        if ($0 ~ /le="\+Inf"/) inf[key] = v + 0
      }
      if (name ~ /_count$/ && typed[fam] == "histogram") {
        key = $0; sub(/_count/, "_bucket", key); sub(/ [^ ]+$/, "", key)
        if (!(key in inf) || inf[key] != v + 0) bad("+Inf bucket != _count")
      }
    }
    END { exit err }'
}

start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=32 DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=64 \
  DYN_KVBM_DISK_CACHE_DIR="$DISKDIR" DYN_KVBM_METRICS=true -- --g1-blocks 64
curl -sf "$MURL" >"$WORK/kvbm0"
for n in kvbm_matched_tokens kvbm_offload_blocks_d2h kvbm_offload_blocks_h2d kvbm_offload_blocks_d2d \
         kvbm_onboard_blocks_h2d kvbm_onboard_blocks_d2d; do
  grep -qx "# TYPE $n counter" "$WORK/kvbm0" || fail "$n not a counter"
  grep -qx "$n 0" "$WORK/kvbm0" || fail "$n not registered at 0"
done
for n in kvbm_host_cache_hit_rate kvbm_disk_cache_hit_rate; do
  grep -qx "# TYPE $n gauge" "$WORK/kvbm0" || fail "$n not a gauge"
  grep -qx "$n 0" "$WORK/kvbm0" || fail "$n not 0 at start"
done
grep -E '^kvbm_[a-z0-9_]*(_total|\{)' "$WORK/kvbm0" && fail "kvbm_* with _total or labels"
validate <"$WORK/kvbm0" || fail "KVBM page invalid"
ok "KVBM page: all kvbm_* registered at 0, no labels, no _total; valid text"
for kv in "kvtier_engine_g1_capacity_blocks 64" "kvtier_engine_g2_capacity_blocks 32" \
          "kvtier_engine_g3_capacity_blocks 64" "kvtier_engine_disk_offload_filter_enabled 1" \
          "kvtier_engine_disk_o_direct 1" "kvtier_engine_kvbm_metrics_enabled 1" \
          "kvtier_engine_bytes_per_block 262144"; do
  grep -qx "$kv" "$WORK/kvbm0" || fail "config gauge '$kv' missing"
done
grep -q "kvtier_engine_info{.*mode=\"B2\".*disk_dir=\"$DISKDIR\"" "$WORK/kvbm0" || fail "info labels"
ok "effective configuration exported as gauges and info labels"
for i in 1 2 3; do complete_ids "$i" 100 5 >/dev/null; done
curl -sfN "$URL/v1/chat/completions" -d '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":4,"stream":true}' >/dev/null
curl -sf "$URL/metrics" >"$WORK/fe"
validate <"$WORK/fe" || fail "frontend page invalid"
for n in requests_total inflight_requests queued_requests disconnected_clients output_tokens_total \
         time_to_first_token_seconds inter_token_latency_seconds request_duration_seconds \
         input_sequence_tokens output_sequence_tokens cached_tokens model_total_kv_blocks; do
  grep -q "^dynamo_frontend_${n}[_{]" "$WORK/fe" || fail "dynamo_frontend_$n missing"
done
grep -qx 'dynamo_frontend_time_to_first_token_seconds_count{model="kvtier/tiny"} 4' "$WORK/fe" || fail "TTFT count"
grep -qx 'dynamo_frontend_output_tokens_total{model="kvtier/tiny"} 19' "$WORK/fe" || fail "output tokens"
curl -sf "$MURL" >"$WORK/kvbm1"
validate <"$WORK/kvbm1" || fail "KVBM page invalid after traffic"
[ "$(metric kvbm_offload_blocks_d2h)" -ge 9 ] || fail "d2h did not move"
sleep 5.2 # hit-rate gauges refresh every 5 s
complete_ids 1 100 5 >/dev/null
sleep 0.2
grep -q "Cache Hit Rates - Host:" "$WORK/server.log" || fail "no hit-rate log line"
ok "frontend page valid with dynamo_frontend_* labelled by model; hit-rate log line present"
stop_server
