/* SPDX-License-Identifier: Apache-2.0 */
/* Exact quantiles match numpy's default (linear, type 7) on known samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/rng.h"
#include "common/stats.h"

static void test_quantiles(void **state)
{
    (void)state;
    double v[] = { 5, 1, 4, 2, 3, 10, 9, 8, 7, 6 };
    struct stats_summary s;
    stats_summarize(v, 10, &s);
    assert_int_equal(s.n, 10);
    assert_true(fabs(s.mean - 5.5) < 1e-12);
    assert_true(fabs(s.p50 - 5.5) < 1e-12);  /* numpy.percentile(1..10, 50) */
    assert_true(fabs(s.p90 - 9.1) < 1e-12);  /* numpy: 9.1 */
    assert_true(fabs(s.p99 - 9.91) < 1e-12); /* numpy: 9.91 */
    assert_true(fabs(s.stddev - 3.0276503540974917) < 1e-12);
    assert_true(s.min == 1 && s.max == 10);
    stats_summarize(v, 0, &s);
    assert_true(isnan(s.p50));
}

static void test_rng_determinism(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_true(rng_next_u64(&a) == rng_next_u64(&b));
    double sum = 0;
    for (int i = 0; i < 100000; i++)
        sum += rng_exponential(&a, 2.0);
    assert_true(fabs(sum / 100000 - 2.0) < 0.05);
    sum = 0;
    for (int i = 0; i < 100000; i++)
        sum += rng_gamma(&a, 0.5, 4.0);
    assert_true(fabs(sum / 100000 - 2.0) < 0.08);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_rng_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
