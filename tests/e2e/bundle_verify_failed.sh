#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disk blocks that fail verification are in the verdict (issue 11 #2): a B2p bundle on an
# engine whose every disk read is rejected (--inject-ssd-miss) onboards blocks from disk, but
# none is served; the evidence carries the engine's verify-failure counter per phase, the run
# is not valid (KV_VERIFY_FAILED) and the mechanism link, which counts only onboarded AND
# verified blocks, does not hold.
source "$(dirname "$0")/bundle_lib.sh"
run_bundle --stack "$KVTIER_FIXTURES/bundle/stacks/builtin-ssd-miss.yaml" --mode B2p --max-requests 5 --seed 11
[ "$RC" -eq 3 ] || fail "exit $RC, want 3: $(tail -5 "$WORK/err.txt")"
B=$(bundle_dir "$(group_dir "$WORK/res")" B2p)
schema_ok "$B"
pyq "$B/verdict.json" 's["evidence"]["phases"]["replay"]["kvbm"]["onboard_blocks_d2d"] > 0'
pyq "$B/verdict.json" 's["evidence"]["phases"]["replay"]["kvbm"]["verify_failures"] > 0'
pyq "$B/verdict.json" '"KV_VERIFY_FAILED" in s["reason_codes"] and s["run_valid"] is False'
pyq "$B/verdict.json" 's["chain"]["mechanism"] is False and s["decision_grade"] is False'
pyq "$B/verdict.json" 's["details"]["KV_VERIFY_FAILED"]["replay_verify_failures"] > 0'
pyq "$B/summary.json" 's["phases"]["replay"]["kvbm"]["verify_failures"] > 0'
# the key structure of manifest, summary and verdict is the checked-in one (issue 12: a
# refactor changes no bundle but its timestamps and measured values)
python3 "$KVTIER_SRC/tests/e2e/bundle_structure.py" "$B" "$KVTIER_FIXTURES/bundle/structure_b2p.json" ||
  fail "bundle structure differs from tests/fixtures/bundle/structure_b2p.json"
no_leftovers "$(group_dir "$WORK/res")"
ok "every disk read rejected: KV_VERIFY_FAILED, no mechanism, run not valid"
