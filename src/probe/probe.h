/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier probe: measures the SSD ceiling the KV tier is judged against. io_uring with O_DIRECT
 * on a file in a directory (never a raw device): sequential and random reads and writes at the
 * KV block sizes and at 4 KiB over a queue-depth sweep; bandwidth, IOPS and latency
 * percentiles per shape; page-cache bypass checked against the device's own counters; device
 * model, firmware, capacity and PCIe link from sysfs. Writes probe.json (docs/probe.md).
 * Also exports the ceiling lookup that turns a replay's KV read bandwidth into storage
 * efficiency. */
#ifndef KVTIER_PROBE_PROBE_H
#define KVTIER_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define PROBE_SCHEMA_VERSION  1
#define PROBE_MAX_BLOCK_SIZES 16
#define PROBE_MAX_QDS         16
#define PROBE_MAX_BLOCK_BYTES (256u << 20) /* largest block size accepted */
#define PROBE_LAT_MAX_SAMPLES (1u << 20)   /* latencies kept per shape (reservoir beyond) */

enum probe_rw { PROBE_READ, PROBE_WRITE, PROBE_RANDREAD, PROBE_RANDWRITE, PROBE_RW__COUNT };

struct probe_config {
    const char *dir;       /* borrowed; directory on the KV file system; required */
    const char *proc_root; /* borrowed; "/proc" when NULL (diskstats, mountinfo) */
    const char *sys_root;  /* borrowed; "/sys" when NULL (device identity, link) */
    uint64_t size_bytes;   /* test file size; multiple of 4096 after rounding down */
    uint64_t time_ns;      /* total time budget for all shapes (pre-write excluded) */
    uint64_t block_bytes[PROBE_MAX_BLOCK_SIZES]; /* each a multiple of 4096 */
    size_t n_block;
    unsigned qds[PROBE_MAX_QDS]; /* queue depths, 1..256 */
    size_t n_qd;
    bool rw_enabled[PROBE_RW__COUNT]; /* which directions to run */
    bool force_pread;                 /* use the pread/pwrite fallback even if io_uring works */
    uint64_t seed;                    /* random offsets and buffer contents */
    uint64_t min_free_bytes;          /* free space that must remain after the file; 0 = 1 GiB */
    /* Progress callback (may be NULL), called on the caller's thread after each shape. */
    void (*progress)(void *ctx, const json_t *shape_result);
    void *progress_ctx;
};

/* Runs the probe and returns probe.json's document in *ret (owned). The test file is removed
 * on every path, success or failure. Errors (d says what and where): -EINVAL bad config or a
 * file system that refuses O_DIRECT (tmpfs), -ENOSPC too little free space, -EACCES/-EPERM
 * no permission, -ENOTDIR, or an I/O errno. Caller's thread; blocks for about time_ns. */
int probe_run(const struct probe_config *cfg, json_t **ret, struct diag *d);

/* Name of a direction as fio spells it ("read", "write", "randread", "randwrite"). */
const char *probe_rw_name(enum probe_rw rw);

/* Ceiling lookup in a probe.json document (borrowed): the highest bandwidth (bytes/s) over all
 * queue depths for direction rw ("read", "randread", ...) at block size block_bytes. When that
 * exact size was not measured, the nearest measured size (by ratio) is used and *ret_exact is
 * false. Returns 0, or -ENOENT when the document has no result for that direction. Outputs
 * may be NULL except ret_bw. Any thread. */
int probe_ceiling(const json_t *probe, const char *rw, uint64_t block_bytes, double *ret_bw,
                  uint64_t *ret_block_bytes, unsigned *ret_qd, bool *ret_exact);

/* Storage efficiency = kv_read_bw / ceiling of "randread" (falling back to "read") at
 * block_bytes. Returns 0 and *ret_efficiency (a fraction, may exceed 1 when the page cache
 * served reads), -ENOENT when no ceiling exists, -EINVAL for a non-positive ceiling. */
int probe_storage_efficiency(const json_t *probe, uint64_t block_bytes, double kv_read_bw,
                             double *ret_efficiency);

#endif
