/* SPDX-License-Identifier: Apache-2.0 */
/* The disk (G3) tier's file, as KVBM keeps it (kvbm.md §5): one file per engine created with
 * mkostemp as <dir>/dynamo-kvbm-disk-cache-XXXXXX, switched to O_DIRECT with fcntl (when the
 * file system refuses, O_DIRECT is dropped and the fallback recorded), preallocated in full with
 * fallocate (EOPNOTSUPP: zero-fill when DYN_KVBM_DISK_ZEROFILL_FALLBACK is set, else a sparse
 * ftruncate); it is unlinked as soon as it exists, so nothing is left behind (also when a step
 * fails) and every start is cold. A file on tmpfs or ramfs is memory: the tier reports it as
 * RAM and never as O_DIRECT, as the probe does. Block b lives at offset b x block_bytes. Reads and
 * writes run on the tier's own I/O thread through io_uring (one SQE per block, up to `queue_depth`
 * in flight), or synchronous pread/pwrite when io_uring is unavailable. Completions are reported
 * through a callback on the I/O thread. */
#ifndef KVTIER_ENGINE_TIER_DISK_H
#define KVTIER_ENGINE_TIER_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/diag.h"
#include "engine/tier.h"

#define TIER_DISK_ALIGN    4096u
#define TIER_DISK_MAX_QD   256u
#define TIER_DISK_PATH_MAX 1100u

struct tier_disk_opts {
    const char *dir; /* created if missing */
    uint64_t n_blocks;
    uint64_t block_bytes;   /* multiple of TIER_DISK_ALIGN */
    bool o_direct;          /* request O_DIRECT */
    bool zerofill_fallback; /* zero-fill when fallocate is unsupported */
    bool force_pread;       /* skip io_uring (tests, benchmarks) */
    unsigned queue_depth;   /* io_uring entries; 0 = 32 */
};

struct tier_disk;

/* Creates, preallocates and unlinks the file and starts the I/O thread. Errors: negative errno
 * with d naming the path and the failing step (mkdir, mkostemp, fallocate, ...). *ret owned. */
int tier_disk_open(const struct tier_disk_opts *o, tier_done_fn *done, void *ctx,
                   struct tier_disk **ret, struct diag *d);
/* Queues a job (any thread). The callback reports it; the job and its buffer must stay valid
 * until then. */
void tier_disk_submit(struct tier_disk *t, struct tier_job *job);
/* Finishes every queued and in-flight job (callbacks run), stops the thread, closes the file.
 * NULL-safe. */
void tier_disk_close(struct tier_disk *t);
/* Whether the file is really open with O_DIRECT. */
bool tier_disk_o_direct(const struct tier_disk *t);
/* Whether the file lives in memory (tmpfs or ramfs): then it is RAM, not storage, and
 * tier_disk_o_direct is false whatever the file system accepted. */
bool tier_disk_in_ram(const struct tier_disk *t);
/* Why O_DIRECT was dropped (negative errno) or 0. */
int tier_disk_o_direct_error(const struct tier_disk *t);
/* Whether io_uring is in use (else pread/pwrite); tier_disk_uring_error gives why not. */
bool tier_disk_io_uring(const struct tier_disk *t);
int tier_disk_uring_error(const struct tier_disk *t);
/* Path the file had before it was unlinked (borrowed). */
const char *tier_disk_path(const struct tier_disk *t);
/* How the file was preallocated: "fallocate", "zerofill" or "sparse". */
const char *tier_disk_prealloc(const struct tier_disk *t);
/* The file descriptor (for tests inspecting /proc/self/fd). */
int tier_disk_fd(const struct tier_disk *t);

/* The disk tier as a `struct tier_ops` plug-in: writes without a source buffer and every read
 * go through a bounce buffer of the tier's own; reads are verified on the I/O thread (-EBADMSG
 * on wrong contents, or always with inject_verify_fail). The raw functions above keep the
 * caller's buffers and never verify. */
extern const struct tier_ops tier_disk_ops;

#endif
