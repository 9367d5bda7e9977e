#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kvtier probe --from`: a probe.json whose device model names the PM9E1 gets the shipped
# storage profile's vendor assertions beside its ceilings ("vendor asserts X, measured Y: ratio")
# with the sources' disagreement listed; another model gets "no storage profile for this
# device"; a malformed storage profile is bad input (exit 2) and the document is still written.
set -euo pipefail
command -v jq >/dev/null || { echo "skip: no jq"; exit 77; }
KVTIER=${KVTIER:?}
work=$(mktemp -d -p "${KVTIER_E2E_TMP:-/var/tmp}" kvtier-probevendor-XXXXXX)
trap 'rm -rf "$work"' EXIT
doc() { # model
  jq -n --arg m "$1" '{schema_version: 1, kind: "kvtier.probe", device: {model: $m},
    ceilings: [{rw: "read", block_size_bytes: 2097152, queue_depth: 16, bw_bytes_per_s: 7.25e9,
                iops: 3457, knee_queue_depth: 4},
               {rw: "randread", block_size_bytes: 4096, queue_depth: 64, bw_bytes_per_s: 4.096e9,
                iops: 1.0e6, knee_queue_depth: 32}]}'
}
doc "SAMSUNG PM9E1 NVMe 4TB" > "$work/pm.json"
"$KVTIER" probe --from "$work/pm.json" --out "$work/pm_out.json" 2> "$work/err"
grep -q "vendor asserts 14.50 GB/s (2026-01 .*measured 7.25 GB/s (read, 2048 KiB, QD 16): 0.50" \
  "$work/err" || { cat "$work/err"; echo "FAIL: no vendor/measured line"; exit 1; }
grep -q "conflict: seq_write_bytes_per_s" "$work/err" || { echo "FAIL: no conflict line"; exit 1; }
[ "$(jq -r .storage_profile.status "$work/pm_out.json")" = matched ]
[ "$(jq '[.storage_profile.comparisons[] | select(.metric == "rand_read_iops")][0].ratio' \
  "$work/pm_out.json")" = 0.5 ]
doc "QEMU NVMe Ctrl" > "$work/q.json"
"$KVTIER" probe --from "$work/q.json" --out "$work/q_out.json" 2> "$work/err"
grep -q "no storage profile for this device (model 'QEMU NVMe Ctrl')" "$work/err"
[ "$(jq -r .storage_profile.status "$work/q_out.json")" = no_profile ]
printf 'name: x\nmatch: {model_contains: [PM9E1]}\nvendor_assertions:\n  - {metric: rand_read_iops, value: fast, source: s}\n' > "$work/bad.yaml"
set +e
"$KVTIER" probe --from "$work/pm.json" --storage-profile "$work/bad.yaml" --out "$work/b.json" 2> "$work/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "bad.yaml: vendor_assertions\[0\].value" "$work/err" &&
  [ "$(jq '.ceilings | length' "$work/b.json")" = 2 ] ||
  { cat "$work/err"; echo "FAIL: bad profile exit $rc"; exit 1; }
echo "ok: vendor assertions beside the measurement; no profile; bad profile exit 2"
