#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier compare's usage errors: missing sides, a side that does not exist or holds no run
# bundle, an unknown primary metric, an out-of-range option. Each exits 2 with a message that
# names the problem and the path; nothing is written. (The statistics are checked by
# tests/unit/test_compare.c on generated bundles and on real bundles by bundle_disk_replay.sh.)
set -euo pipefail
KVTIER=${KVTIER:?}
work=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect2() { # WANT ARGS...: exit 2 and WANT in stderr
  local want=$1 rc=0
  shift
  "$KVTIER" compare "$@" --out "$work/cmp.json" > "$work/out" 2> "$work/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "compare $*: exit $rc, want 2 ($(cat "$work/err"))"
  grep -qF -- "$want" "$work/err" || fail "compare $*: stderr lacks '$want': $(cat "$work/err")"
  [ ! -e "$work/cmp.json" ] || fail "compare $*: wrote output on a usage error"
}
mkdir -p "$work/empty/r01"
expect2 "--baseline and --treatment are required" --baseline "$work/empty"
expect2 "$work/nope: not a directory" --baseline "$work/nope" --treatment "$work/empty"
expect2 "$work/empty: no run bundle here" --baseline "$work/empty" --treatment "$work/empty"
expect2 "unknown metric 'ttft_p42'" --baseline "$work/empty" --treatment "$work/empty" --primary ttft_p42
expect2 "--level" --baseline "$work/empty" --treatment "$work/empty" --level 2
# A bundle whose verdict.json is not JSON: the error names the file.
mkdir -p "$work/bad/r01"
echo '{' > "$work/bad/r01/verdict.json"
echo '{}' > "$work/bad/r01/manifest.json"
expect2 "$work/bad/r01/" --baseline "$work/bad" --treatment "$work/bad"
"$KVTIER" compare --help | grep -q -- "--treatment" || fail "--help lacks --treatment"
echo "ok: compare usage errors"
