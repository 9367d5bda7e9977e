/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text parser (common/prom.c) and phase deltas (observe/promdelta.c): types, label
 * escapes, timestamps, OpenMetrics, histograms, summaries, counter resets, summing workers, and
 * error paths. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"
#include "observe/promdelta.h"

static void load(const char *name, struct prom_page *p)
{
    const char *fx = getenv("KVTIER_FIXTURES");
    assert_non_null(fx);
    char *path = xalloc_printf("%s/observe/prom/%s", fx, name);
    struct buf b;
    buf_init(&b, PROM_PAGE_MAX_BYTES);
    assert_int_equal(fileio_read_all(path, PROM_PAGE_MAX_BYTES, &b), 0);
    struct diag d = { 0 };
    int r = prom_parse(buf_str(&b), b.len, p, &d);
    if (r < 0)
        fail_msg("%s: line %u: %s", name, d.line, d.msg);
    buf_fini(&b);
    free(path);
}

static void test_frontend_page(void **state)
{
    (void)state;
    struct prom_page p;
    load("frontend.txt", &p);
    const struct prom_sample *s = prom_find(
        &p, "dynamo_frontend_requests_total{endpoint=\"chat_completions\",model=\"llama\","
            "request_type=\"stream\",status=\"success\"}");
    assert_non_null(s);
    assert_true(s->value == 10);
    assert_true(s->has_ts);
    assert_int_equal(s->type, PROM_COUNTER);
    /* Labels are sorted and re-escaped canonically. */
    s = prom_find(&p, "dynamo_frontend_requests_total{endpoint=\"chat_completions\",error_type="
                      "\"a \\\"quoted\\\\path\\\"\\nline\",model=\"llama\",request_type=\"stream\","
                      "status=\"error\"}");
    assert_non_null(s);
    s = prom_find(&p, "dynamo_frontend_time_to_first_token_seconds_bucket{le=\"+Inf\","
                      "model=\"llama\"}");
    assert_non_null(s);
    assert_int_equal(s->type, PROM_HISTOGRAM);
    assert_int_equal(s->role, PROM_ROLE_BUCKET);
    assert_string_equal(s->le, "+Inf");
    assert_string_equal(s->labels_nole, "model=\"llama\"");
    assert_string_equal(s->family, "dynamo_frontend_time_to_first_token_seconds");
    s = prom_find(&p, "rpc_duration_seconds{quantile=\"0.99\"}");
    assert_non_null(s);
    assert_true(isnan(s->value));
    assert_int_equal(s->role, PROM_ROLE_QUANTILE);
    s = prom_find(&p, "untyped_metric_total");
    assert_int_equal(s->type, PROM_COUNTER);
    s = prom_find(&p, "some_untyped");
    assert_true(isinf(s->value) && s->value < 0);
    assert_int_equal(s->type, PROM_UNTYPED);
    prom_page_fini(&p);
}

static void test_openmetrics(void **state)
{
    (void)state;
    struct prom_page p;
    load("openmetrics.txt", &p);
    const struct prom_sample *s = prom_find(&p, "kvbm_offload_blocks_d2h_total");
    assert_non_null(s);
    assert_true(s->value == 42);
    assert_int_equal(s->type, PROM_COUNTER);
    s = prom_find(&p, "kvbm_offload_blocks_d2h_created");
    assert_int_equal(s->role, PROM_ROLE_CREATED);
    assert_non_null(prom_find(&p, "build_info{version=\"1.0\"}"));
    assert_int_equal(p.n, 3); /* nothing after # EOF */
    prom_page_fini(&p);
}

static void test_delta_reset_and_sum(void **state)
{
    (void)state;
    struct prom_page a, b, c;
    load("kvbm_start.txt", &a);
    load("kvbm_end.txt", &b);
    load("kvbm_start.txt", &c);
    /* Two workers: worker 0 goes start -> end (onboard reset 40 -> 15), worker 1 unchanged. */
    const struct prom_page *st[2] = { &a, &c }, *en[2] = { &b, &c };
    json_t *d = promdelta_json(st, en, 2);
    json_t *ctr = json_object_get(d, "counters");
    json_t *off = json_object_get(ctr, "kvbm_offload_blocks_h2d");
    assert_true(json_number_value(json_object_get(off, "delta")) == 60);
    assert_true(json_number_value(json_object_get(off, "start")) == 200);
    json_t *on = json_object_get(ctr, "kvbm_onboard_blocks_d2d");
    assert_true(json_number_value(json_object_get(on, "delta")) == 15);
    assert_true(json_is_true(json_object_get(on, "reset")));
    json_t *g = json_object_get(json_object_get(d, "gauges"), "kvbm_disk_cache_hit_rate");
    assert_true(json_number_value(json_object_get(g, "end")) == 0.75);
    assert_int_equal(json_array_size(json_object_get(g, "end_per_endpoint")), 2);
    /* Missing endpoint is counted, not fatal. */
    const struct prom_page *st2[2] = { &a, NULL }, *en2[2] = { &b, &c };
    json_t *d2 = promdelta_json(st2, en2, 2);
    assert_int_equal(json_integer_value(json_object_get(d2, "endpoints_missing")), 1);
    json_decref(d2);
    json_t *sum = promdelta_sum_json(st, 2);
    assert_true(json_number_value(json_object_get(json_object_get(sum, "series"),
                                                  "kvbm_matched_tokens")) == 25600);
    json_decref(sum);
    json_decref(d);
    prom_page_fini(&a);
    prom_page_fini(&b);
    prom_page_fini(&c);
}

