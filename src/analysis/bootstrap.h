/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics over repeats: percentile bootstrap confidence intervals (seeded, so a result can be
 * recomputed exactly), coefficient of variation, and the stability judgement behind
 * REPEATS_UNSTABLE. Pure functions; any thread. */
#ifndef KVTIER_ANALYSIS_BOOTSTRAP_H
#define KVTIER_ANALYSIS_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BOOTSTRAP_MAX_SAMPLES   1000000 /* values accepted per call */
#define BOOTSTRAP_MAX_RESAMPLES 100000

enum bootstrap_stat { BOOTSTRAP_MEAN, BOOTSTRAP_MEDIAN, BOOTSTRAP_P95 };

struct bootstrap_ci {
    size_t n;        /* values used (NaNs dropped) */
    double estimate; /* the statistic on the sample */
    double lo, hi;   /* percentile interval at the requested level */
    double level;    /* e.g. 0.95 */
    unsigned resamples;
};

/* The finite values of v copied to out (room for n values); returns how many. */
size_t bootstrap_finite(const double *v, size_t n, double *out);
/* The statistic of v[0..n) computed in place (v is reordered). NaN for n == 0. */
double bootstrap_stat_inplace(enum bootstrap_stat st, double *v, size_t n);
/* The statistic of v (n values, not modified). NaN for n == 0. */
double bootstrap_stat_of(enum bootstrap_stat st, const double *v, size_t n);
/* Percentile bootstrap CI of stat over v (NaNs skipped). resamples in [100, MAX], level in
 * (0,1). Returns 0, -EINVAL for bad arguments, -EMSGSIZE when n is over the limit; with fewer
 * than 2 finite values lo = hi = estimate. */
int bootstrap_ci(enum bootstrap_stat st, const double *v, size_t n, unsigned resamples,
                 double level, uint64_t seed, struct bootstrap_ci *ret);
/* Coefficient of variation (sample stddev / |mean|); NaN for n < 2 or mean 0. */
double bootstrap_cv(const double *v, size_t n);
/* {n, estimate, lo, hi, level, resamples, rel_width} as JSON (NaN -> null). Owned. */
json_t *bootstrap_ci_json(const struct bootstrap_ci *ci);

#endif
