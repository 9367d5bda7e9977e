/* SPDX-License-Identifier: Apache-2.0 */
/* The pressure phase's capacities after launch (provenance_capacity + provenance_sizing):
 * observed G1 and bytes per block win over the profile; G2/G3 are taken as observed when the
 * running mode asked for B2's size, else derived from B2's by KVBM's rule with the bytes per
 * block used; the worker's environment is read by that rule; nothing observed keeps the plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "run/provenance.h"

static uint64_t used(const json_t *z, const char *k)
{
    return (uint64_t)json_integer_value(json_object_get(json_object_get(z, k), "used"));
}

static const char *src(const json_t *z, const char *k)
{
    return jsonx_str(json_object_get(z, k), "source", "");
}

static void test_observed_wins(void **state)
{
    (void)state;
    /* a B2 run: the frontend's pool, KVBM's layout line, the engine's tier gauges */
    json_t *oc = json_loads("{\"engine_limits\": {\"total_kv_blocks\": 384, "
                            "\"kv_cache_block_size\": 32},"
                            " \"worker_layout\": {\"num_device_blocks\": 390, "
                            "\"bytes_per_block\": 131072},"
                            " \"engine_reported\": {\"kvtier_engine_g2_capacity_blocks\": 500,"
                            " \"kvtier_engine_g3_capacity_blocks\": 4000}}",
                            0, NULL);
    const uint64_t planned[3] = { 256, 512, 4096 };
    json_t *cap = provenance_capacity(oc, 8192, planned, 262144);
    struct mode_settings b2 = {
        .id = MODE_B2, .cpu_cache_blocks = 512, .disk_cache_blocks = 4096, .bytes_per_block = 262144
    };
    struct workload_capacity wc;
    json_t *z = provenance_sizing(cap, &b2, &b2, 256, &wc);
    assert_int_equal(used(z, "g1_blocks"), 384);
    assert_string_equal(src(z, "g1_blocks"), "dynamo_frontend_model_total_kv_blocks");
    assert_int_equal(used(z, "bytes_per_block"), 131072);
    assert_non_null(strstr(src(z, "bytes_per_block"), "Inferred layout"));
    assert_int_equal(used(z, "g2_blocks"), 500);
    assert_int_equal(used(z, "g3_blocks"), 4000);
    assert_true(jsonx_bool(z, "resized", false));
    assert_int_equal(wc.g1_blocks, 384);
    assert_int_equal(wc.bytes_per_block, 131072);
    json_decref(z);
    /* a B1 run shows no tiers: B2's GB size by KVBM's rule with the observed bytes per block;
     * blocks given as blocks stay */
    struct mode_settings b1 = { .id = MODE_B1, .bytes_per_block = 262144 };
    struct mode_settings b2gb = {
        .id = MODE_B2, .cpu_cache_gb = 1, .disk_cache_blocks = 4096, .bytes_per_block = 262144
    };
    z = provenance_sizing(cap, &b1, &b2gb, 256, &wc);
    assert_int_equal(used(z, "g2_blocks"), 7629); /* floor(1e9 / 131072) */
    assert_non_null(strstr(src(z, "g2_blocks"), "KVBM's rule"));
    assert_true(json_is_null(json_object_get(json_object_get(z, "g2_blocks"), "observed")));
    assert_int_equal(used(z, "g3_blocks"), 4096);
    json_decref(z);
    json_decref(cap);
    json_decref(oc);
}

static void test_environment_and_nothing(void **state)
{
    (void)state;
    /* the real stack: no tier gauges; KVBM's rule on the worker's own variables */
    json_t *oc = json_loads("{\"engine_limits\": {\"total_kv_blocks\": 6144},"
                            " \"worker_layout\": {\"bytes_per_block\": 2097152},"
                            " \"env\": {\"DYN_KVBM_CPU_CACHE_GB\": \"16\","
                            " \"DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS\": \"120000\","
                            " \"DYN_KVBM_DISK_CACHE_GB\": \"256\"}}",
                            0, NULL);
    const uint64_t planned[3] = { 6144, 7629, 122070 };
    json_t *cap = provenance_capacity(oc, 65536, planned, 2097152);
    assert_true(jsonx_num(json_object_get(cap, "g2_blocks"), "value", 0) == 7629.0);
    assert_true(jsonx_num(json_object_get(cap, "g3_blocks"), "value", 0) == 120000.0);
    json_decref(cap);
    json_decref(oc);
    /* nothing observed: the profile arithmetic stays */
    oc = json_object();
    cap = provenance_capacity(oc, 65536, planned, 2097152);
    struct mode_settings b2 = {
        .id = MODE_B2, .cpu_cache_gb = 16, .disk_cache_gb = 256, .bytes_per_block = 2097152
    };
    struct workload_capacity wc;
    json_t *z = provenance_sizing(cap, &b2, &b2, 6144, &wc);
    assert_false(jsonx_bool(z, "resized", true));
    assert_int_equal(wc.g2_blocks, mode_cpu_blocks(&b2));
    assert_int_equal(wc.g3_blocks, mode_disk_blocks(&b2));
    assert_int_equal(used(z, "g1_blocks"), 6144);
    json_decref(z);
    json_decref(cap);
    json_decref(oc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observed_wins),
        cmocka_unit_test(test_environment_and_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
