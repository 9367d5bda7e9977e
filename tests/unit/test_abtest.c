/* SPDX-License-Identifier: Apache-2.0 */
/* A/B statistics: Mann-Whitney p-values against published exact tables and the normal
 * approximation, quickselect quantiles against sort-based ones, bootstrap ratio intervals
 * (determinism, coverage, collapse), and the hierarchical pooled-quantile bootstrap seeing
 * run-to-run variation that the within-run bootstrap cannot. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/abtest.h"
#include "common/rng.h"
#include "common/stats.h"

static void test_mw_exact(void **state)
{
    (void)state;
    struct abtest_mw r;
    double a3[] = { 1, 2, 3 }, b3[] = { 4, 5, 6 };
    abtest_mann_whitney(a3, 3, b3, 3, &r);
    assert_int_equal(r.exact, 1);
    assert_true(r.u == 0 && fabs(r.p - 0.1) < 1e-12); /* 2 / C(6,3) */
    assert_true(r.p_below == 1);
    double a4[] = { 1, 2, 3, 4 }, b4[] = { 5, 6, 7, 8 };
    abtest_mann_whitney(b4, 4, a4, 4, &r);
    assert_true(r.u == 16 && fabs(r.p - 2.0 / 70) < 1e-12 && r.p_below == 0);
    /* n = 5, 5 with U = 2: P(U <= 2) = 4/252 (critical value of the published table). */
    double a5[] = { 1, 2, 3, 6, 7 }, b5[] = { 4, 5, 8, 9, 10 };
    abtest_mann_whitney(a5, 5, b5, 5, &r);
    assert_true(r.u == 4);
    double a5b[] = { 1, 2, 3, 5, 6 }, b5b[] = { 4, 7, 8, 9, 10 };
    abtest_mann_whitney(a5b, 5, b5b, 5, &r);
    assert_true(r.u == 2 && fabs(r.p - 8.0 / 252) < 1e-12);
    /* Identical samples interleaved: no evidence at all. */
    double x[] = { 1, 3, 5, 7 }, y[] = { 2, 4, 6, 8 };
    abtest_mann_whitney(x, 4, y, 4, &r);
    assert_true(r.p > 0.6);
    /* Empty side and NaNs. */
    double nan1[] = { NAN, NAN };
    abtest_mann_whitney(nan1, 2, y, 4, &r);
    assert_true(r.na == 0 && isnan(r.p));
}

static void test_mw_normal(void **state)
{
    (void)state;
    /* 30 vs 30 with ties: normal approximation with tie and continuity corrections; the
     * reference below is the same formula worked by hand in closed form. */
    double a[30], b[30];
    for (int i = 0; i < 30; i++) {
        a[i] = i / 3;       /* 0,0,0,1,1,1,...,9 */
        b[i] = i / 3 + 1.0; /* shifted by one tie group */
    }
    struct abtest_mw r;
    abtest_mann_whitney(a, 30, b, 30, &r);
    assert_int_equal(r.exact, 0);
    /* U_a: each a of value g >= 1 beats the 3(g-1) b-values below g and ties 3 -> U = sum over
     * g = 1..9 of 3 * (3(g-1) + 1.5) = 324 + 40.5. Ties: 9 groups of 6 and 2 groups of 3. */
    assert_true(fabs(r.u - 364.5) < 1e-9);
    double N = 60, ties = 9 * (216.0 - 6) + 2 * (27.0 - 3);
    double var = 900.0 / 12 * ((N + 1) - ties / (N * (N - 1)));
    double want = erfc((fabs(364.5 - 450) - 0.5) / sqrt(var) / sqrt(2));
    assert_true(fabs(r.p - want) < 1e-12);
    /* The exact p of an untied 30 vs 30 sample is close to its normal approximation; past
     * ABTEST_EXACT_MAX values the approximation is used. */
    double c[31], d[31];
    struct rng g;
    rng_seed(&g, 3);
    for (int i = 0; i < 31; i++) {
        c[i] = rng_normal(&g);
        d[i] = rng_normal(&g) + 0.6;
    }
    struct abtest_mw e, n;
    abtest_mann_whitney(c, 30, d, 30, &e);
    assert_int_equal(e.exact, 1);
    double pn = erfc((fabs(e.u - 450) - 0.5) / sqrt(900.0 * 61 / 12) / sqrt(2));
    assert_true(fabs(e.p - pn) < 0.01);
    assert_true(e.p < 0.05);
    abtest_mann_whitney(c, 31, d, 30, &n);
    assert_int_equal(n.exact, 0);
}

