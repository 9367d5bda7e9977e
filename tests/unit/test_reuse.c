/* SPDX-License-Identifier: Apache-2.0 */
/* Reuse accounting: ratio of observed reuse (kvbm_matched_tokens delta, usage cached tokens) to
 * the plan's opportunity, the REUSE_NOT_OBSERVED decision, and header parsing errors. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workload/reuse.h"

struct case_ {
    uint64_t opp;
    bool mk;
    uint64_t matched;
    bool ck;
    uint64_t cached;
    double ratio; /* NAN = undefined */
    bool not_observed;
};

static const struct case_ cases[] = {
    { 10000, true, 8000, false, 0, 0.8, false },
    { 10000, true, 100, false, 0, 0.01, true },   /* high opportunity, matched ~0 */
    { 10000, true, 100, true, 9000, 0.9, false }, /* device hits show in cached tokens */
    { 10000, false, 0, false, 0, NAN, false },    /* nothing observed: cannot judge */
    { 0, true, 500, true, 500, NAN, false },      /* no opportunity */
    { 512, true, 0, true, 0, 0.0, false },        /* too little opportunity to judge */
    { 2048, false, 0, true, 0, 0.0, true },
};

static void test_ratio(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct case_ *c = &cases[i];
        struct reuse_phase p = { .opportunity_tokens = c->opp,
                                 .matched_known = c->mk,
                                 .matched_tokens = c->matched,
                                 .cached_known = c->ck,
                                 .cached_tokens = c->cached };
        double r = reuse_ratio(&p);
        if (isnan(c->ratio))
            assert_true(isnan(r));
        else
            assert_true(fabs(r - c->ratio) < 1e-9);
        if (reuse_not_observed(&p, REUSE_MIN_RATIO_DEFAULT) != c->not_observed)
            fail_msg("case %zu: not_observed %d", i, !c->not_observed);
    }
}

static void test_evaluate(void **state)
{
    (void)state;
    json_t *h =
        json_pack("{s:s,s:[{s:s},{s:s},{s:s}],s:{s:i,s:i,s:i},s:{s:i,s:i,s:i}}", "kind",
                  "kvtier.plan", "phases", "name", "warmup", "name", "pressure", "name", "replay",
                  "reuse_opportunity_tokens", "warmup", 0, "pressure", 100, "replay", 50000,
                  "prompt_tokens", "warmup", 9000, "pressure", 90000, "replay", 60000);
    json_t *obs = json_pack("{s:{s:i,s:i},s:{s:i}}", "replay", "kvbm_matched_tokens", 40000,
                            "cached_tokens", 45000, "pressure", "kvbm_matched_tokens", 0);
    struct diag d = { 0 };
    json_t *r = reuse_evaluate(h, obs, 0.1, &d);
    assert_non_null(r);
    assert_false(json_is_true(json_object_get(r, "reuse_not_observed")));
    json_t *rp = json_object_get(json_object_get(r, "phases"), "replay");
    assert_int_equal(json_integer_value(json_object_get(rp, "observed_tokens")), 45000);
    assert_true(fabs(json_real_value(json_object_get(rp, "ratio")) - 0.9) < 1e-9);
    assert_true(json_is_null(
        json_object_get(json_object_get(json_object_get(r, "phases"), "warmup"), "ratio")));
    json_decref(r);
    json_object_set_new(json_object_get(obs, "replay"), "cached_tokens", json_integer(10));
    json_object_set_new(json_object_get(obs, "replay"), "kvbm_matched_tokens", json_integer(20));
    r = reuse_evaluate(h, obs, 0.1, &d);
    assert_true(json_is_true(json_object_get(r, "reuse_not_observed")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "replay"));
    json_decref(r);
    json_object_set_new(h, "kind", json_string("other"));
    assert_null(reuse_evaluate(h, obs, 0.1, &d));
    assert_non_null(strstr(d.msg, "kvtier.plan"));
    json_object_set_new(h, "kind", json_string("kvtier.plan"));
    json_object_del(h, "reuse_opportunity_tokens");
    assert_null(reuse_evaluate(h, obs, 0.1, &d));
    assert_non_null(strstr(d.msg, "reuse_opportunity_tokens"));
    json_decref(h);
    json_decref(obs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
