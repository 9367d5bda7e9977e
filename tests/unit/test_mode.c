/* SPDX-License-Identifier: Apache-2.0 */
/* Modes: the exact KVBM environment and TRT-LLM document per mode, KVBM's parsing quirks when
 * reading an environment back, and the comparison that catches a "B1" with a disk tier. */
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
#include "common/yamlx.h"
#include "stack/mode.h"

#define BPB 262144ULL

static struct mode_settings base(enum mode_id id)
{
    struct mode_settings s = { .id = id,
                               .cpu_cache_gb = 2,
                               .disk_cache_gb = 8,
                               .bytes_per_block = BPB,
                               .c_disk_fraction = 0.25 };
    strcpy(s.disk_cache_dir, "/mnt/nvme/kvbm");
    return s;
}

static void test_env_per_mode(void **state)
{
    (void)state;
    static const struct {
        enum mode_id id;
        const char *set[6][2]; /* expected name, value (NULL value = must be absent) */
    } cases[] = {
        { MODE_B0,
          { { "DYN_KVBM_CPU_CACHE_GB", NULL },
            { "DYN_KVBM_DISK_CACHE_GB", NULL },
            { "DYN_KVBM_METRICS", NULL } } },
        { MODE_B1,
          { { "DYN_KVBM_CPU_CACHE_GB", "2" },
            { "DYN_KVBM_DISK_CACHE_GB", NULL },
            { "DYN_KVBM_DISK_CACHE_DIR", NULL },
            { "DYN_KVBM_METRICS", "true" } } },
        { MODE_B2,
          { { "DYN_KVBM_CPU_CACHE_GB", "2" },
            { "DYN_KVBM_DISK_CACHE_GB", "8" },
            { "DYN_KVBM_DISK_CACHE_DIR", "/mnt/nvme/kvbm" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", NULL } } },
        { MODE_B2P,
          { { "DYN_KVBM_CPU_CACHE_GB", "2" },
            { "DYN_KVBM_DISK_CACHE_GB", "8" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "true" } } },
        { MODE_B3, { { "DYN_KVBM_CPU_CACHE_GB", NULL }, { "DYN_KVBM_DISK_CACHE_GB", "8" } } },
        { MODE_C,
          { { "DYN_KVBM_CPU_CACHE_GB", "2" },
            { "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS", "7629" },
            { "DYN_KVBM_DISK_CACHE_GB", "2" } } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mode_settings s = base(cases[i].id);
        struct spawn_env env;
        static char *inherited[] = { "PATH=/bin", "DYN_KVBM_DISK_CACHE_GB=99", NULL };
        spawn_env_init(&env, inherited, NULL);
        assert_int_equal(mode_env_apply(&s, &env), 0);
        for (size_t k = 0; k < 6 && cases[i].set[k][0]; k++) {
            const char *got = spawn_env_get(&env, cases[i].set[k][0]);
            if (cases[i].set[k][1] == NULL) {
                if (got)
                    fail_msg("%s: %s should be absent, is %s", mode_name(cases[i].id),
                             cases[i].set[k][0], got);
            } else {
                if (!got || strcmp(got, cases[i].set[k][1]))
                    fail_msg("%s: %s = %s, want %s", mode_name(cases[i].id), cases[i].set[k][0],
                             got ? got : "(unset)", cases[i].set[k][1]);
            }
        }
        assert_string_equal(spawn_env_get(&env, "PATH"), "/bin");
        /* what we wrote reads back as the mode we asked for */
        struct mode_observed o;
        mode_observe_env(&env, BPB, &o);
        json_t *mm = mode_compare(&s, &o);
        if (json_array_size(mm))
            fail_msg("%s: %s", mode_name(cases[i].id), json_dumps(mm, 0));
        json_decref(mm);
        spawn_env_fini(&env);
    }
}

static void test_fractional_gb_uses_overrides(void **state)
{
    (void)state;
    struct mode_settings s = base(MODE_B2);
    s.cpu_cache_gb = 0.5; /* KVBM's bypass check would parse this as 0 */
    struct spawn_env env;
    spawn_env_init(&env, NULL, NULL);
    assert_int_equal(mode_env_apply(&s, &env), 0);
    assert_string_equal(spawn_env_get(&env, "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS"), "1907");
    assert_string_equal(spawn_env_get(&env, "DYN_KVBM_CPU_CACHE_GB"), "1");
    struct mode_observed o;
    mode_observe_env(&env, BPB, &o);
    assert_false(o.disk_only);
    assert_true(o.filter_on);
    spawn_env_fini(&env);
}

static void test_observe_quirks(void **state)
{
    (void)state;
    static const struct {
        const char *env[6];
        bool kvbm, disk_only, filter_on, o_direct;
        uint64_t cpu, disk;
    } cases[] = {
        /* "TRUE" and "yes" leave the filter on; only "true"/"1" disable it */
        { { "DYN_KVBM_CPU_CACHE_GB=1", "DYN_KVBM_DISK_CACHE_GB=2",
            "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=TRUE" },
          true,
          false,
          true,
          true,
          3814,
          7629 },
        { { "DYN_KVBM_CPU_CACHE_GB=1", "DYN_KVBM_DISK_CACHE_GB=2",
            "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=1" },
          true,
          false,
          false,
          true,
          3814,
          7629 },
        /* 0.5 GB: host blocks allocated but bypass (disk-only) in force */
        { { "DYN_KVBM_CPU_CACHE_GB=0.5", "DYN_KVBM_DISK_CACHE_GB=2" },
          true,
          true,
          false,
          true,
          1907,
          7629 },
        /* override wins over GB; O_DIRECT disabled by presence, even "false" */
        { { "DYN_KVBM_CPU_CACHE_GB=1", "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS=10",
            "DYN_KVBM_DISK_CACHE_GB=1", "DYN_KVBM_DISK_DISABLE_O_DIRECT=false" },
          true,
          false,
          true,
          false,
          10,
          3814 },
        { { "PATH=/bin" }, false, false, false, true, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct spawn_env env;
        spawn_env_init(&env, NULL, NULL);
        for (size_t k = 0; k < 6 && cases[i].env[k]; k++)
            spawn_env_parse_block(&env, cases[i].env[k], strlen(cases[i].env[k]));
        struct mode_observed o;
        mode_observe_env(&env, BPB, &o);
        assert_int_equal(o.kvbm, cases[i].kvbm);
        assert_int_equal(o.disk_only, cases[i].disk_only);
        assert_int_equal(o.filter_on, cases[i].filter_on);
        assert_int_equal(o.o_direct, cases[i].o_direct);
        assert_int_equal(o.cpu_blocks, cases[i].cpu);
        assert_int_equal(o.disk_blocks, cases[i].disk);
        spawn_env_fini(&env);
    }
}

/* The peer harness's defect: a "B1" that had the same disk tier as B2. */
static void test_b1_with_smuggled_disk_is_caught(void **state)
{
    (void)state;
    struct mode_settings s = base(MODE_B1);
    struct spawn_env env;
    spawn_env_init(&env, NULL, NULL);
    assert_int_equal(mode_env_apply(&s, &env), 0);
    spawn_env_set(&env, "DYN_KVBM_DISK_CACHE_GB", "32");
    struct mode_observed o;
    mode_observe_env(&env, BPB, &o);
    json_t *mm = mode_compare(&s, &o);
    assert_true(json_array_size(mm) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mm, 0), "field")),
                        "disk_cache_blocks");
    json_decref(mm);
    /* and a B2 whose filter override never reached the worker */
    struct mode_settings p = base(MODE_B2P);
    spawn_env_unset(&env, "DYN_KVBM_DISK_CACHE_GB");
    assert_int_equal(mode_env_apply(&p, &env), 0);
    spawn_env_unset(&env, "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER");
    mode_observe_env(&env, BPB, &o);
    mm = mode_compare(&p, &o);
    assert_int_equal(json_array_size(mm), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mm, 0), "field")),
                        "disk_offload_filter");
    json_decref(mm);
    spawn_env_fini(&env);
}

