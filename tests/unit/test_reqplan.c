/* SPDX-License-Identifier: Apache-2.0 */
/* Plans: header and requests, sessions, tolerant parsing, bad lines named by line and field;
 * Mooncake traces (equal hash ids give equal text); synthetic plans; request bodies with only
 * standard OpenAI fields unless extras are configured. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "loadgen/reqplan.h"

static const char *good =
    "{\"kind\":\"kvtier.plan\",\"schema_version\":1,\"endpoint\":\"chat\",\"future_key\":1,"
    "\"phases\":[{\"name\":\"warmup\",\"arrival\":\"closed\",\"concurrency\":2},"
    "{\"name\":\"replay\",\"arrival\":\"poisson\",\"rate_per_s\":5.5,\"max_concurrency\":8,"
    "\"duration_ns\":1000000000}]}\n"
    "{\"id\":\"w0\",\"phase\":\"warmup\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"output_tokens\":4}\n"
    "\n"
    "{\"id\":\"s1-0\",\"phase\":\"replay\",\"session_id\":\"s1\",\"turn\":0,\"t_offset_ns\":0,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"unknown\":[1,2]}\n"
    "{\"id\":\"s2-0\",\"phase\":\"replay\",\"session_id\":\"s2\",\"turn\":0,\"t_offset_ns\":5,"
    "\"prompt\":\"b\"}\n"
    "{\"id\":\"s1-1\",\"phase\":\"replay\",\"session_id\":\"s1\",\"turn\":1,\"t_offset_ns\":null,"
    "\"think_time_ns\":2000,\"carry_history\":true,\"messages\":[{\"role\":\"user\","
    "\"content\":\"c\"}],\"input_tokens\":10,\"output_tokens\":3}\n";

static void test_good_plan(void **state)
{
    (void)state;
    struct reqplan *p = NULL;
    struct diag d = { 0 };
    assert_int_equal(reqplan_parse(good, strlen(good), "good.jsonl", &p, &d), 0);
    assert_int_equal(p->n_phases, 2);
    assert_int_equal(p->n_reqs, 4);
    assert_int_equal(p->endpoint, LOADGEN_ENDPOINT_CHAT);
    assert_string_equal(p->phases[1].name, "replay");
    assert_int_equal(p->phases[1].arrival, LOADGEN_ARRIVAL_POISSON);
    assert_true(p->phases[1].rate_per_s == 5.5);
    assert_int_equal(p->phases[1].max_concurrency, 8);
    assert_int_equal(p->phases[0].concurrency, 2);
    assert_int_equal(p->phases[1].n_reqs, 3);
    /* session chain s1: index 1 -> 3 */
    assert_int_equal(p->reqs[1].next_turn, 3);
    assert_int_equal(p->reqs[3].prev_turn, 1);
    assert_int_equal(p->reqs[2].next_turn, -1);
    assert_true(p->reqs[3].carry_history);
    assert_int_equal(p->reqs[3].think_time_ns, 2000);
    assert_int_equal(p->reqs[3].t_offset_ns, -1);
    assert_int_equal(p->reqs[2].t_offset_ns, 5);
    assert_int_equal(reqplan_phase_index(p, "warmup"), 0);
    assert_int_equal(reqplan_phase_index(p, "nope"), -1);
    reqplan_free(p);
}

struct bad_case {
    const char *text;
    unsigned line;
    const char *needle; /* must appear in the message */
};

