/* SPDX-License-Identifier: Apache-2.0 */
/* Rank test and bootstrap intervals for A/B comparisons (see abtest.h). */
#include "analysis/abtest.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"

struct ranked {
    double v;
    int side; /* 0: a, 1: b */
};

static int cmp_ranked(const void *x, const void *y)
{
    double a = ((const struct ranked *)x)->v, b = ((const struct ranked *)y)->v;
    return (a > b) - (a < b);
}

/* P(S <= s) and P(S >= s) for the sum S of m ranks drawn from 1..N without replacement, every
 * subset equally likely: counts by dynamic programming over the ranks. */
static void rank_sum_tails(size_t m, size_t N, double s, double *le, double *ge)
{
    size_t maxs = N * (N + 1) / 2;
    double *dp = xcalloc((m + 1) * (maxs + 1), sizeof(double));
#define DP(k, x) dp[(k) * (maxs + 1) + (x)]
    DP(0, 0) = 1;
    for (size_t r = 1; r <= N; r++)
        for (size_t k = (r < m ? r : m); k >= 1; k--)
            for (size_t x = maxs; x >= r; x--)
                DP(k, x) += DP(k - 1, x - r);
    double total = 0, lo = 0, hi = 0;
    for (size_t x = 0; x <= maxs; x++) {
        double c = DP(m, x);
        total += c;
        if ((double)x <= s + 1e-9)
            lo += c;
        if ((double)x >= s - 1e-9)
            hi += c;
    }
#undef DP
    free(dp);
    *le = lo / total;
    *ge = hi / total;
}

void abtest_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                         struct abtest_mw *ret)
{
    struct abtest_mw r = { .p = NAN, .p_below = NAN, .u = NAN };
    struct ranked *x = xmalloc((na + nb + 1) * sizeof(*x));
    size_t n = 0;
    for (size_t i = 0; i < na; i++)
        if (isfinite(a[i]))
            x[n++] = (struct ranked){ a[i], 0 };
    r.na = n;
    for (size_t i = 0; i < nb; i++)
        if (isfinite(b[i]))
            x[n++] = (struct ranked){ b[i], 1 };
    r.nb = n - r.na;
    if (r.na == 0 || r.nb == 0) {
        free(x);
        *ret = r;
        return;
    }
    qsort(x, n, sizeof(*x), cmp_ranked);
    /* Mid-ranks; tie term sum(t^3 - t). */
    double ra = 0, ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[j + 1].v == x[i].v)
            j++;
        double mid = ((double)i + (double)j) / 2 + 1;
        for (size_t k = i; k <= j; k++)
            if (x[k].side == 0)
                ra += mid;
        double t = (double)(j - i + 1);
        ties += t * t * t - t;
        i = j + 1;
    }
    double m = (double)r.na, w = (double)r.nb;
    r.u = ra - m * (m + 1) / 2;
    r.p_below = 1 - r.u / (m * w);
    if (ties == 0 && n <= ABTEST_EXACT_MAX) {
        double le, ge;
        rank_sum_tails(r.na, n, ra, &le, &ge);
        r.p = 2 * (le < ge ? le : ge);
        r.exact = 1;
    } else {
        double N = (double)n;
        double var = m * w / 12 * ((N + 1) - ties / (N * (N - 1)));
        double dev = fabs(r.u - m * w / 2) - 0.5;
        if (dev < 0)
            dev = 0;
        r.p = var > 0 ? erfc(dev / sqrt(var) / M_SQRT2) : 1;
    }
    if (r.p > 1)
        r.p = 1;
    free(x);
    *ret = r;
}

