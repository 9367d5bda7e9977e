/* SPDX-License-Identifier: Apache-2.0 */
/* SSE parser edge cases, fed whole, byte by byte and split at every position, plus the OpenAI
 * chunk reader (role-only, content, reasoning, usage, [DONE], error events, malformed JSON). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loadgen/oaichunk.h"
#include "loadgen/sse.h"

#define MAX_EV 8

struct got {
    int n;
    char type[MAX_EV][64];
    char data[MAX_EV][256];
    uint64_t t[MAX_EV];
};

static int collect(void *ctx, const struct sse_event *ev)
{
    struct got *g = ctx;
    if (g->n < MAX_EV) {
        snprintf(g->type[g->n], sizeof(g->type[0]), "%s", ev->type);
        snprintf(g->data[g->n], sizeof(g->data[0]), "%.*s", (int)ev->data_len, ev->data);
        g->t[g->n] = ev->t_first_byte_ns;
    }
    g->n++;
    return 0;
}

struct sse_case {
    const char *name;
    const char *in;
    int n;
    const char *data[4];
    const char *type[4];
    bool pending; /* an unfinished event or line is left at the end */
};

static const struct sse_case cases[] = {
    { "lf", "data: a\n\n", 1, { "a" }, { "message" }, false },
    { "crlf", "data: a\r\n\r\n", 1, { "a" }, { "message" }, false },
    { "cr only", "data: a\r\r", 1, { "a" }, { "message" }, false },
    { "mixed ends", "data: a\r\ndata: b\n\r\n", 1, { "a\nb" }, { "message" }, false },
    { "no space after colon", "data:x\n\n", 1, { "x" }, { "message" }, false },
    { "two spaces keep one", "data:  x\n\n", 1, { " x" }, { "message" }, false },
    { "multi-line data",
      "data: {\"a\":\ndata: 1}\n\n",
      1,
      { "{\"a\":\n1}" },
      { "message" },
      false },
    { "comment ignored", ": keep-alive\n\ndata: z\n\n", 1, { "z" }, { "message" }, false },
    { "comment inside event", "data: a\n: c\ndata: b\n\n", 1, { "a\nb" }, { "message" }, false },
    { "event type", "event: error\ndata: {}\n\n", 1, { "{}" }, { "error" }, false },
    { "type resets",
      "event: x\ndata: 1\n\ndata: 2\n\n",
      2,
      { "1", "2" },
      { "x", "message" },
      false },
    { "empty data dispatches", "data:\n\n", 1, { "" }, { "message" }, false },
    { "no data no event", "event: x\n\n", 0, { NULL }, { NULL }, false },
    { "id and retry ignored", "id: 7\nretry: 10\ndata: q\n\n", 1, { "q" }, { "message" }, false },
    { "field without colon", "data\n\n", 1, { "" }, { "message" }, false },
    { "done", "data: [DONE]\n\n", 1, { "[DONE]" }, { "message" }, false },
    { "truncated event", "data: a\n", 0, { NULL }, { NULL }, true },
    { "truncated line", "data: a", 0, { NULL }, { NULL }, true },
    { "bom",
      "\xEF\xBB\xBF"
      "data: b\n\n",
      1,
      { "b" },
      { "message" },
      false },
    { "blank lines between",
      "\n\n\ndata: a\n\n\n\ndata: b\n\n",
      2,
      { "a", "b" },
      { "message", "message" },
      false },
    { "three events",
      "data: 1\n\ndata: 2\n\ndata: 3\n\n",
      3,
      { "1", "2", "3" },
      { "message", "message", "message" },
      false },
};

static void check(const struct sse_case *c, const struct got *g, struct sse_parser *p)
{
    if (g->n != c->n)
        fail_msg("%s: %d events, want %d", c->name, g->n, c->n);
    for (int i = 0; i < c->n; i++) {
        if (strcmp(g->data[i], c->data[i]) != 0)
            fail_msg("%s: event %d data '%s', want '%s'", c->name, i, g->data[i], c->data[i]);
        if (strcmp(g->type[i], c->type[i]) != 0)
            fail_msg("%s: event %d type '%s'", c->name, i, g->type[i]);
    }
    if (sse_parser_pending(p) != c->pending)
        fail_msg("%s: pending %d", c->name, sse_parser_pending(p));
}

