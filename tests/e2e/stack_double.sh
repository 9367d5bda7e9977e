#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dynamo-trtllm stack profile against the contract doubles of `python3 -m dynamo.frontend`,
# `python3 -m dynamo.trtllm` and `docker` (tests/doubles, on PATH/PYTHONPATH only here): the
# doubles refuse what the real CLIs refuse; a copy of the shipped profile (only ports, model
# path, test tier sizes and runtime changed) runs B1/B2 bundles on the host runtime and a B2 in
# the container runtime, and the manifests carry the versions the doubles' environment reports.
source "$(dirname "$0")/bundle_lib.sh"
[ -z "${KEEP:-}" ] || trap - EXIT
source "$(dirname "$0")/double_lib.sh"

# --- contract: what the real CLIs refuse, the doubles refuse the same way (run concurrently) ---
NC=0
expect_rc() { # RC PATTERN CMD...: exit code RC and PATTERN on stderr (in the background)
  local want=$1 pat=$2 n=$((NC += 1)); shift 2
  ( rc=0; "$@" >"$WORK/c$n.out" 2>"$WORK/c$n.err" || rc=$?
    [ "$rc" -eq "$want" ] || { echo "$* exited $rc (want $want): $(tail -3 "$WORK/c$n.err")"; exit 1; }
    grep -q -- "$pat" "$WORK/c$n.err" || { echo "$*: no '$pat' in: $(tail -3 "$WORK/c$n.err")"; exit 1; }
  ) >"$WORK/c$n.verdict" &
}
printf 'backend: pytorch\nkv_cache_config:\n  free_gpu_memory_fraction: 0.8\n  host_cache_gb: 4\nmax_sequence_length: 4096\n' >"$WORK/bad.yaml"
expect_rc 2 "unrecognized arguments: --no-such-flag" python3 -m dynamo.trtllm --no-such-flag
expect_rc 2 "invalid choice: 'redis'" python3 -m dynamo.frontend --store-kv redis
expect_rc 2 "must be provided together" python3 -m dynamo.frontend --tls-cert-path /x
expect_rc 2 "invalid choice: 'grpc'" python3 -m dynamo.trtllm --request-plane grpc
expect_rc 1 "NATS" python3 -m dynamo.trtllm --model-path "$MODEL" --store-kv file
expect_rc 1 "etcd" python3 -m dynamo.frontend --request-plane tcp
expect_rc 1 "kv_cache_config.host_cache_gb" python3 -m dynamo.trtllm --model-path "$MODEL" \
  --store-kv file --request-plane tcp --extra-engine-args "$WORK/bad.yaml"
BAD=$NC
expect_rc 1 "couldn't find them in the cached files" python3 -m dynamo.trtllm \
  --model-path org/not-cached --store-kv file --request-plane tcp
expect_rc 125 "unknown flag: --gpu" docker run --gpu all img true
expect_rc 125 "Unable to find image" docker run --network host nvcr.io/nvidia/none:1 true
wait
for i in $(seq 1 "$NC"); do [ ! -s "$WORK/c$i.verdict" ] || fail "$(cat "$WORK/c$i.verdict")"; done
grep -q "Extra inputs are not permitted" "$WORK/c$BAD.err" && grep -q "^max_sequence_length" "$WORK/c$BAD.err" ||
  fail "the refusal does not name both unknown keys: $(cat "$WORK/c$BAD.err")"
ok "the doubles refuse unknown flags, bad choices, NATS/etcd absent, unknown engine-args keys"

# --- --dry-run: the exact launches, secrets masked, nothing started or written ---
DYN_API_TOKEN=s3cr3t-value "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --stack "$WORK/container.yaml" \
  --model tiny --mode B0,B2 --dry-run --json --out "$WORK/dry" >"$WORK/dry.json" 2>"$WORK/dry.err" ||
  fail "bundle --dry-run: $(cat "$WORK/dry.err")"
