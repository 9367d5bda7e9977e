/* SPDX-License-Identifier: Apache-2.0 */
/* The twin (twin/twin.h): one request on an idle engine takes exactly the cost model's prefill
 * step (plus the write-through link time), runs are deterministic, the context-reuse workload
 * reloads from a fast SSD faster than B1 recomputes, a request larger than G1 is refused;
 * Nelder-Mead finds a known minimum; calibration recovers a hidden profile from twin-generated
 * "measurements" (its held-out error near zero); the silicon fit and the crossover; plan files
 * with bad lines are refused with the line named. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "engine/cost.h"
#include "twin/calib.h"
#include "twin/fit.h"
#include "twin/twin.h"
#include "twin/twin_bundle.h"

static void load(const char *model, const char *hw, struct model_profile *m, struct hw_profile *h)
{
    struct diag d = { 0 };
    const char *dir = getenv("KVTIER_PROFILES");
    assert_non_null(dir);
    assert_int_equal(profile_load_model(dir, model, m, &d), 0);
    assert_int_equal(profile_load_hw(dir, hw, h, &d), 0);
}

static void synth(struct twin_plan *p, uint32_t context, uint32_t users, uint32_t conc,
                  uint64_t g1g2)
{
    struct twin_synth s = { .context = context,
                            .query = 128,
                            .output = 16,
                            .users = users,
                            .concurrency = conc,
                            .max_pressure = 400,
                            .g1_g2_blocks = g1g2,
                            .tokens_per_block = 32,
                            .seed = 7 };
    twin_plan_synthetic(&s, p);
}

static void test_single_request_is_the_cost_model(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h;
    load("llama8b_fp8", "dgx_spark_gb10", &m, &h);
    struct twin_config c;
    struct diag d = { 0 };
    assert_int_equal(twin_config_init(&c, &m, &h, &d), 0);
    struct twin_plan p;
    synth(&p, 2048, 1, 1, 0);
    size_t n_all = p.n_req;
    p.n_req = 1; /* the first warmup request alone */
    p.req[0].n_out = 1;
    struct twin_out out[1];
    struct twin_stats st;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    struct cost_model cm;
    assert_int_equal(cost_model_init(&cm, &m, &h), 0);
    struct cost_step s = { 0 };
    cost_step_add_prefill(&cm, &s, 0, 2048 + 128);
    assert_true(out[0].done);
    assert_int_equal(out[0].t_first_ns - out[0].t_intended_ns, cost_step_ns(&cm, &s));
    /* B1: the 68 completed blocks are copied to the host in the same step */
    c.kvbm = true;
    c.g2_blocks = 1000;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    uint64_t link = (uint64_t)(68.0 * profile_bytes_per_block(&m) / h.g1_g2_bytes_per_s * 1e9);
    assert_int_equal(st.offload_d2h, 68);
    assert_true(llabs((long long)(out[0].t_first_ns - cost_step_ns(&cm, &s) - link)) <= 1);
    p.n_req = n_all;
    twin_plan_free(&p);
}

static void test_reload_beats_recompute(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h;
    load("llama8b_fp8", "dgx_spark_gb10", &m, &h);
    struct twin_config c;
    struct diag d = { 0 };
    assert_int_equal(twin_config_init(&c, &m, &h, &d), 0);
    c.g1_blocks = 2000; /* a busy device: contexts do not stay in G1 */
    c.kvbm = true;
    c.g2_blocks = 200;
    struct twin_plan p;
    synth(&p, 8192, 8, 4, c.g1_blocks + c.g2_blocks);
    struct twin_out *out = xcalloc(p.n_req, sizeof(*out));
    struct twin_stats st;
    struct twin_metrics b1, b2, again;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    twin_metrics_predicted(&p, out, "replay", &b1);
    assert_int_equal(st.onboard_d_blocks, 0);
    c.g3_blocks = 100000;
    c.filter = false;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    twin_metrics_predicted(&p, out, "replay", &b2);
    assert_true(st.onboard_d_blocks > 0);
    assert_int_equal(b2.n, 8);
    assert_true(b2.ttft_p50_ms * 2 < b1.ttft_p50_ms);
    /* deterministic */
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    twin_metrics_predicted(&p, out, "replay", &again);
    assert_true(again.ttft_p50_ms == b2.ttft_p50_ms && again.ttft_p95_ms == b2.ttft_p95_ms);
    /* the filter on a write-once workload keeps the disk empty: B2 = B1 */
    c.filter = true;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), 0);
    assert_int_equal(st.onboard_d_blocks, 0);
    assert_true(st.filter_rejected > 0);
    /* a request larger than G1 is refused, the rest run */
    c.g1_blocks = 100;
    assert_int_equal(twin_run(&c, &p, out, &st, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "G1"));
    free(out);
    twin_plan_free(&p);
}

