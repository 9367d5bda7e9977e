/* SPDX-License-Identifier: Apache-2.0 */
/* Iteration scheduler (see sched.h).
 *
 * Sequence life: WAIT (queued) -> [ONBOARD (parked: host copies cost modelled link time, disk
 * reads cost real I/O)] -> PREFILL (chunks under max_num_tokens) -> [HOLD (injected first-token
 * delay)] -> DECODE -> finished. The first token is produced by the step that completes the
 * prefill; each decode step produces one more. Blocks: g1[b] is the G1 slot of block b; prompt
 * blocks are taken at admission, generated blocks from the reservation as tokens arrive. A
 * block is registered in G1 when its tokens are all computed and is then a write-through
 * offload candidate unless it was a hit (evaluated marks the first candidate). */
#include "engine/sched.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clk.h"
#include "common/rng.h"
#include "common/xalloc.h"
#include "engine/blockpool.h"
#include "engine/cost.h"
#include "engine/filler.h"
#include "engine/filter.h"
#include "engine/oaiwire.h"
#include "engine/tier_disk.h"
#include "engine/tier_host.h"
#include "tokenizer/blockhash.h"

#define SCHED_IDLE_WAIT_NS (100 * CLK_NS_PER_MS)
#define SCHED_POKE_NS      (500 * CLK_NS_PER_MS) /* queued requests' sockets are rechecked */
#define SCHED_MAX_PREFILLS 64                    /* prefill chunks in one step */

enum seq_state { SEQ_WAIT, SEQ_ONBOARD, SEQ_PREFILL, SEQ_HOLD, SEQ_DECODE };

struct seq {
    struct sreq *r;
    struct seq *next;
    enum seq_state st;
    uint32_t *tok; /* prompt then generated ids */
    size_t n_tok, cap_tok;
    uint64_t *hash; /* identities of full blocks */
    size_t n_hash, cap_hash;
    uint32_t *g1; /* G1 slot per block position */
    size_t n_g1, cap_g1;
    size_t n_prompt;
    size_t computed;       /* tokens whose KV exists */
    size_t evaluated;      /* blocks already considered for offload */
    size_t onboard_blocks; /* blocks [dev_hit, dev_hit + onboard) come from G2/G3 */
    size_t dev_hit;        /* blocks reused from G1 */
    size_t fail_block;     /* first onboard block that failed, SIZE_MAX none */
    uint32_t reserved;     /* G1 blocks promised for generation */
    uint32_t gen_target, n_gen;
    const char *finish_reason;
    uint64_t ready_ns; /* ONBOARD/HOLD: not before */
    unsigned pending_io;
    uint64_t t_park_ns, t_last_ns;
    bool lookup_done;
    uint32_t q_blocks, h_blocks, d_blocks; /* hit-rate record */
    uint32_t cached_tokens;
    struct rng rng;
    struct buf text;    /* non-streaming: content so far */
    uint32_t held_word; /* HOLD: the first token's filler index */
    bool emitted_first, released;
    bool cut;        /* failure injection ended the stream */
    uint32_t cut_at; /* failure injection: cut after this many tokens (0 = never) */
};

enum job_kind { JOB_H2D_WRITE, JOB_D2D_WRITE, JOB_ONBOARD_READ, JOB_HOST_WRITE, JOB_HOST_READ };

struct job {
    struct tier_job j; /* first: the tier hands this back */
    enum job_kind kind;
    uint32_t host_slot;
    struct seq *seq;
    size_t block;
};

struct hit_rec {
    uint32_t host, disk, queried;
};

struct sched {
    struct sched_opts o;
    struct cost_model cm;
    struct filler filler;
    uint32_t tpb;
    uint64_t bpb;
    struct blockpool g1, g2, g3;
    bool has_host, has_disk; /* configured */
    const struct tier_ops *host_ops, *disk_ops;
    void *host, *disk; /* the open tiers, NULL when absent or closed */
    struct filter filter;
    /* shared with other threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct seq *inbox_head, *inbox_tail;
    struct job *done_head; /* completed disk jobs */
    bool stop;
    /* scheduler thread only */
    struct seq *wait_head, *wait_tail;
    struct seq **run; /* admitted sequences */
    size_t n_run, cap_run;
    uint64_t reserved_total;
    unsigned inflight_jobs;
    struct hit_rec *hits;
    size_t n_hits, hit_pos;
    uint64_t next_hit_log_ns;
    uint64_t next_poke_ns;
    uint32_t last_logged_q;
    uint64_t skip_logs;
    pthread_t thread;
    bool started, stopped;
    char model_json[OAIWIRE_MODEL_MAX];
};

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t scaled(const struct sched *s, uint64_t ns)
{
    return s->o.speedup > 0 ? (uint64_t)((double)ns / s->o.speedup) : ns;
}

static void push_tok(struct seq *q, uint32_t id)
{
    xalloc_grow((void **)&q->tok, &q->cap_tok, q->n_tok + 1, sizeof(*q->tok));
    q->tok[q->n_tok++] = id;
}

static void push_hash(struct seq *q, uint64_t h)
{
    xalloc_grow((void **)&q->hash, &q->cap_hash, q->n_hash + 1, sizeof(*q->hash));
    q->hash[q->n_hash++] = h;
}

static void push_g1(struct seq *q, uint32_t slot)
{
    xalloc_grow((void **)&q->g1, &q->cap_g1, q->n_g1 + 1, sizeof(*q->g1));
    q->g1[q->n_g1++] = slot;
}

static void seq_free(struct seq *q)
{
    if (!q)
        return;
    sreq_unref(q->r);
    free(q->tok);
    free(q->hash);
    free(q->g1);
    buf_fini(&q->text);
    free(q);
}