static void test_select(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 11);
    double v[500], s[500], w[500];
    for (size_t n = 1; n <= 500; n += 37) {
        for (size_t i = 0; i < n; i++)
            v[i] = (double)rng_range(&g, 0, n / 3 + 1); /* many duplicates */
        memcpy(s, v, n * sizeof(double));
        qsort(s, n, sizeof(double), stats_cmp_double);
        static const double qs[] = { 0, 0.01, 0.5, 0.95, 0.99, 1 };
        for (size_t k = 0; k < 6; k++) {
            memcpy(w, v, n * sizeof(double));
            assert_true(abtest_select_quantile(w, n, qs[k]) == stats_quantile_sorted(s, n, qs[k]));
        }
    }
    assert_true(isnan(abtest_select_quantile(v, 0, 0.5)));
}

static void test_ratio(void **state)
{
    (void)state;
    double b[] = { 10, 10, 10 }, t[] = { 5, 5, 5 };
    struct abtest_ratio r, r2;
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, b, 3, t, 3, 1000, 0.95, 1, &r), 0);
    assert_true(r.ratio == 0.5 && r.lo == 0.5 && r.hi == 0.5 && r.diff == -5);
    double bb[] = { 100, 110, 95, 105, 90 }, tt[] = { 50, 60, 45, 55, 52 };
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 5, tt, 5, 2000, 0.95, 7, &r), 0);
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 5, tt, 5, 2000, 0.95, 7, &r2), 0);
    assert_true(r.lo == r2.lo && r.hi == r2.hi && r.diff_lo == r2.diff_lo);
    assert_true(r.lo < r.ratio && r.ratio < r.hi && r.hi < 1);
    assert_true(r.diff_hi < 0);
    /* One value per side: nothing to resample, so no interval at all. */
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 1, tt, 1, 1000, 0.95, 1, &r), 0);
    assert_true(isnan(r.lo) && isnan(r.hi) && isnan(r.diff_lo) && r.ratio == 0.5);
    /* One side fixed, the other resampled: an interval from the resampled side alone. */
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 1, tt, 5, 1000, 0.95, 1, &r), 0);
    assert_true(r.lo < r.ratio && r.ratio < r.hi);
    /* Zero baseline: no ratio, the difference still stands. */
    double z[] = { 0, 0 };
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, z, 2, tt, 5, 1000, 0.95, 1, &r), 0);
    assert_true(isnan(r.ratio) && r.diff > 0);
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 5, tt, 5, 10, 0.95, 1, &r), -EINVAL);
    assert_int_equal(abtest_ratio_ci(BOOTSTRAP_MEAN, bb, 5, tt, 5, 1000, 1.0, 1, &r), -EINVAL);
}

static void test_pooled(void **state)
{
    (void)state;
    static double b1[200], t1[200], b3[3][200];
    for (int i = 0; i < 200; i++) {
        b1[i] = i + 1;
        t1[i] = (i + 1) / 2.0;
        for (int k = 0; k < 3; k++)
            b3[k][i] = (i + 1) * (k == 2 ? 3.0 : 1.0); /* one run three times slower */
    }
    const double *vb[] = { b1 }, *vt[] = { t1 };
    size_t nb[] = { 200 }, nt[] = { 200 };
    struct abtest_groups gb = { 1, vb, nb }, gt = { 1, vt, nt };
    struct abtest_ratio r;
    assert_int_equal(abtest_pooled_quantile_ci(&gb, &gt, 0.95, 1000, 0.95, 5, &r), 0);
    assert_true(fabs(r.ratio - 0.5) < 1e-12 && r.lo < 0.5 && r.hi > 0.5 && r.hi < 0.7);
    assert_true(r.nb == 200 && r.nt == 200);
    /* Three baseline runs, one of them slow: the hierarchical interval is much wider than the
     * within-run interval of the same pooled values. */
    const double *v3[] = { b3[0], b3[1], b3[2] };
    size_t n3[] = { 200, 200, 200 };
    struct abtest_groups g3 = { 3, v3, n3 };
    struct abtest_ratio h;
    assert_int_equal(abtest_pooled_quantile_ci(&g3, &gt, 0.95, 1000, 0.95, 5, &h), 0);
    static double flat[600];
    for (int k = 0; k < 3; k++)
        memcpy(flat + 200 * k, b3[k], sizeof(b3[k]));
    const double *vf[] = { flat };
    size_t nf[] = { 600 };
    struct abtest_groups gf = { 1, vf, nf };
    struct abtest_ratio w;
    assert_int_equal(abtest_pooled_quantile_ci(&gf, &gt, 0.95, 1000, 0.95, 5, &w), 0);
    assert_true(fabs(h.ratio - w.ratio) < 1e-12);
    assert_true(h.hi - h.lo > 2 * (w.hi - w.lo));
    /* No values on a side. */
    size_t n0[] = { 0 };
    struct abtest_groups g0 = { 1, vb, n0 };
    assert_int_equal(abtest_pooled_quantile_ci(&g0, &gt, 0.95, 1000, 0.95, 5, &r), -ENODATA);
}

