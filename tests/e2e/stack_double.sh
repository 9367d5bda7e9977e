#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dynamo-trtllm stack profile against the contract doubles of `python3 -m dynamo.frontend`,
# `python3 -m dynamo.trtllm` and `docker` (tests/doubles, on PATH/PYTHONPATH only here): the
# doubles refuse what the real CLIs refuse; --dry-run of bundle and doctor shows the launches of
# a copy of the shipped profile; the snapshot's tokenizer plans the prompts and a server that
# counts otherwise raises PROMPT_TOKENS_MISMATCH; an engine reporting an 8k context refuses
# Dataset L before sending. (bundle_double.sh and doctor_double.sh run the stack itself;
# bundle_double.sh also shows the observed capacity and the per-request context refusal.)
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
  --disk-cache-dir "$DISKDIR" --out "$WORK/res-tok" --drop-caches no --cgroup no --steady no \
  --settle-quiet 500ms --settle-timeout 3s \
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
