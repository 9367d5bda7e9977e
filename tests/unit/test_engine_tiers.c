/* SPDX-License-Identifier: Apache-2.0 */
/* Engine building blocks: block contents and verification, the hash map, the block pool (LRU
 * eviction, reference counts, registration, invalidation, pool full), the KVBM frequency filter
 * (counting, doubling, decay at 600 s) and the KVBM environment parsing (f64 sizes, overrides,
 * the u64 bypass trap, exact filter switch, presence checks, metrics port fallback). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "engine/blockpool.h"
#include "engine/config.h"
#include "engine/filter.h"
#include "engine/kvdata.h"

static void test_kvdata(void **state)
{
    (void)state;
    size_t n = 8192;
    uint8_t *b = xmalloc(n);
    kvdata_fill(42, b, n);
    assert_true(kvdata_verify(42, b, n));
    assert_false(kvdata_verify(43, b, n));     /* another block's identity */
    assert_false(kvdata_verify(42, b, n / 2)); /* wrong size */
    b[5000] ^= 1;
    assert_false(kvdata_verify(42, b, n)); /* one flipped bit */
    free(b);
}

static void test_blockpool_lru(void **state)
{
    (void)state;
    struct blockpool p;
    assert_int_equal(blockpool_init(&p, 3), 0);
    uint32_t s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = blockpool_alloc(&p, NULL);
        assert_true(blockpool_register(&p, s[i], 100 + (uint64_t)i));
        p.s[s[i]].ready = true;
    }
    /* all in use: pool full */
    assert_int_equal(blockpool_alloc(&p, NULL), BLOCKPOOL_NONE);
    /* duplicate registration refused */
    assert_false(blockpool_register(&p, s[0], 101));
    /* release 0, 1, 2: LRU order 0, 1, 2; a hit on 0 makes 1 the oldest */
    for (int i = 0; i < 3; i++)
        blockpool_unref(&p, s[i]);
    assert_int_equal(blockpool_used(&p), 0);
    blockpool_touch(&p, s[0]);
    uint64_t ev = 0;
    uint32_t n = blockpool_alloc(&p, &ev);
    assert_int_equal(n, s[1]);
    assert_true(ev == 101);
    assert_int_equal(blockpool_lookup(&p, 101), BLOCKPOOL_NONE);
    assert_int_equal(blockpool_lookup_ready(&p, 100), s[0]);
    /* a referenced cached block leaves the LRU and cannot be evicted */
    blockpool_ref(&p, s[0]);
    n = blockpool_alloc(&p, &ev);
    assert_int_equal(n, s[2]);
    assert_int_equal(blockpool_alloc(&p, NULL), BLOCKPOOL_NONE);
    /* invalidate an in-use block: it returns to the free list when released */
    blockpool_invalidate(&p, s[0]);
    assert_int_equal(blockpool_lookup(&p, 100), BLOCKPOOL_NONE);
    blockpool_unref(&p, s[0]);
    assert_int_equal(p.n_free, 1);
    /* a not-ready block is invisible to matching */
    uint32_t w = blockpool_alloc(&p, NULL);
    blockpool_register(&p, w, 7);
    assert_int_equal(blockpool_lookup(&p, 7), w);
    assert_int_equal(blockpool_lookup_ready(&p, 7), BLOCKPOOL_NONE);
    assert_int_equal(p.evictions, 2);
    blockpool_fini(&p);
    assert_int_equal(blockpool_init(&p, 0), 0);
    assert_int_equal(blockpool_alloc(&p, NULL), BLOCKPOOL_NONE);
    blockpool_fini(&p);
}

static void test_filter(void **state)
{
    (void)state;
    struct filter f;
    uint64_t t = 1000;
    filter_init(&f, t);
    /* first admission 1 (rejected), second 2 (admitted), then doubles */
    assert_false(filter_should_offload(&f, 5, t));
    assert_true(filter_should_offload(&f, 5, t));
    assert_int_equal(filter_count(&f, 5), 2);
    assert_true(filter_should_offload(&f, 5, t));
    assert_int_equal(filter_count(&f, 5), 4);
    assert_false(filter_should_offload(&f, 6, t));
    /* one decay tick at creation + 600 s: all -1, zeros dropped */
    filter_tick(&f, t + FILTER_DECAY_NS - 1);
    assert_int_equal(filter_count(&f, 5), 4);
    filter_tick(&f, t + FILTER_DECAY_NS);
    assert_int_equal(filter_count(&f, 5), 3);
    assert_int_equal(filter_count(&f, 6), 0);
    /* a block seen once, then after a decay again: counts from 1 again */
    assert_false(filter_should_offload(&f, 6, t + FILTER_DECAY_NS));
    filter_tick(&f, t + 3 * FILTER_DECAY_NS);
    assert_int_equal(filter_count(&f, 6), 0);
    assert_int_equal(filter_count(&f, 5), 1);
    /* saturation */
    for (int i = 0; i < 40; i++)
        filter_should_offload(&f, 9, t + 3 * FILTER_DECAY_NS);
    assert_int_equal(filter_count(&f, 9), UINT32_MAX);
    filter_fini(&f);
}