static void test_table(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct sse_case *c = &cases[k];
        size_t len = strlen(c->in);
        /* whole */
        struct got g = { 0 };
        struct sse_parser p;
        sse_parser_init(&p, 0, collect, &g);
        assert_int_equal(sse_parser_feed(&p, c->in, len, 1), 0);
        check(c, &g, &p);
        /* byte by byte */
        sse_parser_reset(&p);
        memset(&g, 0, sizeof(g));
        for (size_t i = 0; i < len; i++)
            assert_int_equal(sse_parser_feed(&p, c->in + i, 1, 100 + i), 0);
        check(c, &g, &p);
        /* every two-piece split */
        for (size_t s = 0; s <= len; s++) {
            sse_parser_reset(&p);
            memset(&g, 0, sizeof(g));
            assert_int_equal(sse_parser_feed(&p, c->in, s, 1), 0);
            assert_int_equal(sse_parser_feed(&p, c->in + s, len - s, 2), 0);
            check(c, &g, &p);
        }
        sse_parser_fini(&p);
    }
}

static void test_timestamps(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct sse_parser p;
    sse_parser_init(&p, 0, collect, &g);
    /* the event's first byte arrived at t=10 although it completes at t=30 */
    assert_int_equal(sse_parser_feed(&p, "da", 2, 10), 0);
    assert_int_equal(sse_parser_feed(&p, "ta: x\n", 6, 20), 0);
    assert_int_equal(sse_parser_feed(&p, "\ndata: y\n\n", 10, 30), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.t[0], 10);
    assert_int_equal(g.t[1], 30);
    /* a comment before the event does not set its time */
    sse_parser_reset(&p);
    memset(&g, 0, sizeof(g));
    sse_parser_feed(&p, ": ping\n", 7, 5);
    sse_parser_feed(&p, "data: z\n\n", 9, 6);
    assert_int_equal(g.t[0], 6);
    sse_parser_fini(&p);
}

static void test_limits(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct sse_parser p;
    sse_parser_init(&p, 16, collect, &g);
    /* a line longer than the bound, arriving in pieces */
    assert_int_equal(sse_parser_feed(&p, "data: 0123456789", 16, 1), 0);
    assert_int_equal(sse_parser_feed(&p, "abcdef", 6, 1), -EMSGSIZE);
    sse_parser_reset(&p);
    /* data accumulated over lines beyond the bound */
    assert_int_equal(sse_parser_feed(&p, "data: 01234567\n", 15, 1), 0);
    assert_int_equal(sse_parser_feed(&p, "data: 01234567\n", 15, 1), -EMSGSIZE);
    sse_parser_fini(&p);
}

static int stop_cb(void *ctx, const struct sse_event *ev)
{
    (void)ctx;
    (void)ev;
    return -EPROTO;
}

static void test_callback_error(void **state)
{
    (void)state;
    struct sse_parser p;
    sse_parser_init(&p, 0, stop_cb, NULL);
    assert_int_equal(sse_parser_feed(&p, "data: 1\n\ndata: 2\n\n", 18, 1), -EPROTO);
    sse_parser_fini(&p);
}

struct chunk_case {
    const char *name, *type, *data;
    int rc;
    bool done, error, content, reasoning, role_only, usage;
    int64_t prompt, completion, cached;
    const char *text;
};

