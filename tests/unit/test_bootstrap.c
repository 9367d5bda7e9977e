/* SPDX-License-Identifier: Apache-2.0 */
/* Bootstrap CIs: deterministic per seed, cover the estimate, shrink with more data; CV. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "analysis/bootstrap.h"
#include "common/rng.h"

static void test_ci(void **state)
{
    (void)state;
    double v[200];
    struct rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 200; i++)
        v[i] = 100 + 10 * rng_normal(&r);
    struct bootstrap_ci a, b, small;
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 200, 2000, 0.95, 1, &a), 0);
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 200, 2000, 0.95, 1, &b), 0);
    assert_true(a.lo == b.lo && a.hi == b.hi); /* same seed, same interval */
    assert_true(a.lo < a.estimate && a.estimate < a.hi);
    assert_true(a.lo > 97 && a.hi < 103);
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 10, 2000, 0.95, 1, &small), 0);
    assert_true(small.hi - small.lo > a.hi - a.lo);
    static const struct {
        enum bootstrap_stat st;
        double want;
    } cases[] = { { BOOTSTRAP_MEAN, 3.2 }, { BOOTSTRAP_MEDIAN, 2 }, { BOOTSTRAP_P95, 8.4 } };
    double w[] = { 1, 2, 10, NAN, 1, 2 };
    for (size_t i = 0; i < 3; i++)
        assert_true(fabs(bootstrap_stat_of(cases[i].st, w, 6) - cases[i].want) < 1e-9);
}

static void test_errors_and_cv(void **state)
{
    (void)state;
    double v[] = { 1, 2, 3 };
    struct bootstrap_ci c;
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 3, 10, 0.95, 1, &c), -EINVAL);
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 3, 1000, 1.5, 1, &c), -EINVAL);
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, BOOTSTRAP_MAX_SAMPLES + 1, 1000, 0.9, 1, &c),
                     -EMSGSIZE);
    assert_int_equal(bootstrap_ci(BOOTSTRAP_MEAN, v, 1, 1000, 0.9, 1, &c), 0);
    assert_true(c.lo == 1 && c.hi == 1);
    assert_true(isnan(bootstrap_cv(v, 1)));
    assert_true(fabs(bootstrap_cv(v, 3) - 0.5) < 1e-12);
    json_t *j = bootstrap_ci_json(&c);
    assert_true(json_is_number(json_object_get(j, "rel_width")));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ci),
        cmocka_unit_test(test_errors_and_cv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
