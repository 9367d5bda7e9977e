#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Parity of `kvtier observe` with sysstat under a real fio load on this machine: os_iostat.csv
# against `iostat -x` and os_pid_io.csv against `pidstat -d`, over the same 10 one-second
# intervals (started within ~0.1 s of each other). The fio load is rate-limited (constant
# 16 MB/s read + 8 MB/s write of 64 KiB O_DIRECT requests), so a window misalignment of
# < 0.1 s in 10 s moves a rate by ~1%.
# Tolerances: throughput, IOPS and request sizes 5% (misalignment plus other processes' bursty
# I/O on the shared disk); r_await, w_await, aqu-sz and %util 25% or an absolute floor
# (0.3 ms, 0.05, 3 points), because they follow the device's instantaneous state; pidstat
# kB_rd/s and kB_wr/s 5% (the fio job's own counters are rate-limited exactly).
# As root the load runs on an ext4 file system on a loop device made for the test, so that no
# other process's I/O lands on the measured device (a shared disk with bursty neighbours makes
# window misalignment visible); otherwise on the disk of $KVTIER_E2E_TMP (default /var/tmp).
# Also: a cgroup v1 blkio child group holding fio must show its bytes in cgroup_io.csv (root).
# Needs fio, iostat, pidstat, jq; skipped (77) without them.
set -euo pipefail
for t in fio iostat pidstat jq; do command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }; done
KVTIER=${KVTIER:?}
work=$(mktemp -d -p "${KVTIER_E2E_TMP:-/var/tmp}" kvtier-parity-XXXXXX)
pids=()
cg=""
loopdev=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true
  if [ -n "$loopdev" ]; then
    umount "$work/mnt" 2>/dev/null || true
    losetup -d "$loopdev" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
data="$work"
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null; then
  truncate -s 384M "$work/disk.img"
  if loopdev=$(losetup -f --show "$work/disk.img" 2>/dev/null); then
    if mkfs.ext4 -q -F "$loopdev" && mkdir "$work/mnt" && mount "$loopdev" "$work/mnt"; then
      data="$work/mnt"
    fi
  else
    loopdev=""
  fi
fi

fio --name=parity --filename="$data/f" --size=128M --direct=1 --ioengine=psync --rw=randrw \
  --rwmixread=67 --bs=64k --rate=16m,8m --time_based --runtime=40 --output="$work/fio.out" &
fio_pid=$!
pids+=("$fio_pid")
# fio forks its job process; wait (bounded) for it.
job=""
for _ in $(seq 1 100); do
  job=$(pgrep -P "$fio_pid" | head -1 || true)
  [ -n "$job" ] && [ -r "/proc/$job/io" ] && break
  sleep 0.1
done
[ -n "$job" ] || { echo "FAIL: fio job process did not start"; exit 1; }
# Put the job in a blkio (v1) child cgroup when the hierarchy is writable (root).
if [ -w /sys/fs/cgroup/blkio ]; then
  cg=/sys/fs/cgroup/blkio/kvtier-parity-$$
  mkdir "$cg" && echo "$job" > "$cg/cgroup.procs" || cg=""
  # v1 blkio accounts throttle statistics only on queues with a throttle rule: give the test
  # device a limit far above the load (1 GB/s) so the group's bytes are counted.
  if [ -n "$cg" ] && [ -n "$loopdev" ]; then
    mm=$(cat "/sys/class/block/$(basename "$loopdev")/dev")
    echo "$mm 1073741824" > "$cg/blkio.throttle.read_bps_device" || true
    echo "$mm 1073741824" > "$cg/blkio.throttle.write_bps_device" || true
  fi
fi
# Let fio lay out its file and reach its rate.
for _ in $(seq 1 100); do
  rb=$(awk '/^read_bytes/ {print $2}' "/proc/$job/io")
  [ "$rb" -gt $((8 << 20)) ] && break
  sleep 0.1
done

cg_opt=()
[ -n "$cg" ] && cg_opt=(--cgroup "$cg")
"$KVTIER" observe --kv-dir "$data" --pid "$fio_pid" --interval-ms 1000 --duration 11.5s \
  --out "$work/os" --ready-file "$work/ready" --no-fanotify "${cg_opt[@]}" 2> "$work/observe.log" &
