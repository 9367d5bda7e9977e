/* SPDX-License-Identifier: Apache-2.0 */
/* The seeded block order of interleaved modes: every block is a permutation of the modes, the
 * same seed gives the same order, other seeds give other orders, and the first mode does not
 * always run first (drift must not line up with a mode). Also re-evaluating a bundle directory
 * from its recorded evidence. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/bundle.h"

static void test_block_order(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        unsigned repeats;
    } cases[] = { { 1, 3 }, { 2, 10 }, { 3, 10 }, { 6, 5 } };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t n = cases[c].n, total = n * cases[c].repeats;
        size_t *a = xcalloc(total, sizeof(size_t)), *b = xcalloc(total, sizeof(size_t));
        bundle_block_order(n, cases[c].repeats, 42, a);
        bundle_block_order(n, cases[c].repeats, 42, b);
        assert_memory_equal(a, b, total * sizeof(size_t));
        for (unsigned r = 0; r < cases[c].repeats; r++) {
            unsigned seen = 0;
            for (size_t i = 0; i < n; i++)
                seen |= 1u << a[r * n + i];
            assert_int_equal(seen, (1u << n) - 1);
        }
        if (n >= 3) {
            bundle_block_order(n, cases[c].repeats, 43, b);
            assert_memory_not_equal(a, b, total * sizeof(size_t));
            unsigned first_is_0 = 0;
            for (unsigned r = 0; r < cases[c].repeats; r++)
                first_is_0 += a[r * n] == 0;
            assert_true(first_is_0 < cases[c].repeats);
        }
        free(a);
        free(b);
    }
}

static void test_reevaluate(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/kvtier-test-bundle-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char *fx = xalloc_printf("%s/bundle/evidence/b2_good.json", getenv("KVTIER_FIXTURES"));
    json_t *ev = NULL;
    assert_int_equal(jsonx_load_file(fx, &ev, NULL), 0);
    json_t *v = json_object();
    json_object_set_new(v, "evidence", ev);
    char *p = fileio_join(dir, "verdict.json");
    assert_int_equal(jsonx_write_file(p, v), 0);
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    struct diag d = { 0 };
    json_t *nv = bundle_reevaluate(dir, &t, &d);
    assert_non_null(nv);
    assert_true(json_is_true(json_object_get(nv, "decision_grade")));
    json_decref(nv);
    /* a stricter table turns the same evidence into a soft failure */
    t.repeats_min = 5;
    nv = bundle_reevaluate(dir, &t, &d);
    assert_true(json_is_false(json_object_get(nv, "decision_grade")));
    json_decref(nv);
    /* no evidence: an error naming the file */
    json_object_del(v, "evidence");
    assert_int_equal(jsonx_write_file(p, v), 0);
    assert_null(bundle_reevaluate(dir, &t, &d));
    assert_non_null(strstr(d.msg, "no evidence"));
    unlink(p);
    rmdir(dir);
    free(p);
    free(fx);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_order),
        cmocka_unit_test(test_reevaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
