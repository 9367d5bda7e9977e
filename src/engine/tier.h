/* SPDX-License-Identifier: Apache-2.0 */
/* The KVBM tiers below the device as one plug-in interface (fio's ioengine_ops is the model):
 * the scheduler moves blocks between G1, the host tier (G2) and the disk tier (G3) through a
 * `struct tier_ops` and never asks which kind of tier it talks to. Three implementations:
 * tier_host_ops (real bytes in RAM, a copy thread), tier_disk_ops (an unlinked O_DIRECT file,
 * io_uring or pread/pwrite on an I/O thread) and tier_null_ops (no bytes, every job finished at
 * once on the submitting thread: the scheduler's deterministic test double).
 *
 * A job moves one block. A write stores block `hash` in `slot`: from `buf` when the source is
 * another tier's memory, else the tier produces the block's bytes itself (kvdata_fill: the
 * device's copy of the block). A read fetches `slot` and checks it holds block `hash`. Results:
 * 0; -EBADMSG when a read found other contents (a verification failure: the bytes were read);
 * another negative errno when the I/O failed. Completions go to the `done` callback given at
 * open, on the tier's thread (or the submitter's, for the null tier). */
#ifndef KVTIER_ENGINE_TIER_H
#define KVTIER_ENGINE_TIER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/diag.h"

struct tier_job {
    struct tier_job *next; /* queue link, owned by the tier while submitted */
    bool write;
    uint32_t slot;
    void *buf;     /* borrowed: write source (or NULL), or the read target for raw disk I/O */
    uint64_t hash; /* block identity */
    int result;    /* 0 or negative errno, set before the callback */
    void *owner;   /* for the owner (the scheduler) */
    uint64_t submit_ns, done_ns;
    void *bounce; /* the tier's own buffer while submitted (owned by the tier) */
};

/* Called when a job finished; the job returns to the caller. */
typedef void tier_done_fn(void *ctx, struct tier_job *job);

struct tier_opts {
    uint64_t n_blocks;
    uint64_t block_bytes;
    bool inject_verify_fail; /* failure injection: every read fails verification */
    /* disk tier only */
    const char *dir;        /* created if missing */
    bool o_direct;          /* request O_DIRECT */
    bool zerofill_fallback; /* zero-fill when fallocate is unsupported */
    bool force_pread;       /* skip io_uring */
    unsigned queue_depth;   /* io_uring entries; 0 = 32 */
};

/* What a tier is, for the start-up log and the configuration gauges. */
struct tier_facts {
    bool o_direct;        /* really open with O_DIRECT */
    int o_direct_err;     /* why not (negative errno) or 0 */
    bool io_uring;        /* else pread/pwrite (or no I/O at all) */
    bool in_ram;          /* the tier's "storage" is memory (tmpfs/ramfs, or the host tier) */
    const char *path;     /* file it used (unlinked), "" for none; borrowed for the tier's life */
    const char *prealloc; /* "fallocate", "zerofill", "sparse", or "" */
};

struct tier_ops {
    const char *name;
    /* Builds the tier and starts its thread. Errors: negative errno with d naming the problem.
     * *ret owned (close it). */
    int (*open)(const struct tier_opts *o, tier_done_fn *done, void *ctx, void **ret,
                struct diag *d);
    /* Queues a job (any thread); it and its buf stay valid until done. */
    void (*submit)(void *t, struct tier_job *job);
    /* Address of a slot's bytes when the tier is memory another tier can write from (borrowed,
     * valid while the slot is pinned), else NULL. */
    void *(*block)(void *t, uint32_t slot);
    void (*facts)(const void *t, struct tier_facts *ret);
    /* Finishes every queued job (callbacks run), stops the thread, frees. NULL-safe. */
    void (*close)(void *t);
};

#endif
