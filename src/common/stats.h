/* SPDX-License-Identifier: Apache-2.0 */
/* Exact descriptive statistics over a sample: n, mean, stddev, min, max and the quantiles
 * p50/p90/p95/p99/p99.9 by linear interpolation between order statistics (type 7, as numpy's
 * default), so figures match what a reviewer recomputes from raw records. */
#ifndef KVTIER_COMMON_STATS_H
#define KVTIER_COMMON_STATS_H

#include <stddef.h>

#include <jansson.h>

struct stats_summary {
    size_t n;
    double mean, stddev, min, max;
    double p50, p90, p95, p99, p999;
};

/* Sorts v (n values, modified in place) and fills ret. n == 0 gives n = 0 and NaNs. */
void stats_summarize(double *v, size_t n, struct stats_summary *ret);
/* Quantile q in [0,1] of an already sorted array (type 7). NaN for n == 0. */
double stats_quantile_sorted(const double *sorted, size_t n, double q);
/* {n, mean, stddev, min, p50, p90, p95, p99, p999, max} as a new JSON object (NaN -> null). */
json_t *stats_summary_json(const struct stats_summary *s);
/* qsort comparator for doubles. */
int stats_cmp_double(const void *a, const void *b);

#endif
