#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote telemetry (plan P8): a real prometheus-node-exporter on 127.0.0.1 stands for the node
# that holds the KV device; `kvtier observe --node-exporter` must write os_iostat_remote.csv
# with the columns of os_iostat.csv and a phase remote_device whose bytes agree with the local
# sampler's device (both read the same kernel counters within the same tick: within 2% plus
# 1 MiB, docs/observe.md). A remote storage kind without an exporter says what is missing.
set -euo pipefail
: "${KVTIER:?}"
exporter=$(command -v prometheus-node-exporter || command -v node_exporter || true)
[ -n "$exporter" ] || { echo "SKIP: no node_exporter installed"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/kvtier-remote-XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
dev=$(df --output=source "$work" | tail -1)
dev=$(basename "$(readlink -f "$dev")")
[ -e "/sys/class/block/$dev" ] || { echo "SKIP: no block device under $work"; exit 77; }
[ -e "/sys/class/block/$dev/partition" ] && dev=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$exporter" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
  --collector.diskstats --collector.netdev >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
# the write starts once sampling runs (a loaded machine can take seconds to start observe)
( for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done; sleep 0.3
  dd if=/dev/zero of="$work/f" bs=1M count=24 oflag=direct status=none ) &
"$KVTIER" observe --device "$dev" --phase steady --duration 4s --no-smart --no-gpu \
  --ready-file "$work/ready" \
  --storage-kind shared_nvmeof --storage-endpoint nqn.2026-12.test:kv \
  --node-exporter "http://127.0.0.1:$port/metrics" --out "$work/o" >/dev/null 2>&1
wait %2 2>/dev/null || true
head -1 "$work/o/os_iostat.csv" > "$work/h1"; head -1 "$work/o/os_iostat_remote.csv" > "$work/h2"
cmp -s "$work/h1" "$work/h2" || { echo "FAIL: remote CSV columns differ"; exit 1; }
[ "$(wc -l < "$work/o/os_iostat_remote.csv")" -ge 3 ] || { echo "FAIL: no remote rows"; exit 1; }
jq -e '.remote_device.status == "ok" and .device.status == "ok"
       and ((.remote_device.write_bytes - .device.write_bytes) | fabs) <= (0.02 * .device.write_bytes + 1048576)
       and ((.remote_device.read_bytes - .device.read_bytes) | fabs) <= (0.02 * .device.read_bytes + 1048576)
       and .device.write_bytes >= 25165824' "$work/o/phase_steady_os_delta.json" >/dev/null ||
  { echo "FAIL: remote and local device bytes differ"; jq -c '.device, .remote_device' "$work/o/phase_steady_os_delta.json"; exit 1; }
jq -e '.sources.storage_tier.kind == "shared_nvmeof" and .sources.storage_tier.endpoint == "nqn.2026-12.test:kv"
       and .sources.node_exporter.status == "ok"' "$work/o/sources.json" >/dev/null ||
  { echo "FAIL: storage tier not recorded"; exit 1; }
# a remote kind with no exporter: recorded as missing, with the reason
"$KVTIER" observe --device "$dev" --duration 300ms --no-smart --no-gpu --storage-kind nfs \
  --out "$work/n" >/dev/null 2>&1
jq -e '.sources.storage_tier.status == "unavailable" and (.sources.storage_tier.reason | test("node-exporter"))' \
  "$work/n/sources.json" >/dev/null || { echo "FAIL: missing remote evidence not said"; exit 1; }
echo "observe_remote: local $(jq .device.write_bytes "$work/o/phase_steady_os_delta.json") B written, node_exporter $(jq .remote_device.write_bytes "$work/o/phase_steady_os_delta.json") B"
echo "observe_remote ok"
