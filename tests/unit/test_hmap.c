/* SPDX-License-Identifier: Apache-2.0 */
/* The shared hash table: inserts past the initial size (growth), deletes with backward shift
 * (every remaining key still found), absent keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hmap.h"

static void test_hmap(void **state)
{
    (void)state;
    struct hmap m;
    hmap_init(&m, 4);
    for (uint64_t k = 0; k < 5000; k++)
        hmap_put(&m, k * 977, (uint32_t)k);
    assert_int_equal(m.len, 5000);
    for (uint64_t k = 0; k < 5000; k += 2)
        assert_true(hmap_del(&m, k * 977));
    assert_false(hmap_del(&m, 0));
    for (uint64_t k = 0; k < 5000; k++) {
        uint32_t *v = hmap_get(&m, k * 977);
        if (k % 2)
            assert_true(v && *v == k);
        else
            assert_null(v);
    }
    hmap_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