/* Sorts the resampled ratios and differences and sets the percentile intervals. */
static void finish(struct abtest_ratio *r, double *ratios, size_t nr, double *diffs, size_t nd)
{
    double a = (1 - r->level) / 2;
    r->lo = r->hi = r->diff_lo = r->diff_hi = NAN; /* nothing resampled: no interval */
    if (nr > 0 && isfinite(r->ratio)) {
        qsort(ratios, nr, sizeof(double), stats_cmp_double);
        r->lo = stats_quantile_sorted(ratios, nr, a);
        r->hi = stats_quantile_sorted(ratios, nr, 1 - a);
    }
    if (nd > 0) {
        qsort(diffs, nd, sizeof(double), stats_cmp_double);
        r->diff_lo = stats_quantile_sorted(diffs, nd, a);
        r->diff_hi = stats_quantile_sorted(diffs, nd, 1 - a);
    }
}

/* One resample's statistics: their difference always, their ratio where it exists. */
static void add_pair(double sb, double s_t, double *ratios, size_t *nr, double *diffs, size_t *nd)
{
    diffs[(*nd)++] = s_t - sb;
    if (sb != 0)
        ratios[(*nr)++] = s_t / sb;
}

static void set_point(struct abtest_ratio *r)
{
    r->diff = r->treat - r->base;
    r->ratio = r->base != 0 && isfinite(r->base) && isfinite(r->treat) ? r->treat / r->base : NAN;
}

int abtest_ratio_ci(enum bootstrap_stat st, const double *b, size_t nb, const double *t, size_t nt,
                    unsigned resamples, double level, uint64_t seed, struct abtest_ratio *ret)
{
    if (resamples < 100 || resamples > BOOTSTRAP_MAX_RESAMPLES || !(level > 0 && level < 1))
        return -EINVAL;
    struct abtest_ratio r = { .level = level, .resamples = resamples };
    double *xb = xmalloc((nb + 1) * sizeof(double)), *xt = xmalloc((nt + 1) * sizeof(double));
    r.nb = bootstrap_finite(b, nb, xb);
    r.nt = bootstrap_finite(t, nt, xt);
    size_t big = (r.nb > r.nt ? r.nb : r.nt) + 1;
    double *tmp = xmalloc(big * sizeof(double));
    memcpy(tmp, xb, r.nb * sizeof(double));
    r.base = bootstrap_stat_inplace(st, tmp, r.nb);
    memcpy(tmp, xt, r.nt * sizeof(double));
    r.treat = bootstrap_stat_inplace(st, tmp, r.nt);
    set_point(&r);
    double *ratios = xmalloc(resamples * sizeof(double)),
           *diffs = xmalloc(resamples * sizeof(double));
    size_t nr = 0, nd = 0;
    if (r.nb > 0 && r.nt > 0 && (r.nb >= 2 || r.nt >= 2)) {
        struct rng g;
        rng_seed(&g, seed);
        for (unsigned k = 0; k < resamples; k++) {
            double sb = r.base, s_t = r.treat;
            if (r.nb >= 2) {
                for (size_t i = 0; i < r.nb; i++)
                    tmp[i] = xb[rng_range(&g, 0, r.nb - 1)];
                sb = bootstrap_stat_inplace(st, tmp, r.nb);
            }
            if (r.nt >= 2) {
                for (size_t i = 0; i < r.nt; i++)
                    tmp[i] = xt[rng_range(&g, 0, r.nt - 1)];
                s_t = bootstrap_stat_inplace(st, tmp, r.nt);
            }
            add_pair(sb, s_t, ratios, &nr, diffs, &nd);
        }
    }
    finish(&r, ratios, nr, diffs, nd);
    free(ratios);
    free(diffs);
    free(tmp);
    free(xb);
    free(xt);
    *ret = r;
    return 0;
}

static size_t group_total(const struct abtest_groups *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->g; i++)
        for (size_t j = 0; j < s->n[i]; j++)
            n += isfinite(s->v[i][j]) ? 1 : 0;
    return n;
}

/* The finite values of every run, packed: run i at off[i], cnt[i] values. */
struct packed {
    double *v;
    size_t *off, *cnt, g, total;
};