obs=$!
pids+=("$obs")
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { cat "$work/observe.log"; echo "FAIL: observe not ready"; exit 1; }
dev=$(jq -r .sources.diskstats.name "$work/os/sources.json")
S_TIME_FORMAT=ISO iostat -d -x -y -o JSON "$dev" 1 10 > "$work/iostat.json" &
pids+=("$!")
LC_ALL=C pidstat -d -p "$job" 1 10 > "$work/pidstat.txt" &
pids+=("$!")
wait "${pids[@]:2}"
wait "$obs"
echo "device $dev, fio job $job, cgroup ${cg:-none}"

fail=0
check() { # name got want reltol absfloor
  awk -v n="$1" -v g="$2" -v w="$3" -v r="$4" -v a="$5" 'BEGIN {
    d = g - w; if (d < 0) d = -d; lim = r * (w < 0 ? -w : w); if (lim < a) lim = a;
    printf "%-12s kvtier %10.2f  sysstat %10.2f  diff %8.2f  limit %8.2f  %s\n", n, g, w, d, lim,
      (d <= lim ? "ok" : "FAIL");
    exit (d <= lim ? 0 : 1) }' || fail=1
}
# kvtier: mean over full intervals (the phase-edge samples are shorter).
kv_mean() { # column (1-based)
  awk -F, -v c="$1" 'NR > 1 && $3 >= 0.9 { s += $c; n++ } END { printf "%.4f", n ? s / n : 0 }' \
    "$work/os/os_iostat.csv"
}
io_mean() { # iostat JSON key
  jq --arg k "$1" '[.sysstat.hosts[0].statistics[].disk[0][$k]] | add / length' "$work/iostat.json"
}
check "r/s" "$(kv_mean 5)" "$(io_mean r/s)" 0.05 1
check "w/s" "$(kv_mean 6)" "$(io_mean w/s)" 0.05 1
check "rkB/s" "$(kv_mean 7)" "$(io_mean rkB/s)" 0.05 64
check "wkB/s" "$(kv_mean 8)" "$(io_mean wkB/s)" 0.05 64
check "rareq-sz" "$(kv_mean 16)" "$(io_mean rareq-sz)" 0.05 1
check "wareq-sz" "$(kv_mean 17)" "$(io_mean wareq-sz)" 0.05 2
check "r_await" "$(kv_mean 13)" "$(io_mean r_await)" 0.25 0.3
check "w_await" "$(kv_mean 14)" "$(io_mean w_await)" 0.25 0.3
check "aqu-sz" "$(kv_mean 15)" "$(io_mean aqu-sz)" 0.25 0.05
check "%util" "$(kv_mean 18)" "$(io_mean util)" 0.25 3

kv_pid() { # column
  awk -F, -v c="$1" -v p="$job" 'NR > 1 && $4 == p && $3 >= 0.9 { s += $c; n++ }
    END { printf "%.4f", n ? s / n : 0 }' "$work/os/os_pid_io.csv"
}
ps_avg() { # field index in the Average: line (4 = kB_rd/s, 5 = kB_wr/s)
  awk -v f="$1" '$1 == "Average:" { print $f }' "$work/pidstat.txt"
}
check "kB_rd/s" "$(kv_pid 6)" "$(ps_avg 4)" 0.05 16
check "kB_wr/s" "$(kv_pid 7)" "$(ps_avg 5)" 0.05 16

if [ -n "$cg" ] && [ -n "$loopdev" ]; then
  rows=$(awk -F, 'NR > 1 && $13 > 0 { n++ } END { print n + 0 }' "$work/os/cgroup_io.csv")
  echo "cgroup_io.csv rows with read bytes: $rows"
  [ "$rows" -ge 3 ] || { echo "FAIL: cgroup_io.csv has no read traffic for the fio group"; fail=1; }
fi
[ "$fail" -eq 0 ] || { echo "--- kvtier"; head -3 "$work/os/os_iostat.csv"; exit 1; }
echo "parity ok"