static void test_welch(void **state)
{
    (void)state;
    /* Student's t quantiles from the published table. */
    static const double tab[][3] = { { 0.975, 2, 4.302653 },  { 0.975, 4, 2.776445 },
                                     { 0.975, 10, 2.228139 }, { 0.95, 1, 6.313752 },
                                     { 0.995, 5, 4.032143 },  { 0.975, 1e7, 1.959964 } };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        assert_true(fabs(abtest_t_quantile(tab[i][0], tab[i][1]) - tab[i][2]) < 2e-6);
    assert_true(fabs(abtest_t_quantile(0.025, 4) + 2.776445) < 2e-6);
    /* t = 2 b: on logs the same spread shifted by log 2; df = 2 (n - 1) = 4. */
    double b[] = { 1, 2, 3 }, t[] = { 2, 4, 6 };
    struct abtest_welch w;
    assert_int_equal(abtest_welch(b, 3, t, 3, 0.95, &w), 0);
    assert_true(w.log_scale && fabs(w.estimate - 2) < 1e-12 && fabs(w.df - 4) < 1e-9);
    double lb[] = { 0, log(2), log(3) }, m = (lb[0] + lb[1] + lb[2]) / 3, v = 0;
    for (int i = 0; i < 3; i++)
        v += (lb[i] - m) * (lb[i] - m) / 2;
    double half = 2.776445 * sqrt(2 * v / 3);
    assert_true(fabs(w.hi - 2 * exp(half)) < 1e-4 && fabs(w.lo - 2 * exp(-half)) < 1e-4);
    /* A zero forbids logs: the difference of means. */
    double z[] = { 0, 0, 1 };
    assert_int_equal(abtest_welch(z, 3, b, 3, 0.95, &w), 0);
    assert_true(!w.log_scale && fabs(w.estimate - (2 - 1.0 / 3)) < 1e-12 && w.lo < w.hi);
    /* One value a side: an estimate, no interval. */
    assert_int_equal(abtest_welch(b, 1, t, 1, 0.95, &w), 0);
    assert_true(w.estimate == 2 && isnan(w.lo) && isnan(w.hi));
    /* No spread at all: the interval is the point. */
    double c1[] = { 5, 5 }, c2[] = { 4, 4 };
    assert_int_equal(abtest_welch(c1, 2, c2, 2, 0.95, &w), 0);
    assert_true(fabs(w.lo - 0.8) < 1e-12 && fabs(w.hi - 0.8) < 1e-12);
    assert_int_equal(abtest_welch(b, 3, t, 3, 1.5, &w), -EINVAL);
    /* Smallest attainable exact rank-test p. */
    assert_true(fabs(abtest_mw_min_p(3, 3) - 0.1) < 1e-12);
    assert_true(fabs(abtest_mw_min_p(4, 4) - 2.0 / 70) < 1e-12);
    assert_true(fabs(abtest_mw_min_p(5, 5) - 2.0 / 252) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mw_exact), cmocka_unit_test(test_mw_normal),
        cmocka_unit_test(test_select),   cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_pooled),   cmocka_unit_test(test_welch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
