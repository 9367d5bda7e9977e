#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shipped dynamo-trtllm defaults on the DGX Spark: for every run row of
# profiles/plans/decision-grade-S.yaml (and -L.yaml with the ctx32k profiles) the bundle's own
# sizing (kvtier bundle --dry-run: plan capacity and pressure) must be feasible, not capped, and
# weights + G1 + G2 must fit the unified 128 GB budget. Nothing is started.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_PROFILES:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-sizing.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
N=0
for PLAN in decision-grade-S decision-grade-L; do
  while read -r MODEL WL DS MODES; do
    OUT="$WORK/$MODEL-$WL-$DS.json"
    "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --stack dynamo-trtllm --hardware dgx_spark_gb10 \
      --model "$MODEL" --workload "$WL" --dataset "$DS" --mode "$MODES" --dry-run --json \
      --out "$WORK/none" >"$OUT" 2>"$WORK/err" || fail "$PLAN $MODEL $WL: $(cat "$WORK/err")"
    python3 - "$OUT" "$PLAN $MODEL $WL $DS" <<'PY' || exit 1
import json, sys
d, row = json.load(open(sys.argv[1])), sys.argv[2]
p, m = d["pressure"], d["memory"]
if not p["feasible"] or p["capped"]:
    sys.exit(f"FAIL: {row}: PRESSURE_INSUFFICIENT: {p.get('note')} ({p.get('arithmetic')})")
if not m["fits"]:
    sys.exit(f"FAIL: {row}: weights {m['weights_bytes']/1e9:.1f} + G1 {m['g1_bytes']/1e9:.1f} + "
             f"G2 {m['g2_bytes']/1e9:.1f} GB exceed {m['budget_bytes']/1e9:.1f} GB")
print(f"ok - {row}: working set {p['unique_blocks']} blocks > G1+G2, within G3; "
      f"weights+G1+G2 {(m['weights_bytes']+m['g1_bytes']+m['g2_bytes'])/1e9:.1f} GB")
PY
    N=$((N + 1))
  done < <(python3 - "$KVTIER_PROFILES/plans/$PLAN.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ds = re.search(r"^dataset:\s*(\S+)", text, re.M).group(1)
runs = text.split("runs:", 1)[1]
runs = re.split(r"^\S", runs, maxsplit=1, flags=re.M)[0]
for m in re.finditer(r"\{model:\s*([\w.]+),\s*workload:\s*(\w+),\s*modes:\s*\[([^\]]*)\]", runs):
    print(m.group(1), m.group(2), ds, m.group(3).replace(" ", ""))
PY
)
done
[ "$N" -ge 6 ] || fail "only $N plan rows found"
[ ! -e "$WORK/none" ] || fail "--dry-run wrote results"
echo "ok - $N decision-grade rows size feasibly on dgx_spark_gb10 with the shipped defaults"
