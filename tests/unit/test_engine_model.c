/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's cost model against the calibration targets of twin.md (Llama-3.1-8B FP8 on a
 * DGX Spark: prefill 8-10k tokens/s, decode near 20-40 tokens/s at batch 1; GPT-OSS-120B decode
 * growing far less with batch than a dense model), the metrics text (names, types, histogram
 * buckets) and the request-body validation table (every error path with its status and param). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/profile.h"
#include "engine/cost.h"
#include "engine/metrics.h"
#include "engine/reqparse.h"

static void load(const char *model, const char *hw, struct model_profile *m, struct hw_profile *h)
{
    struct diag d = { 0 };
    const char *dir = getenv("KVTIER_PROFILES");
    assert_non_null(dir);
    assert_int_equal(profile_load_model(dir, model, m, &d), 0);
    assert_int_equal(profile_load_hw(dir, hw, h, &d), 0);
}

static void test_cost_spark_8b(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h;
    struct cost_model cm;
    load("llama8b_fp8", "dgx_spark_gb10", &m, &h);
    assert_int_equal(cost_model_init(&cm, &m, &h), 0);
    struct cost_step s = { 0 };
    cost_step_add_prefill(&cm, &s, 0, 2048);
    double pf = 2048.0 / ((double)cost_step_ns(&cm, &s) / 1e9);
    s = (struct cost_step){ 0 };
    cost_step_add_decode(&cm, &s, 2048);
    double dec = 1.0 / ((double)cost_step_ns(&cm, &s) / 1e9);
    print_message("# llama8b_fp8 on Spark: prefill %.0f tok/s, decode %.1f tok/s\n", pf, dec);
    assert_true(pf > 7000 && pf < 11000);
    assert_true(dec > 18 && dec < 42);
    /* batch 32 aggregates much more than batch 1 (memory-bound decode) */
    s = (struct cost_step){ 0 };
    for (int i = 0; i < 32; i++)
        cost_step_add_decode(&cm, &s, 2048);
    double agg = 32.0 / ((double)cost_step_ns(&cm, &s) / 1e9);
    assert_true(agg > 8 * dec);
    /* cached prefix: attention over it costs more than none */
    struct cost_step a = { 0 }, b = { 0 };
    cost_step_add_prefill(&cm, &a, 0, 512);
    cost_step_add_prefill(&cm, &b, 8000, 512);
    assert_true(cost_step_ns(&cm, &b) > cost_step_ns(&cm, &a));
    assert_int_equal(cost_step_ns(&cm, &(struct cost_step){ 0 }), 0);
    assert_true(cost_link_ns(&cm, 136000000000ULL) > 900000000ULL);
}

static void test_cost_moe(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h;
    struct cost_model cm;
    load("gptoss120b_mxfp4", "dgx_spark_gb10", &m, &h);
    assert_int_equal(cost_model_init(&cm, &m, &h), 0);
    struct cost_step s1 = { 0 }, s32 = { 0 };
    cost_step_add_decode(&cm, &s1, 1000);
    for (int i = 0; i < 32; i++)
        cost_step_add_decode(&cm, &s32, 1000);
    double r1 = 1e9 / (double)cost_step_ns(&cm, &s1);
    double r32 = 32e9 / (double)cost_step_ns(&cm, &s32);
    print_message("# gptoss120b decode: B1 %.1f tok/s, B32 %.1f tok/s\n", r1, r32);
    /* distinct experts grow with the batch: far from linear scaling */
    assert_true(r32 / r1 < 16);
    /* a profile without rates is refused */
    h.mfu_prefill = 0;
    assert_int_equal(cost_model_init(&cm, &m, &h), -EINVAL);
}

