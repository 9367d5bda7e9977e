#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's demo: a real B1-vs-B2 comparison against the builtin stack (kvtier serve, the
# emulated Dynamo + TRT-LLM + KVBM engine with real RAM and O_DIRECT disk tiers) with the tiny
# model, plus B2p (B2 with the disk offload filter off, the mechanism arm), three repeats each
# in seeded random blocks, then `kvtier compare` B1 -> B2 and B1 -> B2p (A/B statistics over
# the repeats). At most twelve requests per phase (pressure keeps the requests it needs to push
# the working set past G1+G2): about 75 s per bundle, 11-12 minutes in all on 2 cores.
# Prints where the bundles are, each verdict and both comparisons.
# Usage: scripts/demo.sh [BUILD_DIR]
#   DEMO_OUT=dir      results directory (default results/demo)
#   DEMO_REPEATS=N    repeats per mode (default 3; 1 gives a 4-minute look without statistics)
set -euo pipefail
build=${1:-build}
kv="$build/src/cli/kvtier"
out=${DEMO_OUT:-results/demo}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
"$kv" --version
repeats=${DEMO_REPEATS:-3}
echo "demo: B1 vs B2 (and B2p) on the builtin stack, model tiny, workload A, dataset S," \
  "$repeats repeat(s) -> $out"
rc=0
"$kv" bundle --profiles "$root/profiles" --stack builtin --model tiny --workload A --dataset S \
  --mode B1,B2,B2p --repeats "$repeats" --max-requests 12 --seed 1 --out "$out" --drop-caches no \
  --disk-cache-dir "$out/.kvtier-kvcache" || rc=$?
# exit 3 = bundles written, some not run_valid; anything else is a failure of the demo
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
  echo "demo: kvtier bundle failed (exit $rc)" >&2
  exit "$rc"
fi
group=$(ls -td "$out"/tiny_A_S_* | head -1)
echo
echo "group summary: $group/group_summary.json"
for b in "$group"/*/r01; do
  echo "--- $b (the other repeats sit beside it)"
  echo "    quick_summary.json:"
  sed 's/^/      /' "$b/quick_summary.json" | head -60
done
echo
echo "verdicts:"
for b in "$group"/*/r*; do
  printf '  %-8s %s\n' "${b#"$group"/}" "$(jq -r '"run_valid=\(.run_valid) decision_grade=\(.decision_grade) \(.reason_codes | join(" "))"' "$b/verdict.json")"
done
# A/B statistics over the repeats (docs/compare.md); exit 3 = computed, not decision-grade.
for t in B2 B2p; do
  crc=0
  "$kv" compare --baseline "$group/B1" --treatment "$group/$t" \
    --out "$group/compare_B1_$t.json" --quiet || crc=$?
  if [ "$crc" -ne 0 ] && [ "$crc" -ne 3 ]; then
    echo "demo: kvtier compare B1 -> $t failed (exit $crc)" >&2
    exit "$crc"
  fi
  echo
  echo "=== $group/compare_B1_$t.md"
  sed -n '3,/^## Requests pooled/p' "$group/compare_B1_$t.md" | sed '$d'
done
echo
echo "Read a verdict: run_valid=false means do not use the numbers (a hard code says why);"
echo "decision_grade=false means real numbers that cannot carry a claim (each reason code's"
echo "'why' says what to fix). docs/bundle.md explains every file and code."
