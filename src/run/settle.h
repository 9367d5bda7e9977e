/* SPDX-License-Identifier: Apache-2.0 */
/* Phase settling (issue 16 item 5): between two phases the runner waits until a set of
 * cumulative counters (KVBM's offload block counters, the KV device's written sectors) has not
 * moved for quiet_ns, bounded by timeout_ns, so writes that KVBM offloads asynchronously after
 * one phase do not land in the next. The counters come from an injected sampling function and
 * time from an injected clock and sleep, so a unit test drives the whole wait with a fake
 * counter source. What moved during the wait is recorded: it is the leak the wait kept out of
 * the next phase. Pure apart from the injected functions; caller's thread. */
#ifndef KVTIER_RUN_SETTLE_H
#define KVTIER_RUN_SETTLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/clk.h"

#define SETTLE_MAX_COUNTERS    8
#define SETTLE_DEFAULT_POLL    (250 * CLK_NS_PER_MS)
#define SETTLE_QUIET_DEFAULT   "2s"
#define SETTLE_TIMEOUT_DEFAULT "30s"

/* Fills vals[0..n) with the counters' current cumulative values; NAN where a counter cannot be
 * read now (an unreadable counter never counts as movement). */
typedef void settle_sample_fn(void *ctx, double *vals, size_t n);
/* Sleeps ns (a fake clock advances its time instead). */
typedef void settle_sleep_fn(void *ctx, uint64_t ns);

struct settle_source {
    const char *const *names; /* borrowed; n counter names (recorded with their movement) */
    size_t n;                 /* 1..SETTLE_MAX_COUNTERS */
    settle_sample_fn *sample;
    void *ctx;
    /* per counter: growth at or below this many units per second between two readings is not
     * movement (background writes of a shared disk); NULL = any change moves */
    const double *quiet_rate;
};

struct settle_config {
    uint64_t quiet_ns;      /* every counter unchanged this long = settled */
    uint64_t timeout_ns;    /* give up after this long; 0 = settling disabled */
    uint64_t poll_ns;       /* sampling interval; 0 = SETTLE_DEFAULT_POLL (capped at quiet_ns) */
    const struct clk *clk;  /* NULL = clk_system() */
    settle_sleep_fn *sleep; /* NULL = clk_sleep_ns */
    void *sleep_ctx;
    const volatile sig_atomic_t *stop; /* a stop request ends the wait (may be NULL) */
};

enum settle_status {
    SETTLE_DISABLED,
    SETTLE_SETTLED,
    SETTLE_TIMED_OUT,
    SETTLE_INTERRUPTED,
};

struct settle_result {
    enum settle_status status;
    uint64_t waited_ns;                 /* from the first sample to the decision */
    uint64_t quiet_ns;                  /* how long the counters had been still at the decision */
    unsigned samples;                   /* readings taken */
    unsigned changes;                   /* readings in which some counter moved */
    size_t n;                           /* counters */
    double moved[SETTLE_MAX_COUNTERS];  /* growth during the wait (NAN: never readable) */
    bool readable[SETTLE_MAX_COUNTERS]; /* read at least once */
};

/* Waits as configured. Returns 0 with *ret filled (a timeout is a result, not an error);
 * -EINVAL for a source without counters or with more than SETTLE_MAX_COUNTERS. */
int settle_wait(const struct settle_config *cfg, const struct settle_source *src,
                struct settle_result *ret);
/* "settled", "timed_out", "interrupted", "disabled". */
const char *settle_status_name(enum settle_status s);
/* {status, waited_s, quiet_s, quiet_required_s, timeout_s, samples, changes,
 *  moved{name: growth or null}} (docs/bundle.md "Phase settling"). Owned. */
json_t *settle_result_json(const struct settle_result *r, const struct settle_config *cfg,
                           const struct settle_source *src);

#endif
