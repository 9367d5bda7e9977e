/* SPDX-License-Identifier: Apache-2.0 */
/* Distribution-free confidence intervals of a quantile from binomial order statistics: for a
 * sample of n independent values, the number B of values at or below the true quantile Q_q is
 * Binomial(n, q), so the interval [X_(l), X_(u)] (1-based order statistics) covers Q_q with
 * probability P(l <= B <= u - 1), whatever the distribution (continuous). The ranks are chosen
 * with equal tails: l the largest rank with P(B < l) <= (1 - level) / 2, u the smallest with
 * P(B >= u) <= (1 - level) / 2. A bound whose rank falls outside 1..n does not exist: the sample
 * cannot support it (p99 at 95% needs n >= 368, p95 n >= 72, p50 n >= 6), and the
 * quantile is then "undersampled". Pure functions; any thread. Shared by loadgen (summary.json)
 * and analysis (compare, sweep, slo), so it lives on the common floor. */
#ifndef KVTIER_COMMON_QUANTCI_H
#define KVTIER_COMMON_QUANTCI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define QUANTCI_LEVEL 0.95 /* the level every summary interval is computed at */

struct quantci {
    size_t n;       /* values in the sample */
    double q;       /* quantile in (0,1), e.g. 0.95 */
    double level;   /* two-sided confidence level, e.g. 0.95 */
    double value;   /* type-7 point estimate (as stats.h); NaN for n == 0 */
    double lo, hi;  /* interval bounds; NaN where the sample cannot give that bound */
    size_t rank_lo; /* 1-based order statistic of lo; 0 = none */
    size_t rank_hi; /* 1-based order statistic of hi; 0 = none */
    bool supported; /* both bounds exist: the quantile can carry a claim */
};

/* The interval of quantile q (0 < q < 1) of sorted[0..n) (ascending, no NaN) at level
 * (0 < level < 1). Returns 0, or -EINVAL for q or level outside (0,1). */
int quantci_sorted(const double *sorted, size_t n, double q, double level, struct quantci *ret);

/* The smallest sample size for which both bounds of quantile q exist at level (the rank
 * bounds 1 and n are then admissible); 0 for bad arguments. */
size_t quantci_min_n(double q, double level);

/* {lo, hi, n, level, supported} (NaN bounds as null) as a new object. */
json_t *quantci_json(const struct quantci *c);

/* Adds "<name>_ci" objects for the p50, p90, p95, p99 and p999 quantiles of sorted[0..n) to
 * obj (borrowed) at QUANTCI_LEVEL. */
void quantci_add_summary(json_t *obj, const double *sorted, size_t n);

#endif