static void pack(const struct abtest_groups *s, struct packed *p)
{
    p->total = group_total(s);
    p->v = xmalloc((p->total + 1) * sizeof(double));
    p->off = xcalloc(s->g + 1, sizeof(size_t));
    p->cnt = xcalloc(s->g + 1, sizeof(size_t));
    p->g = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->g; i++) {
        size_t c = bootstrap_finite(s->v[i], s->n[i], p->v + k);
        if (c == 0)
            continue; /* a run with no values carries no information */
        p->off[p->g] = k;
        p->cnt[p->g] = c;
        p->g++;
        k += c;
    }
}

static void unpack(struct packed *p)
{
    free(p->v);
    free(p->off);
    free(p->cnt);
}

/* One hierarchical resample of a side into buf; returns the number of values written. */
static size_t resample_side(const struct packed *p, struct rng *g, double *buf)
{
    size_t k = 0;
    for (size_t i = 0; i < p->g; i++) {
        size_t run = p->g > 1 ? (size_t)rng_range(g, 0, p->g - 1) : 0;
        const double *v = p->v + p->off[run];
        size_t c = p->cnt[run];
        for (size_t j = 0; j < c; j++)
            buf[k++] = v[rng_range(g, 0, c - 1)];
    }
    return k;
}

int abtest_pooled_quantile_ci(const struct abtest_groups *b, const struct abtest_groups *t,
                              double q, unsigned resamples, double level, uint64_t seed,
                              struct abtest_ratio *ret)
{
    if (resamples < 100 || resamples > BOOTSTRAP_MAX_RESAMPLES || !(level > 0 && level < 1) ||
        !(q >= 0 && q <= 1))
        return -EINVAL;
    struct packed pb, pt;
    pack(b, &pb);
    pack(t, &pt);
    struct abtest_ratio r = {
        .level = level, .resamples = resamples, .nb = pb.total, .nt = pt.total
    };
    if (pb.total == 0 || pt.total == 0) {
        unpack(&pb);
        unpack(&pt);
        return -ENODATA;
    }
    /* A resample of a side can hold more values than the side (large runs drawn twice). */
    size_t maxb = 0, maxt = 0;
    for (size_t i = 0; i < pb.g; i++)
        maxb = pb.cnt[i] > maxb ? pb.cnt[i] : maxb;
    for (size_t i = 0; i < pt.g; i++)
        maxt = pt.cnt[i] > maxt ? pt.cnt[i] : maxt;
    size_t cap = maxb * pb.g > maxt * pt.g ? maxb * pb.g : maxt * pt.g;
    if (cap < pb.total || cap < pt.total)
        cap = pb.total > pt.total ? pb.total : pt.total;
    double *buf = xmalloc((cap + 1) * sizeof(double));
    memcpy(buf, pb.v, pb.total * sizeof(double));
    r.base = abtest_select_quantile(buf, pb.total, q);
    memcpy(buf, pt.v, pt.total * sizeof(double));
    r.treat = abtest_select_quantile(buf, pt.total, q);
    set_point(&r);
    double *ratios = xmalloc(resamples * sizeof(double)),
           *diffs = xmalloc(resamples * sizeof(double));
    size_t nr = 0, nd = 0;
    struct rng g;
    rng_seed(&g, seed);
    for (unsigned k = 0; k < resamples; k++) {
        size_t n = resample_side(&pb, &g, buf);
        double sb = abtest_select_quantile(buf, n, q);
        n = resample_side(&pt, &g, buf);
        double s_t = abtest_select_quantile(buf, n, q);
        add_pair(sb, s_t, ratios, &nr, diffs, &nd);
    }
    finish(&r, ratios, nr, diffs, nd);
    free(ratios);
    free(diffs);
    free(buf);
    unpack(&pb);
    unpack(&pt);
    *ret = r;
    return 0;
}

/* k-th smallest (0-based) of v[0..n), partially reordering v (Hoare partition with a
 * median-of-three pivot): afterwards v[k] holds it and every value right of k is >= it. */
static double select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        double a = v[lo], b = v[mid], c = v[hi];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double x = v[i];
                v[i] = v[j];
                v[j] = x;
                i++;
                j--;
            }
        }
        /* Now v[lo..j] <= pivot, v[i..hi] >= pivot and v[j+1..i-1] == pivot. */
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

