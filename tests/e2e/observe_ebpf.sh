#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# eBPF block-layer attribution through `kvtier observe`: a child holding an unlinked O_DIRECT
# file in the KV directory writes and reads 32 MiB during a phase; where the kernel permits
# (root, BTF) the phase's attribution must charge exactly those bytes to the KV file
# (attribution.kv_read_bytes, attribution.ebpf.kv_files) and io_attribution_report.json must
# name the method; where it does not, and with --no-ebpf, the source says why and the
# fanotify and /proc path carries on (the degraded path).
set -euo pipefail
: "${KVTIER:?}"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/kvtier-ebpf-XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/kv"
# The child creates its files (cold file-system metadata is read then, in its name), says so,
# waits until observe samples, moves its bytes, says so in a file it already holds, and lives
# until observe has ended: the phase holds all of its KV I/O and no read of its start-up or of
# file creation, however loaded the machine and however cold its caches.
child() { # exec: the background job is python itself, so the kill below ends it
  exec python3 - "$work/kv" "$1" "$work/created" "$work/observing" "$work/moved" <<'PY'
import mmap, os, sys, time
d, mib, created, observing, moved = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
p = os.path.join(d, "kv.bin")
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
os.unlink(p)
os.posix_fallocate(fd, 0, mib << 20)  # the blocks now: allocating them reads bitmaps
buf = mmap.mmap(-1, 1 << 20)
buf.write(b"\x5a" * (1 << 20))
done = open(moved, "w")  # created now: creating a file later reads metadata in our name
open(created, "w").close()
deadline = time.time() + 60
while not os.path.exists(observing) and time.time() < deadline:
    time.sleep(0.02)
for i in range(mib):
    os.pwrite(fd, buf, i << 20)
os.fdatasync(fd)
for i in range(mib):
    os.preadv(fd, [buf], i << 20)
done.write("moved\n")
done.flush()
time.sleep(60)
PY
}
# wait_for FILE: up to 60 s
wait_for() { for _ in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.1; done; echo "FAIL: no $1"; exit 1; }
run_observe() { # out-dir extra-args...
  local out=$1; shift
  rm -f "$work/created" "$work/observing" "$work/moved"
  child 32 & local pid=$!
  wait_for "$work/created"
  "$KVTIER" observe --kv-dir "$work/kv" --pid "$pid" --phase replay --duration 0 \
    --ready-file "$work/observing" --no-smart --no-gpu --out "$out" "$@" >"$work/observe.log" 2>&1 &
  local obs=$!
  for _ in $(seq 1 600); do [ -s "$work/moved" ] && break; sleep 0.1; done
  [ -s "$work/moved" ] || { echo "FAIL: the child did not finish its I/O"; exit 1; }
  sleep 1 # a sample after the last completion
  kill -TERM "$obs"
  wait "$obs" || { echo "FAIL: observe: $(cat "$work/observe.log")"; exit 1; }
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
run_observe "$work/on"
status=$(jq -r '.. | objects | select(has("ebpf")) | .ebpf | objects | .status // empty' \
  "$work/on/sources.json" | head -1)
if [ "$status" = ok ]; then
  # eBPF's KV bytes: never more than the file's, at most 4 MiB short (a completion the kernel
  # ran no tracing program for, under CPU contention: tests/unit/test_bpfio.c), and none of
  # the reader's reads charged to another file (a wrong owner)
  jq -e '.attribution.kv_read_bytes == .attribution.ebpf.kv_files.read_bytes
         and .attribution.ebpf.server_other_files.read_bytes == 0
         and .attribution.ebpf.kv_files.read_bytes <= 33554432
         and .attribution.ebpf.kv_files.read_bytes >= 33554432 - 4194304
         and .attribution.ebpf.kv_files.write_bytes >= 33554432 - 4194304
         and .attribution.ebpf.diskstats_coverage > 0.85 and .attribution.ebpf.diskstats_coverage < 1.05
         and (.attribution.method | startswith("ebpf+"))
         and (.attribution.ebpf.statement | test("KV files"))' \
    "$work/on/phase_replay_os_delta.json" >/dev/null ||
    { echo "FAIL: eBPF phase attribution"; jq .attribution "$work/on/phase_replay_os_delta.json"; exit 1; }
  jq -e '.ebpf.status == "ok" and (.method | startswith("ebpf+"))
         and (.ebpf.file_hooks | IN("bio", "fentry", "tracepoint"))
         and (.ebpf.file_hooks == "bio" or (.ebpf.reason | length > 0))' \
    "$work/on/io_attribution_report.json" >/dev/null ||
    { echo "FAIL: report"; jq .ebpf "$work/on/io_attribution_report.json"; exit 1; }
  echo "observe_ebpf: file hooks $(jq -r .ebpf.file_hooks "$work/on/io_attribution_report.json"): $(jq -r .attribution.ebpf.statement "$work/on/phase_replay_os_delta.json")"
else
  reason=$(jq -r '.. | objects | select(has("ebpf")) | .ebpf | objects | .reason // empty' \
    "$work/on/sources.json" | head -1)
  [ -n "$reason" ] || { echo "FAIL: eBPF unavailable without a reason"; exit 1; }
  # as root on a kernel with BTF, in a build with eBPF, a refusal is the program's fault
  if [ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ] && ! grep -q "built without" <<<"$reason"; then
    echo "FAIL: root and BTF, yet eBPF was refused: $reason"; exit 1
  fi
  echo "observe_ebpf: eBPF not permitted here ($reason): degraded path only"
fi
# the degraded path, asked for: a reason, no KV bytes claimed, the method says so
run_observe "$work/off" --no-ebpf
jq -e '(.attribution | has("kv_read_bytes") | not) and (.attribution.method | startswith("ebpf") | not)
       and .attribution.ebpf == null' "$work/off/phase_replay_os_delta.json" >/dev/null ||
  { echo "FAIL: --no-ebpf still claims eBPF"; exit 1; }
jq -e '.ebpf.status == "unavailable" and (.ebpf.reason | test("--no-ebpf"))' \
  "$work/off/io_attribution_report.json" >/dev/null || { echo "FAIL: degraded reason"; exit 1; }
echo "observe_ebpf ok"
