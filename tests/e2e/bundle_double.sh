#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# B1/B2 bundles through a copy of the shipped dynamo-trtllm profile (only ports, model path,
# test tier sizes and runtime changed) against the contract doubles (tests/doubles): on the host
# runtime B1 and B2, in the container runtime (docker double) B2; the manifests carry the
# versions, image digest, checkpoint digest, cuFile state and capacity the doubles report. Then
# an engine whose KV layout, device pool and context differ from the profile: the pressure phase
# is re-sized from the observed capacity and requests over the live context are refused unsent.
source "$(dirname "$0")/bundle_lib.sh"
[ -z "${KEEP:-}" ] || trap - EXIT
source "$(dirname "$0")/double_lib.sh"

for RT in ${KVTIER_DOUBLE_RUNTIMES:-host container}; do
  # B1 and B2 on the host; the container runs B2 (doctor_double.sh runs B1 and B2p in both)
  MODES=B1,B2 HIT=auto
  # the host's B2 reads KVBM's hit-rate gauges after each phase's refresh, as a real stack's
  # bundle does by default; the other runs skip that wait (5 s a phase)
  [ "$RT" = host ] || MODES=B2 HIT=no
  RC=0
  timeout 90 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --stack "$WORK/$RT.yaml" --model tiny \
    --workload A --mode "$MODES" --max-requests 2 --rate-scale 8 --disk-cache-dir "$DISKDIR" --out "$WORK/res-$RT" \
    --interval 250ms --drop-caches no --cgroup no --steady no --settle-quiet 500ms \
    --settle-timeout 3s --hit-rate "$HIT" --json >"$WORK/$RT.json" 2>"$WORK/$RT.err" || RC=$?
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
  # a real stack's default (--hit-rate auto): KVBM's gauges read after each phase's refresh
  pyq "$(bundle_dir "$HG" B2)/summary.json" 'all(s["phases"][p]["kvbm_hit_rate"]["status"] == "after_refresh" for p in ("warmup", "pressure", "replay"))'
  ok "the dynamo-trtllm profile reads KVBM's hit-rate gauges after each phase by default"
fi

# --- observed capacity and the live context: the engine behind the double serves a model whose
# KV layout is half the profile's (2 KV heads, 128 KiB blocks), computes its own device pool (the
# profile copy pins no G1; bundle_capacity.sh shows an observed G1 unlike the profile's winning)
# and reports 6500 tokens of context (the profile says 40960). The
# bundle re-sizes the pressure phase from the observed G1 (frontend gauge) and bytes per block
# (KVBM's "Inferred layout" log line), records both with their sources, and refuses unsent the
# requests longer than the live context while serving the others ---
mkdir -p "$WORK/dprof"
cp -r "$KVTIER_PROFILES/models" "$KVTIER_PROFILES/hardware" "$WORK/dprof/"
sed -e 's/^name: tiny$/name: tinyx/' -e 's/max_sequence_length: 40960/max_sequence_length: 6500/' \
  -e 's/^  kv_heads: 4$/  kv_heads: 2/' "$KVTIER_PROFILES/models/tiny.yaml" >"$WORK/dprof/models/tinyx.yaml"
grep -v '^    g1_blocks: 256$' "$WORK/host.yaml" >"$WORK/host-nog1.yaml"
RC=0
KVTIER_DOUBLE_MODEL=tinyx KVTIER_DOUBLE_PROFILES="$WORK/dprof" timeout 90 "$KVTIER" bundle \
  --profiles "$KVTIER_PROFILES" --stack "$WORK/host-nog1.yaml" --model tiny --workload A --mode B2 \
  --max-requests 2 --rate-scale 8 --disk-cache-dir "$DISKDIR" --out "$WORK/res-ctx" \
  --drop-caches no --cgroup no --settle-quiet 0s --steady no --hit-rate no >"$WORK/ctx.out" 2>"$WORK/ctx.err" || RC=$?
G=$(group_dir "$WORK/res-ctx")
B=$(bundle_dir "$G" B2)
[ -s "$B/manifest.json" ] || fail "no manifest (exit $RC): $(tail -5 "$WORK/ctx.err")"
pyq "$B/manifest.json" '(lambda z, el: z["bytes_per_block"] == {"profile": 262144, "observed": 131072, "used": 131072, "source": "worker log: Inferred layout num_layers x outer_dim x page_size x inner_dim x dtype_width_bytes"} and z["g1_blocks"]["observed"] == z["g1_blocks"]["used"] == el["total_kv_blocks"] and z["g1_blocks"]["source"] == "dynamo_frontend_model_total_kv_blocks" and z["resized"])(s["capacity"]["sizing"], s["stack"]["observed_config"]["engine_limits"])'
pyq "$B/manifest.json" '(lambda w: w["num_layers"] == 4 and w["outer_dim"] == 2 and w["page_size"] == 32 and w["bytes_per_block"] == 131072 and w["num_device_blocks"] > 0)(s["stack"]["observed_config"]["worker_layout"])'
python3 - "$G/plan.jsonl" "$B/manifest.json" <<'PY' || fail "the plan was not sized from the observed capacity"
import json, sys
h = json.loads(open(sys.argv[1]).readline())
z = json.load(open(sys.argv[2]))["capacity"]["sizing"]
assert h["capacity"]["bytes_per_block"] == 131072 and h["capacity"]["g1_blocks"] == z["g1_blocks"]["used"], h["capacity"]
PY
pyq "$B/summary.json" 's["context_limit"]["max_context_tokens"] == 6500 and s["context_limit"]["source"] == "live dynamo_frontend_model_context_length" and s["context_limit"]["refused"] >= 1'
python3 - "$B/raw/records.jsonl" "$G/plan.jsonl" <<'PY' || fail "refusals do not follow the live context"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
plan = {r["id"]: r for r in map(json.loads, list(open(sys.argv[2]))[1:])}
sent = [r for r in recs if r["error"] != "refused"]
refused = [r for r in recs if r["error"] == "refused"]
assert sent and refused, (len(sent), len(refused))
for r in recs:
    need = plan[r["id"]]["input_tokens"] + plan[r["id"]]["output_tokens"]
    assert (need > 6500) == (r["error"] == "refused"), (r["id"], need, r["error"])
assert all(r["t_sent_ns"] is None and "context of 6500" in r["error_detail"] for r in refused)
assert all(r["http_status"] == 200 for r in sent)
PY
grep -q "longer than the engine accepts are refused unsent" "$WORK/ctx.err" ||
  fail "the bundle did not say it refuses requests: $(tail -5 "$WORK/ctx.err")"
ok "observed G1 and bytes per block (KVBM's layout line) size the plan; requests over the live context are refused unsent"
