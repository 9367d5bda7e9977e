/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier load as a library: runs a request plan (docs/contracts.md) against an
 * OpenAI-compatible streaming endpoint, phase by phase, open or closed loop, and measures every
 * request from its intended send time (no coordinated omission; docs/load.md).
 *
 * The event loop (libcurl multi driven by curl_multi_socket_action from epoll, timerfd pacing on
 * absolute CLOCK_MONOTONIC deadlines) runs on the caller's thread, so every hook is called on
 * the caller's thread. Each phase drains (up to drain_timeout_ns) before the next one starts.
 * Records are appended to <out>/records.jsonl shortly after requests finish (when the event
 * loop has slack; all of a phase's are written and flushed at its end);
 * <out>/profile_export.jsonl gets the AIPerf-style line of each request; the summary is written
 * to <out>/summary.json and returned.
 *
 * This header is a contract with run/ (the bundle runner): keep it stable, add only. */
#ifndef KVTIER_LOADGEN_LOADGEN_H
#define KVTIER_LOADGEN_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define LOADGEN_SCHEMA_VERSION 1

struct reqplan; /* a parsed plan: loadgen/reqplan.h */

enum loadgen_endpoint {
    LOADGEN_ENDPOINT_PLAN = 0,    /* what the plan header says (chat when it says nothing) */
    LOADGEN_ENDPOINT_CHAT,        /* POST /v1/chat/completions with messages */
    LOADGEN_ENDPOINT_COMPLETIONS, /* POST /v1/completions with prompt text or token ids */
};

enum loadgen_arrival {
    LOADGEN_ARRIVAL_PLAN = 0, /* the plan's offsets, else the phase's own schedule */
    LOADGEN_ARRIVAL_CONSTANT, /* interval 1/rate */
    LOADGEN_ARRIVAL_POISSON,  /* exponential gaps, mean 1/rate */
    LOADGEN_ARRIVAL_GAMMA,    /* gamma gaps, shape = burstiness, mean 1/rate */
    LOADGEN_ARRIVAL_CLOSED,   /* closed loop: concurrency requests in flight */
};

/* Progress snapshot handed to hooks.progress (about twice a second). */
struct loadgen_progress {
    const char *phase;       /* borrowed: the running phase's name */
    uint64_t planned_count;  /* requests planned in this phase (0 = unknown: duration-bound) */
    uint64_t sent_count;     /* requests sent so far in this phase */
    uint64_t done_count;     /* requests finished (ok or error) in this phase */
    uint64_t error_count;    /* of those, finished with an error */
    uint64_t inflight_count; /* in flight now */
    uint64_t queued_count;   /* due but waiting for a concurrency slot */
    double rate_per_s;       /* completions per second over the last second */
    double ttft_p95_ms;      /* TTFT (from intended) p95 so far in this phase; NaN if none */
    double eta_s;            /* estimated seconds left in this phase; NaN if unknown */
};

/* Callbacks into the caller; every member may be NULL. All run on the caller's thread. */
struct loadgen_hooks {
    void *ctx; /* borrowed; passed back to every hook */
    /* A phase starts now (t_ns, CLOCK_MONOTONIC): called before its first request is sent. */
    void (*phase_begin)(void *ctx, const char *phase, uint64_t t_ns);
    /* A phase has drained (or hit its drain deadline) and its records are flushed. */
    void (*phase_end)(void *ctx, const char *phase, uint64_t t_ns);
    /* Polled from the event loop (at least every 50 ms); true = stop sending, cancel what is in
     * flight (recorded as "cancelled"), write everything measured and return. */
    bool (*should_stop)(void *ctx);
    /* Optional live progress (about every 500 ms). */
    void (*progress)(void *ctx, const struct loadgen_progress *p);
};

/* Service-level objective for goodput: a request is good when it finished without error and
 * meets every threshold that is > 0. Errors and timeouts count against goodput. */
struct loadgen_slo {
    double ttft_ms;             /* TTFT from intended send; 0 = no limit */
    double tpot_ms;             /* 0 = no limit */
    double e2e_ms;              /* end-to-end from intended send; 0 = no limit */
    double client_lag_limit_ms; /* not an SLO: see loadgen_config.client_lag_limit_ms */
};

struct loadgen_config {
    const char *url;     /* borrowed; base URL, e.g. "http://127.0.0.1:8000" (path ignored) */
    const char *model;   /* borrowed; "model" field of every request */
    const char *out_dir; /* borrowed; created if missing; NULL = write no files */
    enum loadgen_endpoint endpoint;
    /* Schedule overrides applied to every measured phase (0 / PLAN = keep the plan's). */
    enum loadgen_arrival arrival;
    double rate_per_s;           /* open-loop rate */
    double burstiness;           /* gamma shape (< 1 burstier, 1 = Poisson); 0 = 1 */
    uint64_t concurrency;        /* closed-loop requests in flight */
    uint64_t max_concurrency;    /* cap on open-loop requests in flight (the wait is measured) */
    uint64_t duration_ns;        /* per-phase limit on intended send times; 0 = none */
    uint64_t max_requests;       /* per-phase request count limit; 0 = none */
    uint64_t seed;               /* arrival RNG seed (derived per phase) */
    uint64_t request_timeout_ns; /* whole request; 0 = 10 min */
    uint64_t first_token_timeout_ns; /* intended send to first token; 0 = request timeout */
    uint64_t connect_timeout_ns;     /* 0 = 10 s */
    uint64_t drain_timeout_ns;       /* per phase after the last send; 0 = 60 s */
    uint64_t warm_connections;       /* keep-alive connections opened before t0; 0 = auto */
    bool exact_output;               /* send min_tokens = max_tokens and ignore_eos (default on) */
    bool include_usage;              /* stream_options.include_usage (default on) */
    const json_t *extra_body;        /* borrowed; non-standard fields merged into every body
                                        (only when a stack profile says the server accepts them) */
    struct loadgen_slo slo;
    size_t recv_buffer_bytes; /* libcurl receive buffer per transfer; 0 = 16 KiB */
    /* Set asynchronously (e.g. by a SIGINT handler); nonzero = behave like should_stop. */
    const volatile sig_atomic_t *interrupt_flag;
    /* Client lag (sent - intended) p99 above this marks a phase "client_lag_exceeded" in the
     * summary (the client, not the server, limited what was measured); 0 = 1 ms. */
    double client_lag_limit_ms;
    /* Never sleep in the kernel: poll the sockets in a loop. Removes the kernel's wake-up
     * latency (tens of microseconds on a VM) from every receive stamp, at the cost of one
     * core at 100 %. Off by default. */
    bool busy_poll;
    /* Closed loop: open the concurrency slots evenly over this long instead of all at phase
     * start (a newly opened slot's request is intended when the slot opens); 0 = no ramp. */
    uint64_t ramp_ns;
    /* The longest request (planned prompt + output tokens) the engine accepts; 0 = no limit. A
     * longer request is never sent (a real worker may unregister itself on one): it is recorded
     * with error "refused" and the reason, and counted in summary.context_limit. */
    uint64_t max_context_tokens;
    const char *max_context_source; /* borrowed; where the limit came from (recorded) */
};

/* Fills cfg with the defaults above (exact_output and include_usage on, the rest zero). */
void loadgen_config_init(struct loadgen_config *cfg);

/* Runs plan (borrowed) phase by phase against cfg->url. The API key comes from
 * $KVTIER_API_KEY, else $OPENAI_API_KEY, and is sent as a Bearer token only: it is never
 * written to any file. Per-request failures are data (records with an error class), not
 * errors of this call. On success (also when interrupted: the summary then says
 * "interrupted": true) *ret_summary is set to the summary (owned) and 0 is returned.
 * Errors: -EINVAL bad configuration (d says which), -errno when an output file cannot be
 * written. Caller's thread only; not reentrant with other loadgen runs in the same thread. */
int loadgen_run(const struct loadgen_config *cfg, const struct reqplan *plan,
                const struct loadgen_hooks *hooks, json_t **ret_summary, struct diag *d);

/* Convenience for the bundle runner: loads the plan file (docs/contracts.md format; bad lines
 * give -EINVAL with d at file:line naming the field) and runs it as loadgen_run does. */
int loadgen_run_plan_file(const struct loadgen_config *cfg, const char *plan_path,
                          const struct loadgen_hooks *hooks, json_t **ret_summary, struct diag *d);

#endif