struct env_case {
    const char *vars[8][2];
    uint64_t host, disk;
    bool enabled, bypass, filter, o_direct, metrics;
    uint16_t port;
    const char *mode;
};

static const char *case_get(void *ctx, const char *name)
{
    const struct env_case *c = ctx;
    for (int i = 0; i < 8 && c->vars[i][0]; i++)
        if (!strcmp(c->vars[i][0], name))
            return c->vars[i][1];
    return NULL;
}

static void test_config(void **state)
{
    (void)state;
    const uint64_t bpb = 2097152; /* 2 MiB: Llama 8B FP8 */
    static const struct env_case cases[] = {
        { { { NULL } }, 0, 0, false, false, false, true, false, 6880, "B0" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" } },
          3814,
          0,
          true,
          false,
          false,
          true,
          false,
          6880,
          "B1" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" }, { "DYN_KVBM_DISK_CACHE_GB", "32" } },
          3814,
          15258,
          true,
          false,
          true,
          true,
          false,
          6880,
          "B2" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" },
            { "DYN_KVBM_DISK_CACHE_GB", "32" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "true" } },
          3814,
          15258,
          true,
          false,
          false,
          true,
          false,
          6880,
          "B2p" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" },
            { "DYN_KVBM_DISK_CACHE_GB", "32" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "1" } },
          3814,
          15258,
          true,
          false,
          false,
          true,
          false,
          6880,
          "B2p" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" },
            { "DYN_KVBM_DISK_CACHE_GB", "32" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "TRUE" } },
          3814,
          15258,
          true,
          false,
          true,
          true,
          false,
          6880,
          "B2" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" },
            { "DYN_KVBM_DISK_CACHE_GB", "32" },
            { "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "yes" } },
          3814,
          15258,
          true,
          false,
          true,
          true,
          false,
          6880,
          "B2" },
        { { { "DYN_KVBM_DISK_CACHE_GB", "32" } },
          0,
          15258,
          true,
          true,
          false,
          true,
          false,
          6880,
          "B3" },
        /* the trap: fractional CPU GB allocates host blocks and still bypasses */
        { { { "DYN_KVBM_CPU_CACHE_GB", "0.5" }, { "DYN_KVBM_DISK_CACHE_GB", "32" } },
          238,
          15258,
          true,
          true,
          false,
          true,
          false,
          6880,
          "B3" },
        /* overrides win when parseable */
        { { { "DYN_KVBM_CPU_CACHE_GB", "8" },
            { "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS", "100" },
            { "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS", "x" },
            { "DYN_KVBM_DISK_CACHE_GB", "1" } },
          100,
          476,
          true,
          false,
          true,
          true,
          false,
          6880,
          "B2" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "-3" } },
          0,
          0,
          false,
          false,
          false,
          true,
          false,
          6880,
          "B0" },
        { { { "DYN_KVBM_CPU_CACHE_GB", " 8" } },
          0,
          0,
          false,
          false,
          false,
          true,
          false,
          6880,
          "B0" },
        { { { "DYN_KVBM_CPU_CACHE_GB", "1e1" } },
          4768,
          0,
          true,
          false,
          false,
          true,
          false,
          6880,
          "B1" },
        /* presence checks and metrics */
        { { { "DYN_KVBM_DISK_DISABLE_O_DIRECT", "false" },
            { "DYN_KVBM_METRICS", "TRUE" },
            { "DYN_KVBM_METRICS_PORT", "7001" } },
          0,
          0,
          false,
          false,
          false,
          false,
          true,
          7001,
          "B0" },
        { { { "DYN_KVBM_METRICS", "yes" }, { "DYN_KVBM_METRICS_PORT", "70000" } },
          0,
          0,
          false,
          false,
          false,
          true,
          false,
          6880,
          "B0" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_kvbm c;
        assert_int_equal(config_kvbm_from_env(case_get, (void *)&cases[i], bpb, &c), 0);
        if (c.host_blocks != cases[i].host || c.disk_blocks != cases[i].disk ||
            c.enabled != cases[i].enabled || c.bypass_cpu != cases[i].bypass ||
            c.filter_enabled != cases[i].filter || c.o_direct != cases[i].o_direct ||
            c.metrics_enabled != cases[i].metrics || c.metrics_port != cases[i].port ||
            strcmp(config_mode_name(&c), cases[i].mode) != 0)
            fail_msg("case %zu: host %llu disk %llu enabled %d bypass %d filter %d mode %s", i,
                     (unsigned long long)c.host_blocks, (unsigned long long)c.disk_blocks,
                     c.enabled, c.bypass_cpu, c.filter_enabled, config_mode_name(&c));
    }
    struct config_kvbm c;
    assert_int_equal(config_kvbm_from_env(case_get, (void *)&cases[0], 0, &c), -EINVAL);
    assert_string_equal(cases[0].vars[0][0] ? "" : CONFIG_DEFAULT_DISK_DIR, "/tmp/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvdata),
        cmocka_unit_test(test_blockpool_lru),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
