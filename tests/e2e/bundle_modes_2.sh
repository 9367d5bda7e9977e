#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier bundle for B2p, B3 and C on the builtin stack: schema-valid bundles; B2p runs with the
# filter off as observed in the worker; B3 is disk-only (no host tier, bypass in force); C has
# the smaller disk cache and its cgroup placement and I/O limits (or the recorded reason they
# are degraded) in the manifest; the disk cache directory is emptied between runs.
source "$(dirname "$0")/bundle_lib.sh"
# a stale KV cache file of an earlier (killed) run in kvtier's own marked subdirectory must be
# gone after the runner prepares it; the user's files beside it stay (bundle_lib.sh)
mkdir "$DISKDIR/kvtier-kvcache"
touch "$DISKDIR/kvtier-kvcache/.kvtier-kvcache-owner"
head -c 4096 /dev/zero > "$DISKDIR/kvtier-kvcache/dynamo-kvbm-disk-cache-stale"
run_bundle --stack "$FAST" --mode B2p,B3,C --max-requests 2 --seed 3
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "exit $RC: $(tail -5 "$WORK/err.txt")"
G=$(group_dir "$WORK/res")
[ ! -e "$DISKDIR/kvtier-kvcache/dynamo-kvbm-disk-cache-stale" ] || fail "disk cache dir not emptied"
pyq "$(bundle_dir "$G" B2p)/manifest.json" 's["storage"]["path"] == "'"$DISKDIR"'/kvtier-kvcache"' 
for m in B2p B3 C; do
  B=$(bundle_dir "$G" "$m")
  schema_ok "$B"
  pyq "$B/manifest.json" 's["stack"]["observed_config"]["mismatches"] == []'
  pyq "$B/verdict.json" 's["run_valid"] and "MODE_NOT_APPLIED" not in s["reason_codes"]'
done
pyq "$(bundle_dir "$G" B2p)/manifest.json" 's["mode"]["kvbm_env"]["DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER"] == "true" and s["stack"]["observed_config"]["observed"]["disk_offload_filter"] is False'
pyq "$(bundle_dir "$G" B2p)/verdict.json" 'sum((p["kvbm"] or {}).get("offload_blocks_h2d", 0) for p in s["evidence"]["phases"].values()) > 0'
B3=$(bundle_dir "$G" B3)
pyq "$B3/manifest.json" 's["stack"]["observed_config"]["observed"]["disk_only"] is True and "DYN_KVBM_CPU_CACHE_GB" not in s["mode"]["kvbm_env"]'
pyq "$B3/manifest.json" 's["stack"]["observed_config"]["engine_reported"]["kvtier_engine_disk_only_mode"] == 1'
C=$(bundle_dir "$G" C)
pyq "$C/manifest.json" 's["mode"]["disk_cache_blocks"] == 1024 and s["mode"]["constraints"]["io_max_rbps"] == 20000000'
pyq "$C/manifest.json" 's["cgroup"]["kind"] in ("v2", "v1_blkio", "none") and (s["cgroup"]["limits_applied"] or s["cgroup"]["degraded_reason"])'
no_leftovers "$G"
ok "B2p/B3/C bundles: schema-valid, filter off / disk-only / constrained as observed, cache dir emptied"