[ ! -e "$WORK/dry" ] || fail "bundle --dry-run created $WORK/dry"
! grep -q "s3cr3t-value" "$WORK/dry.json" || fail "a secret reached the dry-run output"
pyq "$WORK/dry.json" '[m["mode"] for m in s["modes"]] == ["B0", "B2"] and all(p["env"]["DYN_API_TOKEN"] == "<redacted>" and "DYN_API_TOKEN=<redacted>" in p["argv"] for m in s["modes"] for p in m["launch"]["processes"])'
pyq "$WORK/dry.json" 'all(p["argv"][:2] == ["docker", "run"] and p["dry_run"] for m in s["modes"] for p in m["launch"]["processes"])'
pyq "$WORK/dry.json" '"max_seq_len: 40960" in s["modes"][1]["launch"]["engine_args_yaml"] and "kv_connector_config" in s["modes"][1]["launch"]["engine_args_yaml"] and "kv_connector_config" not in s["modes"][0]["launch"]["engine_args"]'
pyq "$WORK/dry.json" 's["modes"][1]["settings"]["disk_cache_blocks"] == 4096 and s["modes"][0]["settings"]["disk_cache_blocks"] == 0'
"$KVTIER" doctor --profiles "$KVTIER_PROFILES" --stack "$WORK/host.yaml" --model tiny --dry-run \
  --out "$WORK/drydoc" >"$WORK/drydoc.txt" 2>&1 || fail "doctor --dry-run: $(cat "$WORK/drydoc.txt")"
[ ! -e "$WORK/drydoc" ] || fail "doctor --dry-run created $WORK/drydoc"
grep -q "^mode B2p" "$WORK/drydoc.txt" && grep -q "command: python3 -m dynamo.trtllm" "$WORK/drydoc.txt" ||
  fail "doctor --dry-run does not show the B2p worker command: $(head -20 "$WORK/drydoc.txt")"
ok "bundle and doctor --dry-run print commands, masked environment, engine args and tiers; start nothing"

# --- token-exact prompts: the snapshot's tokenizer.json is found and planned with; a server
# that counts differently raises PROMPT_TOKENS_MISMATCH (soft) ---
RC=0
KVTIER_DOUBLE_IGNORE_TOKENIZER=1 timeout 60 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" \
  --stack "$WORK/host.yaml" --model tiny --workload A --mode B1 --max-requests 2 --rate-scale 8 \
  --disk-cache-dir "$DISKDIR" --out "$WORK/res-tok" --drop-caches no --cgroup no \
  >"$WORK/tok.out" 2>"$WORK/tok.err" || RC=$?
B=$(bundle_dir "$(group_dir "$WORK/res-tok")" B1)
pyq "$B/manifest.json" 's["workload"]["plan_header"]["tokenizer_file"].endswith("/model/tokenizer.json")'
pyq "$B/verdict.json" '"PROMPT_TOKENS_MISMATCH" in s["reason_codes"] and s["run_valid"] and s["details"]["PROMPT_TOKENS_MISMATCH"]["examples"]'
ok "the snapshot's tokenizer plans the prompts; a server counting otherwise raises PROMPT_TOKENS_MISMATCH"

# --- live engine limits: an engine built shorter than the profile says refuses Dataset L ---
mkdir -p "$WORK/dprof"
cp -r "$KVTIER_PROFILES/models" "$KVTIER_PROFILES/hardware" "$WORK/dprof/"
sed -e 's/^name: tiny$/name: tiny8k/' -e 's/max_sequence_length: 40960/max_sequence_length: 8192/' \
  "$KVTIER_PROFILES/models/tiny.yaml" >"$WORK/dprof/models/tiny8k.yaml"
RC=0
KVTIER_DOUBLE_MODEL=tiny8k KVTIER_DOUBLE_PROFILES="$WORK/dprof" timeout 60 "$KVTIER" bundle \
  --profiles "$KVTIER_PROFILES" --stack "$WORK/host.yaml" --model tiny --workload C --dataset L \
  --mode B1 --max-requests 1 --disk-cache-dir "$DISKDIR" --out "$WORK/res-l" --drop-caches no \
  --cgroup no >"$WORK/l.out" 2>"$WORK/l.err" || RC=$?
[ "$RC" -eq 3 ] || fail "Dataset L on an 8k engine: exit $RC (want 3): $(tail -5 "$WORK/l.err")"
B=$(bundle_dir "$(group_dir "$WORK/res-l")" B1)
grep -q "dynamo_frontend_model_context_length 8192" "$B/blocker_dossier.md" ||
  fail "no blocker dossier naming the live context length: $(ls "$B")"
pyq "$B/manifest.json" 's["stack"]["observed_config"]["engine_limits"]["context_length"] == 8192'
pyq "$B/verdict.json" '"SERVER_UNHEALTHY" in s["reason_codes"] and not s["run_valid"]'
[ ! -s "$B/raw/records.jsonl" ] || fail "requests were sent to an engine that cannot take them"
ok "Dataset L refused before sending on an engine reporting an 8k context, with a blocker dossier"

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
