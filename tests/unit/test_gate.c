/* SPDX-License-Identifier: Apache-2.0 */
/* Gates from evidence fixtures: the good B1/B2 fixtures are decision-grade; each case patches
 * one thing and must raise its reason code (with numbers in details), and hard codes must
 * invalidate the run while soft ones only cost decision grade. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/gate.h"

static json_t *load_fixture(const char *name)
{
    const char *dir = getenv("KVTIER_FIXTURES");
    assert_non_null(dir);
    char *p = xalloc_printf("%s/bundle/evidence/%s", dir, name);
    json_t *j = NULL;
    struct diag d = { 0 };
    if (jsonx_load_file(p, &j, &d) < 0)
        fail_msg("%s: %s", p, d.msg);
    free(p);
    return j;
}

/* Deep merge: objects merge, anything else replaces. */
static void merge(json_t *dst, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        json_t *cur = json_object_get(dst, k);
        if (json_is_object(v) && json_is_object(cur))
            merge(cur, v);
        else
            json_object_set(dst, k, v);
    }
}

static bool has_code(const json_t *verdict, const char *code)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(verdict, "reason_codes"), i, c)
        if (!strcmp(json_string_value(c), code))
            return true;
    return false;
}

static void test_good_fixtures_are_decision_grade(void **state)
{
    (void)state;
    const char *names[] = { "b2_good.json", "b1_good.json" };
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = load_fixture(names[i]);
        json_t *v = gate_evaluate(e, &t);
        if (!json_is_true(json_object_get(v, "decision_grade")))
            fail_msg("%s: %s", names[i], json_dumps(v, JSON_INDENT(1)));
        assert_true(json_is_true(json_object_get(v, "run_valid")));
        assert_int_equal(json_array_size(json_object_get(v, "reason_codes")), 0);
        json_decref(v);
        json_decref(e);
    }
}

