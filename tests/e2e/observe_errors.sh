#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kvtier observe` on this machine's real /proc and /sys: what it lacks (NVMe SMART, GPU; maybe
# fanotify) becomes "unavailable" records with reasons, never a crash; usage errors exit 2; a
# SIGTERM stop still writes every file; the fdinfo O_DIRECT state of a real O_DIRECT reader
# (fio) is found under the KV directory.
set -euo pipefail
command -v jq >/dev/null || { echo "skip: no jq"; exit 77; }
KVTIER=${KVTIER:?}
work=$(mktemp -d -p "${KVTIER_E2E_TMP:-/var/tmp}" kvtier-obserr-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail=0
rc_is() { # description want command...
  local d=$1 w=$2
  shift 2
  set +e
  "$@" > /dev/null 2> "$work/err"
  local rc=$?
  set -e
  if [ "$rc" -eq "$w" ]; then echo "ok   $d (exit $rc): $(head -1 "$work/err")"; else echo "FAIL $d: exit $rc, want $w: $(cat "$work/err")"; fail=1; fi
}
rc_is "missing --out" 2 "$KVTIER" observe --duration 1s
rc_is "unknown device" 2 "$KVTIER" observe --device nosuchdisk9 --out "$work/x" --duration 1s
rc_is "bad pid" 2 "$KVTIER" observe --pid abc --out "$work/x" --duration 1s
rc_is "bad phase name" 2 "$KVTIER" observe --phase "a/b" --out "$work/x" --duration 1s
rc_is "interval too small" 2 "$KVTIER" observe --interval-ms 1 --out "$work/x" --duration 1s
"$KVTIER" observe --help | grep -q -- "--kvbm-url" || { echo "FAIL: --help lacks --kvbm-url"; fail=1; }

mkdir "$work/kv"
if command -v fio >/dev/null; then
  fio --name=od --filename="$work/kv/cache.bin" --size=16M --direct=1 --ioengine=psync --rw=randread \
    --bs=4k --time_based --runtime=20 --output=/dev/null &
  fio_pid=$!
  pids+=("$fio_pid")
  for _ in $(seq 1 100); do
    job=$(pgrep -P "$fio_pid" | head -1 || true)
    [ -n "$job" ] && ls -l "/proc/$job/fd" 2>/dev/null | grep -q cache.bin && break
    sleep 0.1
  done
fi
"$KVTIER" observe --kv-dir "$work/kv" --pid "${fio_pid:-$$}" --interval-ms 100 --phase p \
  --out "$work/os" --ready-file "$work/ready" 2> "$work/log" &
obs=$!
pids+=("$obs")
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { cat "$work/log"; echo "FAIL: not ready"; exit 1; }
for _ in $(seq 1 40); do
  [ "$(wc -l < "$work/os/os_iostat.csv")" -ge 6 ] && break
  sleep 0.05
done
kill -TERM "$obs"
wait "$obs" || { cat "$work/log"; echo "FAIL: exit status after SIGTERM"; fail=1; }
for f in os_iostat.csv os_pid_io.csv cgroup_io.csv noise.csv gpu.csv net_dev.csv sources.json \
  nvme_smart_pre.json nvme_smart_post.json nvme_smart_delta.json io_attribution_report.json \
  phase_p_os_delta.json; do
  [ -s "$work/os/$f" ] || { echo "FAIL: $f missing"; fail=1; }
done
S="$work/os/sources.json"
dev=$(jq -r .sources.diskstats.name "$S")
echo "device: $dev ($(jq -r .sources.diskstats.info.transport "$S"))"
case "$dev" in
  nvme*) ;;
  *) jq -e '.status == "unavailable" and (.reason | test("not an NVMe"))' "$work/os/nvme_smart_pre.json" > /dev/null ||
       { echo "FAIL: SMART record on a non-NVMe disk"; fail=1; } ;;
esac
if ! ls /dev/nvidia0 > /dev/null 2>&1; then
  jq -e '.sources.gpu.status == "unavailable" and (.sources.gpu.reason | length) > 0' "$S" > /dev/null ||
    { echo "FAIL: GPU record"; fail=1; }
fi
jq -r '.sources | to_entries[] | "  \(.key): \(.value.status) \(.value.reason // "")"' "$S"
if [ -n "${fio_pid:-}" ]; then
  jq -e '.page_cache.o_direct_all == true and (.page_cache.files[0].path | test("cache.bin"))' \
    "$work/os/phase_p_os_delta.json" > /dev/null ||
    { echo "FAIL: O_DIRECT KV file not found in fdinfo"; jq .page_cache "$work/os/phase_p_os_delta.json"; fail=1; }
  jq -e '.server.read_bytes > 0 and .device.read_bytes > 0' "$work/os/phase_p_os_delta.json" > /dev/null ||
    { echo "FAIL: no server/device bytes"; fail=1; }
  jq -c '.attribution | {method, server_read_share, confidence}' "$work/os/phase_p_os_delta.json"
fi
# Without privileges fanotify is refused: an unavailable record with the reason, the run works.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  mkdir -m 0777 "$work/np" "$work/np/kv"
  chmod 0755 "$work"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$KVTIER" observe --kv-dir "$work/np/kv" \
    --duration 0.3s --out "$work/np/os" 2> "$work/np.log" ||
    { cat "$work/np.log"; echo "FAIL: unprivileged observe"; fail=1; }
  jq -e '.sources.fanotify.status == "unavailable" and (.sources.fanotify.reason | test("refused"))' \
    "$work/np/os/sources.json" > /dev/null &&
    echo "ok   unprivileged: fanotify $(jq -r .sources.fanotify.reason "$work/np/os/sources.json")" ||
    { echo "FAIL: unprivileged fanotify record"; jq .sources.fanotify "$work/np/os/sources.json"; fail=1; }
fi
[ "$fail" -eq 0 ] && echo "observe errors ok"
exit "$fail"
