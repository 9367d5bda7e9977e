#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier bundle on the builtin stack with the tiny model for B0, B1 and B2 in one call:
# schema-valid bundles with every §6 file; the observed environment equals the mode; B0 runs
# with no KVBM variable and no KVBM counters moving; B1 shows no disk reads from the server; B2
# with the disk offload filter on and a write-once workload gives DISK_TIER_NO_IO; the group
# summary records the seeded block order; nothing is left running.
source "$(dirname "$0")/bundle_lib.sh"
STEADY=""  # all four phases, steady included
DROP_CACHES="--drop-caches yes" run_bundle --stack "$FAST" --mode B0,B1,B2 --max-requests 2 --seed 7
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "exit $RC: $(tail -5 "$WORK/err.txt")"
G=$(group_dir "$WORK/res")
pyq "$G/group_summary.json" 'len(s["bundles"]) == 3 and sorted(s["block_order"][0]) == ["B0","B1","B2"]'
for m in B0 B1 B2; do
  B=$(bundle_dir "$G" "$m")
  schema_ok "$B"
  pyq "$B/manifest.json" 's["mode"]["mode"] == "'$m'" and s["stack"]["observed_config"]["mismatches"] == []'
  pyq "$B/verdict.json" '"MODE_NOT_APPLIED" not in s["reason_codes"] and s["run_valid"]'
  pyq "$B/manifest.json" 's["preparation"]["disk_cache_dir"]["emptied"] is True and "dropped" in s["preparation"]["page_cache"]'
done
B0=$(bundle_dir "$G" B0)
pyq "$B0/manifest.json" 's["mode"]["kvbm_env"] == {} and not any(k.startswith("DYN_KVBM_") for k in s["stack"]["observed_config"]["env"])'
pyq "$B0/manifest.json" '"kv_connector_config" not in s["mode"]["trtllm_extra_engine_args"]'
B1=$(bundle_dir "$G" B1)
pyq "$B1/manifest.json" 's["mode"]["kvbm_env"]["DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS"] == "512" and "DYN_KVBM_DISK_CACHE_GB" not in s["stack"]["observed_config"]["env"]'
pyq "$B1/verdict.json" 'sum((p["os"] or {}).get("server_read_bytes", 0) for p in s["evidence"]["phases"].values()) < 1048576'
pyq "$B1/verdict.json" 'sum((p["kvbm"] or {}).get("onboard_blocks_d2d", 0) for p in s["evidence"]["phases"].values()) == 0'
B2=$(bundle_dir "$G" B2)
pyq "$B2/manifest.json" 's["mode"]["disk_offload_filter"] is True and s["stack"]["observed_config"]["observed"]["disk_offload_filter"] is True'
pyq "$B2/verdict.json" '"DISK_TIER_NO_IO" in s["reason_codes"] and not s["decision_grade"]'
pyq "$B2/verdict.json" 's["details"]["DISK_TIER_NO_IO"]["replay_onboard_blocks_d2d"] == 0'
no_leftovers "$G"
ok "B0/B1/B2 bundles: schema-valid, observed == asked, B1 no disk reads, B2 filter-on write-once -> DISK_TIER_NO_IO"