static double bowl(const double *x, void *ctx)
{
    (void)ctx;
    return pow(x[0] - 3, 2) + 10 * pow(x[1] + 1, 2) + 1;
}

static void test_nelder_mead(void **state)
{
    (void)state;
    double x[2] = { 0, 0 }, step[2] = { 1, 1 };
    double v = fit_nelder_mead(bowl, NULL, x, step, 2, 2000, 1e-12);
    assert_true(fabs(v - 1) < 1e-6);
    assert_true(fabs(x[0] - 3) < 1e-3 && fabs(x[1] + 1) < 1e-3);
}

/* Bundles whose "measured" times come from the twin itself under the hidden profile truth;
 * each then starts from start. */
static void hidden_bundles(struct twin_bundle *bs, int n, const struct model_profile *m,
                           const struct hw_profile *truth, const struct hw_profile *start)
{
    memset(bs, 0, sizeof(*bs) * (size_t)n);
    for (int i = 0; i < n; i++) {
        struct twin_bundle *b = &bs[i];
        struct diag d = { 0 };
        b->model = *m;
        assert_int_equal(twin_config_init(&b->cfg, &b->model, truth, &d), 0);
        b->cfg.g1_blocks = 300;
        snprintf(b->mode, sizeof(b->mode), "B0");
        snprintf(b->dir, sizeof(b->dir), "case%d", i);
        synth(&b->plan, 1024 * (unsigned)(i % 3 + 1), 6, (unsigned)(1 + 2 * i), 400);
        struct twin_out *out = xcalloc(b->plan.n_req, sizeof(*out));
        struct twin_stats st;
        assert_int_equal(twin_run(&b->cfg, &b->plan, out, &st, &d), 0);
        for (size_t k = 0; k < b->plan.n_req; k++) {
            b->plan.req[k].t_intended_ns = out[k].t_intended_ns;
            b->plan.req[k].m_first_ns = out[k].t_first_ns;
            b->plan.req[k].m_last_ns = out[k].t_last_ns;
        }
        b->plan.phase_relative = false;
        twin_metrics_measured(&b->plan, NULL, &b->measured);
        b->cfg.hw = *start;
        free(out);
    }
}

static void hidden_profiles(struct model_profile *m, struct hw_profile *truth,
                            struct hw_profile *start)
{
    load("tiny", "cpu_small", m, truth);
    truth->mfu_prefill = 0.31;
    truth->mbu_decode = 0.45;
    truth->step_overhead_s = 0.004;
    truth->per_seq_overhead_s = 0.0005;
    *start = *truth;
    start->mfu_prefill = 0.6;
    start->mbu_decode = 0.8;
    start->step_overhead_s = 0.001;
    start->per_seq_overhead_s = 0.0001;
}

/* "Measured" times come from the twin itself under a hidden profile; calibration from another
 * start must recover them. */
static void test_calibration_recovers_a_hidden_profile(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile truth, start;
    hidden_profiles(&m, &truth, &start);
    struct twin_bundle bs[4];
    hidden_bundles(bs, 4, &m, &truth, &start);
    struct calib_opts o = { .max_evals = 600 };
    struct calib_result r;
    struct diag d = { 0 };
    assert_int_equal(calib_bundles(bs, 4, &o, &r, &d), 0);
    assert_int_equal(r.n_held, 1);
    assert_true(r.mape_held_before > 20);
    assert_true(r.mape_held < 3);
    assert_false(r.fit[CALIB_SSD_READ]); /* no disk onboards: the SSD rate is left alone */
    calib_result_free(&r);
    for (int i = 0; i < 4; i++)
        twin_plan_free(&bs[i].plan);
}

