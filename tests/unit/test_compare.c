/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier compare on generated bundle groups: a clear TTFT improvement over 5 vs 5 repeats is
 * "better" and decision-grade; a consistent 2% change is "negligible"; noise is
 * "no_difference_shown"; higher-is-better metrics are judged the right way round; invalid
 * bundles are excluded and named; bundles of another workload are refused unless allowed. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/compare.h"
#include "common/fileio.h"
#include "common/jsonx.h"

static char root[256];

struct spec {
    const char *mode, *workload;
    double ttft_scale; /* request TTFTs are scale * (100..199) ms */
    double tps;        /* output tokens/s */
    double itl;        /* ITL p50 */
    bool valid;
    double wobble; /* per-repeat TTFT spread (fraction) */
};

static void put(const char *dir, const char *name, json_t *v)
{
    char *p = fileio_join(dir, name);
    assert_int_equal(jsonx_write_file(p, v), 0);
    free(p);
    json_decref(v);
}

/* One bundle at root/<group>/<mode>/rNN with 100 replay requests. */
static void make_bundle(const char *group, const struct spec *s, int rep)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s/%s/r%02d/raw", root, group, s->mode, rep);
    assert_int_equal(fileio_mkdir_p(dir), 0);
    dir[strlen(dir) - 4] = 0;
    put(dir, "manifest.json",
        json_pack("{s:{s:s}, s:{s:s, s:s, s:i, s:{s:i, s:i}}, s:s, s:{s:s}}", "model", "name",
                  "tiny", "workload", "workload", s->workload, "dataset", "S", "seed", 1,
                  "plan_header", "requests", 100, "prompt_tokens", 5000, "hardware", "cpu_small",
                  "mode", "mode", s->mode));
    put(dir, "verdict.json",
        json_pack("{s:b, s:b, s:[]}", "run_valid", s->valid, "decision_grade", s->valid,
                  "reason_codes"));
    double v[100];
    char *rp = fileio_join(dir, "raw/records.jsonl");
    FILE *f = fopen(rp, "w");
    assert_non_null(f);
    for (int i = 0; i < 100; i++) {
        /* A per-repeat wobble so repeats differ. */
        v[i] = s->ttft_scale * (100 + i) * (1 + s->wobble * ((rep % 3) - 1));
        uint64_t ti = 1000000000ull * (uint64_t)(i + 1);
        fprintf(f,
                "{\"id\":\"r%d\",\"phase\":\"replay\",\"t_intended_ns\":%llu,"
                "\"t_first_token_ns\":%llu,\"error\":null}\n",
                i, (unsigned long long)ti, (unsigned long long)(ti + (uint64_t)(v[i] * 1e6)));
    }
    fprintf(f, "{\"id\":\"w\",\"phase\":\"warmup\",\"t_intended_ns\":1,\"t_first_token_ns\":"
               "999999999999,\"error\":null}\n");
    fprintf(f, "{\"id\":\"e\",\"phase\":\"replay\",\"t_intended_ns\":1,\"t_first_token_ns\":null,"
               "\"error\":\"timeout\"}\n");
    fclose(f);
    free(rp);
    /* v is ascending: type-7 quantiles by hand. */
    double p50 = v[49] + 0.5 * (v[50] - v[49]), p95 = v[94] + 0.05 * (v[95] - v[94]),
           p99 = v[98] + 0.01 * (v[99] - v[98]);
    put(dir, "summary.json",
        json_pack("{s:{s:{s:{s:f, s:f, s:f}, s:{s:f}, s:{s:f}, s:f, s:f, s:f}}}", "phases",
                  "replay", "ttft_ms", "p50", p50, "p95", p95, "p99", p99, "e2e_ms", "p95", p95 * 3,
                  "itl_ms", "p50", s->itl * (1 + 0.01 * rep), "throughput_rps",
                  1.0 + 0.1 * ((rep * 7) % 5), "output_tps", s->tps * (1 + 0.01 * (rep % 2)),
                  "error_rate", 0.0));
}

static void make_side(const char *group, struct spec s, int n)
{
    for (int r = 1; r <= n; r++)
        make_bundle(group, &s, r);
}

static json_t *run(const char *group, const char *b, const char *t, bool allow, int *rc)
{
    char bd[512], td[512];
    snprintf(bd, sizeof(bd), "%s/%s/%s", root, group, b);
    snprintf(td, sizeof(td), "%s/%s/%s", root, group, t);
    struct compare_config c = { .baseline = bd,
                                .treatment = td,
                                .phase = "replay",
                                .primary = "ttft_p95_ms",
                                .level = 0.95,
                                .resamples = 2000,
                                .seed = 1,
                                .min_effect = 0.05,
                                .repeats_min = 3,
                                .allow_mismatch = allow };
    json_t *doc = NULL;
    struct diag d = { 0 };
    *rc = compare_run(&c, &doc, &d);
    if (*rc < 0)
        fprintf(stderr, "# compare: %s: %s\n", d.file, d.msg);
    return doc;
}

