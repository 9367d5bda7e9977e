/* SPDX-License-Identifier: Apache-2.0 */
/* The statistics tested like an instrument (issue 13): synthetic repeats with a known truth
 * (each repeat a run-level lognormal factor times lognormal request TTFTs, summarized by its
 * p95 exactly as summary.json does) are judged by compare's own verdict function, so the rates
 * below are those of the shipped decision rule: A/A trials flagged better or worse (false
 * positives), a planted TTFT reduction detected, and the coverage of the order-statistic
 * intervals of each repeat's p50 and p95 against the repeat's true quantiles. Seeded; pure;
 * any thread. Used by tests/unit/test_instrument.c (assertions) and bench/bench_instrument.c
 * (the printed rates). */
#ifndef KVTIER_ANALYSIS_INSTRUMENT_H
#define KVTIER_ANALYSIS_INSTRUMENT_H

#include <stdint.h>

#include "analysis/compare.h"

struct instrument_config {
    unsigned seeds;       /* trials of each kind, e.g. 200 */
    unsigned repeats;     /* repeats per side */
    unsigned requests;    /* requests per repeat */
    double run_sigma;     /* lognormal sigma of the run-to-run factor (about its CV) */
    double request_sigma; /* lognormal sigma of request TTFT within a run */
    double effect;        /* planted relative TTFT reduction, e.g. 0.2 */
    uint64_t seed;
};

struct instrument_rates {
    double aa_flagged;       /* A/A trials judged better or worse */
    double planted_better;   /* planted trials judged better */
    double planted_worse;    /* planted trials judged worse */
    double coverage_p50;     /* per-repeat p50 intervals holding the true p50 */
    double coverage_p95;     /* per-repeat p95 intervals holding the true p95 */
    double undersampled_p95; /* per-repeat p95 intervals lacking a bound */
};

/* Runs c->seeds A/A and c->seeds planted trials through compare_verdict with cc (level,
 * min_effect, repeats_min, resamples). Returns 0 or -EINVAL (zero seeds, repeats or requests). */
int instrument_run(const struct instrument_config *c, const struct compare_config *cc,
                   struct instrument_rates *ret);

#endif