static void update_gauges(struct sched *s)
{
    struct metrics *m = s->o.metrics;
    metrics_set(m, METRICS_G1_ACTIVE, blockpool_used(&s->g1));
    metrics_set(m, METRICS_G1_OCCUPIED, s->g1.n - s->g1.n_free);
    metrics_set(m, METRICS_G2_OCCUPIED, s->g2.n - s->g2.n_free);
    metrics_set(m, METRICS_G3_OCCUPIED, s->g3.n - s->g3.n_free);
    metrics_set(m, METRICS_G1_EVICTIONS, s->g1.evictions);
    metrics_set(m, METRICS_G2_EVICTIONS, s->g2.evictions);
    metrics_set(m, METRICS_G3_EVICTIONS, s->g3.evictions);
    size_t waiting = 0, onboarding = 0;
    for (struct seq *q = s->wait_head; q; q = q->next)
        waiting++;
    for (size_t i = 0; i < s->n_run; i++)
        onboarding += s->run[i]->st == SEQ_ONBOARD;
    metrics_set(m, METRICS_WAITING, waiting);
    metrics_set(m, METRICS_ONBOARDING, onboarding);
    metrics_set(m, METRICS_RUNNING, s->n_run - onboarding);
    atomic_store_explicit(&m->queued, (int64_t)waiting, memory_order_relaxed);
}

/* ---- G1 ---------------------------------------------------------------------------------- */

/* Takes a G1 slot for a new block of q (from its reservation when `reserved`). */
static uint32_t g1_take(struct sched *s, struct seq *q, bool reserved)
{
    uint32_t slot = blockpool_alloc(&s->g1, NULL);
    if (slot != BLOCKPOOL_NONE && reserved && q->reserved) {
        assert(s->reserved_total >= 1);
        q->reserved--;
        s->reserved_total--;
    }
    return slot;
}

/* Registers block b of q in G1 (its tokens are all computed). */
static void g1_register(struct sched *s, struct seq *q, size_t b)
{
    assert(b < q->n_g1 && b < q->n_hash);
    uint32_t slot = q->g1[b];
    assert(slot == BLOCKPOOL_NONE || slot < s->g1.n);
    if (slot == BLOCKPOOL_NONE || s->g1.s[slot].registered)
        return;
    if (blockpool_register(&s->g1, slot, q->hash[b]))
        s->g1.s[slot].ready = true;
}

static void release_blocks(struct sched *s, struct seq *q)
{
    if (q->released)
        return;
    q->released = true;
    /* tail first, so the leaves of a prefix are evicted before its root */
    for (size_t i = q->n_g1; i-- > 0;)
        if (q->g1[i] != BLOCKPOOL_NONE)
            blockpool_unref(&s->g1, q->g1[i]);
    q->n_g1 = 0;
    assert(s->reserved_total >= q->reserved);
    s->reserved_total -= q->reserved;
    q->reserved = 0;
}

/* ---- offload ----------------------------------------------------------------------------- */

static void log_skip(struct sched *s, const char *what)
{
    if (s->skip_logs++ % 1000 == 0)
        elog_emit(&s->o.log, ELOG_WARN,
                  "Target pool full. Skipping offload. (%s; %" PRIu64 " skipped so far)", what,
                  s->skip_logs);
}

static void submit_host(struct sched *s, struct job *jb)
{
    s->inflight_jobs++;
    s->host_ops->submit(s->host, &jb->j);
}

static void submit_disk(struct sched *s, struct job *jb)
{
    s->inflight_jobs++;
    s->disk_ops->submit(s->disk, &jb->j);
}

/* Takes a free disk slot for block h and registers it there; BLOCKPOOL_NONE (counted as a
 * skipped offload) when the disk tier is full. */
static uint32_t claim_disk_slot(struct sched *s, uint64_t h)
{
    uint32_t d = blockpool_alloc(&s->g3, NULL);
    if (d == BLOCKPOOL_NONE) {
        metrics_add(s->o.metrics, METRICS_SKIP_DISK_FULL, 1);
        log_skip(s, "disk");
        return BLOCKPOOL_NONE;
    }
    blockpool_register(&s->g3, d, h);
    return d;
}

/* Host -> disk request for a block just registered into (or revived in) the host tier. */
static void queue_host_to_disk(struct sched *s, uint64_t h, uint32_t hslot, uint64_t now)
{
    if (!s->disk || blockpool_lookup(&s->g3, h) != BLOCKPOOL_NONE)
        return;
    if (s->o.kvbm->filter_enabled && !filter_should_offload(&s->filter, h, now)) {
        metrics_add(s->o.metrics, METRICS_FILTER_REJECTED, 1);
        return;
    }
    uint32_t d = claim_disk_slot(s, h);
    if (d == BLOCKPOOL_NONE)
        return;
    metrics_add(s->o.metrics, METRICS_KVBM_OFFLOAD_H2D, 1);
    blockpool_ref(&s->g2, hslot); /* pinned while the disk reads it */
    struct job *jb = xcalloc(1, sizeof(*jb));
    jb->kind = JOB_H2D_WRITE;
    jb->host_slot = hslot;
    jb->j = (struct tier_job){
        .write = true, .slot = d, .hash = h, .buf = s->host_ops->block(s->host, hslot), .owner = jb
    };
    submit_disk(s, jb);
}

static void offload_device_to_disk(struct sched *s, uint64_t h)
{
    metrics_add(s->o.metrics, METRICS_KVBM_OFFLOAD_D2D, 1);
    if (blockpool_lookup(&s->g3, h) != BLOCKPOOL_NONE)
        return;
    uint32_t d = claim_disk_slot(s, h);
    if (d == BLOCKPOOL_NONE)
        return;
    struct job *jb = xcalloc(1, sizeof(*jb));
    jb->kind = JOB_D2D_WRITE;
    /* no source buffer: the tier writes the device's bytes of block h */
    jb->j = (struct tier_job){ .write = true, .slot = d, .hash = h, .owner = jb };
    submit_disk(s, jb);
}

