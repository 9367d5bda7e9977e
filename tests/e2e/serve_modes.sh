#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The modes of ARCHITECTURE.md §4 through the real DYN_KVBM_* variables: B0 (no KVBM, device
# prefix cache only), B1 (host tier), B2 (host + disk, frequency filter: a write-once / evict /
# read-back pass puts nothing on disk, the second admission does), B2p (filter off), B3 (disk
# only, device->disk offload), the u64-vs-f64 bypass trap, the exact "true"/"1" filter switch,
# DYN_KVBM_METRICS gating the kvbm_* families, and the O_DIRECT switch and fallback.
source "$(dirname "$0")/serve_lib.sh"
DISK="DYN_KVBM_DISK_CACHE_DIR=$DISKDIR"

# warm A, push it out of G1 (24 blocks) and G2 (16 blocks), replay A
cycle() {
  complete_ids 1 320 1 >/dev/null
  for s in 2 3 4 5; do complete_ids "$s" 320 1 >/dev/null; done
  sleep 0.3
  complete_ids 1 320 1 | json_int cached_tokens
}

# --- B0
start_server -- --g1-blocks 24
grep -q "mode=B0" "$WORK/server.log" || fail "B0 not reported"
[ "$(metric kvtier_engine_kvbm_enabled)" = 0 ] || fail "B0: kvbm enabled"
page "$MURL" | grep -q '^kvbm_' && fail "B0: kvbm_* families present"
complete_ids 9 320 1 >/dev/null
c=$(complete_ids 9 320 1 | json_int cached_tokens)
[ "$c" = 288 ] || fail "B0: device prefix hit expected 288 cached tokens, got $c"
c=$(cycle)
[ "$c" = 0 ] || fail "B0: after eviction nothing can be reused, got $c"
stop_server
ok "B0: device prefix cache only; evicted prefixes are recomputed"

# --- B1
start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=128 DYN_KVBM_METRICS=1 -- --g1-blocks 24
grep -q "mode=B1" "$WORK/server.log" || fail "B1 not reported"
[ "$(metric kvtier_engine_g3_capacity_blocks)" = 0 ] || fail "B1: disk tier present"
c=$(cycle)
[ "$(metric kvbm_offload_blocks_h2d)" = 0 ] || fail "B1: host->disk offloads"
[ "$(metric kvbm_onboard_blocks_d2d)" = 0 ] || fail "B1: disk onboards"
[ "$(metric kvbm_offload_blocks_d2h)" -ge 50 ] || fail "B1: write-through d2h missing"
h2d=$(metric kvbm_onboard_blocks_h2d)
[ "$h2d" = 9 ] || fail "B1: expected 9 host->device onboards, got $h2d"
[ "$c" = 288 ] || fail "B1: expected 288 cached tokens from the host tier, got $c"
stop_server
ok "B1: write-through to host, onboards from host ($h2d blocks), no disk"

# --- B2 (filter on)
start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=16 DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=512 \
  "$DISK" DYN_KVBM_METRICS=true DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=TRUE -- --g1-blocks 24
grep -q "mode=B2 " "$WORK/server.log" || fail "B2 not reported"
[ "$(metric kvtier_engine_disk_offload_filter_enabled)" = 1 ] || fail "B2: filter off with TRUE"
c=$(cycle)
[ "$c" = 0 ] || fail "B2 first pass: nothing should be on disk yet (cached $c)"
[ "$(metric kvtier_engine_disk_filter_rejected_total)" -ge 50 ] || fail "B2: filter did not reject"
h2d=$(metric kvbm_offload_blocks_h2d)
[ "$h2d" -ge 9 ] || fail "B2: the replayed (second admission) blocks should go to disk, got $h2d"
c=$(cycle)
[ "$c" = 288 ] || fail "B2 second pass: expected 288 cached tokens from disk, got $c"
[ "$(metric kvbm_onboard_blocks_d2d)" -ge 9 ] || fail "B2: no disk onboard"
stop_server
ok "B2: filter keeps write-once blocks off disk; second admission reaches disk and is onboarded"

