#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A shared prefix replayed after it was evicted from G1 and G2 is onboarded from the disk tier:
# KVBM counters move (offload h2d on the way down, onboard d2d and matched tokens on replay),
# usage reports the cached tokens, and the bytes really read from the unlinked O_DIRECT cache
# file show up in /proc/PID/io read_bytes.
source "$(dirname "$0")/serve_lib.sh"
start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=16 DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=512 \
  DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true DYN_KVBM_DISK_CACHE_DIR="$DISKDIR" DYN_KVBM_METRICS=true \
  -- --g1-blocks 24
grep -q "mode=B2p" "$WORK/server.log" || fail "startup line does not say B2p"
[ "$(metric kvtier_engine_disk_o_direct)" = 1 ] || fail "O_DIRECT not active on $DISKDIR"
[ -z "$(ls -A "$DISKDIR")" ] || fail "the disk cache file is still linked: $(ls "$DISKDIR")"
ls -l "/proc/$SERVER_PID/fd" | grep -q "dynamo-kvbm-disk-cache-.*(deleted)" ||
  fail "no unlinked disk cache file among the server's descriptors"
ok "B2p started, O_DIRECT on, cache file unlinked but open"

# warm: prefix A (10 full blocks)
complete_ids 1 320 1 >/dev/null
off_h2d=$(metric kvbm_offload_blocks_h2d)
[ "$off_h2d" -ge 10 ] || fail "expected >= 10 host->disk offloads after warm-up, got $off_h2d"
ok "warm-up offloaded $off_h2d blocks host->disk"
# pressure: other prompts push A out of G1 (24 blocks) and G2 (16 blocks)
for s in 2 3 4 5; do complete_ids "$s" 320 1 >/dev/null; done
sleep 0.3 # let the last disk writes land (counted at issue)
d2d0=$(metric kvbm_onboard_blocks_d2d); mt0=$(metric kvbm_matched_tokens)
rb0=$(read_bytes "$SERVER_PID"); g3r0=$(metric kvtier_engine_g3_read_bytes_total)
# replay A
body=$(complete_ids 1 320 1)
cached=$(echo "$body" | json_int cached_tokens)
d2d=$(( $(metric kvbm_onboard_blocks_d2d) - d2d0 ))
mt=$(( $(metric kvbm_matched_tokens) - mt0 ))
rb=$(( $(read_bytes "$SERVER_PID") - rb0 ))
g3r=$(( $(metric kvtier_engine_g3_read_bytes_total) - g3r0 ))
bpb=$(metric kvtier_engine_bytes_per_block)
echo "replay: cached_tokens=$cached onboard_d2d=$d2d matched_tokens=$mt g3_read=$g3r read_bytes=$rb"
# whole prompt matched (10 blocks) -> last block dropped -> 9 blocks onboarded from disk
[ "$d2d" -eq 9 ] || fail "expected 9 disk->device onboards, got $d2d"
[ "$mt" -eq $((9 * 32)) ] || fail "expected matched_tokens += 288, got $mt"
[ "$cached" -eq 288 ] || fail "expected cached_tokens 288, got $cached"
[ "$g3r" -eq $((9 * bpb)) ] || fail "engine read $g3r bytes, expected $((9 * bpb))"
[ "$rb" -ge $((9 * bpb)) ] || fail "/proc/$SERVER_PID/io read_bytes grew by $rb < $((9 * bpb))"
[ "$(metric kvtier_engine_verify_failures_total)" = 0 ] || fail "verification failures"
ok "replay onboarded 9 blocks from disk; the kernel saw $rb bytes read"
stop_server
[ -z "$(ls -A "$DISKDIR")" ] || fail "files left in $DISKDIR"
ok "clean shutdown, nothing left behind"