static const struct bad_case bad[] = {
    { "{\"id\":\"a\",\"prompt\":\"x\"}\n{nope\n", 2, "not JSON" },
    { "{\"prompt\":\"x\"}\n", 1, "\"id\"" },
    { "{\"id\":\"a\"}\n", 1, "no request content" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"turn\":-1}\n", 1, "\"turn\"" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"t_offset_ns\":\"soon\"}\n", 1, "\"t_offset_ns\"" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"output_tokens\":1.5}\n", 1, "\"output_tokens\"" },
    { "{\"id\":\"a\",\"messages\":[{\"content\":\"x\"}]}\n", 1, "messages[0]" },
    { "{\"id\":\"a\",\"messages\":[]}\n", 1, "\"messages\"" },
    { "{\"id\":\"a\",\"prompt_token_ids\":[1,\"2\"]}\n", 1, "prompt_token_ids[1]" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"carry_history\":\"yes\"}\n", 1, "carry_history" },
    { "{\"id\":\"a\\nb\",\"prompt\":\"x\"}\n", 1, "control character" },
    { "{\"kind\":\"kvtier.plan\",\"phases\":[{\"name\":\"p\"}]}\n"
      "{\"id\":\"a\",\"phase\":\"q\",\"prompt\":\"x\"}\n",
      2, "not a phase of the header" },
    { "{\"kind\":\"kvtier.plan\",\"phases\":[{\"name\":\"p\",\"arrival\":\"weird\"}]}\n", 1,
      "phases[0].arrival" },
    { "{\"kind\":\"kvtier.plan\",\"endpoint\":\"embed\"}\n", 1, "endpoint" },
    { "[1]\n", 1, "object" },
    { "{\"id\":\"a\",\"prompt\":\"x\"}\n\n{\"id\":\"b\",\"prompt\":\"x\"}\n"
      "{\"id\":\"a\",\"prompt\":\"y\"}\n",
      4, "repeats the id of line 1" },
    { "", 0, "no requests" },
};

static void test_bad_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct reqplan *p = NULL;
        struct diag d = { 0 };
        int rc = reqplan_parse(bad[i].text, strlen(bad[i].text), "plan.jsonl", &p, &d);
        if (rc >= 0)
            fail_msg("case %zu accepted", i);
        if (d.line != bad[i].line)
            fail_msg("case %zu: line %u, want %u (%s)", i, d.line, bad[i].line, d.msg);
        if (!strstr(d.msg, bad[i].needle))
            fail_msg("case %zu: message '%s' lacks '%s'", i, d.msg, bad[i].needle);
        char out[600];
        diag_format(&d, out, sizeof(out));
        if (bad[i].line && !strstr(out, "plan.jsonl:"))
            fail_msg("case %zu: '%s' does not name the file", i, out);
        assert_null(p);
    }
}

static const char *trace = "{\"timestamp\":0,\"input_length\":10,\"output_length\":2,"
                           "\"hash_ids\":[1,2,3]}\n"
                           "{\"timestamp\":1500,\"input_length\":9,\"output_length\":3,"
                           "\"hash_ids\":[1,2,4]}\n"
                           "{\"timestamp\":2000.5,\"input_length\":4,\"output_length\":1,"
                           "\"hash_ids\":[9]}\n";

static void test_trace(void **state)
{
    (void)state;
    struct reqplan *p = NULL;
    struct diag d = { 0 };
    struct reqplan_trace_opts o = { .tokens_per_hash_id = 4, .speedup = 2 };
    assert_int_equal(reqplan_parse_trace(trace, strlen(trace), "t", &o, &p, &d), 0);
    assert_int_equal(p->n_reqs, 3);
    assert_int_equal(p->reqs[1].t_offset_ns, 750000000);
    assert_int_equal(p->reqs[2].t_offset_ns, 1000250000);
    json_t *a = reqplan_prompt_json(&p->reqs[0], false, false);
    json_t *b = reqplan_prompt_json(&p->reqs[1], false, false);
    const char *sa = json_string_value(a), *sb = json_string_value(b);
    /* blocks 1 and 2 are shared: the first 8 words are equal, the rest differ */
    int words = 0;
    size_t i = 0;
    while (sa[i] && sa[i] == sb[i]) {
        if (sa[i] == ' ')
            words++;
        i++;
    }
    assert_true(words >= 7);
    int total = 1;
    for (const char *s = sa; *s; s++)
        total += *s == ' ';
    assert_int_equal(total, 10); /* input_length words */
    json_decref(a);
    json_decref(b);
    /* token ids: exact length, equal blocks equal ids */
    json_t *ia = reqplan_prompt_json(&p->reqs[0], false, true);
    json_t *ib = reqplan_prompt_json(&p->reqs[1], false, true);
    assert_int_equal(json_array_size(ia), 10);
    assert_int_equal(json_array_size(ib), 9);
    for (size_t k = 0; k < 8; k++)
        assert_true(json_equal(json_array_get(ia, k), json_array_get(ib, k)));
    json_decref(ia);
    json_decref(ib);
    reqplan_free(p);
    /* a row whose blocks cannot hold its length */
    const char *bad1 =
        "{\"timestamp\":0,\"input_length\":4,\"output_length\":1,\"hash_ids\":[1,2]}\n";
    assert_int_equal(reqplan_parse_trace(bad1, strlen(bad1), "t", &o, &p, &d), -EINVAL);
    assert_int_equal(d.line, 1);
    assert_non_null(strstr(d.msg, "do not match"));
    const char *bad2 = "{\"timestamp\":-1,\"input_length\":4,\"hash_ids\":[1]}\n";
    assert_int_equal(reqplan_parse_trace(bad2, strlen(bad2), "t", &o, &p, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "timestamp"));
}

