/* SPDX-License-Identifier: Apache-2.0 */
/* The host (G2) tier's memory: real bytes in RAM, one anonymous mapping of n_blocks x
 * block_bytes (page-aligned, so blocks can be written to an O_DIRECT file directly). Pages are
 * touched when blocks are first written. Slot bookkeeping lives in a blockpool owned by the
 * scheduler; this module only holds and checks the bytes. Not thread-safe by itself: a block is
 * written by the scheduler and read by the disk thread only while the scheduler pins it. */
#ifndef KVTIER_ENGINE_TIER_HOST_H
#define KVTIER_ENGINE_TIER_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/jobq.h"
#include "engine/tier.h"

struct tier_host {
    uint8_t *mem; /* owned mapping, NULL when n_blocks is 0 */
    uint64_t n_blocks, block_bytes;
    uint64_t map_bytes;
    /* copy thread (tier_host_start): writes (G1->G2) and verified reads (G2->G1) off the
     * scheduler thread, like the DMA engine of the real stack */
    pthread_t thread;
    struct jobq q; /* of struct tier_job */
    bool running;
    bool inject_verify_fail; /* every read fails verification */
    tier_done_fn *done;
    void *ctx;
};

/* Maps the tier. -ENOMEM if the mapping fails, -EOVERFLOW if the size overflows. */
int tier_host_init(struct tier_host *t, uint64_t n_blocks, uint64_t block_bytes);
void tier_host_fini(struct tier_host *t);
/* Address of a slot's bytes (borrowed). */
void *tier_host_block(const struct tier_host *t, uint32_t slot);
/* Writes the contents of block hash into slot (the G1->G2 copy). */
void tier_host_write(struct tier_host *t, uint32_t slot, uint64_t hash);
/* Reads slot back and checks it holds block hash (the G2->G1 copy). */
bool tier_host_verify(const struct tier_host *t, uint32_t slot, uint64_t hash);
/* Starts the copy thread; done is called on it for every finished job. -errno. */
int tier_host_start(struct tier_host *t, tier_done_fn *done, void *ctx);
/* Queues a job (any thread): write = fill slot with block hash (or copy the job's buf when
 * set); read = verify it (result -EBADMSG on a mismatch). */
void tier_host_submit(struct tier_host *t, struct tier_job *job);
/* Finishes queued jobs and stops the copy thread (also done by tier_host_fini). */
void tier_host_stop(struct tier_host *t);

/* The host tier as a `struct tier_ops` plug-in (init + start at open, stop + fini at close);
 * its blocks are addressable, so the disk tier writes straight from them. */
extern const struct tier_ops tier_host_ops;

#endif
