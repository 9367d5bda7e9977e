/* SPDX-License-Identifier: Apache-2.0 */
/* Noise indicators (PSI, meminfo, load, cpufreq, thermal) over the fixture trees and the real
 * machine, and /proc/net/dev parsing. */
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
#include "observe/netdev.h"
#include "observe/noise.h"

static void test_psi(void **state)
{
    (void)state;
    const char *t = "some avg10=1.50 avg60=0.50 avg300=0.10 total=123456\n"
                    "full avg10=0.25 avg60=0.00 avg300=0.00 total=789\n";
    struct noise_psi p;
    assert_int_equal(noise_parse_psi(t, strlen(t), &p), 0);
    assert_true(p.some_avg10 == 1.5);
    assert_int_equal(p.some_total_us, 123456);
    assert_true(p.has_full);
    assert_int_equal(p.full_total_us, 789);
    const char *cpu_old = "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n";
    assert_int_equal(noise_parse_psi(cpu_old, strlen(cpu_old), &p), 0);
    assert_false(p.has_full);
    assert_int_equal(noise_parse_psi("garbage\n", 8, &p), -EINVAL);
    assert_true(noise_psi_pct(1000000, 1050000, 1.0) == 5.0);
    assert_true(noise_psi_pct(1050000, 1000000, 1.0) == 0.0);
    assert_true(noise_psi_pct(0, 5000000, 1.0) == 100.0);
}

static void test_fixture_and_real(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    char *proc = xalloc_printf("%s/observe/step2/proc", fx);
    char *sys = xalloc_printf("%s/observe/step2/sys", fx);
    struct noise_sample s;
    noise_read(proc, sys, NULL, NULL, &s);
    assert_true(s.psi[NOISE_PSI_IO].present);
    assert_int_equal(s.psi[NOISE_PSI_IO].full_total_us, 1050000);
    assert_true(s.load_present);
    assert_true(s.load1 == 0.5);
    assert_int_equal(s.procs_blocked, 1);
    assert_true(s.cpufreq_ratio == 0.5);
    assert_true(s.cpufreq_cap_ratio == 1.0);
    assert_true(s.thermal_max_c == 55.0);
    assert_int_equal(s.cooling_active, 1);
    assert_int_equal(s.dirty_bytes, 200 * 1024);
    free(proc);
    free(sys);
    /* An empty root: everything absent, nothing fails. */
    noise_read("/nonexistent", "/nonexistent", NULL, NULL, &s);
    assert_false(s.psi[NOISE_PSI_CPU].present);
    assert_false(s.load_present);
    assert_true(isnan(s.cpufreq_ratio));
    assert_true(isnan(s.thermal_max_c));
    /* The real machine has at least load and meminfo. */
    noise_read(NULL, NULL, NULL, NULL, &s);
    assert_true(s.load_present);
    assert_true(s.meminfo_present);
}

static void test_netdev(void **state)
{
    (void)state;
    const char *t = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
                    "    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n"
                    "  eth0: 5000 10 1 2 0 0 0 0 700 7 3 4 0 0 0 0\n";
    struct netdev_iface f[4];
    assert_int_equal(netdev_parse(t, strlen(t), f, 4), 2);
    assert_string_equal(f[1].name, "eth0");
    assert_int_equal(f[1].rx_bytes, 5000);
    assert_int_equal(f[1].rx_drop, 2);
    assert_int_equal(f[1].tx_bytes, 700);
    assert_int_equal(f[1].tx_drop, 4);
    assert_int_equal(netdev_parse(t, strlen(t), f, 1), -EMSGSIZE);
    const char *bad = "eth0: 1 2 3\n";
    assert_int_equal(netdev_parse(bad, strlen(bad), f, 4), -EINVAL);
    assert_true(netdev_read(NULL, f, 4) >= 1 || netdev_read(NULL, f, 4) == -EMSGSIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_fixture_and_real),
        cmocka_unit_test(test_netdev),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