static const struct gate_case {
    const char *fixture;
    const char *patch;
    const char *code;
    const char *detail_key; /* a number that must be in details[code] ("" = only "why") */
} cases[] = {
    { "b2_good.json", "{\"health\":{\"started\":false,\"error\":\"exec failed\"}}",
      "SERVER_UNHEALTHY", "" },
    { "b2_good.json", "{\"health\":{\"crashed\":true,\"exit_code\":137}}", "SERVER_UNHEALTHY",
      "exit_code" },
    { "b2_good.json", "{\"health\":{\"model_loaded\":false}}", "MODEL_NOT_LOADED", "" },
    { "b2_good.json", "{\"phases\":{\"replay\":{\"errors\":4}}}", "ERROR_RATE_HIGH", "error_rate" },
    /* metrics port closed */
    { "b2_good.json", "{\"health\":{\"kvbm_metrics_reachable\":false}}", "KVBM_METRICS_UNREACHABLE",
      "url" },
    { "b2_good.json", "{\"health\":{\"frontend_reachable\":false}}", "FRONTEND_UNREACHABLE", "" },
    /* B1 launched with a disk tier: the read-back environment differs */
    { "b1_good.json",
      "{\"config\":{\"mismatches\":[{\"field\":\"disk_cache_blocks\",\"expected\":0,"
      "\"observed\":4096}]}}",
      "MODE_NOT_APPLIED", "mismatches" },
    /* B1 whose disk counters move: the mechanism contradicts the mode */
    { "b1_good.json", "{\"phases\":{\"replay\":{\"kvbm\":{\"onboard_blocks_d2d\":50}}}}",
      "MODE_NOT_APPLIED", "disk_blocks_moved" },
    { "b2_good.json", "{\"interrupted\":true,\"interrupt_reason\":\"SIGINT\"}", "RUN_INTERRUPTED",
      "phase" },
    /* B1 whose KV file moved bytes (attributed by fanotify): a disk tier behind its back */
    { "b1_good.json", "{\"phases\":{\"replay\":{\"os\":{\"kv_read_bytes\":52428800}}}}",
      "MODE_NOT_APPLIED", "kv_file_bytes" },
    /* every disk block of replay failed verification (--inject-ssd-miss, corruption) */
    { "b2_good.json", "{\"phases\":{\"replay\":{\"kvbm\":{\"verify_failures\":600}}}}",
      "KV_VERIFY_FAILED", "replay_verify_failures" },
    { "b2_good.json", "{\"phases\":{\"replay\":{\"kvbm\":{\"disk_read_errors\":3}}}}",
      "KV_VERIFY_FAILED", "disk_read_errors" },
    /* filter left on with a write-once workload: nothing reaches the disk */
    { "b2_good.json",
      "{\"phases\":{\"pressure\":{\"kvbm\":{\"offload_blocks_h2d\":0},\"os\":{"
      "\"server_write_bytes\":0}},\"replay\":{\"kvbm\":{\"onboard_blocks_d2d\":0},\"os\":{"
      "\"server_read_bytes\":0}}}}",
      "DISK_TIER_NO_IO", "offload_blocks_to_disk" },
    /* write-only evidence: offloads but no read-back */
    { "b2_good.json",
      "{\"phases\":{\"replay\":{\"kvbm\":{\"onboard_blocks_d2d\":0},\"os\":{"
      "\"server_read_bytes\":0}}}}",
      "DISK_TIER_NO_IO", "replay_onboard_blocks_d2d" },
    { "b2_good.json", "{\"phases\":{\"replay\":{\"os\":{\"server_read_bytes\":4096}}}}",
      "KVBM_OS_MISMATCH", "read_ratio" },
    { "b2_good.json",
      "{\"phases\":{\"warmup\":{\"os\":null},\"pressure\":{\"os\":null},\"replay\":{\"os\":null}}}",
      "KVBM_OS_MISMATCH", "" },
    { "b2_good.json",
      "{\"phases\":{\"replay\":{\"kvbm\":{\"matched_tokens\":0},\"reuse\":{\"cached_tokens\":0}}}}",
      "REUSE_NOT_OBSERVED", "opportunity_tokens" },
    { "b2_good.json", "{\"capacity\":{\"pressure_unique_blocks\":200}}", "PRESSURE_INSUFFICIENT",
      "bound_blocks" },
    { "b2_good.json", "{\"phases\":{\"replay\":{\"os\":{\"o_direct\":false}}}}",
      "PAGE_CACHE_SUSPECT", "o_direct" },
    { "b2_good.json",
      "{\"phases\":{\"replay\":{\"os\":{\"server_read_bytes\":20000000,"
      "\"server_rchar_bytes\":157286400}}}}",
      "PAGE_CACHE_SUSPECT", "replay_rchar_bytes" },
    /* background I/O on the device */
    { "b2_good.json", "{\"phases\":{\"replay\":{\"os\":{\"device_read_bytes\":900000000}}}}",
      "IO_UNATTRIBUTED", "replay" },
    { "b2_good.json", "{\"noise\":{\"other_io_fraction\":0.5}}", "SYSTEM_NOISE",
      "other_io_fraction" },
    { "b2_good.json", "{\"noise\":{\"psi_cpu_some_pct_max\":80}}", "SYSTEM_NOISE",
      "psi_cpu_some_pct_max" },
    /* I/O pressure with other processes' I/O on the device is noise ... */
    { "b2_good.json", "{\"noise\":{\"psi_io_some_pct_max\":90,\"other_io_fraction\":0.4}}",
      "SYSTEM_NOISE", "psi_io_some_pct_max" },
    { "b2_good.json", "{\"noise\":{\"thermal_events\":3}}", "THERMAL_THROTTLE", "thermal_events" },
    /* the SSD throttled itself in a measured phase (per-phase SMART) */
    { "b2_good.json", "{\"noise\":{\"ssd_throttled_phases\":[\"replay\"]}}", "THERMAL_THROTTLE",
      "ssd_throttled_phases" },
    { "b2_good.json", "{\"smart\":{\"media_errors_delta\":1}}", "SMART_ERRORS",
      "media_errors_delta" },
    { "b2_good.json", "{\"phases\":{\"replay\":{\"client_lag_p99_ms\":120}}}", "CLIENT_LAG",
      "replay" },
    { "b2_good.json", "{\"repeats\":{\"n\":1}}", "REPEATS_UNSTABLE", "repeats" },
    { "b2_good.json", "{\"repeats\":{\"cv_replay_ttft_p50\":0.6}}", "REPEATS_UNSTABLE",
      "cv_replay_ttft_p50" },
    { "b2_good.json", "{\"repeats\":null}", "REPEATS_UNSTABLE", "repeats" },
    { "b2_good.json",
      "{\"phases\":{\"replay\":{\"ttft_n\":12,\"ttft_p95_supported\":false,"
      "\"ttft_p99_supported\":false}}}",
      "TAIL_UNDERSAMPLED", "requests_needed" },
    { "b2_good.json",
      "{\"prompt_tokens\":{\"compared\":10,\"mismatched\":2,\"max_abs_diff\":50,"
      "\"tolerance_tokens\":8,\"tolerance_fraction\":0.02,\"examples\":[]}}",
      "PROMPT_TOKENS_MISMATCH", "" },
    { "b2_good.json",
      "{\"phases\":{\"pressure\":{\"settle_after\":{\"status\":\"timed_out\",\"waited_s\":30,"
      "\"quiet_required_s\":2,\"moved\":{\"kvbm_offload_blocks_h2d\":40}}}}}",
      "SETTLE_TIMEOUT", "pressure" },
};

