/* SPDX-License-Identifier: Apache-2.0 */
/* The digital twin of the emulated engine: the iteration scheduler of engine/sched.c replayed as
 * a discrete-event simulation on a virtual clock, without sockets, threads or real I/O, so that
 * a run takes milliseconds of CPU per modelled second. It keeps the engine's rules: FCFS
 * admission with GUARANTEED_NO_EVICT reservations, G1 prefix matching (one token always
 * computed), KVBM matching host then disk (last block dropped when all matched), parked
 * onboarding, decode tokens plus prefill chunks under the token budget, write-through G1->G2
 * offload whose link time is added to the step, host->disk offload through the frequency
 * filter, disk-only mode, and the step time of engine/cost.h. The tiers are modelled: host
 * copies at the G1<->G2 link rate, disk reads and writes at the SSD rates, each on a FIFO
 * timeline. Requests arrive at given times (a bundle's intended send times, or a plan's
 * offsets) and a client-side cap on requests in flight per phase is honoured.
 * Library code: never prints, never exits. Not thread-safe per twin; distinct twins are. */
#ifndef KVTIER_TWIN_TWIN_H
#define KVTIER_TWIN_TWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/planrow.h"
#include "common/profile.h"

#define TWIN_MAX_PHASES PLANROW_MAX_PHASES /* the one plan reader's limits (common/planrow.h) */
#define TWIN_MAX_TOKENS PLANROW_TOKENS_MAX /* largest prompt or output accepted from a plan */

struct twin_req {
    uint64_t t_intended_ns; /* relative to the run start; for session turns > 0 set at run time */
    uint64_t think_ns;      /* session turns > 0: intended = previous turn's end + think time */
    int32_t prev;           /* index of the previous turn of the session, -1 if none */
    uint32_t phase;         /* index into the plan's phases */
    uint32_t n_prompt, n_out;
    uint64_t *hash; /* owned; chained block hashes of the full prompt blocks */
    uint32_t n_hash;
    uint64_t m_first_ns, m_last_ns; /* measured first/last token (records), 0 = none */
    char id[PLANROW_ID_MAX];
};

struct twin_plan {
    struct twin_req *req; /* owned, in intended order within each phase */
    size_t n_req;
    char phase[TWIN_MAX_PHASES][PLANROW_PHASE_NAME_MAX];
    uint32_t max_inflight[TWIN_MAX_PHASES]; /* client cap per phase; 0 = none */
    bool phase_relative;                    /* t_intended_ns counts from the phase start, and
                                               each phase starts when the previous one drained */
    uint32_t n_phase;
};

/* Engine configuration of one simulated run. */
struct twin_config {
    const struct model_profile *model; /* borrowed */
    struct hw_profile hw;              /* copied: the twin's free parameters live here */
    uint64_t g1_blocks, g2_blocks, g3_blocks;
    bool kvbm;      /* false = B0 */
    bool filter;    /* disk offload frequency filter */
    bool disk_only; /* B3: G1 -> G3 directly */
    uint32_t max_num_seqs, max_num_tokens;
    double speedup; /* the engine's --speedup: divides modelled compute and link times (not the
                       SSD's, which the engine does for real); 0 or 1 = real time; below 1 the
                       engine runs slower than its model (a loaded host) */
};

/* Per-request outcome; times relative to the run start, ns. */
struct twin_out {
    uint64_t t_intended_ns, t_sent_ns, t_first_ns, t_last_ns;
    uint32_t n_out, cached_tokens, onboard_blocks;
    bool done;
};

struct twin_stats {
    uint64_t elapsed_ns; /* virtual time from the first arrival to the last completion */
    uint64_t iterations, modelled_ns, onboard_h_blocks, onboard_d_blocks, offload_d2h, offload_h2d,
        filter_rejected, prefill_tokens, device_hit_tokens;
};

/* Loads a plan (raw/requests.jsonl): header phases and request lines. With records (a bundle's
 * raw/records.jsonl, may be NULL) the intended times and the served prompt/completion counts of
 * each id replace the plan's, so the twin replays what was sent. Errors: -ENOENT, -EINVAL with d
 * naming file, line and key. */
int twin_plan_load(const char *requests_path, const char *records_path, struct twin_plan *p,
                   struct diag *d);
/* The same from text in memory (records may be NULL); diagnostics name "plan" / "records". */
int twin_plan_parse(const char *plan, size_t plan_len, const char *records, size_t records_len,
                    struct twin_plan *p, struct diag *d);
void twin_plan_free(struct twin_plan *p);
/* Fills c from the profiles with the engine's defaults (G1 from the profiles like kvtier serve
 * computes it, no KVBM). */
int twin_config_init(struct twin_config *c, const struct model_profile *m,
                     const struct hw_profile *h, struct diag *d);
/* Runs the plan; out has p->n_req entries (caller storage). -EINVAL when the configuration
 * cannot run (a request larger than G1: its out entry stays !done). */
int twin_run(const struct twin_config *c, const struct twin_plan *p, struct twin_out *out,
             struct twin_stats *st, struct diag *d);

/* The built-in "context reuse" workload of whatif: `users` users each send a prompt of a
 * private context of `context` tokens plus a fresh query (warmup), then unrelated one-off
 * prompts of the same length push those contexts out of the device and host tiers (pressure,
 * sized to 1.25 x (G1 + G2) tokens, at most max_pressure requests), then every user returns
 * with a new query on the same context (replay). Closed loop at `concurrency` requests in flight
 * in every phase. Deterministic. */
struct twin_synth {
    uint32_t context, query, output, users, concurrency, max_pressure;
    uint64_t g1_g2_blocks; /* pressure target (blocks) */
    uint32_t tokens_per_block;
    uint64_t seed;
};

void twin_plan_synthetic(const struct twin_synth *s, struct twin_plan *p);

/* Latency figures of a set of requests, ms; n = requests counted (0: figures are NaN). */
struct twin_metrics {
    double ttft_p50_ms, ttft_p95_ms, itl_p50_ms;
    size_t n;
};

/* The twin's figures over the requests of `phase` (NULL = all phases). */
void twin_metrics_predicted(const struct twin_plan *p, const struct twin_out *out,
                            const char *phase, struct twin_metrics *m);
/* The measured figures of the same requests (from the records the plan was loaded with). */
void twin_metrics_measured(const struct twin_plan *p, const char *phase, struct twin_metrics *m);

#endif
