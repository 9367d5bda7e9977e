/* SPDX-License-Identifier: Apache-2.0 */
/* The iteration scheduler of the emulated engine: an in-flight batching loop on its own thread,
 * running in real time. Each iteration admits waiting requests first come first served when
 * their KV blocks fit (GUARANTEED_NO_EVICT: prompt plus requested output reserved), matches
 * prompts against the device (G1) prefix cache and, with KVBM, the host (G2) then disk (G3)
 * tiers (prefix-contiguous, last block dropped when everything matched), parks requests whose
 * blocks are being onboarded while others proceed, builds a batch of decode tokens plus prefill
 * chunks under the token budget, sleeps the modelled step time, then streams the tokens
 * produced. Every newly completed full block is registered in G1 and offloaded write-through
 * (G1->G2, then G2->G3 through the frequency filter; G1->G3 in disk-only mode), with KVBM's
 * counters counted at issue. The host and disk tiers are `struct tier_ops` plug-ins (tier.h):
 * the scheduler never asks which kind it talks to. The G1/G2/G3 pools, the filter and the hit-rate
 * window belong to the scheduler thread; HTTP threads only submit requests and read metrics. */
#ifndef KVTIER_ENGINE_SCHED_H
#define KVTIER_ENGINE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/profile.h"
#include "engine/config.h"
#include "engine/elog.h"
#include "engine/metrics.h"
#include "engine/sreq.h"
#include "engine/tier.h"
#include "tokenizer/tokenizer.h"

struct sched_opts {
    const struct model_profile *model; /* borrowed for the scheduler's life */
    const struct hw_profile *hw;       /* borrowed */
    const struct config_kvbm *kvbm;    /* borrowed */
    const struct tokenizer *tok;       /* borrowed (filler words) */
    struct metrics *metrics;           /* borrowed */
    struct elog log;
    const char *served_model; /* JSON-safe name echoed in responses */
    uint64_t g1_blocks;
    uint64_t max_num_seqs;           /* sequences per iteration, at most UINT32_MAX */
    uint64_t max_num_tokens;         /* token budget per iteration */
    uint64_t first_token_delay_ns;   /* failure injection: hold every first token */
    bool inject_ssd_miss;            /* failure injection: every disk read fails verification */
    bool disk_force_pread;           /* disk I/O without io_uring */
    uint64_t disk_queue_depth;       /* 1..TIER_DISK_MAX_QD; 0 = 32 */
    double speedup;                  /* modelled times are divided by this (>= 1 faster) */
    const struct tier_ops *host_ops; /* NULL: tier_host_ops (tests: tier_null_ops) */
    const struct tier_ops *disk_ops; /* NULL: tier_disk_ops (tests: tier_null_ops) */
};

struct sched;

/* Checks the tier capacities of o before sched_new: each within BLOCKPOOL_MAX_SLOTS (G1 at
 * least 1), and the bookkeeping the pools allocate (slots and hash tables, about 56 bytes per
 * block) within half of mem_bytes (the machine's memory). -EINVAL or -ENOMEM with d naming the
 * capacities; 0 when they fit. */
int sched_check_capacity(const struct sched_opts *o, uint64_t mem_bytes, struct diag *d);
/* Builds pools and tiers (G3 file created, preallocated and unlinked here). Errors: negative
 * errno with d naming the problem. *ret owned. */
int sched_new(const struct sched_opts *o, struct sched **ret, struct diag *d);
/* Starts the scheduler thread. */
int sched_start(struct sched *s);
/* Hands a request to the scheduler, which takes its own reference. Any thread. */
void sched_submit(struct sched *s, struct sreq *r);
/* Wakes the scheduler after a request's cancelled flag was set. Any thread. */
void sched_poke(struct sched *s);
/* Blocks needed in G1 for a request of n_prompt tokens generating up to max_new tokens. */
uint64_t sched_blocks_needed(const struct sched *s, uint64_t n_prompt, uint64_t max_new);
/* G1 capacity in blocks. */
uint64_t sched_g1_blocks(const struct sched *s);
/* Stops the thread, ends every open request (streams are cut), waits for disk I/O, closes the
 * disk file. Safe to call twice; NULL-safe. */
void sched_stop(struct sched *s);
/* NULL-safe. Stops first if needed. */
void sched_free(struct sched *s);
/* Effective disk tier facts for the start-up log and gauges. */
bool sched_disk_o_direct(const struct sched *s);
bool sched_disk_io_uring(const struct sched *s);
/* Whether the disk tier's file is in memory (tmpfs/ramfs). */
bool sched_disk_in_ram(const struct sched *s);
const char *sched_disk_path(const struct sched *s);
const char *sched_disk_prealloc(const struct sched *s);
int sched_disk_o_direct_error(const struct sched *s);

#endif