static void test_body(void **state)
{
    (void)state;
    struct reqplan *p = NULL;
    struct diag d = { 0 };
    assert_int_equal(reqplan_parse(good, strlen(good), "good.jsonl", &p, &d), 0);
    struct reqplan_body_opts o = {
        .model = "m", .chat = true, .exact_output = true, .include_usage = true
    };
    struct buf b;
    buf_init(&b, 0);
    json_t *hist = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "user", "content", "a", "role",
                             "assistant", "content", "reply");
    assert_int_equal(reqplan_body(&p->reqs[3], &o, hist, &b), 0);
    json_t *j = json_loads(buf_str(&b), 0, NULL);
    assert_non_null(j);
    static const char *const allowed[] = { "model",          "messages",   "max_tokens", "stream",
                                           "stream_options", "min_tokens", "ignore_eos", NULL };
    const char *k;
    json_t *v;
    json_object_foreach (j, k, v) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok)
            fail_msg("non-standard field %s", k);
    }
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "min_tokens")), 3);
    assert_true(json_is_true(json_object_get(j, "stream")));
    json_decref(j);
    /* extras only when configured; completions with text */
    json_t *extra = json_pack("{s:s}", "session_id", "s1");
    o.extra_body = extra;
    o.chat = false;
    o.exact_output = false;
    buf_reset(&b);
    assert_int_equal(reqplan_body(&p->reqs[2], &o, NULL, &b), 0);
    j = json_loads(buf_str(&b), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "session_id")), "s1");
    assert_string_equal(json_string_value(json_object_get(j, "prompt")), "b");
    assert_null(json_object_get(j, "min_tokens"));
    json_decref(j);
    json_decref(extra);
    json_decref(hist);
    buf_fini(&b);
    reqplan_free(p);
}

static void test_synthetic(void **state)
{
    (void)state;
    struct reqplan *p = NULL;
    struct reqplan_synth_opts o = { .requests = 5, .warmup = 2, .isl = 7, .osl = 3, .seed = 1 };
    assert_int_equal(reqplan_synthetic(&o, &p), 0);
    assert_int_equal(p->n_phases, 2);
    assert_string_equal(p->phases[0].name, "warmup");
    assert_int_equal(p->phases[1].n_reqs, 5);
    json_t *a = reqplan_prompt_json(&p->reqs[2], true, false);
    json_t *b = reqplan_prompt_json(&p->reqs[3], true, false);
    assert_false(json_equal(a, b)); /* unique prompts */
    json_decref(a);
    json_decref(b);
    reqplan_free(p);
    o.requests = 0;
    assert_int_equal(reqplan_synthetic(&o, &p), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plan), cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_trace),     cmocka_unit_test(test_body),
        cmocka_unit_test(test_synthetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
