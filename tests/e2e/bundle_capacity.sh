#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The pressure phase is re-sized from the capacity the running stack shows: a builtin engine
# started with 384 device blocks where the stack profile's tiers say 256 re-sizes the group's
# plan after launch (before any request), and the manifest records each figure's profile,
# observed and used value with its source (G1 from dynamo_frontend_model_total_kv_blocks, G2/G3
# and bytes per block from the engine's own gauges).
source "$(dirname "$0")/bundle_lib.sh"

sed 's/^        args: \[--g1-blocks, "{g1_blocks}"\]$/&\n      - --g1-blocks\n      - "384"/' \
  "$FAST" >"$WORK/obs.yaml"
grep -q '"384"' "$WORK/obs.yaml" || fail "fixture edit"
RC=0
timeout 90 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --stack "$WORK/obs.yaml" --model tiny \
  --workload A --mode B2 --max-requests 8 --rate-scale 4 --interval 250ms --settle-quiet 0s \
  --disk-cache-dir "$DISKDIR" --out "$WORK/res" --drop-caches no --cgroup no \
  >"$WORK/b.out" 2>"$WORK/b.err" || RC=$?
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B2)
[ -s "$B/manifest.json" ] || fail "no manifest (exit $RC): $(tail -5 "$WORK/b.err")"
schema_ok "$B"
pyq "$B/manifest.json" 's["capacity"]["sizing"]["g1_blocks"] == {"profile": 256, "observed": 384, "used": 384, "source": "dynamo_frontend_model_total_kv_blocks"}'
pyq "$B/manifest.json" '(lambda z: z["resized"] and z["plan"] == "re-sized from the observed capacity" and z["observed_in"] == "B2/r01" and z["g2_blocks"]["used"] == z["g2_blocks"]["observed"] == 512 and z["g2_blocks"]["source"] == "kvtier_engine_g2_capacity_blocks" and z["g3_blocks"]["observed"] == 4096 and z["bytes_per_block"]["observed"] == 262144 and z["bytes_per_block"]["source"] == "kvtier_engine_bytes_per_block")(s["capacity"]["sizing"])'
python3 - "$G/plan.jsonl" "$B/manifest.json" <<'PY' || fail "the plan was not re-sized from the observed G1"
import json, sys
h = json.loads(open(sys.argv[1]).readline())
m = json.load(open(sys.argv[2]))
z = m["capacity"]["sizing"]
assert h["capacity"]["g1_blocks"] == 384 and h["capacity"]["g2_blocks"] == 512, h["capacity"]
assert "observed capacity" in h["capacity"]["source"], h["capacity"]["source"]
assert m["capacity"]["pressure"] == h["pressure"] == z["pressure"]
assert z["profile_pressure"]["target_unique_blocks"] < h["pressure"]["target_unique_blocks"], (z["profile_pressure"], h["pressure"])
assert m["workload"]["plan_header"]["capacity"]["g1_blocks"] == 384
PY
grep -q "pressure re-sized from the observed capacity: G1 384" "$WORK/b.err" ||
  fail "the bundle did not say it re-sized: $(grep -i pressure "$WORK/b.err" | tail -3)"
ok "observed G1 (384, not the profile's 256) re-sizes the plan; manifest capacity.sizing gives every source"
