#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A full output disk (issue 11 #8): results on a 400 KiB tmpfs. The runner goes as far as it
# can, then exits 1 naming the first file it could not write and the real errno (ENOSPC, not
# EIO); every JSON file it did write parses (atomic writes: no half file), and nothing is left
# running. Needs root to mount the tmpfs: skipped (77) otherwise.
source "$(dirname "$0")/bundle_lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip: mounting a tmpfs needs root"; exit 77; }
FULL=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-full.XXXXXX")
mount -t tmpfs -o size=400k tmpfs "$FULL" 2>/dev/null || { rmdir "$FULL"; echo "skip: cannot mount a tmpfs here"; exit 77; }
trap 'umount "$FULL" 2>/dev/null || true; rmdir "$FULL" 2>/dev/null || true; cleanup' EXIT
RC=0
timeout 120 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --workload A --stack "$FAST" \
  --disk-cache-dir "$DISKDIR" --out "$FULL/res" --interval 250ms --drop-caches no --mode B1 \
  --max-requests 2 --rate-scale 4 --steady no --settle-quiet 500ms --settle-timeout 3s \
  >"$WORK/out.txt" 2>"$WORK/err.txt" || RC=$?
[ "$RC" -eq 1 ] || fail "full disk: exit $RC, want 1: $(tail -3 "$WORK/err.txt")"
grep -q "error: cannot write $FULL/res/.*: No space left on device" "$WORK/err.txt" ||
  fail "the error does not name the file and ENOSPC: $(tail -3 "$WORK/err.txt")"
python3 - "$FULL/res" <<'PY' || fail "a file written on the full disk does not parse"
import glob, json, sys
for p in glob.glob(sys.argv[1] + "/**/*.json", recursive=True):
    json.load(open(p))
for p in glob.glob(sys.argv[1] + "/**/*.jsonl", recursive=True):
    for line in open(p):
        json.loads(line)
PY
for r in "$FULL"/res/*/B1/r01/raw/stack/work/ready.json; do
  [ -s "$r" ] || continue
  SPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$r")
  ! kill -0 "$SPID" 2>/dev/null || fail "kvtier serve $SPID left running"
done
user_files_intact
ok "full output disk -> exit 1 naming the file and ENOSPC, what was written parses"