static void test_each_code(void **state)
{
    (void)state;
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    bool seen[GATE__COUNT] = { false };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct gate_case *c = &cases[i];
        json_t *e = load_fixture(c->fixture);
        json_t *patch = NULL;
        assert_int_equal(jsonx_parse(c->patch, strlen(c->patch), &patch, NULL), 0);
        merge(e, patch);
        json_t *v = gate_evaluate(e, &t);
        if (!has_code(v, c->code))
            fail_msg("case %zu: expected %s, got %s", i, c->code,
                     json_dumps(json_object_get(v, "reason_codes"), 0));
        json_t *d = json_object_get(json_object_get(v, "details"), c->code);
        assert_non_null(json_object_get(d, "why"));
        if (c->detail_key[0] && !json_object_get(d, c->detail_key))
            fail_msg("case %zu: details.%s lacks %s: %s", i, c->code, c->detail_key,
                     json_dumps(d, 0));
        enum gate_code code = GATE__COUNT;
        for (int k = 0; k < GATE__COUNT; k++)
            if (!strcmp(gate_code_name((enum gate_code)k), c->code))
                code = (enum gate_code)k;
        assert_true(code < GATE__COUNT);
        seen[code] = true;
        assert_true(json_is_false(json_object_get(v, "decision_grade")));
        if (gate_code_is_hard(code))
            assert_true(json_is_false(json_object_get(v, "run_valid")));
        json_decref(v);
        json_decref(patch);
        json_decref(e);
    }
    for (int k = 0; k < GATE__COUNT; k++)
        if (!seen[k])
            fail_msg("no test case provokes %s", gate_code_name((enum gate_code)k));
}

/* ... but the server saturating the SSD with its own KV reads is the effect under test: a run
 * whose device bytes are all the server's stays decision-grade however high PSI I/O goes. */
static void test_own_io_pressure_is_not_noise(void **state)
{
    (void)state;
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    json_t *e = load_fixture("b2_good.json");
    json_t *patch = NULL;
    const char *p = "{\"noise\":{\"psi_io_some_pct_max\":97,\"other_io_fraction\":0.0}}";
    assert_int_equal(jsonx_parse(p, strlen(p), &patch, NULL), 0);
    merge(e, patch);
    json_t *v = gate_evaluate(e, &t);
    assert_false(has_code(v, "SYSTEM_NOISE"));
    assert_true(json_is_true(json_object_get(v, "decision_grade")));
    json_decref(v);
    json_decref(patch);
    json_decref(e);
}

/* The gate judges the quantile the run claims (--tail): a median claim from 5 requests is
 * undersampled (6 needed), one from 10 is not, whatever p95 says; p95 and p99 as before. */