/* Write-through offload of one newly completed device block. */
static void offload_block(struct sched *s, uint64_t h, uint64_t now)
{
    const struct config_kvbm *k = s->o.kvbm;
    if (!k->enabled)
        return;
    if (k->bypass_cpu) {
        if (s->disk)
            offload_device_to_disk(s, h);
        return;
    }
    if (!s->has_host)
        return;
    metrics_add(s->o.metrics, METRICS_KVBM_OFFLOAD_D2H, 1);
    uint32_t slot = blockpool_lookup(&s->g2, h);
    if (slot != BLOCKPOOL_NONE) {
        /* revived from the inactive pool queues a disk request; an active duplicate nothing */
        if (s->g2.s[slot].refs == 0 && s->g2.s[slot].ready) {
            blockpool_touch(&s->g2, slot);
            queue_host_to_disk(s, h, slot, now);
        }
        return;
    }
    slot = blockpool_alloc(&s->g2, NULL);
    if (slot == BLOCKPOOL_NONE) {
        metrics_add(s->o.metrics, METRICS_SKIP_HOST_FULL, 1);
        log_skip(s, "host");
        return;
    }
    /* registered now (an in-flight duplicate queues nothing), readable once the copy is done */
    blockpool_register(&s->g2, slot, h);
    struct job *jb = xcalloc(1, sizeof(*jb));
    jb->kind = JOB_HOST_WRITE;
    jb->host_slot = slot;
    jb->j = (struct tier_job){ .write = true, .slot = slot, .hash = h, .owner = jb };
    submit_host(s, jb);
}

/* Registers and offloads the blocks of q completed up to `computed` tokens. */
static void complete_blocks(struct sched *s, struct seq *q, uint64_t now)
{
    size_t full = q->computed / s->tpb;
    if (full > q->n_hash)
        full = q->n_hash;
    for (size_t b = q->evaluated; b < full; b++) {
        g1_register(s, q, b);
        offload_block(s, q->hash[b], now);
    }
    if (full > q->evaluated)
        q->evaluated = full;
}

/* ---- disk completions -------------------------------------------------------------------- */

