/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's Prometheus metrics: KVBM's families (kvbm_*, no labels, counters without
 * _total, all present from start-up at 0, kvbm.md §3), the engine extras (kvtier_engine_*:
 * effective configuration, tier occupancy and capacity, bytes per tier, verification failures,
 * skipped offloads, onboard wait) and Dynamo's frontend families (dynamo_frontend_*, labelled
 * by model, kvbm.md §8). Values are relaxed atomics: the scheduler and HTTP threads update
 * them, the metrics handlers render them; no lock per token. */
#ifndef KVTIER_ENGINE_METRICS_H
#define KVTIER_ENGINE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

enum metrics_id {
    /* KVBM (kvbm_*) */
    METRICS_KVBM_MATCHED_TOKENS,
    METRICS_KVBM_OFFLOAD_D2H,
    METRICS_KVBM_OFFLOAD_H2D,
    METRICS_KVBM_OFFLOAD_D2D,
    METRICS_KVBM_ONBOARD_H2D,
    METRICS_KVBM_ONBOARD_D2D,
    METRICS_KVBM_HOST_HIT_RATE, /* gauge, double */
    METRICS_KVBM_DISK_HIT_RATE, /* gauge, double */
    /* engine configuration (gauges) */
    METRICS_CFG_KVBM_ENABLED,
    METRICS_CFG_KVBM_METRICS_ENABLED,
    METRICS_CFG_G1_CAPACITY,
    METRICS_CFG_G2_CAPACITY,
    METRICS_CFG_G3_CAPACITY,
    METRICS_CFG_BYTES_PER_BLOCK,
    METRICS_CFG_TOKENS_PER_BLOCK,
    METRICS_CFG_FILTER_ENABLED,
    METRICS_CFG_BYPASS_CPU,
    METRICS_CFG_O_DIRECT_REQUESTED,
    METRICS_CFG_O_DIRECT,
    METRICS_CFG_IO_URING,
    METRICS_CFG_MAX_NUM_SEQS,
    METRICS_CFG_MAX_NUM_TOKENS,
    /* engine state (gauges) */
    METRICS_G1_ACTIVE,
    METRICS_G1_OCCUPIED,
    METRICS_G2_OCCUPIED,
    METRICS_G3_OCCUPIED,
    METRICS_RUNNING,
    METRICS_WAITING,
    METRICS_ONBOARDING,
    /* engine counters (_total) */
    METRICS_G2_WRITTEN_BYTES,
    METRICS_G2_READ_BYTES,
    METRICS_G3_WRITTEN_BYTES,
    METRICS_G3_READ_BYTES,
    METRICS_VERIFY_FAILURES,
    METRICS_SKIP_HOST_FULL,
    METRICS_SKIP_DISK_FULL,
    METRICS_DISK_WRITE_ERRORS,
    METRICS_DISK_READ_ERRORS,
    METRICS_FILTER_REJECTED,
    METRICS_G1_EVICTIONS,
    METRICS_G2_EVICTIONS,
    METRICS_G3_EVICTIONS,
    METRICS_ONBOARD_WAIT_NS, /* rendered as seconds _sum */
    METRICS_ONBOARD_WAITS,   /* rendered as _count */
    METRICS_ITERATIONS,
    METRICS_STEP_NS,        /* modelled step time, rendered as seconds */
    METRICS_BOOKKEEPING_NS, /* real scheduler CPU time, rendered as seconds */
    METRICS_PREFILL_TOKENS,
    METRICS_DECODE_TOKENS,
    METRICS_DEVICE_HIT_TOKENS,
    METRICS__COUNT,
};

enum metrics_hist_id {
    METRICS_H_TTFT,
    METRICS_H_ITL,
    METRICS_H_DURATION,
    METRICS_H_ISL,
    METRICS_H_OSL,
    METRICS_H_CACHED,
    METRICS_H__COUNT,
};

#define METRICS_HIST_MAX_BUCKETS 24

struct metrics_hist {
    _Atomic uint64_t counts[METRICS_HIST_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits; /* double */
};

enum metrics_endpoint { METRICS_EP_CHAT, METRICS_EP_COMPLETIONS, METRICS_EP__COUNT };
enum metrics_error {
    METRICS_ERR_NONE,
    METRICS_ERR_VALIDATION,
    METRICS_ERR_NOT_FOUND,
    METRICS_ERR_INTERNAL,
    METRICS_ERR_CANCELLED,
    METRICS_ERR__COUNT,
};

struct metrics {
    _Atomic uint64_t v[METRICS__COUNT]; /* counters and integer gauges; double gauges as bits */
    struct metrics_hist h[METRICS_H__COUNT];
    _Atomic uint64_t requests[METRICS_EP__COUNT][2][METRICS_ERR__COUNT]; /* [ep][stream] */
    _Atomic uint64_t output_tokens;
    _Atomic int64_t inflight, queued, disconnected;
    char model[128]; /* served model name (label) */
    char info[4096]; /* pre-rendered kvtier_engine_info labels */
    uint64_t model_total_kv_blocks, model_max_num_seqs, model_max_num_batched_tokens;
    uint64_t model_context_length, model_block_size;
};

/* Zeroes everything; model is the served model name (label value, copied). */
void metrics_init(struct metrics *m, const char *model);
static inline void metrics_add(struct metrics *m, enum metrics_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&m->v[id], n, memory_order_relaxed);
}
static inline void metrics_set(struct metrics *m, enum metrics_id id, uint64_t v)
{
    atomic_store_explicit(&m->v[id], v, memory_order_relaxed);
}
static inline uint64_t metrics_get(const struct metrics *m, enum metrics_id id)
{
    return atomic_load_explicit(&m->v[id], memory_order_relaxed);
}
/* Double-valued gauge. */
void metrics_set_double(struct metrics *m, enum metrics_id id, double v);
double metrics_get_double(const struct metrics *m, enum metrics_id id);
/* Adds `times` observations of value v to histogram h. Any thread. */
void metrics_observe(struct metrics *m, enum metrics_hist_id h, double v, uint64_t times);
/* Counts one finished request. */
void metrics_request_done(struct metrics *m, enum metrics_endpoint ep, bool stream,
                          enum metrics_error err);
/* Sets the kvtier_engine_info labels (already escaped key="value" pairs, copied). */
void metrics_set_info(struct metrics *m, const char *labels);
/* Appends the KVBM metrics page: kvbm_* families when kvbm is true, then kvtier_engine_*. */
int metrics_render_kvbm(const struct metrics *m, bool kvbm, struct buf *out);
/* Appends the frontend metrics page (dynamo_frontend_*). */
int metrics_render_frontend(const struct metrics *m, struct buf *out);
/* Escapes a label value for the text format into out (backslash, quote, newline). */
void metrics_escape_label(const char *in, char *out, size_t out_len);

#endif
