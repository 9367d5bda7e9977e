#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier doctor through a copy of the shipped dynamo-trtllm profile against the contract
# doubles (tests/doubles), on the host runtime and in the container runtime: the disk tier
# switch, the metrics, the forced B2p replay's KV disk I/O and the >= 32k prompt all pass through
# the frontend double; streaming reaches the client chunk by chunk through its proxy.
source "$(dirname "$0")/bundle_lib.sh"
[ -z "${KEEP:-}" ] || trap - EXIT
source "$(dirname "$0")/double_lib.sh"
# the snapshot's tokenizer.json (found through the profile's model_path) sizes doctor's >= 32k
# prompt through the template, and the engine behind the double counts with the same file
for RT in ${KVTIER_DOUBLE_RUNTIMES:-host container}; do
  RC=0
  timeout 150 "$KVTIER" doctor --profiles "$KVTIER_PROFILES" --stack "$WORK/$RT.yaml" --model tiny \
    --max-requests 2 --disk-cache-dir "$DISKDIR" --out "$WORK/doc-$RT" --json \
    >"$WORK/doc-$RT.json" 2>"$WORK/doc-$RT.err" || RC=$?
  [ -s "$WORK/doc-$RT.json" ] || fail "$RT doctor wrote no report (exit $RC): $(tail -5 "$WORK/doc-$RT.err")"
  for c in disk_tier_switch metrics_reachable kv_disk_io_b2p_replay long_context_32k; do
    pyq "$WORK/doc-$RT.json" 'next(c for c in s["checks"] if c["check"] == "'"$c"'")["ok"] is True'
  done
  pyq "$WORK/doc-$RT.json" '(lambda e: e["tokenizer"] == "bpe" and e["tokenizer_file"] == "'"$MODEL/tokenizer.json"'" and 32768 <= e["planned_prompt_tokens"] == e["server_prompt_tokens"] <= 32768 * 1.01 + 64)(next(c for c in s["checks"] if c["check"] == "long_context_32k")["evidence"])'
  # the token-by-token check itself is timing-bound at milliseconds; here it must show the
  # frontend double streams: the first chunk long before the whole 256-token answer
  pyq "$WORK/doc-$RT.json" '(lambda e: e["ttfc_256_ms"] * 10 < e["e2e_256_ms"])(next(c for c in s["checks"] if c["check"] == "streaming_sanity")["evidence"])'
  ok "$RT runtime: doctor's control-surface checks pass through the dynamo-trtllm doubles; the 32k prompt is sized by the snapshot's tokenizer"
done