static const char *verdict(const json_t *doc, const char *metric)
{
    return jsonx_str(jsonx_path(jsonx_path(doc, "metrics"), metric), "verdict", "?");
}

static void test_better(void **state)
{
    (void)state;
    make_side("g1", (struct spec){ "B1", "A", 1.0, 100, 10.0, true, 0.03 }, 5);
    make_side("g1", (struct spec){ "B2", "A", 0.5, 130, 10.0, true, 0.03 }, 5);
    int rc;
    json_t *doc = run("g1", "B1", "B2", false, &rc);
    assert_int_equal(rc, 0);
    assert_true(json_is_true(json_object_get(doc, "decision_grade")));
    assert_int_equal(json_array_size(json_object_get(doc, "reason_codes")), 0);
    assert_string_equal(verdict(doc, "ttft_p95_ms"), "better");
    assert_string_equal(verdict(doc, "ttft_p50_ms"), "better");
    assert_string_equal(verdict(doc, "output_tps"), "better"); /* higher is better */
    assert_string_equal(verdict(doc, "itl_p50_ms"), "no_difference_shown");
    assert_string_equal(verdict(doc, "throughput_rps"), "no_difference_shown");
    json_t *m = jsonx_path(jsonx_path(doc, "metrics"), "ttft_p95_ms");
    assert_true(fabs(jsonx_num(m, "ratio", 0) - 0.5) < 0.01);
    assert_true(jsonx_num(jsonx_path(m, "mann_whitney"), "p", 1) < 0.05);
    assert_true(jsonx_num(jsonx_path(m, "mann_whitney"), "p_superiority", 0) == 1);
    /* Pooled requests: 5 runs a side, hierarchical; the requests of the warm-up phase and the
     * failed request are not pooled. */
    json_t *p = jsonx_path(doc, "pooled_requests");
    assert_true(json_is_false(json_object_get(p, "within_run_only")));
    json_t *p95 = json_object_get(p, "ttft_p95_ms");
    assert_int_equal(jsonx_i64(p95, "requests_baseline", 0), 500);
    assert_string_equal(jsonx_str(p95, "verdict", ""), "better");
    assert_non_null(strstr(jsonx_str(doc, "headline", ""), "B2 vs B1 -50"));
    assert_null(strstr(jsonx_str(doc, "headline", ""), "cannot decide"));
    char *md = compare_markdown(doc);
    assert_non_null(strstr(md, "| TTFT p95 (ms, from intended send) | lower |"));
    assert_non_null(strstr(md, "Decision-grade: **yes**"));
    free(md);
    json_decref(doc);
    /* The same inputs and seed give the same document. */
    json_t *again = run("g1", "B1", "B2", false, &rc);
    json_t *first = run("g1", "B1", "B2", false, &rc);
    assert_true(json_equal(again, first));
    json_decref(again);
    json_decref(first);
}

static void test_negligible_and_few(void **state)
{
    (void)state;
    /* Repeats within 0.2% of each other, the treatment 2% lower: significant, negligible. */
    make_side("g2", (struct spec){ "B1", "A", 1.0, 100, 10, true, 0.002 }, 5);
    make_side("g2", (struct spec){ "B2", "A", 0.98, 100, 10, true, 0.002 }, 5);
    int rc;
    json_t *doc = run("g2", "B1", "B2", false, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(verdict(doc, "ttft_p95_ms"), "negligible");
    json_decref(doc);
    /* Three repeats a side: the exact rank test cannot reach 5% (its smallest p is 0.1), so
     * Welch's interval decides alone and the document says so. */
    make_side("g6", (struct spec){ "B1", "A", 1.0, 100, 10, true, 0.03 }, 3);
    make_side("g6", (struct spec){ "B2", "A", 0.5, 100, 10, true, 0.03 }, 3);
    doc = run("g6", "B1", "B2", false, &rc);
    assert_string_equal(verdict(doc, "ttft_p95_ms"), "better");
    json_t *mw = jsonx_path(jsonx_path(jsonx_path(doc, "metrics"), "ttft_p95_ms"), "mann_whitney");
    assert_true(json_is_false(json_object_get(mw, "can_decide")));
    assert_true(fabs(jsonx_num(mw, "min_attainable_p", 0) - 0.1) < 1e-12);
    assert_non_null(
        strstr(jsonx_str(doc, "headline", ""), "p = 0.1 (cannot decide at these counts)"));
    json_decref(doc);
    /* Two repeats a side: numbers, no decision. */
    make_side("g3", (struct spec){ "B1", "A", 1.0, 100, 10, true, 0.03 }, 2);
    make_side("g3", (struct spec){ "B2", "A", 0.5, 100, 10, true, 0.03 }, 2);
    doc = run("g3", "B1", "B2", false, &rc);
    assert_string_equal(verdict(doc, "ttft_p95_ms"), "insufficient_repeats");
    assert_true(json_is_false(json_object_get(doc, "decision_grade")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "reason_codes"), 0)),
                        "INSUFFICIENT_REPEATS");
    json_decref(doc);
}