static void test_trtllm_yaml(void **state)
{
    (void)state;
    for (int id = 0; id < MODE__COUNT; id++) {
        json_t *doc = mode_trtllm_args((enum mode_id)id, 0.8);
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(yamlx_emit(doc, &b), 0);
        const char *y = buf_str(&b);
        /* the document as TRT-LLM will parse it */
        json_t *back = NULL;
        assert_int_equal(yamlx_parse(y, b.len, &back, NULL), 0);
        assert_string_equal(json_string_value(json_object_get(back, "backend")), "pytorch");
        assert_true(json_is_null(json_object_get(back, "cuda_graph_config")));
        json_t *kv = json_object_get(back, "kv_cache_config");
        assert_true(json_is_false(json_object_get(kv, "enable_partial_reuse")));
        assert_true(fabs(json_number_value(json_object_get(kv, "free_gpu_memory_fraction")) - 0.8) <
                    1e-12);
        json_t *c = json_object_get(back, "kv_connector_config");
        assert_int_equal(c != NULL, id != MODE_B0);
        if (id != MODE_B0) {
            assert_string_equal(json_string_value(json_object_get(c, "connector_module")),
                                "kvbm.trtllm_integration.connector");
            assert_string_equal(json_string_value(json_object_get(c, "connector_scheduler_class")),
                                "DynamoKVBMConnectorLeader");
            assert_string_equal(json_string_value(json_object_get(c, "connector_worker_class")),
                                "DynamoKVBMConnectorWorker");
        }
        /* baseline is exactly the first five lines of kvbm.md §7: nothing else */
        assert_int_equal(json_object_size(back), id == MODE_B0 ? 3 : 4);
        json_decref(back);
        buf_fini(&b);
        json_decref(doc);
    }
}

static void test_names_and_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int rc;
        enum mode_id id;
    } cases[] = {
        { "B0", 0, MODE_B0 }, { "B2p", 0, MODE_B2P }, { "B2'", 0, MODE_B2P }, { "C", 0, MODE_C },
        { "b2", -EINVAL, 0 }, { "B4", -EINVAL, 0 },   { "", -EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum mode_id id = MODE__COUNT;
        assert_int_equal(mode_parse(cases[i].name, &id), cases[i].rc);
        if (!cases[i].rc)
            assert_int_equal(id, cases[i].id);
    }
    struct spawn_env env;
    spawn_env_init(&env, NULL, NULL);
    struct mode_settings s = base(MODE_B2);
    s.disk_cache_dir[0] = 0;
    assert_int_equal(mode_env_apply(&s, &env), -EINVAL);
    s = base(MODE_B1);
    s.cpu_cache_gb = 0;
    assert_int_equal(mode_env_apply(&s, &env), -EINVAL);
    s = base(MODE_C);
    s.c_disk_fraction = 1;
    assert_int_equal(mode_env_apply(&s, &env), -EINVAL);
    s.c_read_bps = 1000000;
    assert_int_equal(mode_env_apply(&s, &env), 0);
    spawn_env_fini(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_per_mode),
        cmocka_unit_test(test_fractional_gb_uses_overrides),
        cmocka_unit_test(test_observe_quirks),
        cmocka_unit_test(test_b1_with_smuggled_disk_is_caught),
        cmocka_unit_test(test_trtllm_yaml),
        cmocka_unit_test(test_names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
