#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kvtier probe` on bad input: tmpfs (refuses O_DIRECT), a file instead of a directory, a
# missing directory, too little free space, no permission (as nobody), bad shapes. Each must
# be a clear error with the right exit code (2 usage, 1 runtime) and leave nothing behind; and
# a short good run writes a probe.json that records the device and verifies cache bypass.
set -euo pipefail
command -v jq >/dev/null || { echo "skip: no jq"; exit 77; }
KVTIER=${KVTIER:?}
work=$(mktemp -d -p "${KVTIER_E2E_TMP:-/var/tmp}" kvtier-probebad-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
expect() { # description want-rc want-message-regex command...
  local desc=$1 want=$2 re=$3
  shift 3
  set +e
  "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  set -e
  if [ "$rc" -eq "$want" ] && grep -Eq "$re" "$work/err"; then
    echo "ok   $desc (exit $rc): $(head -1 "$work/err")"
  else
    echo "FAIL $desc: exit $rc (want $want), stderr: $(cat "$work/err")"
    fail=1
  fi
}
P=("$KVTIER" probe --time 1s --size 64M --min-free 64M --qd 1 --block-size 4KiB --rw read)
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
  before=$(ls -A /dev/shm | wc -l)
  expect "tmpfs" 2 "tmpfs" "${P[@]}" --dir /dev/shm --out "$work/x.json"
  [ "$(ls -A /dev/shm | wc -l)" -eq "$before" ] || { echo "FAIL: files left in /dev/shm"; fail=1; }
fi
touch "$work/file"
expect "not a directory" 2 "not a directory" "${P[@]}" --dir "$work/file" --out "$work/x.json"
expect "missing directory" 2 "No such file" "${P[@]}" --dir "$work/none" --out "$work/x.json"
mkdir "$work/d"
expect "too little space" 1 "free" "${P[@]}" --dir "$work/d" --size 900T --out "$work/x.json"
expect "bad block size" 2 "multiple of 4 KiB" "${P[@]}" --dir "$work/d" --block-size 1000 --out "$work/x.json"
expect "bad queue depth" 2 "queue depth" "${P[@]}" --dir "$work/d" --qd 0 --out "$work/x.json"
expect "bad direction" 2 "randread" "${P[@]}" --dir "$work/d" --rw sideways --out "$work/x.json"
expect "no --out" 2 "required" "$KVTIER" probe --dir "$work/d"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  chmod 0755 "$work" "$work/d"
  expect "no permission" 1 "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "${P[@]}" --dir "$work/d" --out /dev/null
fi
[ -z "$(ls -A "$work/d")" ] || { echo "FAIL: files left behind in $work/d"; ls -la "$work/d"; fail=1; }
[ ! -e "$work/x.json" ] || { echo "FAIL: an output file was written on error"; fail=1; }

# A short good run.
"$KVTIER" probe --dir "$work/d" --size 32M --min-free 64M --time 1s --qd 1,4 \
  --block-size 4KiB,1MiB --rw randread,write --out "$work/probe.json" --quiet 2> "$work/err"
[ -z "$(ls -A "$work/d")" ] || { echo "FAIL: files left behind after a good run"; fail=1; }
jq -e '.schema_version == 1 and .kind == "kvtier.probe" and (.results | length) == 8
       and .cache_bypass_verified == true and (.device.name | length) > 0
       and (.ceilings | length) == 4 and .engine == "io_uring"' "$work/probe.json" > /dev/null ||
  { echo "FAIL: probe.json content"; jq . "$work/probe.json" | head -40; fail=1; }
[ "$fail" -eq 0 ] && echo "bad input ok"
exit "$fail"
