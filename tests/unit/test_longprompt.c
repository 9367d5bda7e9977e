/* SPDX-License-Identifier: Apache-2.0 */
/* The doctor's long prompt is sized by the tokenizer it is given: its rendered chat counts
 * min_tokens .. min_tokens + 1% + 64 tokens under that tokenizer (checked independently here),
 * which the approximate tokenizer's count of the same text does not equal; bad inputs name
 * themselves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"
#include "workload/longprompt.h"

static size_t rendered(const struct tokenizer *t, enum chat_template tpl, const char *text)
{
    json_t *m = json_pack("[{s:s,s:s}]", "role", "user", "content", text);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(chat_render(tpl, m, true, &b, NULL), 0);
    size_t n = tokenizer_count(t, buf_str(&b), b.len);
    buf_fini(&b);
    json_decref(m);
    return n;
}

static void test_exact(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    if (!fx)
        skip();
    char path[512];
    snprintf(path, sizeof(path), "%s/engine/tokenizer.json", fx);
    struct tokenizer *bpe = NULL;
    assert_int_equal(tokenizer_new_from_file(path, &bpe, NULL), 0);
    struct tokenizer *approx = tokenizer_new_approx(128256);
    static const unsigned targets[] = { 32768, 1000 };
    for (size_t k = 0; k < 2; k++) {
        struct longprompt lp;
        struct diag d = { 0 };
        assert_int_equal(longprompt_build(path, 128256, "llama31", targets[k], &lp, &d), 0);
        assert_string_equal(lp.tokenizer, "bpe");
        assert_string_equal(lp.chat_template, "llama31");
        size_t n = rendered(bpe, CHAT_TEMPLATE_LLAMA31, buf_str(&lp.text));
        assert_int_equal(n, lp.tokens);
        assert_true(n >= targets[k] && n <= targets[k] + targets[k] / 100 + 64);
        /* the approximate tokenizer would have counted the same text otherwise */
        assert_true(rendered(approx, CHAT_TEMPLATE_LLAMA31, buf_str(&lp.text)) != n);
        longprompt_fini(&lp);
    }
    /* no tokenizer file: sized by the approximate tokenizer, and says so */
    struct longprompt lp;
    assert_int_equal(longprompt_build(NULL, 128256, "llama3", 32768, &lp, NULL), 0);
    assert_string_equal(lp.tokenizer, "approx");
    assert_int_equal(rendered(approx, CHAT_TEMPLATE_LLAMA3, buf_str(&lp.text)), lp.tokens);
    assert_true(lp.tokens >= 32768);
    longprompt_fini(&lp);
    tokenizer_free(approx);
    tokenizer_free(bpe);
}

static void test_bad(void **state)
{
    (void)state;
    struct longprompt lp;
    struct diag d = { 0 };
    assert_int_equal(longprompt_build("/nonexistent/tokenizer.json", 0, "llama3", 10, &lp, &d),
                     -ENOENT);
    assert_string_equal(d.file, "/nonexistent/tokenizer.json");
    longprompt_fini(&lp);
    d = (struct diag){ 0 };
    assert_int_equal(longprompt_build(NULL, 0, "llama2", 10, &lp, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "llama2"));
    longprompt_fini(&lp);
    assert_int_equal(longprompt_build(NULL, 0, "llama3", 0, &lp, NULL), -EMSGSIZE);
    longprompt_fini(&lp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
