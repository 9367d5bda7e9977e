/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/diskstats parsing (14/18/20 columns and the old 7-column partition format), iostat -x
 * arithmetic (hand-computed from sysstat's formulas), 32-bit wrap of the ms fields, resets,
 * and whole-disk resolution over the fixture sysfs (partition, dm, unknown). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "observe/diskstats.h"

struct pcase {
    const char *line;
    int rc;
    unsigned nfields;
    uint64_t rd_sec, fl_ios;
};

static void test_parse(void **state)
{
    (void)state;
    static const struct pcase cases[] = {
        { "259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11", 0, 11, 3, 0 },
        { "259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", 0, 15, 3, 0 },
        { "259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", 0, 17, 3, 16 },
        { "8 1 sda1 100 200 300 400", 0, 4, 200, 0 },
        { "8 1 sda1 1 2 3", -EINVAL, 0, 0, 0 },
        { "garbage", -EINVAL, 0, 0, 0 },
        { "8 1 sda1 1 2 3 4 5 6 7 8", -EINVAL, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct diskstats_dev d;
        int r = diskstats_parse_line(cases[i].line, &d);
        assert_int_equal(r, cases[i].rc);
        if (r == 0) {
            assert_int_equal(d.nfields, cases[i].nfields);
            assert_int_equal(d.f[DISKSTATS_RD_SEC], cases[i].rd_sec);
            assert_int_equal(d.f[DISKSTATS_FL_IOS], cases[i].fl_ios);
        }
    }
    const char *text = "7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11\n";
    struct diskstats_dev d;
    assert_int_equal(diskstats_find(text, strlen(text), "nvme0n1", &d), 0);
    assert_int_equal(d.major, 259);
    assert_int_equal(diskstats_find(text, strlen(text), "sdz", &d), -ENOENT);
}

static void close_to(double got, double want)
{
    if (fabs(got - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("got %.12g, want %.12g", got, want);
}

static void test_rates(void **state)
{
    (void)state;
    struct diskstats_dev a, b;
    /* rd_ticks wraps: 4294967270 -> 24 is +50 ms. */
    assert_int_equal(diskstats_parse_line("259 0 nvme0n1 1000 10 80000 4294967270 2000 20 160000 "
                                          "1000 0 900 1500 0 0 0 0 0 0",
                                          &a),
                     0);
    assert_int_equal(diskstats_parse_line("259 0 nvme0n1 1100 15 88000 24 2200 30 176000 1100 2 "
                                          "1800 3000 10 0 2048 20 50 30",
                                          &b),
                     0);
    struct diskstats_rates r;
    diskstats_rates(&a, &b, 2.0, &r);
    assert_false(r.reset);
    close_to(r.r_per_s, 50);
    close_to(r.w_per_s, 100);
    close_to(r.rkb_per_s, 2000);
    close_to(r.wkb_per_s, 4000);
    close_to(r.rrqm_per_s, 2.5);
    close_to(r.wrqm_per_s, 5);
    close_to(r.rrqm_pct, 5.0 / 105 * 100);
    close_to(r.wrqm_pct, 10.0 / 210 * 100);
    close_to(r.r_await_ms, 0.5);
    close_to(r.w_await_ms, 0.5);
    close_to(r.aqu_sz, 0.75);
    close_to(r.rareq_kb, 40);
    close_to(r.wareq_kb, 40);
    close_to(r.util_pct, 45);
    close_to(r.d_per_s, 5);
    close_to(r.dkb_per_s, 512);
    close_to(r.d_await_ms, 2);
    close_to(r.dareq_kb, 102.4);
    close_to(r.f_per_s, 25);
    close_to(r.f_await_ms, 0.6);
    assert_int_equal(r.read_bytes, 8000 * 512);
    assert_int_equal(r.write_bytes, 16000 * 512);
    assert_int_equal(r.discard_bytes, 2048 * 512);
    /* Going backwards (device re-added): flagged, rates zero. */
    diskstats_rates(&b, &a, 1.0, &r);
    assert_true(r.reset);
    close_to(r.r_per_s, 0);
    /* No I/O: awaits are 0, not NaN. */
    diskstats_rates(&a, &a, 1.0, &r);
    close_to(r.r_await_ms, 0);
    close_to(r.rareq_kb, 0);
}

static void test_resolve(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    char *sys = xalloc_printf("%s/observe/sys", fx);
    char name[DISKSTATS_NAME_MAX];
    assert_int_equal(diskstats_disk_of_devnum(sys, 259, 0, name, sizeof(name)), 0);
    assert_string_equal(name, "nvme0n1");
    assert_int_equal(diskstats_disk_of_devnum(sys, 259, 1, name, sizeof(name)), 0);
    assert_string_equal(name, "nvme0n1");
    assert_int_equal(diskstats_disk_of_devnum(sys, 253, 0, name, sizeof(name)), 0);
    assert_string_equal(name, "nvme0n1");
    assert_int_equal(diskstats_disk_of_devnum(sys, 1, 99, name, sizeof(name)), -ENOENT);
    free(sys);
    /* The real machine: this directory's file system resolves to a disk in diskstats. */
    assert_int_equal(diskstats_disk_of_path(NULL, NULL, ".", name, sizeof(name)), 0);
    struct diskstats_dev d;
    assert_int_equal(diskstats_read(NULL, name, &d), 0);
    assert_int_equal(diskstats_disk_of_path(NULL, NULL, "/nonexistent/x", name, sizeof(name)),
                     -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