static const struct chunk_case chunk_cases[] = {
    { "done", "message", "[DONE]", 0, true, false, false, false, false, false, -1, -1, -1, "" },
    { "role only", "message", "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}", 0,
      false, false, false, false, true, false, -1, -1, -1, "" },
    { "empty content", "message", "{\"choices\":[{\"delta\":{\"content\":\"\"}}]}", 0, false, false,
      false, false, true, false, -1, -1, -1, "" },
    { "content", "message", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", 0, false, false,
      true, false, false, false, -1, -1, -1, "Hi" },
    { "reasoning_content", "message",
      "{\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}", 0, false, false, false, true,
      false, false, -1, -1, -1, "" },
    { "reasoning", "message", "{\"choices\":[{\"delta\":{\"reasoning\":\"r\",\"content\":null}}]}",
      0, false, false, false, true, false, false, -1, -1, -1, "" },
    { "completions text", "message", "{\"choices\":[{\"text\":\" the\"}]}", 0, false, false, true,
      false, false, false, -1, -1, -1, " the" },
    { "usage chunk", "message",
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,"
      "\"prompt_tokens_details\":{\"cached_tokens\":8}}}",
      0, false, false, false, false, false, true, 12, 5, 8, "" },
    { "continuous usage", "message",
      "{\"choices\":[{\"delta\":{\"content\":\"ab\"}}],\"usage\":{\"prompt_tokens\":3,"
      "\"completion_tokens\":2}}",
      0, false, false, true, false, false, true, 3, 2, -1, "ab" },
    { "error object", "message", "{\"error\":{\"message\":\"overloaded\"}}", 0, false, true, false,
      false, false, false, -1, -1, -1, "" },
    { "error event", "error", "{\"message\":\"boom\"}", 0, false, true, false, false, false, false,
      -1, -1, -1, "" },
    { "error event not json", "error", "boom", 0, false, true, false, false, false, false, -1, -1,
      -1, "" },
    { "malformed", "message", "{not json", -EPROTO, false, false, false, false, false, false, -1,
      -1, -1, "" },
    { "not an object", "message", "[1,2]", -EPROTO, false, false, false, false, false, false, -1,
      -1, -1, "" },
    { "escapes decoded", "message",
      "{\"choices\":[{\"delta\":{\"content\":\"a\\nb\\u00e9\\\"q\\/\"}}]}", 0, false, false, true,
      false, false, false, -1, -1, -1, "a\nb\xc3\xa9\"q/" },
    { "surrogate pair", "message", "{\"choices\":[{\"text\":\"\\ud83d\\ude00\"}]}", 0, false, false,
      true, false, false, false, -1, -1, -1, "\xf0\x9f\x98\x80" },
    { "whitespace around", "message", " \t{ \"choices\" : [ { \"text\" : \"x\" } ] }\r\n", 0, false,
      false, true, false, false, false, -1, -1, -1, "x" },
    { "trailing garbage", "message", "{\"choices\":[]} x", -EPROTO, false, false, false, false,
      false, false, -1, -1, -1, "" },
    { "only the first choice counts", "message",
      "{\"choices\":[{\"delta\":{}},{\"delta\":{\"content\":\"x\"}}]}", 0, false, false, false,
      false, true, false, -1, -1, -1, "" },
    { "non-integral usage ignored", "message",
      "{\"usage\":{\"prompt_tokens\":1e3,\"completion_tokens\":-1,\"x\":[true,false,null]}}", 0,
      false, false, false, false, false, true, -1, -1, -1, "" },
    { "bad escape", "message", "{\"choices\":[{\"text\":\"\\x\"}]}", -EPROTO, false, false, false,
      false, false, false, -1, -1, -1, "" },
    { "control character", "message", "{\"choices\":[{\"text\":\"a\tb\"}]}", -EPROTO, false, false,
      false, false, false, false, -1, -1, -1, "" },
    { "unterminated", "message", "{\"choices\":[{\"text\":\"ab", -EPROTO, false, false, false,
      false, false, false, -1, -1, -1, "" },
    { "bad literal", "message", "{\"a\":nul}", -EPROTO, false, false, false, false, false, false,
      -1, -1, -1, "" },
    { "empty", "message", "", -EPROTO, false, false, false, false, false, false, -1, -1, -1, "" },
    { "null error is no error", "message",
      "{\"error\":null,\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", 0, false, false, true,
      false, false, false, -1, -1, -1, "x" },
};

static void test_chunks(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(chunk_cases) / sizeof(chunk_cases[0]); k++) {
        const struct chunk_case *c = &chunk_cases[k];
        struct oaichunk o;
        struct buf text;
        buf_init(&text, 1024);
        int rc = oaichunk_parse(c->type, c->data, strlen(c->data), &o, &text);
        if (rc != c->rc)
            fail_msg("%s: rc %d", c->name, rc);
        if (o.done != c->done || o.error != c->error || o.content != c->content ||
            o.reasoning != c->reasoning || o.role_only != c->role_only || o.usage != c->usage)
            fail_msg("%s: flags %d%d%d%d%d%d", c->name, o.done, o.error, o.content, o.reasoning,
                     o.role_only, o.usage);
        if (o.prompt_tokens != c->prompt || o.completion_tokens != c->completion ||
            o.cached_tokens != c->cached)
            fail_msg("%s: usage", c->name);
        if (strcmp(buf_str(&text), c->text) != 0)
            fail_msg("%s: text '%s'", c->name, buf_str(&text));
        if (c->rc < 0 && !o.msg[0])
            fail_msg("%s: no message", c->name);
        buf_fini(&text);
    }
    /* nesting beyond the bound is refused, not recursed into */
    char deep[300];
    for (int i = 0; i < 100; i++)
        deep[i] = '[';
    snprintf(deep + 100, sizeof(deep) - 100, "%s", "");
    char obj[320];
    snprintf(obj, sizeof(obj), "{\"a\":%s", deep);
    struct oaichunk dc;
    assert_int_equal(oaichunk_parse("message", obj, strlen(obj), &dc, NULL), -EPROTO);
    /* text beyond the history bound */
    struct oaichunk o;
    struct buf small;
    buf_init(&small, 1);
    const char *d = "{\"choices\":[{\"delta\":{\"content\":\"long\"}}]}";
    assert_int_equal(oaichunk_parse("message", d, strlen(d), &o, &small), -EMSGSIZE);
    buf_fini(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),  cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_callback_error),
        cmocka_unit_test(test_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
