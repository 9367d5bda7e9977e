/* SPDX-License-Identifier: Apache-2.0 */
/* Order-statistic intervals of quantiles (see quantci.h). */
#include "common/quantci.h"

#include <errno.h>
#include <math.h>

#include "common/stats.h"

/* log of the Binomial(n, q) probability of k. */
static double log_pmf(size_t n, size_t k, double q)
{
    double dn = (double)n, dk = (double)k;
    return lgamma(dn + 1) - lgamma(dk + 1) - lgamma(dn - dk + 1) + dk * log(q) +
           (dn - dk) * log1p(-q);
}

/* The ranks l (0 = none) and u (n + 1 = none) of the equal-tailed interval. The lower tail is
 * summed upwards from 0 and the upper tail downwards from n, each stopping as soon as its mass
 * passes alpha / 2, so the cost is the size of the tails, not of n. */
static void ranks(size_t n, double q, double level, size_t *l, size_t *u)
{
    double half = (1 - level) / 2, cdf = 0;
    size_t k = 0;
    /* P(B < l) <= half: l - 1 is the last k whose cumulative mass stays within half */
    while (k <= n) {
        cdf += exp(log_pmf(n, k, q));
        if (cdf > half)
            break;
        k++;
    }
    *l = k; /* P(B <= k - 1) <= half and P(B <= k) > half */
    double tail = 0;
    size_t j = n + 1;
    /* P(B >= u) <= half: u is the smallest j with the upper tail from j within half */
    while (j > 0) {
        tail += exp(log_pmf(n, j - 1, q));
        if (tail > half)
            break;
        j--;
    }
    *u = j;
}

int quantci_sorted(const double *sorted, size_t n, double q, double level, struct quantci *ret)
{
    if (!(q > 0 && q < 1) || !(level > 0 && level < 1))
        return -EINVAL;
    struct quantci c = { .n = n, .q = q, .level = level, .lo = NAN, .hi = NAN };
    c.value = stats_quantile_sorted(sorted, n, q);
    if (n > 0) {
        size_t l, u;
        ranks(n, q, level, &l, &u);
        if (l >= 1 && l <= n) {
            c.rank_lo = l;
            c.lo = sorted[l - 1];
        }
        if (u >= 1 && u <= n) {
            c.rank_hi = u;
            c.hi = sorted[u - 1];
        }
        c.supported = c.rank_lo && c.rank_hi;
    }
    *ret = c;
    return 0;
}

size_t quantci_min_n(double q, double level)
{
    if (!(q > 0 && q < 1) || !(level > 0 && level < 1))
        return 0;
    double half = (1 - level) / 2, worst = q > 0.5 ? q : 1 - q;
    /* ranks 1 and n are admissible once worst^n <= half (the far tail of the nearer bound) */
    size_t n = (size_t)ceil(log(half) / log(worst));
    if (n < 1)
        n = 1;
    /* the closed form can be off by one through rounding: confirm against the exact ranks */
    for (;; n++) {
        size_t l, u;
        ranks(n, q, level, &l, &u);
        if (l >= 1 && u <= n)
            break;
    }
    while (n > 1) {
        size_t l, u;
        ranks(n - 1, q, level, &l, &u);
        if (!(l >= 1 && u <= n - 1))
            break;
        n--;
    }
    return n;
}

json_t *quantci_json(const struct quantci *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "lo", isfinite(c->lo) ? json_real(c->lo) : json_null());
    json_object_set_new(o, "hi", isfinite(c->hi) ? json_real(c->hi) : json_null());
    json_object_set_new(o, "n", json_integer((json_int_t)c->n));
    json_object_set_new(o, "level", json_real(c->level));
    json_object_set_new(o, "supported", json_boolean(c->supported));
    return o;
}

void quantci_add_summary(json_t *obj, const double *sorted, size_t n)
{
    static const struct {
        const char *key;
        double q;
    } qs[] = { { "p50_ci", 0.5 },
               { "p90_ci", 0.9 },
               { "p95_ci", 0.95 },
               { "p99_ci", 0.99 },
               { "p999_ci", 0.999 } };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        struct quantci c;
        quantci_sorted(sorted, n, qs[i].q, QUANTCI_LEVEL, &c);
        json_object_set_new(obj, qs[i].key, quantci_json(&c));
    }
}
