/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier slo's search against synthetic systems: SLO lists parse or fail naming the key; a
 * deterministic system of known capacity is found exactly, at the range ends too; confirmation
 * at the boundary repeat count reopens the search when a verdict flips; a pass above the first
 * fail is flagged NON_MONOTONIC; and against a noisy system (exponential TTFTs whose mean grows
 * with load) the search lands within one resolution step of the true capacity in >= 95% of 200
 * seeds, judging each probe by the upper order-statistic bound as the cli does. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/quantci.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "run/slo.h"

static void test_spec_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *in_msg;
    } cases[] = {
        { "ttft_p95_ms=2000,error_rate=0.01", 0, NULL },
        { "e2e_p99_ms=9000,itl_p50_ms=30", 0, NULL },
        { "ttft_p97_ms=2000", -EINVAL, "ttft_p97_ms" },
        { "throughput_rps=3", -EINVAL, "throughput_rps" },
        { "ttft_p95_ms", -EINVAL, "ttft_p95_ms" },
        { "ttft_p95_ms=abc", -EINVAL, "abc" },
        { "ttft_p95_ms=-1", -EINVAL, "-1" },
        { "ttft_p95_ms=1,ttft_p95_ms=2", -EINVAL, "twice" },
        { "", -EINVAL, "empty" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct slo_spec s;
        struct diag d = { 0 };
        assert_int_equal(slo_spec_parse(cases[i].text, &s, &d), cases[i].rc);
        if (cases[i].in_msg)
            assert_non_null(strstr(d.msg, cases[i].in_msg));
    }
    struct slo_spec s;
    struct diag d = { 0 };
    assert_int_equal(slo_spec_parse("ttft_p95_ms=2000,error_rate=0.01", &s, &d), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.lim[0].m->key, "ttft_p95_ms");
    assert_true(s.lim[1].limit == 0.01);
}

static void test_config_check(void **state)
{
    (void)state;
    static const struct {
        struct slo_search_config c;
        const char *in_msg;
    } cases[] = {
        { { 1, 64, 1, true, 1, 3 }, NULL },
        { { 0, 64, 1, true, 1, 3 }, "--min" },
        { { 8, 4, 1, true, 1, 3 }, "inverted" },
        { { 1, 64, 0, true, 1, 3 }, "--resolution" },
        { { 1, 64, 0.5, true, 1, 3 }, "--resolution" },
        { { 1, 64, 1, true, 3, 1 }, "--repeats" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct diag d = { 0 };
        int rc = slo_search_check(&cases[i].c, &d);
        if (!cases[i].in_msg) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_non_null(strstr(d.msg, cases[i].in_msg));
        }
    }
}

/* A deterministic system: passes at v <= cap with search repeats and v <= cap_r at the
 * boundary count; odd adds one passing value above the first fail. */
struct det {
    double cap, cap_r, odd;
    unsigned calls;
};

static int det_probe(void *ctx, double v, unsigned reps, struct slo_probe *p)
{
    struct det *s = ctx;
    s->calls++;
    p->valid = true;
    p->pass = v <= (reps > 1 ? s->cap_r : s->cap) || v == s->odd;
    return 0;
}

