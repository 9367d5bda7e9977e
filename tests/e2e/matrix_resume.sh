#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier matrix end to end on a tiny plan (one runnable row of one bundle on the fast builtin
# stack, plus a Dataset L row the engine cannot serve): --dry-run lists feasibility and
# estimates; Ctrl-C mid-row stops the child, records the row as interrupted (exit 3); the same
# command resumes (the partial output is moved aside, the row redone and done, the blocker
# dossier written); a third run keeps the finished row; a bad plan is exit 2 naming the file.
# Then kvtier report packs the matrix output (the seam matrix -> report).
source "$(dirname "$0")/bundle_lib.sh"

PLAN="$WORK/plan.yaml"
cat >"$PLAN" <<EOF
name: e2e-tiny
stack: $FAST
repeats: 1
seed: 3
max_requests: 8
rate_scale: 4
bundle_args: [--interval, 250ms]
runs:
  - {model: tiny, workload: A, modes: [B1]}
  - {model: llama8b_fp8, workload: C, dataset: L, modes: [B1, B2]}
EOF
OUT="$WORK/m"
ARGS=(matrix --profiles "$KVTIER_PROFILES" --plan "$PLAN" --out "$OUT" --disk-cache-dir "$DISKDIR"
  --drop-caches no)
mx() { "$KVTIER" "${ARGS[@]}" "$@"; }

# 1. dry run: every row with feasibility and an estimate, nothing written
mx --dry-run >"$WORK/dry.out"
grep -q "01_run_tiny_A_S_B1 .*pending" "$WORK/dry.out" || fail "dry run: $(cat "$WORK/dry.out")"
grep -q "02_run_llama8b_fp8_C_L_B1-B2 .*blocked .*Dataset L needs an engine of >= 32768" \
  "$WORK/dry.out" || fail "dry run lacks the blocked row: $(cat "$WORK/dry.out")"
grep -q "estimated wall time" "$WORK/dry.out" || fail "dry run lacks the estimate"
[ ! -e "$OUT" ] || fail "dry run wrote $OUT"
ok "dry run: feasibility and estimates"

# 2. Ctrl-C while the row's bundle runs
"$KVTIER" "${ARGS[@]}" >"$WORK/run1.out" 2>"$WORK/run1.err" &
BG=$!
PIDS+=("$BG")
for _ in $(seq 1 600); do
  compgen -G "$OUT/rows/01_*/*/B1/r01/metrics_delta/phase_pressure_kvbm_metrics_start.json" \
    >/dev/null && break
  kill -0 "$BG" 2>/dev/null || fail "matrix ended early: $(tail -3 "$WORK/run1.err")"
  sleep 0.1
done
kill -INT "$BG"
RC=0
wait "$BG" || RC=$?
[ "$RC" -eq 3 ] || fail "interrupted matrix: exit $RC, want 3: $(tail -3 "$WORK/run1.err")"
pyq "$OUT/matrix.json" 's["rows"][0]["state"] == "interrupted" and s["engine"]["kind"] == "emulated"'
G=$(group_dir "$OUT/rows/01_run_tiny_A_S_B1")
pyq "$G/B1/r01/verdict.json" '"RUN_INTERRUPTED" in s["reason_codes"]'
no_leftovers "$G"
ok "Ctrl-C: row interrupted, bundle marked RUN_INTERRUPTED, exit 3"

# 3. the same command resumes: partial moved aside, row done, dossier written
mx >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "resume: $(tail -5 "$WORK/run2.err")"
pyq "$OUT/matrix.json" 's["rows"][0]["state"] == "done" and s["resumed"] is True'
pyq "$OUT/matrix.json" 's["rows"][1]["state"] == "blocked"'
pyq "$OUT/matrix.json" 's["rows"][1]["feasibility"]["arithmetic"]["engine_max_sequence_length"] < 32768'
compgen -G "$OUT/rows/01_run_tiny_A_S_B1.partial-1/*/B1/r01/verdict.json" >/dev/null ||
  fail "the interrupted output was not kept aside"
G=$(group_dir "$OUT/rows/01_run_tiny_A_S_B1")
pyq "$G/B1/r01/verdict.json" '"RUN_INTERRUPTED" not in s["reason_codes"] and s["engine"]["kind"] == "emulated"'
pyq "$G/B1/r01/manifest.json" 's["engine"]["kind"] == "emulated" and s["engine"]["stack"] == "builtin-fast"'
pyq "$G/B1/r01/quick_summary.json" 's["engine"]["kind"] == "emulated"'
grep -q "Minimal repro" "$OUT/rows/02_run_llama8b_fp8_C_L_B1-B2/BLOCKER.md" || fail "no dossier"
pyq "$OUT/rows/02_run_llama8b_fp8_C_L_B1-B2/blocker.json" 's["kind"] == "kvtier.blocker"'
ok "resume: row redone and done, partial kept aside, blocker dossier written"

# 4. a third run keeps the finished row without running anything
T0=$(date +%s)
mx >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "third run: $(tail -5 "$WORK/run3.err")"
grep -q "done before, kept" "$WORK/run3.err" || fail "finished row not kept: $(cat "$WORK/run3.err")"
[ $(($(date +%s) - T0)) -lt 20 ] || fail "the kept row was run again"
pyq "$OUT/matrix.json" 's["rows"][0]["kept"] is True'
ok "finished rows are kept and skipped"

# 5. the matrix output packs (matrix -> report seam)
"$KVTIER" report --results "$OUT" --out "$WORK/pack" >"$WORK/rep.out" ||
  fail "report: $(cat "$WORK/rep.out")"
grep -q "^engine: emulated" "$WORK/rep.out" || fail "report engine line: $(cat "$WORK/rep.out")"
grep -q "blocked" "$WORK/pack/TECHBRIEF_EVIDENCE.md" || fail "the pack does not list the blocked row"
grep -q "BLOCKER.md" "$WORK/pack/TECHBRIEF_EVIDENCE.md" || fail "the pack does not link the dossier"
ok "matrix output -> evidence pack"

# 6. a bad plan: exit 2 naming the plan file and row
printf 'runs:\n  - {model: tiny, workload: A, modes: [B7]}\n' >"$WORK/bad.yaml"
RC=0
"$KVTIER" matrix --profiles "$KVTIER_PROFILES" --plan "$WORK/bad.yaml" --out "$WORK/bad" \
  2>"$WORK/bad.err" || RC=$?
[ "$RC" -eq 2 ] || fail "bad plan: exit $RC, want 2"
grep -q "$WORK/bad.yaml.*runs\[0\].*unknown mode 'B7'" "$WORK/bad.err" ||
  fail "bad plan message: $(cat "$WORK/bad.err")"
ok "bad plan -> exit 2 naming the file and row"
