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
child() {
  python3 - "$work/kv" "$1" <<'PY'
import mmap, os, sys, time
d, mib = sys.argv[1], int(sys.argv[2])
p = os.path.join(d, "kv.bin")
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
os.unlink(p)
buf = mmap.mmap(-1, 1 << 20)
buf.write(b"\x5a" * (1 << 20))
time.sleep(1.0)
for i in range(mib):
    os.pwrite(fd, buf, i << 20)
os.fdatasync(fd)
for i in range(mib):
    os.preadv(fd, [buf], i << 20)
time.sleep(3.0)
PY
}
run_observe() { # out-dir extra-args...
  local out=$1; shift
  child 32 & local pid=$!
  "$KVTIER" observe --kv-dir "$work/kv" --pid "$pid" --phase replay --duration 3s \
    --no-smart --no-gpu --out "$out" "$@" >/dev/null 2>&1
  wait "$pid"
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
