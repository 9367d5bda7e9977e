#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cross-check of `kvtier probe` against fio on this machine: the same shapes (random 4 KiB reads
# at QD 16, sequential 1 MiB reads and writes at QD 8; io_uring, O_DIRECT, a freshly pre-written
# 128 MiB file on the same file system) must agree within 10% in bandwidth.
# The disk of a shared virtual machine drifts by 2x from second to second, so the tools run
# interleaved (kvtier, fio, kvtier, fio, ...; 7 rounds of 0.7 s each) and their medians are
# compared; a shape that misses is measured once more (stated in the output) before failing.
# fio batches submissions like kvtier does (iodepth_batch_submit = QD, completions reaped in
# batches), so per-I/O system-call overhead on this 2-core machine does not decide the result.
set -euo pipefail
for t in fio jq; do command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }; done
KVTIER=${KVTIER:?}
work=$(mktemp -d -p "${KVTIER_E2E_TMP:-/var/tmp}" kvtier-probefio-XXXXXX)
trap 'rm -rf "$work"' EXIT
rounds=7

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() { # rw kvtier-bs fio-bs qd -> "kv_median fio_median"
  local rw=$1 kbs=$2 fbs=$3 qd=$4 dir=read
  case "$rw" in *write) dir=write ;; esac
  : > "$work/kv"; : > "$work/fio"
  for _ in $(seq 1 "$rounds"); do
    "$KVTIER" probe --dir "$work" --size 128M --min-free 256M --time 0.7s --rw "$rw" \
      --block-size "$kbs" --qd "$qd" --quiet --out "$work/p.json" 2>> "$work/probe.log"
    jq '.results[0].bw_bytes_per_s' "$work/p.json" >> "$work/kv"
    fio --output-format=json --filename="$work/fio.dat" --size=128M --direct=1 \
      --ioengine=io_uring --name=prewrite --rw=write --bs=1m --iodepth=8 \
      --name=measure --stonewall --rw="$rw" --bs="$fbs" --iodepth="$qd" \
      --iodepth_batch_submit="$qd" --iodepth_batch_complete_min=1 \
      --iodepth_batch_complete_max="$qd" --time_based --runtime=0.7 > "$work/fio.json" 2>> "$work/fio.log"
    jq ".jobs[1].$dir.bw_bytes" "$work/fio.json" >> "$work/fio"
    rm -f "$work/fio.dat"
  done
  echo "$(median < "$work/kv") $(median < "$work/fio")"
}

fail=0
for shape in "randread 4KiB 4k 16" "read 1MiB 1m 8" "write 1MiB 1m 8"; do
  set -- $shape
  ok=0
  for attempt in 1 2; do
    read -r kv fi < <(measure "$@")
    verdict=$(awk -v k="$kv" -v f="$fi" 'BEGIN { r = k / f; printf "%.3f %s", r, (r >= 0.9 && r <= 1.1) ? "ok" : "MISS" }')
    printf '%-9s bs=%-5s qd=%-3s kvtier %8.1f MB/s  fio %8.1f MB/s  ratio %s (attempt %d)\n' \
      "$1" "$2" "$4" "$(awk -v v="$kv" 'BEGIN{print v/1e6}')" "$(awk -v v="$fi" 'BEGIN{print v/1e6}')" \
      "$verdict" "$attempt"
    case "$verdict" in *ok) ok=1; break ;; esac
  done
  [ "$ok" -eq 1 ] || fail=1
done
[ -z "$(ls -A "$work" | grep -v -e '^kv$' -e '^fio$' -e '^p.json$' -e '\.log$' -e '^fio.json$')" ] ||
  { echo "FAIL: probe left files behind"; ls -la "$work"; fail=1; }
[ "$fail" -eq 0 ] && echo "fio cross-check ok"
exit "$fail"
