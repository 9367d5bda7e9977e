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
#include "tokenizer/tokenizer.h"

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

/* The Llama 3.1/3.3 rendering through the exact tokenizer (the fixture tokenizer.json with the
 * Llama 3 special tokens as ids 350-354): every framing token is one special id where the
 * template puts it, and the count is the specials plus the text between them. */
static size_t plain_count(const struct tokenizer *t, const char *s)
{
    struct token_ids v = { 0 };
    assert_int_equal(tokenizer_encode(t, s, strlen(s), false, &v), 0);
    size_t n = v.len;
    tokenizer_ids_fini(&v);
    return n;
}

static void test_llama31_tokens(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    if (!fx)
        skip();
    char path[512];
    snprintf(path, sizeof(path), "%s/engine/tokenizer.json", fx);
    struct tokenizer *t = NULL;
    struct diag d = { 0 };
    assert_int_equal(tokenizer_new_from_file(path, &t, &d), 0);
    enum { BOT = 350, SH = 351, EH = 352, EOT = 353 };
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", "Be brief.",
                             "role", "user", "content", "Hi");
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA31, msgs, true, &b, NULL), 0);
    struct token_ids v = { 0 };
    assert_int_equal(tokenizer_encode(t, buf_str(&b), b.len, true, &v), 0);
    /* begin, then three headers (system, user, assistant), two turns ended */
    size_t n[5] = { 0 };
    for (size_t i = 0; i < v.len; i++)
        if (v.ids[i] >= BOT && v.ids[i] <= BOT + 4)
            n[v.ids[i] - BOT]++;
    assert_int_equal(v.ids[0], BOT);
    assert_int_equal(v.ids[1], SH);
    assert_int_equal(n[0], 1);
    assert_int_equal(n[SH - BOT], 3);
    assert_int_equal(n[EH - BOT], 3);
    assert_int_equal(n[EOT - BOT], 2);
    assert_int_equal(n[4], 0);
    size_t text = plain_count(t, "system") +
                  plain_count(t, "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul "
                                 "2024\n\nBe brief.") +
                  plain_count(t, "user") + plain_count(t, "\n\nHi") + plain_count(t, "assistant") +
                  plain_count(t, "\n\n");
    assert_int_equal(v.len, 9 + text);
    /* the dated header is what llama31 adds over llama3: the difference is exactly its tokens */
    size_t n31 = v.len;
    buf_reset(&b);
    v.len = 0;
    assert_int_equal(chat_render(CHAT_TEMPLATE_LLAMA3, msgs, true, &b, NULL), 0);
    assert_int_equal(tokenizer_encode(t, buf_str(&b), b.len, true, &v), 0);
    assert_int_equal(n31 - v.len,
                     plain_count(t, "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 "
                                    "Jul 2024\n\nBe brief.") -
                         plain_count(t, "\n\nBe brief."));
    assert_true(n31 > v.len);
    tokenizer_ids_fini(&v);
    buf_fini(&b);
    json_decref(msgs);
    tokenizer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_llama31_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