static void test_metrics_text(void **state)
{
    (void)state;
    static struct metrics m;
    metrics_init(&m, "my \"model\"");
    struct buf b;
    buf_init(&b, 1u << 20);
    assert_int_equal(metrics_render_kvbm(&m, true, &b), 0);
    const char *t = buf_str(&b);
    assert_non_null(
        strstr(t, "# TYPE kvbm_offload_blocks_h2d counter\nkvbm_offload_blocks_h2d 0\n"));
    assert_non_null(
        strstr(t, "# TYPE kvbm_disk_cache_hit_rate gauge\nkvbm_disk_cache_hit_rate 0\n"));
    assert_null(strstr(t, "kvbm_offload_blocks_h2d_total"));
    buf_reset(&b);
    assert_int_equal(metrics_render_kvbm(&m, false, &b), 0);
    assert_null(strstr(buf_str(&b), "# TYPE kvbm_"));
    assert_non_null(strstr(buf_str(&b), "kvtier_engine_g3_capacity_blocks 0"));
    metrics_add(&m, METRICS_KVBM_ONBOARD_D2D, 9);
    metrics_set_double(&m, METRICS_KVBM_HOST_HIT_RATE, 0.25);
    metrics_add(&m, METRICS_ONBOARD_WAIT_NS, 1500000000ULL);
    buf_reset(&b);
    metrics_render_kvbm(&m, true, &b);
    assert_non_null(strstr(buf_str(&b), "\nkvbm_onboard_blocks_d2d 9\n"));
    assert_non_null(strstr(buf_str(&b), "\nkvbm_host_cache_hit_rate 0.25\n"));
    assert_non_null(strstr(buf_str(&b), "\nkvtier_engine_onboard_wait_seconds_sum 1.5\n"));
    /* histogram: cumulative buckets, +Inf = count, escaped label */
    metrics_observe(&m, METRICS_H_TTFT, 0.03, 1);
    metrics_observe(&m, METRICS_H_TTFT, 1000, 2);
    buf_reset(&b);
    metrics_render_frontend(&m, &b);
    t = buf_str(&b);
    assert_non_null(strstr(t, "dynamo_frontend_time_to_first_token_seconds_bucket{model=\"my "
                              "\\\"model\\\"\",le=\"0.047\"} 1\n"));
    assert_non_null(strstr(t, "dynamo_frontend_time_to_first_token_seconds_bucket{model=\"my "
                              "\\\"model\\\"\",le=\"480\"} 1\n"));
    assert_non_null(strstr(t, "dynamo_frontend_time_to_first_token_seconds_bucket{model=\"my "
                              "\\\"model\\\"\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(
        t, "dynamo_frontend_time_to_first_token_seconds_count{model=\"my \\\"model\\\"\"} 3\n"));
    metrics_request_done(&m, METRICS_EP_CHAT, true, METRICS_ERR_NONE);
    buf_reset(&b);
    metrics_render_frontend(&m, &b);
    assert_non_null(strstr(buf_str(&b), "endpoint=\"chat_completions\",request_type=\"stream\","
                                        "status=\"success\",error_type=\"\"} 1\n"));
    buf_fini(&b);
}

struct body_case {
    enum reqparse_endpoint ep;
    const char *body;
    int status; /* 0 = accepted */
    const char *param;
};

