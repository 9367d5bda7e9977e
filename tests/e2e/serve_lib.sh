#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the serve_*.sh end-to-end tests (sourced, not a test itself): start the real
# binary on 127.0.0.1 with --port 0 and a ready file, read metrics, send requests, clean up only
# the processes this script started.
set -euo pipefail
: "${KVTIER:?KVTIER must point at the kvtier binary}"
: "${KVTIER_PROFILES:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e.XXXXXX")
# A directory on a real file system for O_DIRECT (tmpfs may refuse it).
DISKDIR_BASE=${KVTIER_E2E_DISK_DIR:-/var/tmp}
DISKDIR=$(mktemp -d "$DISKDIR_BASE/kvtier-e2e-disk.XXXXXX")
PIDS=()
EXTRA_DIRS=() # more directories a test made (mktemp -d elsewhere): removed at exit, also on failure
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$DISKDIR" "${EXTRA_DIRS[@]}"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/server.log" ] && tail -20 "$WORK/server.log" >&2; exit 1; }
ok() { echo "ok - $*"; }

# start_server [env assignments...] -- [serve options...]
start_server() {
  local envs=() opts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  opts=("$@")
  rm -f "$WORK/ready"
  env "${envs[@]}" "$KVTIER" serve --profiles "$KVTIER_PROFILES" --model tiny --hardware cpu_small \
    --port 0 --metrics-port 0 --ready-file "$WORK/ready" "${opts[@]}" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 200); do
    [ -s "$WORK/ready" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited before ready: $(cat "$WORK/server.log")"
    sleep 0.05
  done
  [ -s "$WORK/ready" ] || fail "no ready file after 10 s"
  PORT=$(sed -E 's/.*"http_port": ([0-9]+).*/\1/' "$WORK/ready")
  MPORT=$(sed -E 's/.*"metrics_port": ([0-9]+).*/\1/' "$WORK/ready")
  URL="http://127.0.0.1:$PORT"
  MURL="http://127.0.0.1:$MPORT/metrics"
}

stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "server exited with $rc after SIGTERM"
}

# metric NAME [URL]: value of an unlabelled sample (0 if absent)
metric() {
  curl -sf "${2:-$MURL}" | awk -v n="$1" '$1 == n { print $2; found=1 } END { if (!found) print 0 }'
}

# ids_prompt SEED COUNT: a JSON array of COUNT token ids derived from SEED
ids_prompt() {
  awk -v s="$1" -v n="$2" 'BEGIN { printf "["; for (i = 0; i < n; i++) printf "%s%d", (i ? "," : ""), (s * 7919 + i * 104729) % 31000; printf "]" }'
}

# complete_ids SEED COUNT MAXTOK: unary completion on token ids; prints the response body
complete_ids() {
  curl -sf "$URL/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"tiny\",\"prompt\":$(ids_prompt "$1" "$2"),\"max_tokens\":$3,\"ignore_eos\":true}"
}

# json_int KEY: the first integer value of "KEY" in stdin
json_int() { grep -oE "\"$1\":[0-9]+" | head -1 | cut -d: -f2; }

# read_bytes PID: bytes the process read from storage
read_bytes() { awk '$1 == "read_bytes:" { print $2 }' "/proc/$1/io"; }

# page URL: the whole body of URL on stdout, fetched before any reader can stop early (a
# `curl | grep -q` pipeline fails under pipefail when grep exits first)
page() { curl -sf "$1" >"$WORK/page" || return 1; cat "$WORK/page"; }
