#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# B1/B2 bundles through a copy of the shipped dynamo-trtllm profile (only ports, model path,
# test tier sizes and runtime changed) against the contract doubles (tests/doubles): on the host
# runtime B1 and B2, in the container runtime (docker double) B2; the manifests carry the
# versions, image digest, checkpoint digest, cuFile state and capacity the doubles report.
source "$(dirname "$0")/bundle_lib.sh"
[ -z "${KEEP:-}" ] || trap - EXIT
source "$(dirname "$0")/double_lib.sh"

for RT in ${KVTIER_DOUBLE_RUNTIMES:-host container}; do
  # B1 and B2 on the host; the container runs B2 (doctor_double.sh runs B1 and B2p in both)
  MODES=B1,B2
  [ "$RT" = host ] || MODES=B2
  RC=0
  timeout 90 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --stack "$WORK/$RT.yaml" --model tiny \
    --workload A --mode "$MODES" --max-requests 2 --rate-scale 8 --disk-cache-dir "$DISKDIR" --out "$WORK/res-$RT" \
    --interval 250ms --drop-caches no --cgroup no --json >"$WORK/$RT.json" 2>"$WORK/$RT.err" || RC=$?
  G=$(group_dir "$WORK/res-$RT")
  [ "$RC" -eq 0 ] || { tail -20 "$WORK/$RT.err"; for l in "$G"/*/r*/raw/stack/*.log; do echo "== $l"; tail -5 "$l"; done; fail "$RT bundle exit $RC"; }
  for M in ${MODES//,/ }; do
    B=$(bundle_dir "$G" "$M")
    schema_ok "$B"
    pyq "$B/manifest.json" 's["stack"]["launch"]["kind"] == "dynamo-trtllm" and s["stack"]["launch"]["runtime"] == "'"$RT"'"'
    grep -q "^max_seq_len: 40960" "$B/raw/stack/work/engine_args.yaml" || fail "$B: engine args lack max_seq_len"
    grep -q "max_tokens: 8192" "$B/raw/stack/work/engine_args.yaml" || fail "$B: engine args lack G1 max_tokens"
  done
  # provenance observed in the worker's environment, the profile's literals only expected
  pyq "$B/manifest.json" 'all(s["provenance"]["observed"]["versions"][k] == v for k, v in {"ai-dynamo": "0.7.1", "kvbm": "0.7.1", "tensorrt_llm": "1.1.0rc5", "nixl": "0.7.1"}.items())'
  pyq "$B/manifest.json" '{"field": "dynamo_version", "expected": "1.0.1", "observed": "0.7.1"} in s["provenance"]["differences"]'
  pyq "$B/manifest.json" 's["provenance"]["observed"]["model_checkpoint"]["digest"].startswith("xxh3-128:") and s["provenance"]["observed"]["engine_config_reported"]["engine_args"]["max_seq_len"] == 40960'
  pyq "$B/manifest.json" 's["provenance"]["observed"]["gpu"]["present"] in (True, False) and s["provenance"]["observed"]["os"]["kernel"]'
  pyq "$B/manifest.json" '(lambda g: g["cufile_json"]["allow_compat_mode"] is True and g["cufile_json"]["use_pci_p2pdma"] is False and g["worker_env"]["CUFILE_ENV_PATH_JSON"].endswith("/cufile.json"))(s["provenance"]["observed"]["gds"])'
  pyq "$B/verdict.json" '"PROMPT_TOKENS_MISMATCH" not in s["reason_codes"] and s["evidence"]["prompt_tokens"]["compared"] > 0'
  pyq "$B/manifest.json" '(lambda c: c["g1_blocks"]["value"] == 256 and c["g1_blocks"]["source"] == "dynamo_frontend_model_total_kv_blocks" and c["g3_blocks"]["value"] == 4096 and c["bytes_per_block"]["value"] == 262144 and c["differences"] == [])(s["capacity"]["observed"])'
  ok "$RT runtime: $MODES bundles through the dynamo-trtllm profile against the doubles"
done
B=$(bundle_dir "$(group_dir "$WORK/res-container")" B2)
pyq "$B/manifest.json" 'any(a == "'"$MODEL:$MODEL"':ro" for p in s["stack"]["launch"]["processes"] for a in p["argv"])'
ok "container runtime mounts the model snapshot read-only"
pyq "$B/manifest.json" 's["provenance"]["observed"]["container"]["repo_digest"].endswith("@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")'
pyq "$B/manifest.json" 's["provenance"]["observed"]["versions"]["source"].startswith("docker exec")'
ok "container: image digest and versions observed inside the container"
if [ -d "$WORK/res-host" ]; then
  HG=$(group_dir "$WORK/res-host")
  H1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config_hash"]["value"])' "$(bundle_dir "$HG" B1)/manifest.json")
  H2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config_hash"]["value"])' "$(bundle_dir "$HG" B2)/manifest.json")
  [ "$H1" != "$H2" ] || fail "B1 and B2 have the same configuration hash"
  ok "B1 and B2 hash apart"
fi