static void test_tail_gate_follows_the_claimed_quantile(void **state)
{
    (void)state;
    static const struct {
        double q;
        const char *patch;
        bool undersampled;
        double needed;
    } cs[] = {
        { 0.50,
          "{\"phases\":{\"replay\":{\"ttft_n\":5,\"ttft_p50_supported\":false,"
          "\"ttft_p95_supported\":false}}}",
          true, 6 },
        { 0.50,
          "{\"phases\":{\"replay\":{\"ttft_n\":10,\"ttft_p50_supported\":true,"
          "\"ttft_p95_supported\":false}}}",
          false, 0 },
        { 0.95,
          "{\"phases\":{\"replay\":{\"ttft_n\":10,\"ttft_p50_supported\":true,"
          "\"ttft_p95_supported\":false}}}",
          true, 72 },
        { 0.99,
          "{\"phases\":{\"replay\":{\"ttft_n\":100,\"ttft_p95_supported\":true,"
          "\"ttft_p99_supported\":false}}}",
          true, 368 },
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct gate_thresholds t;
        gate_thresholds_default(&t);
        t.tail_quantile = cs[i].q;
        json_t *e = load_fixture("b2_good.json");
        json_t *patch = NULL;
        assert_int_equal(jsonx_parse(cs[i].patch, strlen(cs[i].patch), &patch, NULL), 0);
        merge(e, patch);
        json_t *v = gate_evaluate(e, &t);
        if (has_code(v, "TAIL_UNDERSAMPLED") != cs[i].undersampled)
            fail_msg("case %zu (q %.2f): %s", i, cs[i].q,
                     json_dumps(json_object_get(v, "reason_codes"), 0));
        if (cs[i].undersampled) {
            json_t *d = json_object_get(json_object_get(v, "details"), "TAIL_UNDERSAMPLED");
            assert_true(jsonx_num(d, "requests_needed", 0) == cs[i].needed);
            assert_true(jsonx_num(d, "quantile", 0) == cs[i].q);
        }
        json_decref(v);
        json_decref(patch);
        json_decref(e);
    }
}

static json_t *patched_verdict(const char *fixture, const char *patch_text)
{
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    json_t *e = load_fixture(fixture);
    json_t *patch = NULL;
    assert_int_equal(jsonx_parse(patch_text, strlen(patch_text), &patch, NULL), 0);
    merge(e, patch);
    json_t *v = gate_evaluate(e, &t);
    json_decref(patch);
    json_decref(e);
    return v;
}

/* CLIENT_LAG judges the client's own lateness: a request that waited for the workload's
 * concurrency cap (the server being slow, inside TTFT from intended) does not raise it. */
static void test_cap_wait_is_not_client_lag(void **state)
{
    (void)state;
    static const struct {
        const char *patch;
        bool lag;
    } cs[] = {
        { "{\"phases\":{\"replay\":{\"client_lag_p99_ms\":1200,\"send_lag_p99_ms\":2}}}", false },
        { "{\"phases\":{\"replay\":{\"client_lag_p99_ms\":1200,\"send_lag_p99_ms\":90}}}", true },
        { "{\"phases\":{\"replay\":{\"client_lag_p99_ms\":1200,\"send_lag_p99_ms\":null}}}", true },
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        json_t *v = patched_verdict("b2_good.json", cs[i].patch);
        if (has_code(v, "CLIENT_LAG") != cs[i].lag)
            fail_msg("case %zu: %s", i, json_dumps(json_object_get(v, "reason_codes"), 0));
        json_decref(v);
    }
}

/* Other processes' share of the device counts only where the device moved more than
 * disk_min_bytes and the mode's KV path uses the disk: a B2 run whose disk saw 72 KiB of
 * journal writes, all another process's, is not noisy, the same share of 50 MB is; in B1 (no
 * disk tier) 5 MB of the harness's files and the journal are not noise either. */
static void test_noise_needs_device_traffic(void **state)
{
    (void)state;
    static const struct {
        const char *fixture, *patch;
        bool noise;
    } cs[] = {
        { "b2_good.json", "{\"noise\":{\"other_io_fraction\":1.0,\"device_bytes\":73728}}", false },
        { "b2_good.json", "{\"noise\":{\"other_io_fraction\":1.0,\"device_bytes\":50000000}}",
          true },
        { "b2_good.json", "{\"noise\":{\"other_io_fraction\":1.0}}", true },
        { "b1_good.json", "{\"noise\":{\"other_io_fraction\":0.99,\"device_bytes\":5423104}}",
          false },
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        json_t *v = patched_verdict(cs[i].fixture, cs[i].patch);
        if (has_code(v, "SYSTEM_NOISE") != cs[i].noise)
            fail_msg("case %zu: %s", i, json_dumps(json_object_get(v, "reason_codes"), 0));
        json_decref(v);
    }
}

/* Issue 11 #2: the mechanism counts onboarded AND verified blocks: all 600 replay blocks failed
 * verification, so nothing was served from disk whatever the onboard counter says. */
