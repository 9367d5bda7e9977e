/* SPDX-License-Identifier: Apache-2.0 */
/* Phase settling (src/run/settle.c) on a fake clock and a fake counter source: a source that
 * keeps moving for a while after the phase (KVBM's late offloads leaking past the phase end)
 * is waited out and its movement recorded; a source that never goes quiet times out at the
 * bound; an unreadable counter is not movement; a stop request ends the wait. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "run/settle.h"

#define MS CLK_NS_PER_MS

struct fake {
    uint64_t now;         /* fake monotonic time */
    uint64_t moves_until; /* counter 0 grows by 3 per reading while now < this */
    double c0, c1;
    bool c1_unreadable;
    double c1_step; /* counter 1 grows by this per reading (background writes) */
    unsigned reads;
};

static uint64_t fake_now(const struct clk *c)
{
    return ((struct fake *)c->ctx)->now;
}

static void fake_sleep(void *ctx, uint64_t ns)
{
    ((struct fake *)ctx)->now += ns;
}

static void fake_sample(void *ctx, double *v, size_t n)
{
    struct fake *f = ctx;
    assert_int_equal(n, 2);
    if (f->now < f->moves_until)
        f->c0 += 3;
    f->reads++;
    v[0] = f->c0;
    f->c1 += f->c1_step;
    v[1] = f->c1_unreadable ? NAN : f->c1;
}

static const char *const names[] = { "offload_blocks", "device_write_bytes" };

static void setup(struct fake *f, struct clk *c, struct settle_config *cfg,
                  struct settle_source *src)
{
    *c = (struct clk){ .now_ns = fake_now, .ctx = f };
    *cfg = (struct settle_config){ .quiet_ns = 2000 * MS,
                                   .timeout_ns = 30000 * MS,
                                   .poll_ns = 250 * MS,
                                   .clk = c,
                                   .sleep = fake_sleep,
                                   .sleep_ctx = f };
    *src = (struct settle_source){ .names = names, .n = 2, .sample = fake_sample, .ctx = f };
}

static void quiet_source_settles_after_quiet_time(void **state)
{
    (void)state;
    struct fake f = { .now = 1000 * MS, .c0 = 10, .c1 = 4096 };
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_SETTLED);
    assert_int_equal(r.waited_ns, 2000 * MS);
    assert_int_equal(r.changes, 0);
    assert_true(r.moved[0] == 0 && r.moved[1] == 0);
}

static void late_writes_are_waited_out_and_recorded(void **state)
{
    (void)state;
    /* the counter moves for 1.6 s after the phase: settled 2 s after its last movement */
    struct fake f = { .now = 0, .moves_until = 1600 * MS, .c1 = 0 };
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_SETTLED);
    /* the last moving reading is the one at 1500 ms: quiet from there for 2000 ms */
    assert_int_equal(r.waited_ns, 3500 * MS);
    assert_int_equal(r.quiet_ns, 2000 * MS);
    assert_int_equal(r.changes, 6); /* readings at 250..1500 ms */
    assert_true(r.moved[0] == 18);  /* 6 x 3 blocks leaked past the phase end */
    json_t *j = settle_result_json(&r, &cfg, &src);
    assert_string_equal(jsonx_str(j, "status", ""), "settled");
    assert_true(jsonx_num(json_object_get(j, "moved"), "offload_blocks", 0) == 18);
    assert_true(fabs(jsonx_num(j, "waited_s", 0) - 3.5) < 1e-9);
    json_decref(j);
}

static void moving_source_times_out(void **state)
{
    (void)state;
    struct fake f = { .now = 0, .moves_until = UINT64_MAX };
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    cfg.timeout_ns = 5000 * MS;
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_TIMED_OUT);
    assert_int_equal(r.waited_ns, 5000 * MS);
    assert_true(r.quiet_ns < cfg.quiet_ns);
    assert_true(r.moved[0] > 0);
    json_t *j = settle_result_json(&r, &cfg, &src);
    assert_string_equal(jsonx_str(j, "status", ""), "timed_out");
    json_decref(j);
}

static void unreadable_counter_is_not_movement(void **state)
{
    (void)state;
    struct fake f = { .now = 0, .c1_unreadable = true };
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_SETTLED);
    assert_false(r.readable[1]);
    json_t *j = settle_result_json(&r, &cfg, &src);
    assert_true(json_is_null(json_object_get(json_object_get(j, "moved"), "device_write_bytes")));
    json_decref(j);
}

/* a shared disk's background writes below the quiet rate do not hold the wait; above it they
 * do, and their growth is recorded either way */
static void quiet_rate_tolerates_background_writes(void **state)
{
    (void)state;
    struct fake f = { .now = 0, .c1_step = 100 }; /* 400 units/s at 250 ms readings */
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    const double slow[] = { 0, 1000 };
    src.quiet_rate = slow;
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_SETTLED);
    assert_int_equal(r.waited_ns, 2000 * MS);
    assert_true(r.moved[1] == 800);
    const double strict[] = { 0, 100 };
    src.quiet_rate = strict;
    cfg.timeout_ns = 4000 * MS;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_TIMED_OUT);
    assert_true(r.moved[1] == 1600);
}

static void disabled_and_stopped(void **state)
{
    (void)state;
    struct fake f = { .now = 0, .moves_until = UINT64_MAX };
    struct clk c;
    struct settle_config cfg;
    struct settle_source src;
    setup(&f, &c, &cfg, &src);
    cfg.timeout_ns = 0;
    struct settle_result r;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_DISABLED);
    assert_int_equal(f.reads, 0);
    volatile sig_atomic_t stop = 1;
    cfg.timeout_ns = 30000 * MS;
    cfg.stop = &stop;
    assert_int_equal(settle_wait(&cfg, &src, &r), 0);
    assert_int_equal(r.status, SETTLE_INTERRUPTED);
    src.n = 0;
    assert_int_equal(settle_wait(&cfg, &src, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_source_settles_after_quiet_time),
        cmocka_unit_test(late_writes_are_waited_out_and_recorded),
        cmocka_unit_test(moving_source_times_out),
        cmocka_unit_test(unreadable_counter_is_not_movement),
        cmocka_unit_test(quiet_rate_tolerates_background_writes),
        cmocka_unit_test(disabled_and_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
