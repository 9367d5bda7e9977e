/* SPDX-License-Identifier: Apache-2.0 */
/* Chat templates render the exact Llama 3 and harmony framings and reject malformed messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tokenizer/chat.h"

static void test_render(void **state)
{
    (void)state;
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:[{s:s,s:s}]}]", "role", "system", "content",
                             "Be brief.", "role", "user", "content", "type", "text", "text", "Hi");
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA3, msgs, true, &b, NULL), 0);
    assert_string_equal(buf_str(&b),
                        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief."
                        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>\n\n");
    buf_reset(&b);
    assert_int_equal(chat_render(CHAT_TEMPLATE_HARMONY, msgs, true, &b, NULL), 0);
    assert_string_equal(buf_str(&b), "<|start|>developer<|message|>Be brief.<|end|>"
                                     "<|start|>user<|message|>Hi<|end|><|start|>assistant");
    buf_reset(&b);
    assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA31, msgs, true, &b, NULL), 0);
    assert_string_equal(buf_str(&b),
                        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                        "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
                        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    json_decref(msgs);
    /* no system message: the dated system header is still there; contents are trimmed */
    msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "  Hi there \n");
    buf_reset(&b);
    assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA31, msgs, false, &b, NULL), 0);
    assert_string_equal(buf_str(&b),
                        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there"
                        "<|eot_id|>");
    enum chat_template t;
    assert_int_equal(chat_template_from_name("llama31", &t), 0);
    assert_int_equal(t, CHAT_TEMPLATE_LLAMA31);
    assert_int_equal(chat_template_from_name("llama2", &t), -EINVAL);
    json_decref(msgs);

    static const char *bad[] = { "[]", "[{\"content\":\"x\"}]", "[{\"role\":\"user\"}]",
                                 "[{\"role\":\"user\",\"content\":5}]" };
    for (size_t i = 0; i < 4; i++) {
        json_t *m = json_loads(bad[i], 0, NULL);
        struct diag d = { 0 };
        assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA3, m, true, &b, &d), -EINVAL);
        assert_true(strlen(d.msg) > 0);
        json_decref(m);
    }
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