double abtest_select_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        q = 0;
    if (q >= 1)
        q = 1;
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    double x = select_kth(v, n, lo);
    if (lo + 1 >= n || h == (double)lo)
        return x;
    /* After selection every value right of lo is >= x: the next order statistic is their min. */
    double y = v[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        if (v[i] < y)
            y = v[i];
    return x + (h - (double)lo) * (y - x);
}

/* Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m, aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15)
            break;
    }
    return h;
}

static double inc_beta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double t_cdf(double t, double df)
{
    double tail = 0.5 * inc_beta(df / 2, 0.5, df / (df + t * t));
    return t >= 0 ? 1 - tail : tail;
}

double abtest_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p == 0.5)
        return 0;
    double lo = -1e6, hi = 1e6;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * (1 + fabs(lo)); i++) {
        double mid = (lo + hi) / 2;
        if (t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

double abtest_mw_min_p(size_t na, size_t nb)
{
    if (na == 0 || nb == 0)
        return 1;
    /* 2 / C(na + nb, na), in logs to stay finite. */
    double lc = lgamma((double)(na + nb) + 1) - lgamma((double)na + 1) - lgamma((double)nb + 1);
    double p = 2 * exp(-lc);
    return p > 1 ? 1 : p;
}

int abtest_welch(const double *b, size_t nb, const double *t, size_t nt, double level,
                 struct abtest_welch *ret)
{
    if (!(level > 0 && level < 1))
        return -EINVAL;
    struct abtest_welch w = { .level = level, .lo = NAN, .hi = NAN, .df = NAN, .estimate = NAN };
    double *x = xmalloc((nb + 1) * sizeof(double)), *y = xmalloc((nt + 1) * sizeof(double));
    w.nb = bootstrap_finite(b, nb, x);
    w.nt = bootstrap_finite(t, nt, y);
    bool pos = w.nb > 0 && w.nt > 0;
    for (size_t i = 0; i < w.nb && pos; i++)
        pos = x[i] > 0;
    for (size_t i = 0; i < w.nt && pos; i++)
        pos = y[i] > 0;
    w.log_scale = pos;
    if (pos) {
        for (size_t i = 0; i < w.nb; i++)
            x[i] = log(x[i]);
        for (size_t i = 0; i < w.nt; i++)
            y[i] = log(y[i]);
    }
    double mx = 0, my = 0, vx = 0, vy = 0;
    for (size_t i = 0; i < w.nb; i++)
        mx += x[i];
    for (size_t i = 0; i < w.nt; i++)
        my += y[i];
    mx = w.nb ? mx / (double)w.nb : NAN;
    my = w.nt ? my / (double)w.nt : NAN;
    double d = my - mx;
    if (w.nb >= 2 && w.nt >= 2) {
        for (size_t i = 0; i < w.nb; i++)
            vx += (x[i] - mx) * (x[i] - mx);
        for (size_t i = 0; i < w.nt; i++)
            vy += (y[i] - my) * (y[i] - my);
        vx /= (double)(w.nb - 1);
        vy /= (double)(w.nt - 1);
        double sx = vx / (double)w.nb, sy = vy / (double)w.nt, se = sqrt(sx + sy);
        if (se > 0) {
            w.df = (sx + sy) * (sx + sy) /
                   (sx * sx / (double)(w.nb - 1) + sy * sy / (double)(w.nt - 1));
            double q = abtest_t_quantile(1 - (1 - level) / 2, w.df);
            w.lo = d - q * se;
            w.hi = d + q * se;
        } else {
            w.df = INFINITY; /* no spread at all: the interval is the point */
            w.lo = w.hi = d;
        }
    }
    if (pos) {
        w.estimate = exp(d);
        w.lo = exp(w.lo);
        w.hi = exp(w.hi);
    } else {
        w.estimate = d;
    }
    free(x);
    free(y);
    *ret = w;
    return 0;
}
