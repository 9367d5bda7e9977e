#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kvtier observe` scraping real HTTP /metrics endpoints on 127.0.0.1: two KVBM workers (summed)
# and a frontend, a phase whose start and end snapshots differ (counter growth, a counter reset
# on one worker, gauges, histogram buckets), and an endpoint that dies mid-run (recorded as
# unreachable, never a crash). The endpoints are tiny static HTTP servers (python3 http.server
# on port 0 with a ready file) serving files this script rewrites between the snapshots.
set -euo pipefail
command -v jq >/dev/null || { echo "skip: no jq"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
KVTIER=${KVTIER:?}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

serve() { # dir ready-file
  python3 - "$1" "$2" <<'PY' &
import functools, http.server, json, os, sys
d, ready = sys.argv[1], sys.argv[2]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=d)
h.func.log_message = lambda *a: None
s = http.server.HTTPServer(("127.0.0.1", 0), h)
tmp = ready + ".tmp"
open(tmp, "w").write(json.dumps({"pid": os.getpid(), "port": s.server_address[1]}))
os.rename(tmp, ready)
s.serve_forever()
PY
  pids+=("$!")
}
port_of() {
  for _ in $(seq 1 100); do [ -s "$1" ] && break; sleep 0.05; done
  jq -r .port "$1"
}
mkdir -p "$work/w0" "$work/w1" "$work/fe"
kvbm() { # dir offload onboard matched hit
  printf '# TYPE kvbm_offload_blocks_h2d counter\nkvbm_offload_blocks_h2d %s\n# TYPE kvbm_onboard_blocks_d2d counter\nkvbm_onboard_blocks_d2d %s\n# TYPE kvbm_matched_tokens counter\nkvbm_matched_tokens %s\n# TYPE kvbm_disk_cache_hit_rate gauge\nkvbm_disk_cache_hit_rate %s\n' \
    "$2" "$3" "$4" "$5" > "$1/metrics.tmp"
  mv "$1/metrics.tmp" "$1/metrics"
}
fe() { # dir requests le1 inf
  printf '# TYPE dynamo_frontend_requests_total counter\ndynamo_frontend_requests_total{model="m",status="success"} %s\n# TYPE dynamo_frontend_time_to_first_token_seconds histogram\ndynamo_frontend_time_to_first_token_seconds_bucket{model="m",le="1"} %s\ndynamo_frontend_time_to_first_token_seconds_bucket{model="m",le="+Inf"} %s\ndynamo_frontend_time_to_first_token_seconds_sum{model="m"} 1.5\ndynamo_frontend_time_to_first_token_seconds_count{model="m"} %s\n' \
    "$2" "$3" "$4" "$4" > "$1/metrics.tmp"
  mv "$1/metrics.tmp" "$1/metrics"
}
kvbm "$work/w0" 100 40 1000 0.25
kvbm "$work/w1" 10 5 100 0.5
fe "$work/fe" 7 3 7
serve "$work/w0" "$work/r0"
serve "$work/w1" "$work/r1"
serve "$work/fe" "$work/rf"
p0=$(port_of "$work/r0"); p1=$(port_of "$work/r1"); pf=$(port_of "$work/rf")
w1pid=$(jq -r .pid "$work/r1")

"$KVTIER" observe --kv-dir "$work" --interval-ms 200 --phase replay \
  --kvbm-url "http://127.0.0.1:$p0/metrics,http://127.0.0.1:$p1/metrics" \
  --frontend-url "http://127.0.0.1:$pf/metrics" --scrape-timeout 1s \
  --out "$work/os" --raw-dir "$work/raw" --metrics-dir "$work/md" --ready-file "$work/ready" \
  2> "$work/observe.log" &
obs=$!
pids+=("$obs")
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/md/phase_replay_kvbm_metrics_start.json" ] || { cat "$work/observe.log"; echo "FAIL: no start snapshot"; exit 1; }
# Worker 0 grows and its onboard counter resets (restart); worker 1 grows; frontend grows.
kvbm "$work/w0" 160 15 2000 0.75
kvbm "$work/w1" 20 9 300 0.5
fe "$work/fe" 12 5 12
# Wait until the time series has seen the new values (bounded).
for _ in $(seq 1 100); do
  grep -q '"kvbm_offload_blocks_h2d",180' "$work/raw/kvbm_timeseries.csv" 2>/dev/null && break
  sleep 0.05
done
kill -TERM "$obs"
wait "$obs" || { cat "$work/observe.log"; echo "FAIL: observe exit status"; exit 1; }

d="$work/md/phase_replay_kvbm_metrics_delta.json"
fail=0
expect() { # description jq-expression expected
  got=$(jq -c "$2" "$d")
  if [ "$got" = "$3" ]; then echo "ok   $1 = $got"; else echo "FAIL $1 = $got, want $3"; fail=1; fi
}
expect "offload delta (summed)" '.counters.kvbm_offload_blocks_h2d.delta' '70'
expect "onboard delta (reset on w0: 15, +4 on w1)" '.counters.kvbm_onboard_blocks_d2d.delta' '19'
expect "onboard reset flagged" '.counters.kvbm_onboard_blocks_d2d.reset' 'true'
expect "matched tokens" '.counters.kvbm_matched_tokens.delta' '1200'
expect "hit-rate gauge end (sum)" '.gauges.kvbm_disk_cache_hit_rate.end' '1.25'
expect "hit-rate per endpoint" '.gauges.kvbm_disk_cache_hit_rate.end_per_endpoint' '[0.75,0.5]'
d="$work/md/phase_replay_frontend_metrics_delta.json"
expect "frontend requests" '.counters["dynamo_frontend_requests_total{model=\"m\",status=\"success\"}"].delta' '5'
expect "ttft bucket le=1" '.histograms["dynamo_frontend_time_to_first_token_seconds{model=\"m\"}"].buckets["1"]' '2'
expect "ttft count" '.histograms["dynamo_frontend_time_to_first_token_seconds{model=\"m\"}"].count' '5'
d="$work/md/phase_replay_kvbm_metrics_end.json"
expect "end snapshot endpoints ok" '[.endpoints[].status]' '["ok","ok"]'
grep -q '^t_unix_ns,t_s,endpoints_ok,endpoints,series,value' "$work/raw/kvbm_timeseries.csv" || { echo "FAIL: timeseries header"; fail=1; }
[ -s "$work/raw/frontend_timeseries.csv" ] || { echo "FAIL: no frontend time series"; fail=1; }

# A worker that dies during a phase: recorded as unreachable, the run still completes.
kill "$w1pid"
rm -f "$work/ready"
"$KVTIER" observe --kv-dir "$work" --interval-ms 200 --duration 1s --phase p2 --scrape-timeout 300ms \
  --kvbm-url "http://127.0.0.1:$p0/metrics,http://127.0.0.1:$p1/metrics" \
  --out "$work/os2" --ready-file "$work/ready" 2> "$work/observe2.log" || { cat "$work/observe2.log"; echo "FAIL: exit status with a dead endpoint"; exit 1; }
d="$work/os2/phase_p2_kvbm_metrics_end.json"
expect "dead endpoint recorded" '[.endpoints[].status]' '["ok","unreachable"]'
d="$work/os2/phase_p2_kvbm_metrics_delta.json"
expect "dead endpoint counted as missing" '.endpoints_missing' '1'
[ "$fail" -eq 0 ] && echo "metrics ok"
exit "$fail"