static void test_histogram_delta(void **state)
{
    (void)state;
    const char *t0 = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                     "h_sum 3\nh_count 2\n";
    const char *t1 = "# TYPE h histogram\nh_bucket{le=\"1\"} 4\nh_bucket{le=\"+Inf\"} 7\n"
                     "h_sum 10.5\nh_count 7\n";
    struct prom_page a, b;
    assert_int_equal(prom_parse(t0, strlen(t0), &a, NULL), 0);
    assert_int_equal(prom_parse(t1, strlen(t1), &b, NULL), 0);
    const struct prom_page *st[1] = { &a }, *en[1] = { &b };
    json_t *d = promdelta_json(st, en, 1);
    json_t *h = json_object_get(json_object_get(d, "histograms"), "h");
    assert_non_null(h);
    assert_true(json_number_value(json_object_get(json_object_get(h, "buckets"), "1")) == 3);
    assert_true(json_number_value(json_object_get(json_object_get(h, "buckets"), "+Inf")) == 5);
    assert_true(json_number_value(json_object_get(h, "sum")) == 7.5);
    assert_true(json_number_value(json_object_get(h, "count")) == 5);
    assert_true(json_is_false(json_object_get(h, "reset")));
    json_decref(d);
    prom_page_fini(&a);
    prom_page_fini(&b);
}

struct bad {
    const char *text;
    int rc;
    unsigned line;
};

static void test_errors(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        { "m{a=\"x\"", -EINVAL, 1 },
        { "m{a=x} 1", -EINVAL, 1 },
        { "m 1\nm 2\n", -EINVAL, 0 },
        { "m{a=\"1\",a=\"2\"} 1", -EINVAL, 1 },
        { "m abc", -EINVAL, 1 },
        { "m 1 2 3", -EINVAL, 1 },
        { "# TYPE m sprocket\n", -EINVAL, 1 },
        { "# TYPE m counter\n# TYPE m gauge\n", -EINVAL, 2 },
        { "ok 1\n9bad 1\n", -EINVAL, 2 },
        { "m{a=\"\\q\"} 1", -EINVAL, 1 },
        { "m{} 1\n", 0, 0 },
        { "m 0x10", -EINVAL, 1 },
        { "m Inf", 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct prom_page p;
        struct diag d = { 0 };
        int r = prom_parse(cases[i].text, strlen(cases[i].text), &p, &d);
        if (r != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d (%s)", i, cases[i].text, r, cases[i].rc, d.msg);
        if (r < 0) {
            assert_int_equal(d.line, cases[i].line);
            assert_true(d.msg[0] != 0);
        } else {
            prom_page_fini(&p);
        }
    }
}

static void test_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "m{a=\"");
    for (int i = 0; i < PROM_LABELS_MAX_BYTES + 10; i++)
        buf_append_str(&b, "x");
    buf_append_str(&b, "\"} 1\n");
    struct prom_page p;
    struct diag d = { 0 };
    assert_int_equal(prom_parse(buf_str(&b), b.len, &p, &d), -EMSGSIZE);
    buf_reset(&b);
    for (int i = 0; i < PROM_NAME_MAX_BYTES + 5; i++)
        buf_append_str(&b, "n");
    buf_append_str(&b, " 1\n");
    assert_int_equal(prom_parse(buf_str(&b), b.len, &p, &d), -EMSGSIZE);
    assert_int_equal(prom_parse("x", PROM_PAGE_MAX_BYTES + 1, &p, &d), -EMSGSIZE);
    buf_fini(&b);
}

/* The lenient mode the stack launcher and doctor use (formerly stack/promscan.c): bad lines
 * skipped and counted, sums over every label set of one metric name, prefix presence. */
static void test_lenient(void **state)
{
    (void)state;
    const char page[] = "# HELP kvbm_matched_tokens x\n# TYPE kvbm_matched_tokens counter\n"
                        "kvbm_matched_tokens 1234\n"
                        "kvbm_matched_tokens_other 5\n"
                        "dynamo_frontend_requests_total{model=\"a b\",status=\"success\"} 3\n"
                        "dynamo_frontend_requests_total{model=\"x}\\\"\",status=\"error\"} 2\n"
                        "bad_line_without_value\n"
                        "kvtier_engine_g3_capacity_blocks 4096 1700000000000\n";
    struct prom_page p;
    struct diag d = { 0 };
    assert_int_equal(prom_parse(page, sizeof(page) - 1, &p, &d), -EINVAL);
    assert_int_equal(d.line, 7);
    assert_int_equal(prom_parse_lenient(page, sizeof(page) - 1, &p, &d), 1);
    assert_int_equal(d.line, 7);
    double v = 0;
    assert_int_equal(prom_sum(&p, "kvbm_matched_tokens", &v), 1);
    assert_true(v == 1234);
    assert_int_equal(prom_sum(&p, "dynamo_frontend_requests_total", &v), 2);
    assert_true(v == 5);
    assert_int_equal(prom_sum(&p, "kvtier_engine_g3_capacity_blocks", &v), 1);
    assert_true(v == 4096);
    assert_int_equal(prom_sum(&p, "absent", &v), 0);
    assert_int_equal(prom_sum(&p, "bad_line_without_value", &v), 0);
    assert_int_equal(prom_sum(&p, "", &v), 0);
    assert_true(prom_has_prefix(&p, "kvbm_"));
    assert_false(prom_has_prefix(&p, "trtllm_"));
    prom_page_fini(&p);
    /* a page over the limit fails as a whole in both modes */
    assert_int_equal(prom_parse_lenient("x", PROM_PAGE_MAX_BYTES + 1, &p, NULL), -EMSGSIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frontend_page),   cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_openmetrics),     cmocka_unit_test(test_delta_reset_and_sum),
        cmocka_unit_test(test_histogram_delta), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
