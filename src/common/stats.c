/* SPDX-License-Identifier: Apache-2.0 */
/* Exact sample statistics (see stats.h). */
#include "common/stats.h"

#include <math.h>
#include <stdlib.h>

#include "common/jsonx.h"

int stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (h - (double)lo) * (sorted[hi] - sorted[lo]);
}

void stats_summarize(double *v, size_t n, struct stats_summary *ret)
{
    struct stats_summary s = { .n = n };
    if (n == 0) {
        s.mean = s.stddev = s.min = s.max = NAN;
        s.p50 = s.p90 = s.p95 = s.p99 = s.p999 = NAN;
        *ret = s;
        return;
    }
    qsort(v, n, sizeof(*v), stats_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    s.min = v[0];
    s.max = v[n - 1];
    s.p50 = stats_quantile_sorted(v, n, 0.50);
    s.p90 = stats_quantile_sorted(v, n, 0.90);
    s.p95 = stats_quantile_sorted(v, n, 0.95);
    s.p99 = stats_quantile_sorted(v, n, 0.99);
    s.p999 = stats_quantile_sorted(v, n, 0.999);
    *ret = s;
}

json_t *stats_summary_json(const struct stats_summary *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    jsonx_set_num(o, "mean", s->mean);
    jsonx_set_num(o, "stddev", s->stddev);
    jsonx_set_num(o, "min", s->min);
    jsonx_set_num(o, "p50", s->p50);
    jsonx_set_num(o, "p90", s->p90);
    jsonx_set_num(o, "p95", s->p95);
    jsonx_set_num(o, "p99", s->p99);
    jsonx_set_num(o, "p999", s->p999);
    jsonx_set_num(o, "max", s->max);
    return o;
}