/* A bundle whose verdict says its measurement is not clean (here its times were taken on a
 * loaded host: everything 60 % late) is left out of the fit and of the held-out split by
 * default, with the verdict's reason; included on request, it spoils the fit. A clean verdict,
 * or none, keeps a bundle. */
static void test_calibration_leaves_out_unclean_bundles(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile truth, start;
    hidden_profiles(&m, &truth, &start);
    struct twin_bundle bs[6];
    hidden_bundles(bs, 6, &m, &truth, &start);
    bs[2].verdict = json_pack("{s:b,s:[s,s],s:{s:{s:[s]}}}", "run_valid", 1, "reason_codes",
                              "SYSTEM_NOISE", "REPEATS_UNSTABLE", "details", "SYSTEM_NOISE", "why",
                              "CPU pressure (PSI some) took 99.6% of a phase");
    bs[4].verdict = json_pack("{s:b,s:[s]}", "run_valid", 1, "reason_codes", "REPEATS_UNSTABLE");
    bs[5].verdict = json_pack("{s:b,s:[],s:{s:b}}", "run_valid", 0, "reason_codes", "evidence",
                              "interrupted", 1);
    for (int i = 2; i < 6; i += 3) {
        struct twin_plan *p = &bs[i].plan;
        for (size_t k = 0; k < p->n_req; k++) {
            p->req[k].m_first_ns += (p->req[k].m_first_ns - p->req[k].t_intended_ns) * 6 / 10;
            p->req[k].m_last_ns += (p->req[k].m_last_ns - p->req[k].t_intended_ns) * 6 / 10;
        }
        twin_metrics_measured(p, NULL, &bs[i].measured);
    }
    char why[CALIB_WHY_MAX];
    assert_true(calib_bundle_unclean(&bs[2], why, sizeof(why)));
    assert_string_equal(why, "SYSTEM_NOISE (CPU pressure (PSI some) took 99.6% of a phase)");
    assert_false(calib_bundle_unclean(&bs[4], why, sizeof(why)));
    assert_string_equal(why, "");
    assert_false(calib_bundle_unclean(&bs[0], why, sizeof(why)));
    assert_true(calib_bundle_unclean(&bs[5], why, sizeof(why)));
    assert_string_equal(why, "run_valid false, interrupted");
    struct calib_opts o = { .max_evals = 600 };
    struct calib_result r;
    struct diag d = { 0 };
    assert_int_equal(calib_bundles(bs, 6, &o, &r, &d), 0);
    assert_int_equal(r.n_unclean, 2);
    assert_int_equal(r.n_excluded, 2);
    assert_true(r.cases[2].excluded && r.cases[5].excluded && !r.cases[4].excluded);
    assert_false(r.cases[2].held_out || r.cases[5].held_out);
    assert_int_equal(r.n_train + r.n_held, 4);
    assert_true(r.n_held >= 1);
    assert_true(r.mape_held < 3);
    assert_true(r.cases[2].ape[0] > 20); /* still predicted, and reported far off */
    calib_result_free(&r);
    o.include_unclean = true;
    assert_int_equal(calib_bundles(bs, 6, &o, &r, &d), 0);
    assert_int_equal(r.n_excluded, 0);
    assert_int_equal(r.n_train + r.n_held, 6);
    assert_true(r.mape_train > 3);
    calib_result_free(&r);
    for (int i = 0; i < 6; i++) {
        json_decref(bs[i].verdict);
        twin_plan_free(&bs[i].plan);
    }
}

