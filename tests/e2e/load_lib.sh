#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the load_*.sh end-to-end tests (sourced, not a test itself): start the
# project's SSE responder on 127.0.0.1 port 0, wait for its ready file with a bounded poll,
# kill only the PIDs started here.
set -euo pipefail
: "${KVTIER:?KVTIER must name the kvtier binary}"
RESPONDER="$(dirname "$KVTIER")/../loadgen/kvtier-sse-responder"
[ -x "$RESPONDER" ] || { echo "responder not built: $RESPONDER"; exit 1; }
WORK=$(mktemp -d /tmp/kvtier-e2e-load.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# start_responder NAME ARGS... -> sets PORT_<NAME>
start_responder() {
  local name=$1; shift
  local ready="$WORK/$name.ready"
  "$RESPONDER" --port 0 --ready-file "$ready" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.05; done
  [ -s "$ready" ] || fail "responder $name did not become ready"
  local port
  port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$ready")
  eval "PORT_$name=$port"
}

# jq-like checks with python: pyq FILE EXPR (EXPR sees s = parsed JSON; must be truthy)
pyq() {
  python3 - "$1" "$2" <<'PY' || fail "check failed: $2 on $1"
import json, sys
s = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("value check failed:", sys.argv[2], file=sys.stderr)
    sys.exit(1)
PY
}

# recs FILE EXPR: EXPR sees r = list of record dicts
recs() {
  python3 - "$1" "$2" <<'PY' || fail "record check failed: $2"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2])
if not ok:
    print("records:", len(r), "check failed:", sys.argv[2], file=sys.stderr)
    from collections import Counter
    print(Counter(x["error"] for x in r), file=sys.stderr)
    sys.exit(1)
PY
}
