/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI wire format, byte for byte: a chat stream's role chunk before its first token, a
 * completion's token chunk, finish chunks with and without the usage chunk, unary bodies, and
 * the quoting of the model name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/oaiwire.h"

static void req(struct sreq *r, enum sreq_endpoint ep, bool usage)
{
    *r = (struct sreq){ .ep = ep, .include_usage = usage, .created_unix_s = 1700000000 };
    snprintf(r->id_str, sizeof(r->id_str), "%s", ep == SREQ_CHAT ? "chatcmpl-1" : "cmpl-1");
}

static void expect(struct buf *b, const char *want)
{
    if (strcmp(buf_str(b), want) != 0)
        fail_msg("got\n%s\nwant\n%s", buf_str(b), want);
    buf_reset(b);
}

static void test_wire(void **state)
{
    (void)state;
    struct sreq r;
    struct buf b;
    buf_init(&b, 1 << 16);
    struct oaiwire_usage u = { 10, 3, 8 };
    req(&r, SREQ_CHAT, true);
    oaiwire_token(&b, &r, "\"m\"", true, "hi");
    expect(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
               "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
               "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
               "\" hi\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    oaiwire_stream_end(&b, &r, "\"m\"", "length", &u);
    expect(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":"
               "null,\"finish_reason\":\"length\"}]}\n\n"
               "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1700000000,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,"
               "\"completion_tokens\":3,\"total_tokens\":13,\"prompt_tokens_details\":"
               "{\"cached_tokens\":8}}}\n\ndata: [DONE]\n\n");
    oaiwire_full(&b, &r, "\"m\"", " a b", "stop", &u);
    expect(&b, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
               "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
               "\"content\":\" a b\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
               "{\"prompt_tokens\":10,\"completion_tokens\":3,\"total_tokens\":13,"
               "\"prompt_tokens_details\":{\"cached_tokens\":8}}}");
    req(&r, SREQ_COMPLETIONS, false);
    oaiwire_token(&b, &r, "\"m\"", true, "x");
    expect(&b, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,"
               "\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" x\",\"logprobs\":null,"
               "\"finish_reason\":null}]}\n\n");
    oaiwire_stream_end(&b, &r, "\"m\"", "stop", &u);
    expect(&b, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,"
               "\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,"
               "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    oaiwire_full(&b, &r, "\"m\"", " x", "length", &u);
    expect(&b, "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,"
               "\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" x\",\"logprobs\":null,"
               "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":10,"
               "\"completion_tokens\":3,\"total_tokens\":13,\"prompt_tokens_details\":"
               "{\"cached_tokens\":8}}}");
    buf_fini(&b);
}

static void test_quote(void **state)
{
    (void)state;
    char out[OAIWIRE_MODEL_MAX];
    oaiwire_quote("org/m\"x\\\n", out, sizeof(out));
    assert_string_equal(out, "\"org/m\\\"x\\\\\\u000a\"");
    char small[12];
    oaiwire_quote("abcdefghijklmnop", small, sizeof(small));
    assert_string_equal(small, "\"abc\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
