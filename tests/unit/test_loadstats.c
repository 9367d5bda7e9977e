/* SPDX-License-Identifier: Apache-2.0 */
/* Per-phase metrics from records: TTFT from intended vs from send, token-weighted ITL, TPOT,
 * goodput under an SLO with errors counting against it, "all" excluding warm-up, and the
 * records.jsonl keys of ARCHITECTURE.md §6. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "loadgen/loadrec.h"
#include "loadgen/loadstats.h"

#define MS 1000000ull

static struct loadrec rec(uint64_t intended, uint64_t sent, uint64_t first, uint64_t last,
                          int64_t tokens, enum loadrec_error e)
{
    return (struct loadrec){ .id = "x",
                             .phase = "p",
                             .t_intended_ns = intended,
                             .t_sent_ns = sent,
                             .t_first_byte_ns = first ? first - 1 : 0,
                             .t_first_token_ns = first,
                             .t_first_content_ns = first,
                             .t_last_token_ns = last,
                             .t_end_ns = last ? last + 1 : sent + 1,
                             .completion_tokens = tokens,
                             .prompt_tokens = 10,
                             .cached_tokens = 4,
                             .plan_input_tokens = 10,
                             .plan_output_tokens = 5,
                             .error = e,
                             .retry_after_s = -1 };
}

static void near(double a, double b)
{
    if (fabs(a - b) > 1e-9 * (fabs(b) + 1))
        fail_msg("%.12g != %.12g", a, b);
}

static void test_metrics(void **state)
{
    (void)state;
    struct loadgen_slo slo = { .ttft_ms = 50 };
    struct loadstats *s = loadstats_new(&slo);
    int w = loadstats_phase_begin(s, "warmup", false, 0);
    int p = loadstats_phase_begin(s, "replay", true, 1000 * MS);
    /* intended 1000 ms, sent 1010 ms (client lag 10), first token 1030, last 1070, 5 tokens */
    struct loadrec a = rec(1000 * MS, 1010 * MS, 1030 * MS, 1070 * MS, 5, LOADREC_OK);
    uint64_t gaps[] = { 10 * MS, 20 * MS, 10 * MS };
    uint32_t toks[] = { 1, 2, 1 };
    a.gaps_ns = gaps;
    a.gap_tokens = toks;
    a.n_gaps = 3;
    near(loadrec_ttft_ms(&a), 30);
    near(loadrec_ttft_sent_ms(&a), 20);
    near(loadrec_lag_ms(&a), 10);
    near(loadrec_tpot_ms(&a), 10);
    near(loadrec_e2e_ms(&a), 70);
    loadstats_add(s, p, &a);
    /* a late one: TTFT 100 ms from intended, fails the SLO */
    struct loadrec b = rec(1100 * MS, 1101 * MS, 1200 * MS, 1200 * MS, 1, LOADREC_OK);
    loadstats_add(s, p, &b);
    /* an error: counts, no latency, not good */
    struct loadrec c = rec(1200 * MS, 1200 * MS, 0, 0, -1, LOADREC_HTTP_5XX);
    c.http_status = 503;
    loadstats_add(s, p, &c);
    struct loadrec wr = rec(10 * MS, 10 * MS, 11 * MS, 12 * MS, 2, LOADREC_OK);
    loadstats_add(s, w, &wr);
    loadstats_phase_end(s, p, 2000 * MS, 0);
    json_t *all = loadstats_phases_json(s);
    json_t *ph = json_object_get(all, "replay");
    assert_int_equal(jsonx_i64(ph, "requests", -1), 3);
    assert_int_equal(jsonx_i64(ph, "errors", -1), 1);
    near(jsonx_num(ph, "error_rate", 0), 1.0 / 3);
    /* duration: first intended (1000 ms) to the last end (1200 ms + 1 ns) */
    double dur = 0.200000001;
    near(jsonx_num(ph, "duration_s", 0), dur);
    near(jsonx_num(ph, "throughput_rps", 0), 2 / dur);
    near(jsonx_num(ph, "goodput_rps", 0), 1 / dur);
    near(jsonx_num(ph, "output_tps", 0), 6 / dur);
    json_t *ttft = json_object_get(ph, "ttft_ms");
    assert_int_equal(jsonx_i64(ttft, "n", 0), 2);
    near(jsonx_num(ttft, "min", 0), 30);
    near(jsonx_num(ttft, "max", 0), 100);
    near(jsonx_num(json_object_get(ph, "ttft_sent_ms"), "max", 0), 99);
    /* ITL token-weighted: 10, 10, 10, 10 (the 20 ms chunk carried two tokens) */
    json_t *itl = json_object_get(ph, "itl_ms");
    assert_int_equal(jsonx_i64(itl, "n", 0), 4);
    near(jsonx_num(itl, "mean", 0), 10);
    near(jsonx_num(json_object_get(ph, "client_lag_ms"), "max", 0), 10);
    assert_int_equal(jsonx_i64(json_object_get(ph, "errors_by_class"), "http_5xx", 0), 1);
    /* every stats object has the exact keys */
    static const char *const keys[] = { "n",   "mean", "stddev", "min",  "p50",
                                        "p90", "p95",  "p99",    "p999", "max" };
    static const char *const dists[] = { "ttft_ms", "ttft_sent_ms", "ttfc_ms",      "itl_ms",
                                         "tpot_ms", "e2e_ms",       "client_lag_ms" };
    for (size_t i = 0; i < 7; i++)
        for (size_t k = 0; k < 10; k++)
            assert_non_null(json_object_get(json_object_get(ph, dists[i]), keys[k]));
    /* "all" has the measured phase only */
    assert_int_equal(jsonx_i64(json_object_get(all, "all"), "requests", -1), 3);
    assert_int_equal(jsonx_i64(json_object_get(all, "warmup"), "requests", -1), 1);
    json_decref(all);
    loadstats_free(s);
}

static void test_record_keys(void **state)
{
    (void)state;
    struct loadrec r = rec(1, 2, 3, 4, 1, LOADREC_TIMEOUT);
    r.t_first_content_ns = 0;
    r.session_id = NULL;
    json_t *j = loadrec_json(&r);
    static const char *const keys[] = { "id",
                                        "phase",
                                        "session_id",
                                        "turn",
                                        "t_intended_ns",
                                        "t_sent_ns",
                                        "t_first_byte_ns",
                                        "t_first_token_ns",
                                        "t_first_content_ns",
                                        "t_last_token_ns",
                                        "t_end_ns",
                                        "prompt_tokens",
                                        "completion_tokens",
                                        "cached_tokens",
                                        "plan_input_tokens",
                                        "http_status",
                                        "error" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!json_object_get(j, keys[i]))
            fail_msg("missing %s", keys[i]);
    assert_true(json_is_null(json_object_get(j, "t_first_content_ns")));
    assert_true(json_is_null(json_object_get(j, "session_id")));
    assert_string_equal(json_string_value(json_object_get(j, "error")), "timeout");
    json_decref(j);
    r.error = LOADREC_OK;
    j = loadrec_json(&r);
    assert_true(json_is_null(json_object_get(j, "error")));
    json_decref(j);
    j = loadrec_profile_json(&r, 3);
    assert_non_null(jsonx_path(j, "metadata.x_request_id"));
    assert_non_null(jsonx_path(j, "metrics.time_to_first_token.value"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_record_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
