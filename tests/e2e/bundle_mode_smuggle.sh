#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Observed, not intended (peer.md's first defect): a "B1" whose worker receives a disk tier
# behind the mode's back is caught from the worker's real environment and the engine's own
# tier gauges -> MODE_NOT_APPLIED, exit 3. And a disk tier exported in the caller's shell does
# not leak into a B1 worker: inherited DYN_KVBM_* variables are dropped and recorded. API keys
# in the environment reach no file of the bundle.
source "$(dirname "$0")/bundle_lib.sh"
run_bundle --stack "$KVTIER_FIXTURES/bundle/stacks/smuggle.yaml" --mode B1 --max-requests 2
[ "$RC" -eq 3 ] || fail "smuggled disk tier: exit $RC, want 3"
G=$(group_dir "$WORK/res")
B=$(bundle_dir "$G" B1)
pyq "$B/verdict.json" '"MODE_NOT_APPLIED" in s["reason_codes"] and not s["run_valid"]'
pyq "$B/verdict.json" 'any(m["field"] == "disk_cache_blocks" and m["expected"] == 0 and m["observed"] > 0 for m in s["details"]["MODE_NOT_APPLIED"]["mismatches"])'
pyq "$B/verdict.json" 'any(m["field"] == "engine_reported_disk_cache_blocks" for m in s["details"]["MODE_NOT_APPLIED"]["mismatches"])'
pyq "$B/manifest.json" 's["stack"]["observed_config"]["env"]["DYN_KVBM_DISK_CACHE_GB"] == "1" and s["mode"]["disk_cache_blocks"] == 0'
no_leftovers "$G"
rm -rf "$WORK/res"
ok "B1 with a smuggled disk tier -> MODE_NOT_APPLIED"

RC=0
SECRET="sk-e2e-bundle-$RANDOM$RANDOM"
OPENAI_API_KEY="$SECRET" HF_TOKEN="$SECRET" DYN_KVBM_DISK_CACHE_GB=5 \
  DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true run_bundle --stack "$FAST" --mode B1 --max-requests 2
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "inherited env: exit $RC"
B=$(bundle_dir "$(group_dir "$WORK/res")" B1)
pyq "$B/verdict.json" '"MODE_NOT_APPLIED" not in s["reason_codes"]'
pyq "$B/manifest.json" 'sorted(s["stack"]["launch"]["processes"][0]["inherited_kvbm_env_dropped"]) == ["DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "DYN_KVBM_DISK_CACHE_GB"]'
pyq "$B/manifest.json" '"DYN_KVBM_DISK_CACHE_GB" not in s["stack"]["observed_config"]["env"]'
! grep -rq "$SECRET" "$WORK/res" || fail "a secret from the environment reached the bundle"
ok "inherited DYN_KVBM_* in the caller's shell dropped and recorded; no secret in any file"