static void test_unverified_blocks_are_no_mechanism(void **state)
{
    (void)state;
    json_t *v = patched_verdict("b2_good.json",
                                "{\"phases\":{\"replay\":{\"kvbm\":{\"verify_failures\":600}}}}");
    assert_true(json_is_false(jsonx_path(v, "chain.mechanism")));
    assert_true(json_is_false(json_object_get(v, "run_valid")));
    assert_true(has_code(v, "KV_VERIFY_FAILED"));
    json_decref(v);
    /* a few failures: still a mechanism (590 verified), but the run is not valid */
    v = patched_verdict("b2_good.json",
                        "{\"phases\":{\"replay\":{\"kvbm\":{\"verify_failures\":10}}}}");
    assert_true(json_is_true(jsonx_path(v, "chain.mechanism")));
    assert_true(json_is_false(json_object_get(v, "run_valid")));
    json_decref(v);
}

/* Issue 11 #3: a no-disk mode's OS link is not true by default: KV-file bytes (or, where the
 * attribution cannot tell, the server's storage reads) must stay under disk_min_bytes. */
static void test_no_disk_os_link_can_fail(void **state)
{
    (void)state;
    json_t *v = patched_verdict(
        "b1_good.json", "{\"phases\":{\"replay\":{\"os\":{\"server_read_bytes\":52428800}}}}");
    assert_true(json_is_false(jsonx_path(v, "chain.os_corroboration")));
    json_decref(v);
    v = patched_verdict("b1_good.json",
                        "{\"phases\":{\"replay\":{\"os\":{\"server_read_bytes\":52428800,"
                        "\"kv_read_bytes\":0}}}}");
    assert_true(json_is_true(jsonx_path(v, "chain.os_corroboration")));
    json_decref(v);
}

/* Soft codes alone leave the run valid. */
static void test_soft_keeps_run_valid(void **state)
{
    (void)state;
    struct gate_thresholds t;
    gate_thresholds_default(&t);
    json_t *e = load_fixture("b2_good.json");
    json_object_set_new(json_object_get(e, "noise"), "thermal_events", json_integer(2));
    json_t *v = gate_evaluate(e, &t);
    assert_true(json_is_true(json_object_get(v, "run_valid")));
    assert_true(json_is_false(json_object_get(v, "decision_grade")));
    json_decref(v);
    json_decref(e);
}

static void test_thresholds_roundtrip(void **state)
{
    (void)state;
    struct gate_thresholds t, u;
    gate_thresholds_default(&t);
    json_t *j = gate_thresholds_json(&t);
    memset(&u, 0, sizeof(u));
    const char *bad = NULL;
    assert_int_equal(gate_thresholds_from_json(j, &u, &bad), 0);
    assert_memory_equal(&t, &u, sizeof(t));
    json_object_set_new(j, "no_such_threshold", json_real(1));
    assert_int_equal(gate_thresholds_from_json(j, &u, &bad), -EINVAL);
    assert_string_equal(bad, "no_such_threshold");
    json_decref(j);
    /* issue 11 #13: not a mapping, negative values */
    json_t *list = json_array();
    assert_int_equal(gate_thresholds_from_json(list, &u, &bad), -EINVAL);
    assert_null(bad);
    json_decref(list);
    json_t *str = json_string("error_rate_max: 1");
    assert_int_equal(gate_thresholds_from_json(str, &u, &bad), -EINVAL);
    json_decref(str);
    json_t *neg = json_object();
    json_object_set_new(neg, "disk_min_bytes", json_real(-1));
    assert_int_equal(gate_thresholds_from_json(neg, &u, &bad), -ERANGE);
    assert_string_equal(bad, "disk_min_bytes");
    json_decref(neg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_fixtures_are_decision_grade),
        cmocka_unit_test(test_each_code),
        cmocka_unit_test(test_own_io_pressure_is_not_noise),
        cmocka_unit_test(test_tail_gate_follows_the_claimed_quantile),
        cmocka_unit_test(test_cap_wait_is_not_client_lag),
        cmocka_unit_test(test_noise_needs_device_traffic),
        cmocka_unit_test(test_soft_keeps_run_valid),
        cmocka_unit_test(test_unverified_blocks_are_no_mechanism),
        cmocka_unit_test(test_no_disk_os_link_can_fail),
        cmocka_unit_test(test_thresholds_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