static void test_reqparse(void **state)
{
    (void)state;
    static const struct body_case cases[] = {
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"hi\"}", 0, NULL },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[1,2,3],\"max_tokens\":5}", 0, NULL },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[[1,2]]}", 0, NULL },
        { REQPARSE_COMPLETIONS,
          "{\"model\":\"m\",\"prompt\":[\"x\"],\"stream\":true,"
          "\"stream_options\":{\"include_usage\":true}}",
          0, NULL },
        { REQPARSE_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
          "\"max_completion_tokens\":3,\"min_tokens\":3,\"ignore_eos\":true}",
          0, NULL },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\"}]}", 0, NULL },
        { REQPARSE_COMPLETIONS, "{\"model\":", 400, "" },
        { REQPARSE_COMPLETIONS, "[]", 400, "" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"model\":\"m\",\"prompt\":\"x\"}", 400, "" },
        { REQPARSE_COMPLETIONS, "{\"prompt\":\"x\"}", 400, "model" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"\",\"prompt\":\"x\"}", 400, "model" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\"}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[]}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[1,-1]}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[1,1000]}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":true}", 400, "prompt" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":0}", 400,
          "max_tokens" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":1.5}", 400,
          "max_tokens" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"min_tokens\":-1}", 400,
          "min_tokens" },
        { REQPARSE_COMPLETIONS,
          "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":2,\"min_tokens\":3}", 400,
          "min_tokens" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"ignore_eos\":1}", 400,
          "ignore_eos" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"n\":3}", 400, "n" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"stream_options\":{}}", 400,
          "stream_options" },
        { REQPARSE_COMPLETIONS,
          "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true,\"stream_options\":1}", 400,
          "stream_options" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":\"hot\"}", 400,
          "temperature" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"session_id\":\"s\"}", 400,
          "session_id" },
        { REQPARSE_COMPLETIONS, "{\"model\":\"m\",\"messages\":[]}", 400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\"}", 400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":{}}", 400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[1]}", 400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"x\",\"content\":\"y\"}]}", 400,
          "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", 400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":1}]}", 400,
          "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"prompt\":\"x\"}", 400, "prompt" },
        { REQPARSE_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
          "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]}",
          0, NULL },
        { REQPARSE_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
          "[{\"type\":\"image_url\",\"text\":\"a\"}]}]}",
          400, "messages" },
        { REQPARSE_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]}",
          400, "messages" },
        { REQPARSE_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[\"a\"]}]}",
          400, "messages" },
        { REQPARSE_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
          "[{\"type\":\"text\",\"text\":5}]}]}",
          400, "messages" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reqparse_req r;
        struct reqparse_error e = { 0 };
        int rc = reqparse_body(cases[i].ep, cases[i].body, strlen(cases[i].body), 1000, &r, &e);
        if (cases[i].status == 0) {
            if (rc != 0)
                fail_msg("case %zu rejected: %s", i, e.message);
            reqparse_req_fini(&r);
            continue;
        }
        if (rc == 0 || e.status != cases[i].status || strcmp(e.param, cases[i].param) != 0)
            fail_msg("case %zu: rc %d status %d param '%s' (%s)", i, rc, e.status, e.param,
                     e.message);
        char *body = reqparse_error_body(&e);
        assert_non_null(strstr(body, "{\"error\":{\"message\":"));
        free(body);
    }
    struct reqparse_req r;
    struct reqparse_error e = { 0 };
    /* an unsupported content part is refused by its type, not read as text */
    const char *img = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"input_audio\"}]}]}";
    assert_int_equal(reqparse_body(REQPARSE_CHAT, img, strlen(img), 10, &r, &e), -EINVAL);
    assert_non_null(strstr(e.message, "content[1]' has type 'input_audio'"));
    assert_int_equal(reqparse_body(REQPARSE_CHAT, "x", REQPARSE_BODY_MAX_BYTES + 1u, 10, &r, &e),
                     -EMSGSIZE);
    assert_int_equal(e.status, 413);
}

static void test_count_values(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t n;
    } cases[] = {
        { "", 1 },
        { "{}", 2 },
        { "[{},{},{}]", 7 },
        { "{\"prompt\":[1,2,3]}", 5 },
        { "{\"prompt\":\"a,b,[c]{\\\",\\\\\"}", 2 }, /* separators in a string do not count */
        { "\"unterminated [,,,", 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (reqparse_count_values(cases[i].body, strlen(cases[i].body)) != cases[i].n)
            fail_msg("case %zu: %zu values, expected %zu", i,
                     reqparse_count_values(cases[i].body, strlen(cases[i].body)), cases[i].n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_spark_8b), cmocka_unit_test(test_cost_moe),
        cmocka_unit_test(test_metrics_text),  cmocka_unit_test(test_reqparse),
        cmocka_unit_test(test_count_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
