#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers of the *_double.sh tests (sourced after bundle_lib.sh, not a test): the contract
# doubles of dynamo.frontend, dynamo.trtllm and docker on PATH/PYTHONPATH for this script only,
# a model snapshot, the image the docker double "has", and $WORK/host.yaml and
# $WORK/container.yaml: copies of the shipped profiles/stacks/dynamo-trtllm.yaml in which only
# the ports (free ones), the model path, the test tier sizes and the runtime differ.
DOUBLES="$KVTIER_SRC/tests/doubles"
export PATH="$DOUBLES/bin:$PATH" PYTHONPATH="$DOUBLES/python${PYTHONPATH:+:$PYTHONPATH}"
export KVTIER_DOUBLE_KVTIER="$KVTIER" KVTIER_DOUBLE_PROFILES="$KVTIER_PROFILES"
export KVTIER_DOUBLE_MODEL=tiny KVTIER_DOUBLE_HARDWARE=cpu_small KVTIER_DOUBLE_SPEEDUP=4
export KVTIER_DOUBLE_DOCKER_STATE="$WORK/docker" KVTIER_DOUBLE_DOCKER_IMAGES="$WORK/images.txt"
export TMPDIR="$WORK/tmp" PYTHONDONTWRITEBYTECODE=1
mkdir -p "$TMPDIR"
unset NATS_SERVER ETCD_ENDPOINTS DYN_STORE_KV DYN_REQUEST_PLANE

# a model snapshot as the worker sees one: config and weight index
MODEL="$WORK/model"
mkdir -p "$MODEL"
echo '{"architectures":["LlamaForCausalLM"],"num_hidden_layers":4,"max_position_embeddings":40960}' >"$MODEL/config.json"
echo '{"metadata":{"total_size":60000000},"weight_map":{"lm_head.weight":"model.safetensors"}}' >"$MODEL/model.safetensors.index.json"
cp "$KVTIER_FIXTURES/engine/tokenizer.json" "$MODEL/tokenizer.json"

# a cuFile configuration in compat mode, as the Spark needs without GDS (kvbm.md, #6032)
printf '{\n  // kvtier e2e\n  "properties": {\n    "allow_compat_mode": true,\n    "use_pci_p2pdma": false\n  }\n}\n' >"$WORK/cufile.json"
export CUFILE_ENV_PATH_JSON="$WORK/cufile.json"

# --- a copy of the shipped profile: only ports, model path, tier sizes and runtime differ ---
read -r P1 P2 P3 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
IMAGE=$(sed -n 's/^  image: *//p' "$KVTIER_PROFILES/stacks/dynamo-trtllm.yaml")
echo "$IMAGE sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0" >"$KVTIER_DOUBLE_DOCKER_IMAGES"
mkprofile() { # RUNTIME OUT
  python3 - "$KVTIER_PROFILES/stacks/dynamo-trtllm.yaml" "$1" "$P1" "$P2" "$P3" "$MODEL" >"$2" <<'PY'
import re, sys
src, runtime, p1, p2, p3, model = sys.argv[1:]
t = open(src).read()
t = t.replace('"8000"', f'"{p1}"').replace(":8000", f":{p1}")
t = t.replace("6880", p2).replace('"20081"', f'"{p3}"')
t = re.sub(r'model_path: .*', f'model_path: "{model}"', t)
t = re.sub(r'^runtime: .*$', f'runtime: {runtime}', t, flags=re.M)
t = re.sub(r'ready: \d+s', 'ready: 60s', t)
t = t.replace("tiers:\n", "tiers:\n  tiny:\n    g1_blocks: 256\n    cpu_cache_blocks: 512\n"
              "    disk_cache_blocks: 4096\n", 1)
print(t)
PY
}
mkprofile host "$WORK/host.yaml"
mkprofile container "$WORK/container.yaml"

