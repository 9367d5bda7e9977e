/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier sweep's pure parts: value lists and ranges (errors name the bad item), a point's
 * pooled TTFT quantiles with their order-statistic intervals from in-memory bundles (invalid
 * bundles left out), and the Markdown marking undersampled tails. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/sweep.h"

static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        bool integer;
        int rc;
        size_t n;
        double last;
        const char *in_msg;
    } cases[] = {
        { "8,1,2,4,2", true, 0, 4, 8, NULL },    { "0.5,1.5", false, 0, 2, 1.5, NULL },
        { "1,2.5", true, -EINVAL, 0, 0, "2.5" }, { "1,0", true, -EINVAL, 0, 0, "'0'" },
        { "1,x", false, -EINVAL, 0, 0, "'x'" },  { "", true, -EINVAL, 0, 0, "empty" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double *v = NULL;
        size_t n = 0;
        struct diag d = { 0 };
        assert_int_equal(sweep_values_parse(cases[i].list, cases[i].integer, &v, &n, &d),
                         cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(n, cases[i].n);
            assert_true(v[n - 1] == cases[i].last && v[0] < v[1]);
        } else {
            assert_non_null(strstr(d.msg, cases[i].in_msg));
        }
        free(v);
    }
    double *v = NULL;
    size_t n = 0;
    struct diag d = { 0 };
    assert_int_equal(sweep_values_range(1, 16, 4, true, &v, &n, &d), 0);
    assert_int_equal(n, 4);
    assert_true(v[0] == 1 && v[1] == 6 && v[2] == 11 && v[3] == 16);
    free(v);
    assert_int_equal(sweep_values_range(8, 2, 4, true, &v, &n, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "inverted"));
    assert_int_equal(sweep_values_range(1, 4, 1, true, &v, &n, &d), -EINVAL);
}

static void test_point(void **state)
{
    (void)state;
    struct rundir_bundle b[3] = { { 0 } };
    for (int i = 0; i < 3; i++) {
        b[i].dir = xalloc_printf("g/B1/r%02d", i + 1);
        b[i].valid = i < 2; /* the third is excluded */
        b[i].n_ttft = 50;
        b[i].ttft = xmalloc(50 * sizeof(double));
        for (int k = 0; k < 50; k++)
            b[i].ttft[k] = i == 2 ? 1e6 : 100 + k + 50 * i; /* valid: 100..199 */
        b[i].summary = json_pack("{s:{s:{s:f, s:f}}}", "phases", "replay", "error_rate", 0.01 * i,
                                 "throughput_rps", 2.0);
        b[i].manifest = json_pack("{s:{s:s}}", "stack", "kind", "builtin");
    }
    json_t *p = sweep_point_json(4, b, 3, "replay");
    assert_int_equal(jsonx_i64(p, "repeats", 0), 3);
    assert_int_equal(jsonx_i64(p, "run_valid", 0), 2);
    assert_string_equal(jsonx_str(p, "engine", ""), "builtin");
    const json_t *p50 = jsonx_path(p, "ttft_ms.p50"), *p95 = jsonx_path(p, "ttft_ms.p95"),
                 *p99 = jsonx_path(p, "ttft_ms.p99");
    assert_int_equal(jsonx_i64(p95, "n", 0), 100);
    assert_true(fabs(jsonx_num(p50, "value", 0) - 149.5) < 1e-9);
    assert_true(jsonx_bool(p95, "supported", false) && jsonx_num(p95, "hi", 0) <= 199);
    assert_false(jsonx_bool(p99, "supported", true)); /* 100 < 368 */
    assert_true(fabs(jsonx_num(p, "error_rate", 0) - 0.005) < 1e-12);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:{s:[O]}, s:[], s:[]}", "axis", "concurrency",
                            "phase", "replay", "engine", "builtin", "baseline", "B1", "modes", "B1",
                            p, "regimes", "reason_codes");
    char *md = sweep_markdown(doc);
    assert_non_null(strstr(md, "undersampled"));
    assert_non_null(strstr(md, "| 4 | 2/3 | 100 |"));
    free(md);
    json_decref(doc);
    json_decref(p);
    for (int i = 0; i < 3; i++)
        rundir_bundle_fini(&b[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
