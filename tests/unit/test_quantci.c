/* SPDX-License-Identifier: Apache-2.0 */
/* Order-statistic quantile intervals: the ranks and minimum sample sizes match an independent
 * binomial computation, undersampled quantiles are marked, and the intervals cover the true
 * quantile of a known distribution at their nominal rate (within binomial error). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/quantci.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"

static void test_min_n(void **state)
{
    (void)state;
    /* smallest n with max(q, 1-q)^n <= 0.025, computed independently */
    static const struct {
        double q;
        size_t n;
    } cases[] = { { 0.5, 6 }, { 0.9, 36 }, { 0.95, 72 }, { 0.99, 368 }, { 0.999, 3688 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(quantci_min_n(cases[i].q, 0.95), cases[i].n);
    assert_int_equal(quantci_min_n(0, 0.95), 0);
    assert_int_equal(quantci_min_n(0.5, 1), 0);
}

static void test_ranks(void **state)
{
    (void)state;
    double v[100];
    for (size_t i = 0; i < 100; i++)
        v[i] = (double)(i + 1);
    struct quantci c;
    assert_int_equal(quantci_sorted(v, 100, 0.95, 0.95, &c), 0);
    /* P(B <= 89) <= 0.025 < P(B <= 90) and P(B >= 100) <= 0.025 < P(B >= 99), B~Bin(100,.95) */
    assert_int_equal(c.rank_lo, 90);
    assert_int_equal(c.rank_hi, 100);
    assert_true(c.lo == 90 && c.hi == 100 && c.supported);
    assert_true(fabs(c.value - stats_quantile_sorted(v, 100, 0.95)) < 1e-12);
    /* 12 requests: p99 is the largest value, and no upper bound exists */
    assert_int_equal(quantci_sorted(v, 12, 0.99, 0.95, &c), 0);
    assert_false(c.supported);
    assert_true(isnan(c.hi));
    assert_int_equal(c.rank_hi, 0);
    assert_int_equal(quantci_sorted(v, 71, 0.95, 0.95, &c), 0);
    assert_false(c.supported);
    assert_int_equal(quantci_sorted(v, 72, 0.95, 0.95, &c), 0);
    assert_true(c.supported);
    assert_int_equal(quantci_sorted(v, 0, 0.5, 0.95, &c), 0);
    assert_false(c.supported);
    assert_true(isnan(c.value) && isnan(c.lo));
    assert_int_equal(quantci_sorted(v, 10, 1.0, 0.95, &c), -EINVAL);
    assert_int_equal(quantci_sorted(v, 10, 0.5, 0.0, &c), -EINVAL);
}

/* Exponential samples (a latency-like skew): the fraction of intervals holding the true
 * quantile is at least the nominal level less three binomial standard errors. */
static void test_coverage(void **state)
{
    (void)state;
    static const struct {
        double q;
        size_t n;
    } cases[] = { { 0.5, 30 }, { 0.95, 100 }, { 0.95, 400 }, { 0.99, 500 } };
    const unsigned trials = 2000;
    double *v = xmalloc(500 * sizeof(double));
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        struct rng r;
        rng_seed(&r, 7 + ci);
        double truth = -log(1 - cases[ci].q);
        unsigned hit = 0;
        for (unsigned t = 0; t < trials; t++) {
            for (size_t i = 0; i < cases[ci].n; i++)
                v[i] = rng_exponential(&r, 1.0);
            qsort(v, cases[ci].n, sizeof(double), stats_cmp_double);
            struct quantci c;
            quantci_sorted(v, cases[ci].n, cases[ci].q, 0.95, &c);
            assert_true(c.supported);
            hit += c.lo <= truth && truth <= c.hi;
        }
        double rate = (double)hit / trials, se = sqrt(0.95 * 0.05 / trials);
        assert_true(rate >= 0.95 - 3 * se);
    }
    free(v);
}

static void test_summary_json(void **state)
{
    (void)state;
    double v[80];
    for (size_t i = 0; i < 80; i++)
        v[i] = (double)i;
    json_t *o = json_object();
    quantci_add_summary(o, v, 80);
    assert_true(json_is_true(json_object_get(json_object_get(o, "p95_ci"), "supported")));
    assert_true(json_is_false(json_object_get(json_object_get(o, "p99_ci"), "supported")));
    assert_true(json_is_null(json_object_get(json_object_get(o, "p99_ci"), "hi")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "p50_ci"), "n")), 80);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_n),
        cmocka_unit_test(test_ranks),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_summary_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