static void test_silicon_fit_and_crossover(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h, truth;
    load("llama8b_bf16", "h100", &m, &h);
    truth = h;
    truth.mfu_prefill = 0.55;
    truth.mbu_decode = 0.6;
    /* a silicon JSON written from the hidden profile's own cost model */
    json_t *sil = json_object(), *pre = json_array(), *dec = json_array();
    struct cost_model cm;
    assert_int_equal(cost_model_init(&cm, &m, &truth), 0);
    for (unsigned isl = 512; isl <= 32768; isl *= 2) {
        struct cost_step s = { 0 };
        cost_step_add_prefill(&cm, &s, 0, isl);
        json_array_append_new(pre, json_pack("{s:i,s:i,s:f}", "batch", 1, "isl", (int)isl,
                                             "seconds", (double)cost_step_ns(&cm, &s) / 1e9));
    }
    for (unsigned b = 1; b <= 32; b *= 2) {
        struct cost_step s = { 0 };
        for (unsigned k = 0; k < b; k++)
            cost_step_add_decode(&cm, &s, 4096);
        json_array_append_new(dec, json_pack("{s:i,s:i,s:f}", "batch", (int)b, "context", 4096,
                                             "graph_s", (double)cost_step_ns(&cm, &s) / 1e9));
    }
    json_object_set_new(sil, "prefill", pre);
    json_object_set_new(sil, "decode", dec);
    json_object_set_new(sil, "disk", json_pack("{s:f}", "read_bytes_per_s_qd8", 2e9));
    struct calib_silicon r;
    struct diag d = { 0 };
    assert_int_equal(calib_silicon_fit(sil, &m, &h, &r, &d), 0);
    assert_true(r.mape_held < 2);
    assert_true(r.mape_before > 5);
    assert_true(r.crossover_measured[0] > 0);
    /* crossover: the faster the SSD, the shorter the prefix where reload wins */
    unsigned slow = calib_crossover_model(&m, &truth, 1e9),
             fast = calib_crossover_model(&m, &truth, 14e9);
    assert_true(fast > 0 && fast < slow);
    calib_silicon_free(&r);
    json_t *bad = json_pack("{s:[{s:i}],s:[]}", "prefill", "batch", 1, "decode");
    assert_int_equal(calib_silicon_fit(bad, &m, &h, &r, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "prefill[0]"));
    calib_silicon_free(&r);
    json_decref(bad);
    json_decref(sil);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_plan_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/kvtier-test-twin-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *hdr = "{\"kind\":\"kvtier.plan\",\"phases\":[{\"name\":\"replay\",\"arrival\":"
                      "\"closed\",\"concurrency\":2}]}\n";
    struct {
        const char *body;
        const char *needle;
        unsigned line;
    } cases[] = {
        { "{\"id\":\"a\",\"phase\":\"nope\",\"hash_ids\":[],\"input_tokens\":5,\"output_tokens\":1}"
          "\n",
          "phase", 2 },
        { "{\"id\":\"a\",\"phase\":\"replay\",\"hash_ids\":[\"x\"],\"input_tokens\":64,"
          "\"output_tokens\":1}\n",
          "hash_ids[0]", 2 },
        { "{\"id\":\"a\",\"phase\":\"replay\",\"hash_ids\":[],\"input_tokens\":0,"
          "\"output_tokens\":1}\n",
          "input_tokens", 2 },
        { "not json\n", "", 2 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = xalloc_printf("%s%s", hdr, cases[i].body);
        write_file(path, text);
        free(text);
        struct twin_plan p;
        struct diag d = { 0 };
        assert_int_equal(twin_plan_load(path, NULL, &p, &d), -EINVAL);
        assert_int_equal(d.line, cases[i].line);
        assert_non_null(strstr(d.msg, cases[i].needle));
    }
    write_file(path, "{\"id\":\"a\",\"phase\":\"replay\"}\n");
    struct twin_plan p;
    struct diag d = { 0 };
    assert_int_equal(twin_plan_load(path, NULL, &p, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "header"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_request_is_the_cost_model),
        cmocka_unit_test(test_reload_beats_recompute),
        cmocka_unit_test(test_nelder_mead),
        cmocka_unit_test(test_calibration_recovers_a_hidden_profile),
        cmocka_unit_test(test_calibration_leaves_out_unclean_bundles),
        cmocka_unit_test(test_silicon_fit_and_crossover),
        cmocka_unit_test(test_plan_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
