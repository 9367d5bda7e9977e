#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier matrix forwards the prompt options to every child: a plan's tokenizer:/endpoint: (top
# level and per row, a row's winning; a relative tokenizer path taken from the plan's
# directory) and matrix's own --tokenizer/--endpoint over both reach the bundle, sweep and slo
# command lines shown by --dry-run; an unreadable tokenizer is exit 2 naming it; one row run
# for real plans its prompts with the forwarded tokenizer and endpoint (the seam matrix ->
# bundle -> plan header in the manifest).
source "$(dirname "$0")/bundle_lib.sh"

TOK="$KVTIER_FIXTURES/engine/tokenizer.json"
mkdir -p "$WORK/plans/tok"
cp "$TOK" "$WORK/plans/tok/tokenizer.json"
cat >"$WORK/plans/p.yaml" <<EOF
name: e2e-prompts
stack: $FAST
repeats: 1
max_requests: 8
rate_scale: 4
tokenizer: tok/tokenizer.json
runs:
  - {model: tiny, workload: A, modes: [B1]}
  - {model: tiny, workload: A, modes: [B1], endpoint: completions}
sweeps:
  - {model: tiny, workload: A, modes: [B1], values: [1, 2]}
searches:
  - {model: tiny, workload: A, modes: [B1], slo: {ttft_p95_ms: 2000}, min: 1, max: 4}
EOF
mx() { "$KVTIER" matrix --profiles "$KVTIER_PROFILES" --plan "$WORK/plans/p.yaml" --drop-caches no \
  --disk-cache-dir "$DISKDIR" "$@"; }

# 1. the plan's keys reach every child's command line
mx --dry-run --json --out "$WORK/m" >"$WORK/dry.json" || fail "dry run"
ABS="$WORK/plans/tok/tokenizer.json"
pyq "$WORK/dry.json" "all(r['argv'][r['argv'].index('--tokenizer') + 1] == '$ABS' for r in s['rows'])"
pyq "$WORK/dry.json" "[r['argv'][1] for r in s['rows']] == ['bundle', 'bundle', 'sweep', 'slo']"
pyq "$WORK/dry.json" "'--endpoint' not in s['rows'][0]['argv'] and s['rows'][1]['argv'][s['rows'][1]['argv'].index('--endpoint') + 1] == 'completions'"
mx --dry-run --out "$WORK/m" >"$WORK/dry.txt" || fail "dry run (text)"
grep -q "^  .* sweep .*--tokenizer $ABS" "$WORK/dry.txt" || fail "text dry run lacks the commands: $(cat "$WORK/dry.txt")"
ok "plan tokenizer:/endpoint: reach bundle, sweep and slo (relative path from the plan's directory)"

# 2. the command line wins over the plan
mx --dry-run --json --out "$WORK/m" --tokenizer "$TOK" --endpoint chat >"$WORK/dry2.json" || fail "dry run 2"
pyq "$WORK/dry2.json" "all(r['argv'][r['argv'].index('--tokenizer') + 1] == '$(realpath "$TOK")' and r['argv'][r['argv'].index('--endpoint') + 1] == 'chat' for r in s['rows'])"
RC=0
mx --dry-run --out "$WORK/m" --tokenizer "$WORK/none.json" >/dev/null 2>"$WORK/bad.err" || RC=$?
[ "$RC" -eq 2 ] && grep -q "none.json" "$WORK/bad.err" || fail "unreadable tokenizer: exit $RC: $(cat "$WORK/bad.err")"
RC=0
mx --dry-run --out "$WORK/m" --endpoint responses >/dev/null 2>"$WORK/bad2.err" || RC=$?
[ "$RC" -eq 2 ] && grep -q "endpoint must be chat or completions" "$WORK/bad2.err" || fail "bad endpoint: exit $RC"
for c in sweep slo; do
  "$KVTIER" "$c" --help >"$WORK/$c.help"
  grep -q -- "--tokenizer" "$WORK/$c.help" && grep -q -- "--endpoint" "$WORK/$c.help" ||
    fail "kvtier $c lacks --tokenizer/--endpoint"
done
ok "--tokenizer/--endpoint of matrix override the plan; bad values are exit 2"

# 3. one row for real: the bundle child plans with the forwarded tokenizer and endpoint
cat >"$WORK/plans/one.yaml" <<EOF
name: e2e-prompts-one
stack: $FAST
repeats: 1
max_requests: 8
rate_scale: 4
bundle_args: [--interval, 250ms, --settle-quiet, 0s]
runs:
  - {model: tiny, workload: A, modes: [B1], endpoint: completions, tokenizer: tok/tokenizer.json}
EOF
"$KVTIER" matrix --profiles "$KVTIER_PROFILES" --plan "$WORK/plans/one.yaml" --drop-caches no \
  --disk-cache-dir "$DISKDIR" --out "$WORK/run" >"$WORK/run.out" 2>"$WORK/run.err" ||
  fail "matrix run: $(tail -5 "$WORK/run.err")"
B=$(bundle_dir "$(group_dir "$WORK/run/rows/01_run_tiny_A_S_B1")" B1)
pyq "$B/manifest.json" "s['workload']['plan_header']['tokenizer_file'] == '$ABS' and s['workload']['plan_header']['endpoint'] == 'completions' and s['workload']['plan_header']['tokenizer'] == 'bpe'"
ok "the row's bundle planned with the forwarded tokenizer and endpoint"
