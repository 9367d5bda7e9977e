/* SPDX-License-Identifier: Apache-2.0 */
/* Tier capacities from modes and the pressure working-set target. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workload/capacity.h"

static void model_hw(struct model_profile *m, struct hw_profile *h)
{
    *m = (struct model_profile){ .layers = 32,
                                 .kv_heads = 8,
                                 .head_dim = 128,
                                 .kv_dtype_bytes = 1,
                                 .tokens_per_block = 32,
                                 .params_total = 8e9 };
    snprintf(m->name, sizeof(m->name), "m");
    snprintf(m->gemm_precision, sizeof(m->gemm_precision), "fp8");
    *h = (struct hw_profile){ .gpu_visible_bytes = 128e9, .free_gpu_memory_fraction = 0.9 };
    snprintf(h->name, sizeof(h->name), "h");
}

struct mode_case {
    const char *mode;
    bool g2, g3;
};

static const struct mode_case modes[] = {
    { "B0", false, false }, { "B1", true, false }, { "B2", true, true },
    { "B2p", true, true },  { "B3", false, true }, { "C", true, true },
};

static void test_modes(void **state)
{
    (void)state;
    struct model_profile m;
    struct hw_profile h;
    model_hw(&m, &h);
    uint64_t bpb = profile_bytes_per_block(&m);
    assert_int_equal(bpb, 2u << 20); /* 64 KiB per token x 32 */
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct workload_capacity c;
        char src[400];
        struct diag d = { 0 };
        assert_int_equal(
            capacity_from_mode(modes[i].mode, &h, &m, 16, 256, &c, src, sizeof(src), &d), 0);
        assert_int_equal(c.g1_blocks, profile_g1_blocks(&h, &m));
        assert_int_equal(c.g2_blocks, modes[i].g2 ? (uint64_t)(16e9 / (double)bpb) : 0);
        assert_int_equal(c.g3_blocks, modes[i].g3 ? (uint64_t)(256e9 / (double)bpb) : 0);
        assert_ptr_equal(c.source, src);
        assert_non_null(strstr(src, modes[i].mode));
    }
    struct workload_capacity c;
    char src[100];
    struct diag d = { 0 };
    assert_int_equal(capacity_from_mode("B9", &h, &m, 16, 256, &c, src, sizeof(src), &d), -EINVAL);
    assert_non_null(strstr(d.msg, "B9"));
    h.gpu_visible_bytes = 1e9; /* weights do not fit */
    assert_int_equal(capacity_from_mode("B2", &h, &m, 16, 256, &c, src, sizeof(src), &d), -EINVAL);
}

struct target_case {
    uint64_t g1, g2, g3;
    bool feasible;
    uint64_t lo, hi; /* target range */
};

static const struct target_case targets[] = {
    { 1000, 500, 10000, true, 1876, 1876 }, /* 1.25 x 1500 + 1 */
    { 1000, 500, 0, true, 1876, 1876 },     /* no G3: unknown fit */
    { 1000, 500, 1900, true, 1501, 1710 },  /* tight: between G1+G2 and 0.9 G3 */
    { 1000, 500, 1200, false, 0, UINT64_MAX }, { 0, 0, 0, false, 0, UINT64_MAX },
};

static void test_target(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        const struct target_case *k = &targets[i];
        struct workload_capacity c = { .g1_blocks = k->g1, .g2_blocks = k->g2, .g3_blocks = k->g3 };
        struct capacity_target t;
        capacity_target(&c, &t);
        if (t.feasible != k->feasible || t.target_blocks < k->lo || t.target_blocks > k->hi)
            fail_msg("case %zu: feasible %d target %llu (%s)", i, t.feasible,
                     (unsigned long long)t.target_blocks, t.note);
        if (t.feasible && k->g3)
            assert_true(t.target_blocks > k->g1 + k->g2 && t.target_blocks <= k->g3 * 9 / 10);
        assert_true(strlen(t.note) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
