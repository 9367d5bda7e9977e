#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kvtier doctor on the builtin stack with the tiny model: the disk tier switch is visible in
# the worker (B1 vs B2p read back), metrics answer, a forced B2p replay shows onboarded blocks
# matched by the worker's storage reads, a >= 32k prompt is served (as the server counts it),
# and the server streams (TTFC flat, non-streamed latency grows). All pass: exit 0, no dossier.
source "$(dirname "$0")/bundle_lib.sh"
RC=0
timeout 150 "$KVTIER" doctor --profiles "$KVTIER_PROFILES" --stack "$FAST" --model tiny \
  --max-requests 3 --disk-cache-dir "$DISKDIR" --out "$WORK/doc" --json >"$WORK/doc.json" \
  2>"$WORK/doc.err" || RC=$?
user_files_intact
[ "$RC" -eq 0 ] || fail "doctor exit $RC: $(cat "$WORK/doc.json" | head -40)"
pyq "$WORK/doc.json" 's["all_ok"] is True and s["dossier"] is None'
pyq "$WORK/doc.json" 'sorted(c["check"] for c in s["checks"]) == ["disk_tier_switch","kv_disk_io_b2p_replay","long_context_32k","metrics_reachable","streaming_sanity"]'
pyq "$WORK/doc.json" 'next(c for c in s["checks"] if c["check"] == "streaming_sanity")["evidence"]["e2e_256_ms"] > next(c for c in s["checks"] if c["check"] == "streaming_sanity")["evidence"]["e2e_8_ms"]'
D=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dir"])' "$WORK/doc.json")
[ -s "$D/doctor.json" ] || fail "doctor.json not written"
[ ! -e "$D/blocker_dossier.md" ] || fail "dossier written although every check passed"
ok "doctor on builtin: all five control-surface checks pass"