static void test_search_deterministic(void **state)
{
    (void)state;
    static const struct {
        double cap, cap_r, odd, max_pass, first_fail;
        const char *status;
        bool nonmono;
    } cases[] = {
        { 37, 37, 0, 37, 38, "found", false },     { 1, 1, 0, 1, 2, "found", false },
        { 64, 64, 0, 64, NAN, "all_pass", false }, { 0, 0, 0, NAN, 1, "none_pass", false },
        { 6, 4, 0, 4, 5, "found", false },     /* the boundary repeats overturn 5 and 6 */
        { 20, 24, 0, 24, 25, "found", false }, /* and here lift the bracket */
        { 5, 5, 7, 5, 6, "found", true },      /* 7 passes above the first fail at 6 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct det s = { cases[i].cap, cases[i].cap_r, cases[i].odd, 0 };
        struct slo_search_config c = { 1, 64, 1, true, 1, 3 };
        struct slo_result r;
        assert_int_equal(slo_search(&c, det_probe, &s, &r), 0);
        assert_string_equal(r.status, cases[i].status);
        assert_true(r.max_pass == cases[i].max_pass ||
                    (isnan(r.max_pass) && isnan(cases[i].max_pass)));
        assert_true(r.first_fail == cases[i].first_fail ||
                    (isnan(r.first_fail) && isnan(cases[i].first_fail)));
        assert_int_equal(r.non_monotonic, cases[i].nonmono);
        assert_true(s.calls < 30);
        json_t *j = slo_result_json(&(struct slo_spec){ .n = 0 }, &r);
        assert_int_equal(json_array_size(json_object_get(j, "probes")), r.n);
        json_decref(j);
        slo_result_fini(&r);
    }
}

/* The noisy system: at load v the TTFT is exponential with mean BASE / (1 - v / KNEE) ms, so
 * its true p95 is that mean times ln 20. Each repeat is N requests, summarized as summary.json
 * would be and judged by slo_judge. */
#define BASE_MS 100.0
#define KNEE    64.0
#define LIMIT   3000.0
#define N_REQ   1000

struct noisy {
    struct rng rng;
    struct slo_spec spec;
};

static json_t *synthetic_summary(struct rng *r, double v)
{
    double *x = xmalloc(N_REQ * sizeof(double));
    double mean = v < KNEE ? BASE_MS / (1 - v / KNEE) : 1e9;
    for (size_t i = 0; i < N_REQ; i++)
        x[i] = rng_exponential(r, mean);
    qsort(x, N_REQ, sizeof(double), stats_cmp_double);
    json_t *t = json_pack("{s:f}", "p95", stats_quantile_sorted(x, N_REQ, 0.95));
    quantci_add_summary(t, x, N_REQ);
    free(x);
    return json_pack("{s:{s:{s:o, s:f}}}", "phases", "replay", "ttft_ms", t, "error_rate", 0.0);
}

static int noisy_probe(void *ctx, double v, unsigned reps, struct slo_probe *p)
{
    struct noisy *s = ctx;
    json_t *sum[8];
    bool valid[8];
    assert_true(reps <= 8);
    for (unsigned i = 0; i < reps; i++) {
        sum[i] = synthetic_summary(&s->rng, v);
        valid[i] = true;
    }
    slo_judge(&s->spec, "replay", (const json_t *const *)sum, valid, reps, p);
    for (unsigned i = 0; i < reps; i++)
        json_decref(sum[i]);
    return 0;
}

/* The largest whole load whose true p95 meets the limit. */
static double true_capacity(void)
{
    double v = 0;
    while (v + 1 < KNEE && BASE_MS / (1 - (v + 1) / KNEE) * log(20) <= LIMIT)
        v++;
    return v;
}

static void test_search_noisy(void **state)
{
    (void)state;
    const unsigned seeds = 200;
    double cap = true_capacity();
    unsigned within = 0;
    for (unsigned seed = 1; seed <= seeds; seed++) {
        struct noisy s;
        rng_seed(&s.rng, seed);
        struct diag d = { 0 };
        assert_int_equal(slo_spec_parse("ttft_p95_ms=3000,error_rate=0.01", &s.spec, &d), 0);
        struct slo_search_config c = { 1, 128, 1, true, 1, 3 };
        struct slo_result r;
        assert_int_equal(slo_search(&c, noisy_probe, &s, &r), 0);
        within += fabs(r.max_pass - cap) <= c.resolution;
        slo_result_fini(&r);
    }
    print_message("# SLO search within one step of capacity %.0f: %u/%u seeds\n", cap, within,
                  seeds);
    assert_true(within >= seeds * 95 / 100);
}

/* slo_judge: the upper bound decides; an undersampled quantile fails; an invalid bundle
 * fails; error_rate is judged by its largest value. */
static void test_judge(void **state)
{
    (void)state;
    struct slo_spec s;
    struct diag d = { 0 };
    assert_int_equal(slo_spec_parse("ttft_p95_ms=100,error_rate=0.05", &s, &d), 0);
    json_t *ok =
        json_pack("{s:{s:{s:{s:f, s:{s:f, s:f, s:b}}, s:f}}}", "phases", "replay", "ttft_ms", "p95",
                  80.0, "p95_ci", "lo", 70.0, "hi", 95.0, "supported", 1, "error_rate", 0.01);
    json_t *wide =
        json_pack("{s:{s:{s:{s:f, s:{s:f, s:f, s:b}}, s:f}}}", "phases", "replay", "ttft_ms", "p95",
                  80.0, "p95_ci", "lo", 70.0, "hi", 120.0, "supported", 1, "error_rate", 0.0);
    json_t *under =
        json_pack("{s:{s:{s:{s:f, s:{s:f, s:n, s:b}}, s:f}}}", "phases", "replay", "ttft_ms", "p95",
                  50.0, "p95_ci", "lo", 40.0, "hi", "supported", 0, "error_rate", 0.0);
    struct slo_probe p;
    const json_t *a[] = { ok, ok };
    bool v2[] = { true, true }, v1[] = { true, false };
    slo_judge(&s, "replay", a, v2, 2, &p);
    assert_true(p.pass && p.est[0] == 80.0 && p.bound[0] == 95.0 && p.bound[1] == 0.01);
    slo_judge(&s, "replay", a, v1, 2, &p);
    assert_false(p.pass);
    const json_t *b[] = { ok, wide };
    slo_judge(&s, "replay", b, v2, 2, &p);
    assert_false(p.pass);
    assert_true(p.bound[0] == 120.0);
    const json_t *c[] = { under };
    slo_judge(&s, "replay", c, v2, 1, &p);
    assert_false(p.pass);
    assert_true(isnan(p.bound[0]));
    json_decref(ok);
    json_decref(wide);
    json_decref(under);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),           cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_search_deterministic), cmocka_unit_test(test_judge),
        cmocka_unit_test(test_search_noisy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
