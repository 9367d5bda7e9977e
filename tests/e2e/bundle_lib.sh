#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the bundle_*.sh and doctor_*.sh end-to-end tests (sourced, not a test):
# a scratch results directory, a KV cache directory on a real file system (O_DIRECT), the fast
# builtin stack fixture, JSON assertions, schema checks, and cleanup of only the processes this
# script started.
set -euo pipefail
: "${KVTIER:?KVTIER must point at the kvtier binary}"
: "${KVTIER_PROFILES:?}"
: "${KVTIER_SRC:?}"
: "${KVTIER_FIXTURES:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-bundle.XXXXXX")
DISKDIR_BASE=${KVTIER_E2E_DISK_DIR:-/var/tmp}
DISKDIR=$(mktemp -d "$DISKDIR_BASE/kvtier-e2e-kv.XXXXXX")
# files of the user's in --disk-cache-dir (one even with a KV cache file's name): kvtier works in
# its own marked subdirectory and must never delete them (issue 11 item 1)
echo "user data" > "$DISKDIR/user-notes.txt"
head -c 4096 /dev/zero > "$DISKDIR/dynamo-kvbm-disk-cache-users-own"
user_files_intact() {
  [ -s "$DISKDIR/user-notes.txt" ] && [ -s "$DISKDIR/dynamo-kvbm-disk-cache-users-own" ] ||
    fail "kvtier deleted a user's file in --disk-cache-dir $DISKDIR"
}
FAST="$KVTIER_FIXTURES/bundle/stacks/builtin-fast.yaml"
SCHEMAS="$KVTIER_SRC/docs"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$DISKDIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# pyq FILE EXPR: EXPR (Python, the document is s) must be true
pyq() {
  python3 - "$1" "$2" <<'PY' || fail "$1: $2"
import json, sys
s = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(1)
PY
}

# bundles GROUP_DIR MODE: the repeat directories of MODE
bundle_dir() { ls -d "$1/$2"/r* | head -1; }
group_dir() { ls -d "$1"/*_*_*_* | head -1; }

# schema_ok BUNDLE_DIR: manifest, summary and verdict are valid against docs/*.schema.json and
# every file of ARCHITECTURE.md §6 exists
schema_ok() {
  local b=$1
  for f in manifest summary verdict; do
    python3 "$KVTIER_SRC/tests/e2e/schema_check.py" "$SCHEMAS/$f.schema.json" "$b/$f.json" ||
      fail "$b/$f.json does not match docs/$f.schema.json"
  done
  for f in quick_summary.json raw/requests.jsonl raw/records.jsonl raw/phases.json raw/server.log \
           os/os_iostat.csv os/os_pid_io.csv os/noise.csv os/nvme_smart_pre.json \
           os/nvme_smart_post.json os/io_attribution_report.json raw/kvbm_timeseries.csv \
           raw/frontend_timeseries.csv; do
    [ -e "$b/$f" ] || fail "$b: missing $f"
  done
  compgen -G "$b/metrics_delta/phase_*_frontend_metrics_delta.json" >/dev/null ||
    fail "$b: no phase metric deltas"
  # every phase that began has its start snapshot, every phase that ended its delta
  python3 - "$b" <<'PY' || fail "$b: phase snapshots missing"
import json, os, sys
b = sys.argv[1]
for p in json.load(open(f"{b}/raw/phases.json"))["phases"]:
    n = p["name"]
    assert os.path.exists(f"{b}/metrics_delta/phase_{n}_frontend_metrics_start.json"), n
    if "t_end_ns" in p:
        assert os.path.exists(f"{b}/metrics_delta/phase_{n}_frontend_metrics_delta.json"), n
PY
  ls "$b"/raw/stack/*.log >/dev/null || fail "$b: no stack logs"
}

# run_bundle ARGS...: kvtier bundle with the fast stack and a small plan; sets RC. Phase settling
# is shortened (SETTLE overrides it) so the many bundles of the e2e suite stay brief.
# The steady phase is left out unless a test sets STEADY="" (bundle_modes_1.sh and
# bundle_interrupt.sh run all four phases): the other tests judge warmup, pressure and replay.
run_bundle() {
  RC=0
  timeout 120 "$KVTIER" bundle --profiles "$KVTIER_PROFILES" --model tiny --workload A \
    --disk-cache-dir "$DISKDIR" --out "$WORK/res" --interval 250ms ${DROP_CACHES:---drop-caches no} \
    ${SETTLE:---settle-quiet 500ms --settle-timeout 3s} ${STEADY---steady no} "$@" \
    >"$WORK/out.txt" 2>"$WORK/err.txt" || RC=$?
  user_files_intact
}

# no_leftovers: no kvtier serve launched by these bundles is still running
no_leftovers() {
  local g=$1
  for m in "$g"/*/r*/manifest.json; do
    python3 - "$m" <<'PY' || fail "process left running after $m"
import json, os, sys
m = json.load(open(sys.argv[1]))
for p in (m["stack"]["launch"] or {}).get("processes", []):
    pid = p.get("pid")
    if pid and p.get("left_running"):
        sys.exit(1)
    if pid:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
            if st not in ("Z", "X"):
                sys.exit(1)
        except FileNotFoundError:
            pass
PY
  done
}