# --- B2p
start_server DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=16 DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=512 \
  "$DISK" DYN_KVBM_METRICS=true DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=1 -- --g1-blocks 24
grep -q "mode=B2p" "$WORK/server.log" || fail "B2p not reported"
[ "$(metric kvtier_engine_disk_offload_filter_enabled)" = 0 ] || fail "B2p: filter on with 1"
c=$(cycle)
[ "$c" = 288 ] || fail "B2p first pass: expected 288 cached tokens, got $c"
stop_server
ok "B2p: filter off, the first pass already reloads from disk"

# --- B3 (disk only)
start_server DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=512 "$DISK" DYN_KVBM_METRICS=true -- --g1-blocks 24
grep -q "mode=B3" "$WORK/server.log" || fail "B3 not reported"
[ "$(metric kvtier_engine_disk_only_mode)" = 1 ] || fail "B3: bypass gauge"
[ "$(metric kvtier_engine_g2_capacity_blocks)" = 0 ] || fail "B3: host tier present"
c=$(cycle)
[ "$(metric kvbm_offload_blocks_d2h)" = 0 ] || fail "B3: d2h offloads"
[ "$(metric kvbm_offload_blocks_d2d)" -ge 50 ] || fail "B3: no device->disk offloads"
[ "$c" = 288 ] || fail "B3: expected 288 cached tokens from disk, got $c"
stop_server
ok "B3: device->disk offload (d2d), onboard from disk"

# --- the bypass trap: fractional CPU GB allocates host blocks AND bypasses them
start_server DYN_KVBM_CPU_CACHE_GB=0.5 DYN_KVBM_DISK_CACHE_GB=1 "$DISK" DYN_KVBM_METRICS_PORT=notaport -- --g1-blocks 24
[ "$(metric kvtier_engine_disk_only_mode)" = 1 ] || fail "trap: bypass not taken"
[ "$(metric kvtier_engine_g2_capacity_blocks)" = 1907 ] || fail "trap: host blocks $(metric kvtier_engine_g2_capacity_blocks) != 1907"
[ "$(metric kvtier_engine_g3_capacity_blocks)" = 3814 ] || fail "trap: disk blocks"
grep -q "u64-vs-f64" "$WORK/server.log" || fail "trap: no warning"
grep -q "DYN_KVBM_METRICS_PORT='notaport'" "$WORK/server.log" || fail "bad port not warned"
page "$MURL" | grep -q '^kvbm_' && fail "kvbm_* served without DYN_KVBM_METRICS"
stop_server
ok "CPU_CACHE_GB=0.5: host blocks allocated and bypassed, warned; kvbm_* off without DYN_KVBM_METRICS"

# --- O_DIRECT switch, and the fallback where the file system refuses it
start_server DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=64 "$DISK" DYN_KVBM_DISK_DISABLE_O_DIRECT=0 -- --g1-blocks 24
[ "$(metric kvtier_engine_disk_o_direct_requested)" = 0 ] || fail "DISABLE_O_DIRECT (presence) ignored"
[ "$(metric kvtier_engine_disk_o_direct)" = 0 ] || fail "O_DIRECT on although disabled"
stop_server
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm=$(mktemp -d /dev/shm/kvtier-e2e.XXXXXX)
  EXTRA_DIRS+=("$shm")
  start_server DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS=64 DYN_KVBM_DISK_CACHE_DIR="$shm" \
    DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=16 -- --g1-blocks 24
  od=$(metric kvtier_engine_disk_o_direct)
  # tmpfs is memory: never reported as O_DIRECT, whether or not this kernel accepts the flag
  [ "$od" = 0 ] || fail "a tmpfs disk tier reported as O_DIRECT"
  grep -q "is on tmpfs/ramfs: the disk tier is memory" "$WORK/server.log" || fail "tmpfs not reported as memory"
  c=$(cycle)
  [ "$c" = 288 ] || fail "disk tier on /dev/shm: expected 288 cached tokens, got $c"
  stop_server
  [ -z "$(ls -A "$shm")" ] || fail "files left in $shm"
  rmdir "$shm"
  ok "disk tier on tmpfs works (o_direct=$od)"
fi
