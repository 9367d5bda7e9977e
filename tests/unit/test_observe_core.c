/* SPDX-License-Identifier: Apache-2.0 */
/* The sampler core (observe/observe.c) driven through the null sampler (observe/sampler_null.c):
 * setup records the source and opens its CSV, every tick and phase edge reaches the sampler in
 * order, the phase delta carries its part, no other source is touched, and the thread samples
 * on its own until stopped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "observe/observe.h"
#include "observe/sampler.h"

struct fake {
    uint64_t now;
};

static uint64_t fake_now(const struct clk *c)
{
    return ((struct fake *)c->ctx)->now;
}

static uint64_t fake_wall(const struct clk *c)
{
    return 1700000000000000000ULL + ((struct fake *)c->ctx)->now;
}

static const struct sampler_ops *const null_only[] = { &sampler_null_ops };

static void test_manual(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/kvtier-core-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct fake f = { .now = 5 * 1000000000ULL };
    struct clk c = { .now_ns = fake_now, .wall_unix_ns = fake_wall, .ctx = &f };
    struct observe_config cfg = {
        .os_dir = dir, .clk = &c, .manual = true, .samplers = null_only, .n_samplers = 1
    };
    struct observe *o = NULL;
    assert_int_equal(observe_start(&cfg, &o), 0); /* one sample at start */
    f.now += 1000000000ULL;
    assert_int_equal(observe_phase_begin(o, "replay"), 0); /* sample 2, then the snapshot */
    for (int i = 0; i < 2; i++) {
        f.now += 1000000000ULL;
        assert_int_equal(observe_sample_now(o), 0);
    }
    f.now += 1000000000ULL;
    json_t *d = NULL;
    assert_int_equal(observe_phase_end(o, "replay", &d), 0); /* sample 5 */
    json_t *n = json_object_get(d, "null");
    assert_int_equal(json_integer_value(json_object_get(n, "samples")), 5);
    assert_int_equal(json_integer_value(json_object_get(n, "snapshots")), 2);
    assert_int_equal(json_integer_value(json_object_get(n, "phase_samples")), 3);
    assert_true(json_real_value(json_object_get(d, "duration_s")) == 3.0);
    assert_null(json_object_get(d, "device")); /* no other sampler ran */
    json_decref(d);
    json_t *sum = NULL;
    f.now += 1000000000ULL;
    assert_int_equal(observe_stop(o, &sum), 0); /* sample 6 */
    assert_int_equal(json_integer_value(json_object_get(sum, "samples")), 6);
    json_t *src = json_object_get(sum, "sources");
    assert_int_equal(json_object_size(src), 1);
    assert_string_equal(jsonx_str(json_object_get(src, "null"), "status", ""), "ok");
    json_decref(sum);
    observe_free(o);

    char *p = xalloc_printf("%s/null.csv", dir);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(fileio_read_all(p, 1 << 20, &b), 0);
    /* the header and one row per sample */
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    assert_int_equal(lines, 1 + 6);
    assert_non_null(strstr(buf_str(&b), "t_unix_ns,t_s,interval_s,samples\n"));
    assert_non_null(strstr(buf_str(&b), ",3.000,1.000,4\n"));
    buf_fini(&b);
    free(p);
    p = xalloc_printf("%s/os_iostat.csv", dir);
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_thread(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/kvtier-core-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct observe_config cfg = {
        .os_dir = dir, .interval_ns = 10 * CLK_NS_PER_MS, .samplers = null_only, .n_samplers = 1
    };
    struct observe *o = NULL;
    assert_int_equal(observe_start(&cfg, &o), 0);
    /* wait (bounded) until the thread has sampled a few times by itself */
    uint64_t cpu, samples = 0;
    for (int i = 0; i < 500 && samples < 3; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        observe_cpu_stats(o, &cpu, &samples);
    }
    assert_true(samples >= 3);
    assert_int_equal(observe_stop(o, NULL), 0);
    observe_free(o);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual),
        cmocka_unit_test(test_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