static void test_excluded_and_mismatch(void **state)
{
    (void)state;
    make_side("g4", (struct spec){ "B1", "A", 1.0, 100, 10, true, 0.03 }, 4);
    make_side("g4", (struct spec){ "B2", "A", 0.5, 100, 10, true, 0.03 }, 4);
    struct spec bad = { "B2", "A", 5.0, 100, 10, false, 0.03 };
    make_bundle("g4", &bad, 5);
    /* A stack that never started: a verdict and nothing else. */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/g4/B2/r06", root);
    assert_int_equal(fileio_mkdir_p(dir), 0);
    put(dir, "verdict.json",
        json_pack("{s:b, s:b, s:[s]}", "run_valid", 0, "decision_grade", 0, "reason_codes",
                  "SERVER_UNHEALTHY"));
    int rc;
    json_t *doc = run("g4", "B1", "B2", false, &rc);
    assert_int_equal(rc, 0);
    json_t *t = json_object_get(doc, "treatment");
    assert_int_equal(jsonx_i64(t, "bundles", 0), 6);
    assert_int_equal(jsonx_i64(t, "valid", 0), 4);
    assert_int_equal(json_array_size(json_object_get(t, "excluded")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "reason_codes"), 0)),
                        "TREATMENT_INVALID_EXCLUDED");
    assert_string_equal(verdict(doc, "ttft_p95_ms"), "better"); /* the 5x outlier is not used */
    json_decref(doc);
    /* A treatment of another workload. */
    make_side("g5", (struct spec){ "B1", "A", 1.0, 100, 10, true, 0.03 }, 3);
    make_side("g5", (struct spec){ "B2", "C", 0.5, 100, 10, true, 0.03 }, 3);
    doc = run("g5", "B1", "B2", false, &rc);
    assert_int_equal(rc, -EINVAL);
    assert_null(doc);
    doc = run("g5", "B1", "B2", true, &rc);
    assert_int_equal(rc, 0);
    assert_true(json_is_false(json_object_get(doc, "decision_grade")));
    json_t *why = jsonx_path(jsonx_path(jsonx_path(doc, "details"), "WORKLOAD_MISMATCH"), "why");
    assert_non_null(strstr(json_string_value(json_array_get(why, 0)), "workload.workload"));
    json_decref(doc);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/kvtier-test-compare-XXXXXX", tmp ? tmp : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* A primary quantile one bundle's sample cannot support makes the comparison not
 * decision-grade (TAIL_UNDERSAMPLED, naming the bundle); the pooled quantiles carry their
 * order-statistic intervals and the per-repeat intervals are listed. */
static void test_tail_undersampled(void **state)
{
    (void)state;
    make_side("g4", (struct spec){ "B1", "A", 1.0, 100, 10.0, true, 0.03 }, 5);
    make_side("g4", (struct spec){ "B2", "A", 0.5, 130, 10.0, true, 0.03 }, 5);
    char p[512];
    snprintf(p, sizeof(p), "%s/g4/B2/r01/summary.json", root);
    json_t *sum = NULL;
    assert_int_equal(jsonx_load_file(p, &sum, NULL), 0);
    json_object_set_new(jsonx_path(sum, "phases.replay.ttft_ms"), "p95_ci",
                        json_pack("{s:f, s:n, s:i, s:f, s:b}", "lo", 250.0, "hi", "n", 12, "level",
                                  0.95, "supported", 0));
    assert_int_equal(jsonx_write_file(p, sum), 0);
    json_decref(sum);
    int rc;
    json_t *doc = run("g4", "B1", "B2", false, &rc);
    assert_int_equal(rc, 0);
    assert_true(json_is_false(json_object_get(doc, "decision_grade")));
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(doc, "reason_codes"), i, c)
        found |= !strcmp(json_string_value(c), "TAIL_UNDERSAMPLED");
    assert_true(found);
    const char *why =
        json_string_value(json_array_get(jsonx_path(doc, "details.TAIL_UNDERSAMPLED.why"), 0));
    assert_non_null(strstr(why, "B2/r01"));
    const json_t *ints = jsonx_path(doc, "metrics.ttft_p95_ms.treatment.intervals");
    assert_int_equal(json_array_size(ints), 5);
    assert_true(json_is_false(json_object_get(json_array_get(ints, 0), "supported")));
    const json_t *pci = jsonx_path(doc, "pooled_requests.ttft_p95_ms.baseline_ci");
    assert_int_equal(jsonx_i64(pci, "n", 0), 500);
    assert_true(jsonx_bool(pci, "supported", false));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_better),
        cmocka_unit_test(test_negligible_and_few),
        cmocka_unit_test(test_excluded_and_mismatch),
        cmocka_unit_test(test_tail_undersampled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