static void on_tier_done(void *ctx, struct tier_job *j)
{
    struct sched *s = ctx;
    struct job *jb = j->owner;
    pthread_mutex_lock(&s->mu);
    j->next = (struct tier_job *)s->done_head;
    s->done_head = jb;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* An onboard read (host or disk) of block jb->block of its sequence finished. */
static void onboard_done(struct sched *s, struct job *jb, struct blockpool *pool, bool ok)
{
    struct tier_job *j = &jb->j;
    struct seq *q = jb->seq;
    if (!ok)
        blockpool_invalidate(pool, j->slot);
    blockpool_unref(pool, j->slot);
    if (!ok && jb->block < q->fail_block)
        q->fail_block = jb->block;
    assert(q->pending_io > 0);
    q->pending_io--;
}

static void handle_job(struct sched *s, struct job *jb)
{
    struct tier_job *j = &jb->j;
    struct metrics *m = s->o.metrics;
    bool ok = j->result == 0;
    assert(s->inflight_jobs > 0);
    s->inflight_jobs--;
    switch (jb->kind) {
    case JOB_HOST_WRITE:
        s->g2.s[j->slot].ready = true;
        metrics_add(m, METRICS_G2_WRITTEN_BYTES, s->bpb);
        queue_host_to_disk(s, j->hash, j->slot, clk_now_ns());
        blockpool_unref(&s->g2, j->slot);
        break;
    case JOB_HOST_READ:
        if (ok || j->result == -EBADMSG)
            metrics_add(m, METRICS_G2_READ_BYTES, s->bpb);
        if (j->result == -EBADMSG)
            metrics_add(m, METRICS_VERIFY_FAILURES, 1);
        onboard_done(s, jb, &s->g2, ok);
        break;
    case JOB_H2D_WRITE:
    case JOB_D2D_WRITE:
        if (jb->kind == JOB_H2D_WRITE)
            blockpool_unref(&s->g2, jb->host_slot);
        if (ok) {
            s->g3.s[j->slot].ready = true;
            metrics_add(m, METRICS_G3_WRITTEN_BYTES, s->bpb);
        } else {
            metrics_add(m, METRICS_DISK_WRITE_ERRORS, 1);
            metrics_add(m, METRICS_SKIP_DISK_FULL, j->result == -ENOSPC);
            blockpool_invalidate(&s->g3, j->slot);
            if (metrics_get(m, METRICS_DISK_WRITE_ERRORS) % 1000 == 1)
                elog_emit(&s->o.log, ELOG_WARN, "disk cache write of block %u failed: %s", j->slot,
                          strerror(-j->result));
        }
        blockpool_unref(&s->g3, j->slot);
        break;
    case JOB_ONBOARD_READ:
        if (j->result == -EBADMSG) {
            metrics_add(m, METRICS_G3_READ_BYTES, s->bpb);
            metrics_add(m, METRICS_VERIFY_FAILURES, 1);
            if (metrics_get(m, METRICS_VERIFY_FAILURES) % 1000 == 1)
                elog_emit(&s->o.log, ELOG_WARN,
                          "disk block %u read back with wrong contents for hash %016" PRIx64
                          ": treated as a miss and recomputed",
                          j->slot, j->hash);
        } else if (ok) {
            metrics_add(m, METRICS_G3_READ_BYTES, s->bpb);
        } else {
            metrics_add(m, METRICS_DISK_READ_ERRORS, 1);
        }
        onboard_done(s, jb, &s->g3, ok);
        break;
    }
    free(jb);
}

/* ---- admission --------------------------------------------------------------------------- */

static void hits_record(struct sched *s, const struct seq *q)
{
    if (!q->lookup_done || s->o.kvbm->stats_max_requests == 0)
        return;
    s->hits[s->hit_pos] = (struct hit_rec){ q->h_blocks, q->d_blocks, q->q_blocks };
    s->hit_pos = (s->hit_pos + 1) % s->o.kvbm->stats_max_requests;
    if (s->n_hits < s->o.kvbm->stats_max_requests)
        s->n_hits++;
}

static void hits_refresh(struct sched *s, uint64_t now)
{
    if (now < s->next_hit_log_ns)
        return;
    s->next_hit_log_ns = now + (uint64_t)s->o.kvbm->stats_interval_s * CLK_NS_PER_S;
    uint64_t h = 0, d = 0, qn = 0;
    for (size_t i = 0; i < s->n_hits; i++) {
        h += s->hits[i].host;
        d += s->hits[i].disk;
        qn += s->hits[i].queried;
    }
    double hr = qn ? (double)h / (double)qn : 0, dr = qn ? (double)d / (double)qn : 0;
    metrics_set_double(s->o.metrics, METRICS_KVBM_HOST_HIT_RATE, hr);
    metrics_set_double(s->o.metrics, METRICS_KVBM_DISK_HIT_RATE, dr);
    if (s->o.kvbm->enabled && s->n_hits && qn != s->last_logged_q) {
        s->last_logged_q = (uint32_t)qn;
        elog_emit(&s->o.log, ELOG_INFO,
                  "KVBM [worker-0] Cache Hit Rates - Host: %.1f%% (%" PRIu64 "/%" PRIu64
                  "), Disk: %.1f%% (%" PRIu64 "/%" PRIu64 ")",
                  hr * 100, h, qn, dr * 100, d, qn);
    }
}

static void seq_init_gen(struct sched *s, struct seq *q)
{
    struct sreq *r = q->r;
    uint64_t seed = r->n_prompt;
    for (size_t i = 0; i < r->n_prompt; i++)
        seed = seed * 0x100000001b3ULL ^ r->prompt[i];
    seed ^= (uint64_t)r->max_tokens << 32;
    rng_seed(&q->rng, seed);
    uint32_t natural = 32 + (uint32_t)rng_range(&q->rng, 0, 479);
    if (r->ignore_eos || natural >= r->max_tokens) {
        q->gen_target = r->max_tokens;
        q->finish_reason = "length";
    } else {
        q->gen_target = natural < r->min_tokens ? r->min_tokens : natural;
        q->finish_reason = q->gen_target >= r->max_tokens ? "length" : "stop";
    }
    if (r->cut_after_tokens)
        q->cut_at =
            r->cut_after_tokens < q->gen_target ? r->cut_after_tokens : (q->gen_target + 1) / 2;
    (void)s;
}

/* Parks q (admitted with k device hits) while h host blocks and then d disk blocks are read
 * back and checked: real reads on the tiers' threads, and the modelled link time of the host
 * copies. */
static void start_onboard(struct sched *s, struct seq *q, size_t k, size_t h, size_t d,
                          uint64_t now)
{
    q->st = SEQ_ONBOARD;
    q->t_park_ns = now;
    /* host blocks: real read and check of the bytes on the copy thread, modelled link time */
    for (size_t b = k; b < k + h; b++) {
        uint32_t slot = blockpool_lookup_ready(&s->g2, q->hash[b]);
        blockpool_ref(&s->g2, slot);
        blockpool_touch(&s->g2, slot);
        struct job *jb = xcalloc(1, sizeof(*jb));
        jb->kind = JOB_HOST_READ;
        jb->seq = q;
        jb->block = b;
        jb->j = (struct tier_job){ .write = false, .slot = slot, .hash = q->hash[b], .owner = jb };
        q->pending_io++;
        submit_host(s, jb);
    }
    q->ready_ns = now + scaled(s, cost_link_ns(&s->cm, (uint64_t)h * s->bpb));
    for (size_t b = k + h; b < k + h + d; b++) {
        uint32_t slot = blockpool_lookup_ready(&s->g3, q->hash[b]);
        blockpool_ref(&s->g3, slot);
        blockpool_touch(&s->g3, slot);
        struct job *jb = xcalloc(1, sizeof(*jb));
        jb->kind = JOB_ONBOARD_READ;
        jb->seq = q;
        jb->block = b;
        jb->j = (struct tier_job){ .write = false, .slot = slot, .hash = q->hash[b], .owner = jb };
        q->pending_io++;
        submit_disk(s, jb);
    }
}

/* Tries to admit q; false when its blocks do not fit now. */
static bool try_admit(struct sched *s, struct seq *q, uint64_t now)
{
    uint32_t tpb = s->tpb;
    size_t n_prompt = q->n_prompt;
    size_t prompt_blocks = (n_prompt + tpb - 1) / tpb;
    size_t total_blocks = (n_prompt + q->gen_target + tpb - 1) / tpb;
    size_t gen_blocks = total_blocks - prompt_blocks;
    /* device prefix match: at least one token must be computed */
    size_t max_hit = (n_prompt - 1) / tpb, k = 0, cached_hits = 0;
    while (k < max_hit && k < q->n_hash) {
        uint32_t slot = blockpool_lookup_ready(&s->g1, q->hash[k]);
        if (slot == BLOCKPOOL_NONE)
            break;
        cached_hits += s->g1.s[slot].refs == 0;
        k++;
    }
    uint64_t avail = s->g1.n - blockpool_used(&s->g1);
    avail = avail > s->reserved_total ? avail - s->reserved_total : 0;
    if (cached_hits + (prompt_blocks - k) + gen_blocks > avail)
        return false;
    for (size_t b = 0; b < k; b++) {
        uint32_t slot = blockpool_lookup_ready(&s->g1, q->hash[b]);
        blockpool_ref(&s->g1, slot);
        push_g1(q, slot);
    }
    q->dev_hit = k;
    /* KVBM: host from the first block not on device, then disk from the end of the host run */
    size_t h = 0, d = 0, n_full = q->n_hash;
    if (s->o.kvbm->enabled) {
        while (s->has_host && k + h < n_full &&
               blockpool_lookup_ready(&s->g2, q->hash[k + h]) != BLOCKPOOL_NONE)
            h++;
        while (s->has_disk && k + h + d < n_full &&
               blockpool_lookup_ready(&s->g3, q->hash[k + h + d]) != BLOCKPOOL_NONE)
            d++;
        q->lookup_done = true;
        q->q_blocks = (uint32_t)(prompt_blocks - k);
        q->h_blocks = (uint32_t)h;
        q->d_blocks = (uint32_t)d;
        if ((k + h + d) * tpb >= n_prompt && h + d > 0) {
            if (d)
                d--;
            else
                h--;
        }
    }
    for (size_t b = k; b < prompt_blocks; b++)
        push_g1(q, g1_take(s, q, false));
    q->reserved = (uint32_t)gen_blocks;
    s->reserved_total += gen_blocks;
    q->computed = k * tpb;
    q->cached_tokens = (uint32_t)(k * tpb);
    q->evaluated = k + h + d; /* hits are not offloaded again */
    q->onboard_blocks = h + d;
    q->fail_block = SIZE_MAX;
    struct metrics *m = s->o.metrics;
    metrics_add(m, METRICS_DEVICE_HIT_TOKENS, k * tpb);
    q->st = SEQ_PREFILL;
    if (h + d == 0)
        return true;
    metrics_add(m, METRICS_KVBM_MATCHED_TOKENS, (h + d) * tpb);
    metrics_add(m, METRICS_KVBM_ONBOARD_H2D, h);
    metrics_add(m, METRICS_KVBM_ONBOARD_D2D, d);
    start_onboard(s, q, k, h, d, now);
    return true;
}

/* ONBOARD -> PREFILL once reads are done and the modelled host copy time passed. */
static void finish_onboard(struct sched *s, struct seq *q, uint64_t now)
{
    size_t end = q->dev_hit + q->onboard_blocks;
    if (q->fail_block < end)
        end = q->fail_block;
    for (size_t b = q->dev_hit; b < end; b++)
        g1_register(s, q, b);
    q->computed = end * s->tpb;
    /* blocks after a failed one are recomputed, and then offloaded like new ones */
    if (q->evaluated > end)
        q->evaluated = end;
    q->cached_tokens = (uint32_t)(end * s->tpb);
    metrics_add(s->o.metrics, METRICS_ONBOARD_WAIT_NS, now - q->t_park_ns);
    metrics_add(s->o.metrics, METRICS_ONBOARD_WAITS, 1);
    q->st = SEQ_PREFILL;
}

/* ---- finishing --------------------------------------------------------------------------- */

static void finish_seq(struct sched *s, struct seq *q, enum metrics_error err, uint64_t now)
{
    struct sreq *r = q->r;
    struct metrics *m = s->o.metrics;
    release_blocks(s, q);
    hits_record(s, q);
    r->completion_tokens = q->n_gen;
    r->cached_tokens = q->cached_tokens;
    /* counted before the client can see the end of its response */
    metrics_request_done(m, r->ep == SREQ_CHAT ? METRICS_EP_CHAT : METRICS_EP_COMPLETIONS,
                         r->stream, err);
    atomic_fetch_sub_explicit(&m->inflight, 1, memory_order_relaxed);
    if (err == METRICS_ERR_NONE) {
        metrics_observe(m, METRICS_H_DURATION, (double)(now - r->arrival_ns) / 1e9, 1);
        metrics_observe(m, METRICS_H_ISL, (double)q->n_prompt, 1);
        metrics_observe(m, METRICS_H_OSL, (double)q->n_gen, 1);
        metrics_observe(m, METRICS_H_CACHED, (double)q->cached_tokens, 1);
        struct buf b;
        buf_init(&b, SREQ_OUT_MAX_BYTES);
        struct oaiwire_usage u = { q->n_prompt, q->n_gen, q->cached_tokens };
        if (r->stream)
            oaiwire_stream_end(&b, r, s->model_json, q->finish_reason, &u);
        else
            oaiwire_full(&b, r, s->model_json, buf_str(&q->text), q->finish_reason, &u);
        r->http_status = 200;
        sreq_emit(r, b.data, b.len, true, false);
        buf_fini(&b);
    } else {
        r->http_status = 500;
        sreq_emit(r, NULL, 0, true, true);
    }
}

/* ---- the iteration ----------------------------------------------------------------------- */

struct emit {
    struct seq *q;
    uint32_t word; /* filler index */
    bool first;
};

static void drain_shared(struct sched *s, struct job **ret_jobs)
{
    pthread_mutex_lock(&s->mu);
    if (s->inbox_head) {
        if (s->wait_tail)
            s->wait_tail->next = s->inbox_head;
        else
            s->wait_head = s->inbox_head;
        s->wait_tail = s->inbox_tail;
        s->inbox_head = s->inbox_tail = NULL;
    }
    *ret_jobs = s->done_head;
    s->done_head = NULL;
    pthread_mutex_unlock(&s->mu);
}

static void run_remove(struct sched *s, size_t i)
{
    assert(i < s->n_run);
    memmove(&s->run[i], &s->run[i + 1], (s->n_run - i - 1) * sizeof(*s->run));
    s->n_run--;
}

/* Drops cancelled requests (client gone) and releases their blocks. */
static void reap_cancelled(struct sched *s, uint64_t now)
{
    struct seq **pp = &s->wait_head, *prev = NULL;
    while (*pp) {
        struct seq *q = *pp;
        if (atomic_load(&q->r->cancelled)) {
            *pp = q->next;
            if (s->wait_tail == q)
                s->wait_tail = prev;
            finish_seq(s, q, METRICS_ERR_CANCELLED, now);
            seq_free(q);
            continue;
        }
        prev = q;
        pp = &q->next;
    }
    for (size_t i = 0; i < s->n_run;) {
        struct seq *q = s->run[i];
        if (atomic_load(&q->r->cancelled) && q->pending_io == 0) {
            finish_seq(s, q, q->cut ? METRICS_ERR_INTERNAL : METRICS_ERR_CANCELLED, now);
            run_remove(s, i);
            seq_free(q);
            continue;
        }
        i++;
    }
}

static void append_generated(struct sched *s, struct seq *q, struct emit *e)
{
    uint32_t w = (uint32_t)rng_range(&q->rng, 0, s->filler.n - 1);
    push_tok(q, s->filler.ids[w]);
    q->n_gen++;
    e->q = q;
    e->word = w;
    /* a generated token completing a block gives the block an identity */
    if (q->n_tok % s->tpb == 0) {
        uint64_t parent = q->n_hash ? q->hash[q->n_hash - 1] : BLOCKHASH_ROOT;
        push_hash(q, blockhash_next(parent, q->tok + q->n_tok - s->tpb, s->tpb));
    }
    /* the new token's KV needs a slot when it opens a block */
    size_t need = (q->n_tok + s->tpb - 1) / s->tpb;
    while (q->n_g1 < need)
        push_g1(q, g1_take(s, q, true));
}

static void emit_tokens(struct sched *s, struct emit *ev, size_t n, uint64_t now)
{
    struct metrics *m = s->o.metrics;
    struct buf b;
    buf_init(&b, SREQ_OUT_MAX_BYTES);
    for (size_t i = 0; i < n; i++) {
        struct seq *q = ev[i].q;
        struct sreq *r = q->r;
        buf_reset(&b);
        if (r->stream)
            oaiwire_token(&b, r, s->model_json, !q->emitted_first, s->filler.words[ev[i].word]);
        else
            buf_printf(&q->text, " %s", s->filler.words[ev[i].word]);
        if (!q->emitted_first)
            metrics_observe(m, METRICS_H_TTFT, (double)(now - r->arrival_ns) / 1e9, 1);
        else
            metrics_observe(m, METRICS_H_ITL, (double)(now - q->t_last_ns) / 1e9, 1);
        q->emitted_first = true;
        q->t_last_ns = now;
        atomic_fetch_add_explicit(&m->output_tokens, 1, memory_order_relaxed);
        bool cut = q->cut_at && q->n_gen >= q->cut_at;
        if (b.len || cut)
            sreq_emit(r, b.data, b.len, cut, cut);
        if (cut) {
            q->cut = true;
            atomic_store(&r->cancelled, true);
        }
    }
    buf_fini(&b);
}

/* Completed tier jobs and newly submitted requests, taken from the other threads. */
static void take_shared(struct sched *s)
{
    struct job *jobs;
    drain_shared(s, &jobs);
    while (jobs) {
        struct job *next = (struct job *)jobs->j.next;
        handle_job(s, jobs);
        jobs = next;
    }
}

/* Every SCHED_POKE_NS, the sockets of requests that produce nothing yet are looked at again, so
 * a client that left while queued is noticed. */
static void poke_waiting(struct sched *s, uint64_t now)
{
    if (now < s->next_poke_ns)
        return;
    s->next_poke_ns = now + SCHED_POKE_NS;
    for (struct seq *q = s->wait_head; q; q = q->next)
        sreq_poke(q->r);
    for (size_t i = 0; i < s->n_run; i++)
        if (s->run[i]->st == SEQ_ONBOARD || s->run[i]->st == SEQ_PREFILL ||
            s->run[i]->st == SEQ_HOLD)
            sreq_poke(s->run[i]->r);
}

/* Parked sequences whose wait is over: onboarded ones go on to prefill; a held first token
 * goes out at its release, and the sequence decodes its second token in this iteration's
 * step (one token per sequence per step, never two together). */
static void release_parked(struct sched *s, uint64_t now)
{
    for (size_t i = 0; i < s->n_run; i++) {
        struct seq *q = s->run[i];
        if (q->st == SEQ_ONBOARD && q->pending_io == 0 && now >= q->ready_ns)
            finish_onboard(s, q, now);
        if (q->st == SEQ_HOLD && now >= q->ready_ns) {
            q->st = SEQ_DECODE;
            struct emit e = { .q = q, .word = q->held_word, .first = true };
            emit_tokens(s, &e, 1, now);
        }
    }
}

/* Admission, first come first served, while sequences may run and their blocks fit. */
static void admit_waiting(struct sched *s, uint64_t now)
{
    while (s->wait_head && s->n_run < s->o.max_num_seqs) {
        struct seq *q = s->wait_head;
        if (!try_admit(s, q, now))
            break;
        s->wait_head = q->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        q->next = NULL;
        xalloc_grow((void **)&s->run, &s->cap_run, s->n_run + 1, sizeof(*s->run));
        s->run[s->n_run++] = q;
        if (q->st == SEQ_ONBOARD && q->pending_io == 0 && now >= q->ready_ns)
            finish_onboard(s, q, now);
    }
    assert(s->n_run <= s->o.max_num_seqs);
}

/* One step's work: every decode sequence, then prefill chunks under the token budget. */
struct batch {
    struct cost_step cs;
    size_t n_dec;
    struct seq *pf[SCHED_MAX_PREFILLS];
    size_t pf_chunk[SCHED_MAX_PREFILLS]; /* prompt tokens computed this step */
    size_t n_pf;
};

static void build_batch(struct sched *s, struct batch *b)
{
    *b = (struct batch){ 0 };
    uint64_t budget = s->o.max_num_tokens;
    for (size_t i = 0; i < s->n_run && budget > 0; i++) {
        struct seq *q = s->run[i];
        if (q->st != SEQ_DECODE)
            continue;
        cost_step_add_decode(&s->cm, &b->cs, q->n_tok);
        budget--;
        b->n_dec++;
    }
    for (size_t i = 0; i < s->n_run && budget > 0 && b->n_pf < SCHED_MAX_PREFILLS; i++) {
        struct seq *q = s->run[i];
        if (q->st != SEQ_PREFILL)
            continue;
        assert(q->computed < q->n_prompt);
        size_t left = q->n_prompt - q->computed;
        size_t c = left < budget ? left : budget;
        cost_step_add_prefill(&s->cm, &b->cs, q->computed, c);
        budget -= c;
        b->pf[b->n_pf] = q;
        b->pf_chunk[b->n_pf++] = c;
    }
}

/* The bookkeeping of a step (run while the modelled step time passes): a token for every
 * decode sequence, the prefill chunks, blocks completed and offloaded. The tokens to emit at
 * the end of the step go to ev (room for cap_ev); returns how many. */
static size_t advance(struct sched *s, const struct batch *b, struct emit *ev, size_t cap_ev,
                      uint64_t t0, uint64_t step_ns)
{
    size_t n_ev = 0;
    for (size_t i = 0; i < s->n_run; i++) {
        struct seq *q = s->run[i];
        if (q->st != SEQ_DECODE || q->n_gen >= q->gen_target)
            continue;
        assert(n_ev < cap_ev);
        append_generated(s, q, &ev[n_ev++]);
        complete_blocks(s, q, t0);
    }
    for (size_t i = 0; i < b->n_pf; i++) {
        struct seq *q = b->pf[i];
        q->computed += b->pf_chunk[i];
        metrics_add(s->o.metrics, METRICS_PREFILL_TOKENS, b->pf_chunk[i]);
        complete_blocks(s, q, t0);
        if (q->computed < q->n_prompt)
            continue;
        struct emit e;
        append_generated(s, q, &e);
        complete_blocks(s, q, t0);
        if (s->o.first_token_delay_ns) {
            q->st = SEQ_HOLD;
            q->held_word = e.word;
            q->ready_ns = t0 + step_ns + s->o.first_token_delay_ns;
        } else {
            q->st = SEQ_DECODE;
            assert(n_ev < cap_ev);
            ev[n_ev++] = e;
        }
    }
    metrics_add(s->o.metrics, METRICS_DECODE_TOKENS, b->n_dec);
    return n_ev;
}

/* Finished sequences leave and answer their clients. */
static void retire_finished(struct sched *s, uint64_t now)
{
    for (size_t i = 0; i < s->n_run;) {
        struct seq *q = s->run[i];
        if (q->st == SEQ_DECODE && q->n_gen >= q->gen_target && !atomic_load(&q->r->cancelled)) {
            finish_seq(s, q, METRICS_ERR_NONE, now);
            run_remove(s, i);
            seq_free(q);
            continue;
        }
        i++;
    }
}

/* One iteration; returns false when there was nothing to run. */
static bool iterate(struct sched *s)
{
    take_shared(s);
    uint64_t now = clk_now_ns();
    reap_cancelled(s, now);
    hits_refresh(s, now);
    poke_waiting(s, now);
    release_parked(s, now);
    admit_waiting(s, now);
    uint64_t t0 = clk_now_ns();
    struct batch b;
    build_batch(s, &b);
    if (b.cs.seqs == 0) {
        update_gauges(s);
        return false;
    }
    uint64_t step_ns = scaled(s, cost_step_ns(&s->cm, &b.cs));
    size_t cap_ev = s->n_run; /* at most one token per running sequence per step */
    struct emit *ev = xcalloc(cap_ev + 1, sizeof(*ev));
    uint64_t offload_before = metrics_get(s->o.metrics, METRICS_KVBM_OFFLOAD_D2H);
    size_t n_ev = advance(s, &b, ev, cap_ev, t0, step_ns);
    uint64_t copied =
        (metrics_get(s->o.metrics, METRICS_KVBM_OFFLOAD_D2H) - offload_before) * s->bpb;
    step_ns += scaled(s, cost_link_ns(&s->cm, copied)); /* the write-through copy is not free */
    metrics_add(s->o.metrics, METRICS_BOOKKEEPING_NS, clk_now_ns() - t0);
    metrics_add(s->o.metrics, METRICS_STEP_NS, step_ns);
    metrics_add(s->o.metrics, METRICS_ITERATIONS, 1);
    clk_sleep_until_ns(t0 + step_ns);
    now = clk_now_ns();
    emit_tokens(s, ev, n_ev, now);
    free(ev);
    retire_finished(s, now);
    update_gauges(s);
    return true;
}

static uint64_t next_deadline(struct sched *s, uint64_t now)
{
    uint64_t dl = now + SCHED_IDLE_WAIT_NS;
    if (s->next_hit_log_ns < dl)
        dl = s->next_hit_log_ns;
    for (size_t i = 0; i < s->n_run; i++) {
        struct seq *q = s->run[i];
        if ((q->st == SEQ_HOLD || (q->st == SEQ_ONBOARD && q->pending_io == 0)) && q->ready_ns < dl)
            dl = q->ready_ns;
    }
    return dl > now ? dl : now;
}

static void *thread_main(void *arg)
{
    struct sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        if (iterate(s))
            continue;
        uint64_t now = clk_now_ns(), dl = next_deadline(s, now);
        struct timespec ts = { .tv_sec = (time_t)(dl / CLK_NS_PER_S),
                               .tv_nsec = (long)(dl % CLK_NS_PER_S) };
        pthread_mutex_lock(&s->mu);
        if (!s->stop && !s->inbox_head && !s->done_head)
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- life cycle -------------------------------------------------------------------------- */

/* Opens the configured tiers through their plug-ins (the real ones unless the options name
 * others). */
static int open_tiers(struct sched *s, struct diag *d)
{
    const struct sched_opts *o = &s->o;
    s->host_ops = o->host_ops ? o->host_ops : &tier_host_ops;
    s->disk_ops = o->disk_ops ? o->disk_ops : &tier_disk_ops;
    if (s->has_host) {
        struct tier_opts to = { .n_blocks = o->kvbm->host_blocks, .block_bytes = s->bpb };
        int r = s->host_ops->open(&to, on_tier_done, s, &s->host, d);
        if (r < 0)
            return r;
    }
    if (s->has_disk) {
        struct tier_opts to = { .n_blocks = o->kvbm->disk_blocks,
                                .block_bytes = s->bpb,
                                .inject_verify_fail = o->inject_ssd_miss,
                                .dir = o->kvbm->disk_dir,
                                .o_direct = o->kvbm->o_direct,
                                .zerofill_fallback = o->kvbm->zerofill_fallback,
                                .force_pread = o->disk_force_pread,
                                .queue_depth = (unsigned)o->disk_queue_depth };
        int r = s->disk_ops->open(&to, on_tier_done, s, &s->disk, d);
        if (r < 0)
            return r;
    }
    return 0;
}

int sched_check_capacity(const struct sched_opts *o, uint64_t mem_bytes, struct diag *d)
{
    const struct config_kvbm *k = o->kvbm;
    if (o->model->tokens_per_block == 0 || o->g1_blocks == 0 ||
        o->g1_blocks > BLOCKPOOL_MAX_SLOTS || k->host_blocks > BLOCKPOOL_MAX_SLOTS ||
        k->disk_blocks > BLOCKPOOL_MAX_SLOTS)
        return diag_set(d, -EINVAL, 0, 0,
                        "tier capacities out of range (G1 %" PRIu64 ", G2 %" PRIu64 ", G3 %" PRIu64
                        " blocks; at most %u each, G1 at least 1)",
                        o->g1_blocks, k->host_blocks, k->disk_blocks, BLOCKPOOL_MAX_SLOTS);
    bool host = k->enabled && k->host_blocks, disk = k->enabled && k->disk_blocks;
    uint64_t need = blockpool_bytes((uint32_t)o->g1_blocks) +
                    blockpool_bytes(host ? (uint32_t)k->host_blocks : 0) +
                    blockpool_bytes(disk ? (uint32_t)k->disk_blocks : 0);
    if (mem_bytes && need > mem_bytes / 2)
        return diag_set(d, -ENOMEM, 0, 0,
                        "the scheduler's bookkeeping for %" PRIu64 " G1, %" PRIu64
                        " G2 and %" PRIu64
                        " G3 blocks needs %.1f GiB, more than half of this machine's %.1f GiB of "
                        "memory: lower --g1-blocks or the KVBM cache sizes",
                        o->g1_blocks, host ? k->host_blocks : 0, disk ? k->disk_blocks : 0,
                        (double)need / (1u << 30), (double)mem_bytes / (1u << 30));
    return 0;
}

int sched_new(const struct sched_opts *o, struct sched **ret, struct diag *d)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->tpb = o->model->tokens_per_block;
    s->bpb = profile_bytes_per_block(o->model);
    int r = cost_model_init(&s->cm, o->model, o->hw);
    if (r < 0) {
        diag_set(d, r, 0, 0, "the model and hardware profiles do not define a cost model");
        goto fail;
    }
    r = filler_init(&s->filler, o->tok);
    if (r < 0) {
        diag_set(d, r, 0, 0, "the tokenizer has too few single-token filler words");
        goto fail;
    }
    r = sched_check_capacity(o, 0, d);
    if (r < 0)
        goto fail;
    oaiwire_quote(o->served_model, s->model_json, sizeof(s->model_json));
    blockpool_init(&s->g1, (uint32_t)o->g1_blocks);
    s->has_host = o->kvbm->enabled && o->kvbm->host_blocks > 0;
    s->has_disk = o->kvbm->enabled && o->kvbm->disk_blocks > 0;
    blockpool_init(&s->g2, s->has_host ? (uint32_t)o->kvbm->host_blocks : 0);
    blockpool_init(&s->g3, s->has_disk ? (uint32_t)o->kvbm->disk_blocks : 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    filter_init(&s->filter, clk_now_ns());
    s->hits =
        xcalloc(o->kvbm->stats_max_requests ? o->kvbm->stats_max_requests : 1, sizeof(*s->hits));
    *ret = s;
    r = open_tiers(s, d);
    if (r < 0)
        goto fail_built;
    return 0;
fail_built:
    *ret = NULL;
    sched_free(s);
    return r;
fail:
    free(s);
    return r;
}

int sched_start(struct sched *s)
{
    int r = -pthread_create(&s->thread, NULL, thread_main, s);
    s->started = r == 0;
    return r;
}

void sched_submit(struct sched *s, struct sreq *r)
{
    struct seq *q = xcalloc(1, sizeof(*q));
    sreq_ref(r);
    q->r = r;
    q->n_prompt = r->n_prompt;
    for (size_t i = 0; i < r->n_prompt; i++)
        push_tok(q, r->prompt[i]);
    size_t n_full = r->n_prompt / s->tpb;
    xalloc_grow((void **)&q->hash, &q->cap_hash, n_full + 1, sizeof(*q->hash));
    q->n_hash = blockhash_chain(q->tok, q->n_tok, s->tpb, q->hash, q->cap_hash);
    buf_init(&q->text, SREQ_OUT_MAX_BYTES);
    seq_init_gen(s, q);
    atomic_fetch_add_explicit(&s->o.metrics->inflight, 1, memory_order_relaxed);
    pthread_mutex_lock(&s->mu);
    if (s->inbox_tail)
        s->inbox_tail->next = q;
    else
        s->inbox_head = q;
    s->inbox_tail = q;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sched_poke(struct sched *s)
{
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

uint64_t sched_blocks_needed(const struct sched *s, uint64_t n_prompt, uint64_t max_new)
{
    return (n_prompt + max_new + s->tpb - 1) / s->tpb;
}

uint64_t sched_g1_blocks(const struct sched *s)
{
    return s->g1.n;
}

void sched_stop(struct sched *s)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    /* let in-flight copies and disk I/O finish, then end every open request */
    if (s->host)
        s->host_ops->close(s->host);
    s->host = NULL;
    if (s->disk)
        s->disk_ops->close(s->disk);
    s->disk = NULL;
    struct job *jobs;
    drain_shared(s, &jobs);
    while (jobs) {
        struct job *next = (struct job *)jobs->j.next;
        handle_job(s, jobs);
        jobs = next;
    }
    uint64_t now = clk_now_ns();
    while (s->wait_head) {
        struct seq *q = s->wait_head;
        s->wait_head = q->next;
        finish_seq(s, q, METRICS_ERR_INTERNAL, now);
        seq_free(q);
    }
    s->wait_tail = NULL;
    for (size_t i = 0; i < s->n_run; i++) {
        finish_seq(s, s->run[i], METRICS_ERR_INTERNAL, now);
        seq_free(s->run[i]);
    }
    s->n_run = 0;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    sched_stop(s);
    free(s->run);
    free(s->hits);
    filter_fini(&s->filter);
    blockpool_fini(&s->g1);
    blockpool_fini(&s->g2);
    blockpool_fini(&s->g3);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* The disk tier's facts, all zero and "" without one. */
static struct tier_facts disk_facts(const struct sched *s)
{
    struct tier_facts f = { .path = "", .prealloc = "" };
    if (s->disk)
        s->disk_ops->facts(s->disk, &f);
    return f;
}

bool sched_disk_o_direct(const struct sched *s)
{
    return disk_facts(s).o_direct;
}

bool sched_disk_in_ram(const struct sched *s)
{
    return disk_facts(s).in_ram;
}

bool sched_disk_io_uring(const struct sched *s)
{
    return disk_facts(s).io_uring;
}

const char *sched_disk_path(const struct sched *s)
{
    return disk_facts(s).path;
}

const char *sched_disk_prealloc(const struct sched *s)
{
    return disk_facts(s).prealloc;
}

int sched_disk_o_direct_error(const struct sched *s)
{
    return disk_facts(s).o_direct_err;
}
