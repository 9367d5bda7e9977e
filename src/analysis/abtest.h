/* SPDX-License-Identifier: Apache-2.0 */
/* A/B statistics between a baseline and a treatment: the two-sided Mann-Whitney rank test
 * (exact without ties up to ABTEST_EXACT_MAX values, else the normal approximation with tie
 * and continuity corrections), a two-sample percentile bootstrap of the ratio and difference of
 * a statistic, and a hierarchical bootstrap of a pooled quantile (resample runs, then requests
 * within each drawn run) for tail latencies measured over several repeats. Seeded from
 * common/rng.c, so every interval can be recomputed bit for bit. Pure functions; any thread. */
#ifndef KVTIER_ANALYSIS_ABTEST_H
#define KVTIER_ANALYSIS_ABTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/bootstrap.h"

#define ABTEST_EXACT_MAX 60 /* na + nb up to which the exact null distribution is used */

struct abtest_mw {
    size_t na, nb;
    double u;       /* U of a: pairs (a_i, b_j) with a_i > b_j, ties counting 1/2 */
    double p;       /* two-sided p-value; NaN when a side is empty */
    double p_below; /* P(a < b) + P(a = b)/2 over all pairs (probability of superiority) */
    int exact;      /* 1: exact distribution, 0: normal approximation */
};

/* Mann-Whitney test of a against b (NaNs skipped). Always fills ret. */
void abtest_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                         struct abtest_mw *ret);

struct abtest_ratio {
    size_t nb, nt;        /* finite values per side */
    double base, treat;   /* the statistic of each side */
    double ratio, lo, hi; /* treat / base and its interval (NaN when base is 0 or missing) */
    double diff, diff_lo, diff_hi; /* treat - base and its interval */
    double level;
    unsigned resamples;
};

/* Two-sample percentile bootstrap of stat(t)/stat(b) and stat(t)-stat(b): each resample draws
 * both sides with replacement, independently. A side with fewer than 2 values is held fixed;
 * with neither side resampled the intervals are NaN (no interval, not a zero-width one).
 * Returns 0 or -EINVAL (resamples, level). */
int abtest_ratio_ci(enum bootstrap_stat st, const double *b, size_t nb, const double *t, size_t nt,
                    unsigned resamples, double level, uint64_t seed, struct abtest_ratio *ret);

/* One side of a pooled comparison: g runs, run i holding n[i] values v[i][0..n[i]). */
struct abtest_groups {
    size_t g;
    const double *const *v;
    const size_t *n;
};

/* Hierarchical bootstrap of quantile q over the pooled values of each side: a resample draws g
 * runs with replacement and then each drawn run's values with replacement. With one run per
 * side this is the within-run bootstrap (it cannot see run-to-run variation; callers say so).
 * Fills ratio/diff and their intervals; nb, nt are the pooled value counts. Returns 0, -EINVAL
 * or -ENODATA when a side has no values. */
int abtest_pooled_quantile_ci(const struct abtest_groups *b, const struct abtest_groups *t,
                              double q, unsigned resamples, double level, uint64_t seed,
                              struct abtest_ratio *ret);

struct abtest_welch {
    size_t nb, nt;
    bool log_scale;  /* computed on log values: a ratio of geometric means */
    double estimate; /* treat/base ratio (log scale) or treat - base difference */
    double lo, hi;   /* interval at level; NaN when a side has fewer than 2 values */
    double df;       /* Welch-Satterthwaite degrees of freedom */
    double level;
};

/* Welch's two-sample t interval for treatment vs baseline. With every value > 0 it works on
 * logs and reports the ratio of geometric means and its interval (the right scale for
 * latencies, and valid with as few as 2 values a side); otherwise the difference of means.
 * NaNs are skipped. Returns 0 or -EINVAL (level). */
int abtest_welch(const double *b, size_t nb, const double *t, size_t nt, double level,
                 struct abtest_welch *ret);

/* Quantile of Student's t distribution with df > 0 degrees of freedom, p in (0,1). */
double abtest_t_quantile(double p, double df);

/* The smallest two-sided p-value an exact Mann-Whitney test can give for na vs nb values
 * (2 / C(na + nb, na)): with 3 vs 3 it is 0.1, so no 5% decision can rest on it. */
double abtest_mw_min_p(size_t na, size_t nb);

/* Quantile q (type 7) of v, reordering v in place in expected O(n) (quickselect). NaN if n 0. */
double abtest_select_quantile(double *v, size_t n, double q);

#endif
