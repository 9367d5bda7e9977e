/* SPDX-License-Identifier: Apache-2.0 */
/* The one plan reader (common/planrow.c): one line read under each user's options, the fields
 * it yields, and the errors that differ only by what a user needs (a body for kvtier load;
 * hash ids, lengths and a header for the twin), each naming the line and the field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/planrow.h"

static const char *plan =
    "{\"kind\":\"kvtier.plan\",\"endpoint\":\"chat\",\"phases\":[{\"name\":\"warmup\","
    "\"arrival\":\"closed\",\"concurrency\":2},{\"name\":\"replay\",\"arrival\":\"poisson\","
    "\"rate_per_s\":4,\"max_concurrency\":3}]}\n"
    "\n"
    "{\"id\":\"w0\",\"phase\":\"warmup\",\"session_id\":\"u1\",\"turn\":0,\"hash_ids\":[11,12],"
    "\"input_tokens\":64,\"output_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}"
    "\n"
    "{\"id\":7,\"phase\":\"replay\",\"session_id\":\"u1\",\"turn\":1,\"think_time_ns\":1000,"
    "\"t_offset_ns\":5,\"hash_ids\":[11,12,13],\"input_tokens\":96,\"output_tokens\":2,"
    "\"prompt\":\"c\"}\n";

struct seen {
    unsigned n;
    struct planrow rows[2];
    uint64_t hash_sum;
};

static int take(void *arg, struct planrow *row, unsigned line, struct diag *d)
{
    (void)d;
    struct seen *s = arg;
    assert_true(line == 3 || line == 4);
    for (uint32_t i = 0; i < row->n_hash_ids; i++)
        s->hash_sum += row->hash_ids[i];
    s->rows[s->n] = *row;
    s->rows[s->n].hash_ids = NULL;
    s->n++;
    return 0;
}

static void test_both_users(void **state)
{
    (void)state;
    const struct planrow_opts opts[] = { { .need_body = true },
                                         { .need_replay = true, .need_header = true } };
    for (size_t k = 0; k < 2; k++) {
        struct planrow_reader rd;
        struct seen s = { 0 };
        struct diag d = { 0 };
        planrow_reader_init(&rd, &opts[k]);
        assert_int_equal(planrow_read(&rd, plan, strlen(plan), "p", take, &s, &d), 0);
        assert_int_equal(s.n, 2);
        assert_int_equal(rd.n_phases, 2);
        assert_int_equal(rd.endpoint, PLANROW_ENDPOINT_CHAT);
        assert_string_equal(rd.phases[0].arrival, "closed");
        assert_int_equal(rd.phases[0].concurrency, 2);
        assert_int_equal(rd.phases[1].max_concurrency, 3);
        assert_string_equal(s.rows[0].id, "w0");
        assert_string_equal(s.rows[1].id, "7");
        assert_int_equal(s.rows[1].phase, 1);
        assert_int_equal(s.rows[1].turn, 1);
        assert_int_equal(s.rows[1].think_time_ns, 1000);
        assert_int_equal(s.rows[1].t_offset_ns, 5);
        assert_int_equal(s.rows[0].t_offset_ns, -1);
        assert_int_equal(s.rows[1].input_tokens, 96);
        assert_int_equal(s.rows[1].n_hash_ids, 3);
        assert_int_equal(s.hash_sum, 11 + 12 + 11 + 12 + 13);
        planrow_reader_fini(&rd);
    }
}

struct bad {
    const char *text;
    int need; /* 0: load (body), 1: twin (replay and header) */
    unsigned line;
    const char *needle;
};

static const struct bad bad[] = {
    { "{\"id\":\"a\",\"hash_ids\":[1],\"input_tokens\":5,\"output_tokens\":1}\n", 0, 1,
      "no request content" },
    { "{\"kind\":\"kvtier.plan\",\"phases\":[{\"name\":\"main\"}]}\n{\"id\":\"a\","
      "\"prompt\":\"x\",\"input_tokens\":5,\"output_tokens\":1}\n",
      1, 2, "field \"hash_ids\": missing" },
    { "{\"kind\":\"kvtier.plan\",\"phases\":[{\"name\":\"main\"}]}\n{\"id\":\"a\","
      "\"hash_ids\":[],\"input_tokens\":5}\n",
      1, 2, "field \"output_tokens\"" },
    { "{\"id\":\"a\",\"hash_ids\":[1],\"input_tokens\":5,\"output_tokens\":1}\n", 1, 1,
      "before the kvtier.plan header" },
    { "{\"kind\":\"kvtier.plan\"}\n", 1, 1, "field \"phases\"" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"hash_ids\":[1,-1]}\n", 0, 1, "field \"hash_ids[1]\"" },
    { "{\"id\":\"a\",\"prompt\":\"x\",\"hash_ids\":{}}\n", 0, 1, "field \"hash_ids\"" },
    { "{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"a\",\"prompt\":\"x\"}\n", 0, 2,
      "repeats the id of line 1" },
};

static int keep(void *arg, struct planrow *row, unsigned line, struct diag *d)
{
    (void)arg;
    (void)row;
    (void)line;
    (void)d;
    return 0;
}

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct planrow_opts o = { .need_body = !bad[i].need,
                                  .need_replay = bad[i].need,
                                  .need_header = bad[i].need };
        struct planrow_reader rd;
        struct diag d = { 0 };
        planrow_reader_init(&rd, &o);
        int rc = planrow_read(&rd, bad[i].text, strlen(bad[i].text), "plan.jsonl", keep, NULL, &d);
        planrow_reader_fini(&rd);
        if (rc >= 0)
            fail_msg("case %zu accepted", i);
        if (d.line != bad[i].line || !strstr(d.msg, bad[i].needle))
            fail_msg("case %zu: line %u '%s', want line %u '%s'", i, d.line, d.msg, bad[i].line,
                     bad[i].needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_users),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
