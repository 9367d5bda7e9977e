/* SPDX-License-Identifier: Apache-2.0 */
/* Schedule generation: seeded determinism, achieved vs requested rate, shape of the gaps. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "loadgen/arrival.h"

#define N 20000

struct rate_case {
    enum loadgen_arrival kind;
    double rate, burst;
    double rate_tol;     /* relative error allowed on the achieved rate */
    double cv_lo, cv_hi; /* coefficient of variation of the gaps */
};

static const struct rate_case rcases[] = {
    { LOADGEN_ARRIVAL_CONSTANT, 2000, 0, 1e-6, 0, 1e-3 },
    { LOADGEN_ARRIVAL_CONSTANT, 3, 0, 1e-6, 0, 1e-3 },
    { LOADGEN_ARRIVAL_POISSON, 100, 0, 0.03, 0.95, 1.05 },
    { LOADGEN_ARRIVAL_POISSON, 7.5, 0, 0.03, 0.95, 1.05 },
    { LOADGEN_ARRIVAL_GAMMA, 100, 1.0, 0.03, 0.95, 1.05 },
    /* gamma shape k: cv = 1/sqrt(k) */
    { LOADGEN_ARRIVAL_GAMMA, 100, 0.25, 0.06, 1.85, 2.15 },
    { LOADGEN_ARRIVAL_GAMMA, 100, 4.0, 0.03, 0.47, 0.53 },
};

static void test_rates(void **state)
{
    (void)state;
    uint64_t *o = xmalloc(N * sizeof(uint64_t));
    assert_non_null(o);
    for (size_t k = 0; k < sizeof(rcases) / sizeof(rcases[0]); k++) {
        const struct rate_case *c = &rcases[k];
        assert_int_equal(arrival_generate(c->kind, c->rate, c->burst, 42, N, o), 0);
        assert_int_equal(o[0], 0);
        double sum = 0, sq = 0;
        for (size_t i = 1; i < N; i++) {
            assert_true(o[i] >= o[i - 1]);
            double g = (double)(o[i] - o[i - 1]);
            sum += g;
            sq += g * g;
        }
        double mean = sum / (N - 1);
        double sd = sqrt(sq / (N - 1) - mean * mean);
        double achieved = (double)(N - 1) / ((double)o[N - 1] / 1e9);
        if (fabs(achieved / c->rate - 1) > c->rate_tol)
            fail_msg("case %zu: achieved %.4f req/s for %.4f", k, achieved, c->rate);
        double cv = sd / mean;
        if (cv < c->cv_lo || cv > c->cv_hi)
            fail_msg("case %zu: cv %.3f", k, cv);
    }
    free(o);
}

static void test_determinism(void **state)
{
    (void)state;
    uint64_t a[1000], b[1000], c[1000];
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, 50, 0, 7, 1000, a), 0);
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, 50, 0, 7, 1000, b), 0);
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, 50, 0, 8, 1000, c), 0);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
    /* constant: exactly k / rate, no accumulated rounding */
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_CONSTANT, 3, 0, 1, 1000, a), 0);
    assert_int_equal(a[999], 333000000000ull);
}

static void test_errors(void **state)
{
    (void)state;
    uint64_t a[4];
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, 0, 0, 1, 4, a), -EINVAL);
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, -1, 0, 1, 4, a), -EINVAL);
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_POISSON, NAN, 0, 1, 4, a), -EINVAL);
    assert_int_equal(arrival_generate(LOADGEN_ARRIVAL_CLOSED, 10, 0, 1, 4, a), -EINVAL);
    enum loadgen_arrival k;
    assert_int_equal(arrival_from_name("gamma", &k), 0);
    assert_int_equal(k, LOADGEN_ARRIVAL_GAMMA);
    assert_int_equal(arrival_from_name("bursty", &k), -EINVAL);
    assert_string_equal(arrival_name(LOADGEN_ARRIVAL_CLOSED), "closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
