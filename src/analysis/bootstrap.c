/* SPDX-License-Identifier: Apache-2.0 */
/* Percentile bootstrap and repeat statistics (see bootstrap.h). Resampling draws indices from
 * the seeded xoshiro stream of common/rng.c so intervals are reproducible bit for bit. */
#include "analysis/bootstrap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"

size_t bootstrap_finite(const double *v, size_t n, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            out[k++] = v[i];
    return k;
}

double bootstrap_stat_inplace(enum bootstrap_stat st, double *v, size_t n)
{
    if (n == 0)
        return NAN;
    if (st == BOOTSTRAP_MEAN) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += v[i];
        return s / (double)n;
    }
    qsort(v, n, sizeof(double), stats_cmp_double);
    return stats_quantile_sorted(v, n, st == BOOTSTRAP_MEDIAN ? 0.5 : 0.95);
}

double bootstrap_stat_of(enum bootstrap_stat st, const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = xmalloc(n * sizeof(double));
    size_t k = bootstrap_finite(v, n, c);
    double r = bootstrap_stat_inplace(st, c, k);
    free(c);
    return r;
}

int bootstrap_ci(enum bootstrap_stat st, const double *v, size_t n, unsigned resamples,
                 double level, uint64_t seed, struct bootstrap_ci *ret)
{
    if (resamples < 100 || resamples > BOOTSTRAP_MAX_RESAMPLES || !(level > 0 && level < 1))
        return -EINVAL;
    if (n > BOOTSTRAP_MAX_SAMPLES)
        return -EMSGSIZE;
    double *x = xmalloc((n ? n : 1) * sizeof(double));
    size_t k = bootstrap_finite(v, n, x);
    struct bootstrap_ci ci = { .n = k, .level = level, .resamples = resamples };
    double *tmp = xmalloc((k ? k : 1) * sizeof(double));
    memcpy(tmp, x, k * sizeof(double));
    ci.estimate = bootstrap_stat_inplace(st, tmp, k);
    ci.lo = ci.hi = ci.estimate;
    if (k >= 2) {
        double *stats = xmalloc(resamples * sizeof(double));
        struct rng r;
        rng_seed(&r, seed);
        for (unsigned b = 0; b < resamples; b++) {
            for (size_t i = 0; i < k; i++)
                tmp[i] = x[rng_range(&r, 0, k - 1)];
            stats[b] = bootstrap_stat_inplace(st, tmp, k);
        }
        qsort(stats, resamples, sizeof(double), stats_cmp_double);
        double a = (1 - level) / 2;
        ci.lo = stats_quantile_sorted(stats, resamples, a);
        ci.hi = stats_quantile_sorted(stats, resamples, 1 - a);
        free(stats);
    }
    free(tmp);
    free(x);
    *ret = ci;
    return 0;
}

double bootstrap_cv(const double *v, size_t n)
{
    double s = 0, s2 = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            k++;
        }
    if (k < 2)
        return NAN;
    double mean = s / (double)k;
    if (mean == 0)
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            s2 += (v[i] - mean) * (v[i] - mean);
    return sqrt(s2 / (double)(k - 1)) / fabs(mean);
}

json_t *bootstrap_ci_json(const struct bootstrap_ci *ci)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)ci->n));
    jsonx_set_num(o, "estimate", ci->estimate);
    jsonx_set_num(o, "lo", ci->lo);
    jsonx_set_num(o, "hi", ci->hi);
    jsonx_set_num(o, "level", ci->level);
    json_object_set_new(o, "resamples", json_integer(ci->resamples));
    jsonx_set_num(o, "rel_width", ci->estimate != 0 ? (ci->hi - ci->lo) / fabs(ci->estimate) : NAN);
    return o;
}
