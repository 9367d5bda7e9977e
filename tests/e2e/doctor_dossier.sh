#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier doctor against a stack that cannot serve: every check fails with its missing hook, the
# blocker dossier (Markdown + JSON: minimal repro, missing hook, what must change) is written,
# and the exit code is 3.
source "$(dirname "$0")/bundle_lib.sh"
RC=0
timeout 60 "$KVTIER" doctor --profiles "$KVTIER_PROFILES" \
  --stack "$KVTIER_FIXTURES/bundle/stacks/crash-at-start.yaml" --model tiny --max-requests 2 \
  --disk-cache-dir "$DISKDIR" --out "$WORK/doc" --json >"$WORK/doc.json" 2>"$WORK/doc.err" || RC=$?
[ "$RC" -eq 3 ] || fail "doctor exit $RC, want 3: $(tail -5 "$WORK/doc.err")"
pyq "$WORK/doc.json" 's["all_ok"] is False and s["dossier"].endswith("blocker_dossier.md")'
pyq "$WORK/doc.json" 'all(not c["ok"] and set(c["blocker"]) == {"repro","missing_hook","must_change"} for c in s["checks"])'
MD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dossier"])' "$WORK/doc.json")
grep -q "^## disk_tier_switch" "$MD" || fail "dossier lacks the switch blocker"
grep -q "Missing hook" "$MD" || fail "dossier lacks the missing hook"
grep -q "kvtier bundle --stack" "$MD" || fail "dossier lacks the repro command"
pyq "${MD%.md}.json" 's["kind"] == "kvtier.blocker_dossier" and len(s["blockers"]) == 5'
ok "doctor on a broken stack: five blockers, dossier written, exit 3"
