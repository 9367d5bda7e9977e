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

# Checks are queued and evaluated together by `checks` (one python3 start instead of one per
# check: starting python costs about a second on a busy 2-core box).
# pyq FILE EXPR: EXPR sees s = the parsed JSON file and must be truthy.
pyq() { printf '%s\t%s\t%s\n' pyq "$1" "$2" >> "$WORK/checks.tsv"; }
# recs FILE EXPR: EXPR sees r = the list of record dicts of a JSONL file.
recs() { printf '%s\t%s\t%s\n' recs "$1" "$2" >> "$WORK/checks.tsv"; }
checks() {
  [ -s "$WORK/checks.tsv" ] || return 0
  python3 - "$WORK/checks.tsv" <<'PY' || fail "checks failed (see above)"
import json, sys
from collections import Counter
bad = 0
for line in open(sys.argv[1]):
    kind, path, expr = line.rstrip("\n").split("\t", 2)
    if kind == "pyq":
        env = {"s": json.load(open(path)), "json": json, "sys": sys}
    else:
        r = [json.loads(l) for l in open(path) if l.strip()]
        env = {"r": r, "json": json, "sys": sys, "path": path}
    try:
        ok = eval(expr, env)
    except Exception as e:
        ok, expr = False, f"{expr} raised {e!r}"
    if not ok:
        bad += 1
        print(f"check failed on {path}: {expr}", file=sys.stderr)
        if kind == "recs":
            print("  errors:", Counter(x.get("error") for x in env["r"]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  rm -f "$WORK/checks.tsv"
}
