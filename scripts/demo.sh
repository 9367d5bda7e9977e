#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's demo: the demo plan (profiles/plans/demo-builtin.yaml) through `kvtier matrix` on
# the builtin stack (kvtier serve, the emulated Dynamo + TRT-LLM + KVBM engine with real RAM and
# O_DIRECT disk tiers), tiny model: B1 vs B2 and B2p interleaved in seeded random blocks over
# three repeats with `kvtier compare` B1 -> B2 and B1 -> B2p, the Style 1 point and the Style 2
# search the plan asks for, then
# `kvtier report` writes the evidence pack. Prints the headline and the path of index.html.
# About 8 minutes on 2 cores (DEMO_QUICK=1: one repeat, no search, about 3 minutes, not
# decision-grade).
# Usage: scripts/demo.sh [BUILD_DIR]
#   DEMO_OUT=dir    results folder (default results/demo-<UTC stamp>); giving the folder of an
#                   interrupted demo resumes it (finished rows are kept)
#   DEMO_QUICK=1    the quick plan (profiles/plans/demo-builtin-quick.yaml)
set -euo pipefail
build=${1:-build}
kv="$build/src/cli/kvtier"
root=$(cd "$(dirname "$0")/.." && pwd)
out=${DEMO_OUT:-results/demo-$(date -u +%Y%m%dT%H%M%SZ)}
plan="$root/profiles/plans/demo-builtin.yaml"
[ "${DEMO_QUICK:-0}" = 1 ] && plan="$root/profiles/plans/demo-builtin-quick.yaml"
start=$SECONDS
mkdir -p "$out"
"$kv" --version
echo "demo: $(basename "$plan") through kvtier matrix on the builtin stack (emulated engine) -> $out"
"$kv" matrix --profiles "$root/profiles" --plan "$plan" --dry-run
echo
rc=0
"$kv" matrix --profiles "$root/profiles" --plan "$plan" --out "$out/matrix" --drop-caches no || rc=$?
if [ "$rc" -eq 3 ]; then
  echo "demo: interrupted; run again with DEMO_OUT=$out to resume (finished rows are kept)" >&2
  exit 3
elif [ "$rc" -ne 0 ]; then
  echo "demo: kvtier matrix failed (exit $rc); each row's child.log is under $out/matrix/rows" >&2
  exit "$rc"
fi
echo
"$kv" report --results "$out/matrix" --out "$out/evidence" | tee "$out/report.txt"
echo
echo "=== headline ($(grep '^engine:' "$out/report.txt" | cut -d' ' -f2-))"
grep '^headline:' "$out/report.txt" | cut -d' ' -f2-
grep '^decision-grade:' "$out/report.txt"
echo
echo "evidence pack: $out/evidence/index.html"
echo "               (open it in a browser; TECHBRIEF_EVIDENCE.md and METHOD.md beside it)"
echo "demo wall time: $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"
