/* SPDX-License-Identifier: Apache-2.0 */
/* Block hash chains: full blocks only, prefix sharing, parent dependence, 63-bit values; the
 * approximate tokenizer is deterministic and prefix-stable at piece boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tokenizer/blockhash.h"
#include "tokenizer/tokenizer.h"

static void test_chain(void **state)
{
    (void)state;
    uint32_t a[100], b[100];
    for (uint32_t i = 0; i < 100; i++)
        a[i] = b[i] = i * 7;
    b[70] = 1; /* differs in the third block */
    uint64_t ha[4], hb[4];
    assert_int_equal(blockhash_chain(a, 100, 32, ha, 4), 3);
    assert_int_equal(blockhash_chain(b, 100, 32, hb, 4), 3);
    assert_true(ha[0] == hb[0] && ha[1] == hb[1] && ha[2] != hb[2]);
    for (int i = 0; i < 3; i++)
        assert_true((ha[i] & ~BLOCKHASH_MASK) == 0);
    /* same tokens, different parent: different identity */
    assert_true(blockhash_next(1, a, 32) != blockhash_next(2, a, 32));
    assert_true(blockhash_next(BLOCKHASH_ROOT, a, 32) == ha[0]);
    assert_int_equal(blockhash_chain(a, 31, 32, ha, 4), 0);
}

static void test_approx_prefix(void **state)
{
    (void)state;
    struct tokenizer *t = tokenizer_new_approx(32000);
    const char *p1 = "<|begin_of_text|>You are a careful reviewer. Question one?";
    const char *p2 = "<|begin_of_text|>You are a careful reviewer. Another, different one!";
    struct token_ids x = { 0 }, y = { 0 };
    tokenizer_encode(t, p1, strlen(p1), true, &x);
    tokenizer_encode(t, p2, strlen(p2), true, &y);
    size_t common = 0;
    while (common < x.len && common < y.len && x.ids[common] == y.ids[common])
        common++;
    assert_true(common >= 8);
    assert_true(x.len >= 10);
    for (size_t i = 0; i < x.len; i++)
        assert_true(x.ids[i] < 32000);
    assert_false(tokenizer_is_exact(t));
    assert_int_equal(tokenizer_count(t, "one two three", 13), 3);
    tokenizer_ids_fini(&x);
    tokenizer_ids_fini(&y);
    tokenizer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_approx_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
