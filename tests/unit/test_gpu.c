/* SPDX-License-Identifier: Apache-2.0 */
/* GPU telemetry through NVML loaded at run time, against a fake libnvidia-ml built beside the
 * tests (fake_nvml.c): enumeration, per-field support, throttle reasons; and the clear failure
 * when the library is absent. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "observe/gpu.h"

/* The fake library is built in <build>/src/observe; this test runs from <build>/tests. */
static void fake_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    *slash = 0;
    snprintf(out, len, "%s/../src/observe/libkvtier_fake_nvml.so", exe);
}

static void test_fake(void **state)
{
    (void)state;
    char path[PATH_MAX + 64];
    fake_path(path, sizeof(path));
    struct gpu g;
    char reason[GPU_REASON_MAX];
    int r = gpu_open(&g, path, reason);
    if (r < 0)
        fail_msg("gpu_open: %s", reason);
    assert_int_equal(g.count, 2);
    struct gpu_sample s;
    assert_int_equal(gpu_sample(&g, 0, &s), 0);
    assert_string_equal(s.name, "NVIDIA H200");
    assert_true(s.has_util && s.util_pct == 97);
    assert_true(s.has_mem && s.mem_used_bytes == (100ULL << 30));
    assert_true(s.has_power && s.power_mw == 650000);
    assert_true(s.has_clock && s.sm_clock_mhz == 1980);
    assert_true(s.has_temp && s.temp_c == 61);
    assert_true(s.has_reasons);
    assert_false(gpu_reasons_throttled(s.reasons));
    assert_int_equal(gpu_sample(&g, 1, &s), 0);
    assert_false(s.has_mem); /* unified memory: not supported, marked absent */
    assert_true(gpu_reasons_throttled(s.reasons));
    char names[GPU_REASON_MAX];
    gpu_reason_names(s.reasons, names, sizeof(names));
    assert_string_equal(names, "sw_power_cap|hw_thermal");
    gpu_reason_names(0, names, sizeof(names));
    assert_string_equal(names, "none");
    assert_int_equal(gpu_sample(&g, 5, &s), -EIO);
    gpu_close(&g);
    gpu_close(&g); /* idempotent */
}

static void test_absent(void **state)
{
    (void)state;
    struct gpu g;
    char reason[GPU_REASON_MAX];
    assert_int_equal(gpu_open(&g, "/nonexistent/libnvidia-ml.so.1", reason), -ENOENT);
    assert_non_null(strstr(reason, "NVML not loadable"));
    /* libc is loadable but is not NVML. */
    assert_int_equal(gpu_open(&g, "libc.so.6", reason), -ENOSYS);
    gpu_close(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake),
        cmocka_unit_test(test_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
