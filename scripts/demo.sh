#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's demo: a real B1-vs-B2 comparison against the builtin stack (kvtier serve, the
# emulated Dynamo + TRT-LLM + KVBM engine with real RAM and O_DIRECT disk tiers) with the tiny
# model, plus B2p (B2 with the disk offload filter off, the mechanism arm). Bounded to a few
# minutes: at most twelve requests per phase (pressure keeps the
# requests it needs to push the working set past G1+G2). Prints where the bundles are and each verdict.
# Usage: scripts/demo.sh [BUILD_DIR]   (DEMO_OUT=dir to choose the results directory)
set -euo pipefail
build=${1:-build}
kv="$build/src/cli/kvtier"
out=${DEMO_OUT:-results/demo}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
"$kv" --version
echo "demo: B1 vs B2 (and B2p) on the builtin stack, model tiny, workload A, dataset S -> $out"
rc=0
"$kv" bundle --profiles "$root/profiles" --stack builtin --model tiny --workload A --dataset S \
  --mode B1,B2,B2p --repeats 1 --max-requests 12 --seed 1 --out "$out" --drop-caches no \
  --disk-cache-dir "$out/.kvtier-kvcache" || rc=$?
# exit 3 = bundles written, some not run_valid; anything else is a failure of the demo
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
  echo "demo: kvtier bundle failed (exit $rc)" >&2
  exit "$rc"
fi
group=$(ls -td "$out"/tiny_A_S_* | head -1)
echo
echo "group summary: $group/group_summary.json"
for b in "$group"/*/r*; do
  echo "--- $b"
  echo "    quick_summary.json:"
  sed 's/^/      /' "$b/quick_summary.json" | head -60
done
echo
echo "Read a verdict: run_valid=false means do not use the numbers (a hard code says why);"
echo "decision_grade=false means real numbers that cannot carry a claim (each reason code's"
echo "'why' says what to fix). docs/bundle.md explains every file and code."
