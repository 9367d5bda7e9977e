/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe Identify decoding on pages built by hand with the field offsets of the NVMe Base
 * Specification 2.0: a PM9E1-like controller (model, firmware, volatile write cache, APST,
 * thermal thresholds, power states) and a namespace with two LBA formats (4 KiB in use), then
 * the JSON a manifest carries; malformed counts are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "observe/nvmeid.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void pad(uint8_t *p, size_t n, const char *s)
{
    memset(p, ' ', n);
    memcpy(p, s, strlen(s));
}

static void make_ctrl(uint8_t *pg)
{
    memset(pg, 0, NVMEID_PAGE_BYTES);
    put16(pg, 0x144d); /* Samsung */
    pad(pg + 4, 20, "S7XXNF0X123456");
    pad(pg + 24, 40, "SAMSUNG MZAL84T0HDLB-00BL2");
    pad(pg + 64, 8, "7L2QGXD7");
    pg[77] = 9;
    put32(pg + 80, 2u << 16);
    pg[263] = 2;          /* three power states */
    pg[265] = 1;          /* APST supported */
    put16(pg + 266, 356); /* 82.85 C */
    put16(pg + 268, 358);
    put32(pg + 280, 4000787030u);
    put16(pg + 322, 1);
    put16(pg + 324, 313);
    put16(pg + 326, 353);
    put32(pg + 516, 1);
    pg[525] = 1;           /* volatile write cache */
    put16(pg + 2048, 900); /* 9.00 W */
    put16(pg + 2048 + 32, 50);
    pg[2048 + 64 + 3] = 3; /* MXPS and non-operational */
    put16(pg + 2048 + 64, 50);
    put32(pg + 2048 + 64 + 4, 1000);
    put32(pg + 2048 + 64 + 8, 5000);
}

static void test_ctrl(void **state)
{
    (void)state;
    uint8_t pg[NVMEID_PAGE_BYTES];
    make_ctrl(pg);
    struct nvmeid_ctrl c;
    assert_int_equal(nvmeid_decode_ctrl(pg, sizeof(pg), &c), 0);
    assert_string_equal(c.model, "SAMSUNG MZAL84T0HDLB-00BL2");
    assert_string_equal(c.firmware, "7L2QGXD7");
    assert_string_equal(c.serial, "S7XXNF0X123456");
    assert_true(c.vwc_present && c.apst_supported && c.hctm_supported);
    assert_int_equal(c.n_power_states, 3);
    assert_true(c.ps[0].max_power_w > 8.99 && c.ps[0].max_power_w < 9.01);
    assert_true(c.ps[2].non_operational);
    assert_true(c.ps[2].max_power_w > 0.0049 && c.ps[2].max_power_w < 0.0051);
    assert_int_equal(c.ps[2].exit_latency_us, 5000);
    json_t *j = nvmeid_json(&c, NULL, 1, 0, 357);
    assert_true(json_is_true(json_object_get(j, "volatile_write_cache_enabled")));
    assert_true(json_is_false(json_object_get(j, "apst_enabled")));
    double wc = json_real_value(json_object_get(j, "warning_temp_c"));
    assert_true(wc > 82.8 && wc < 82.9);
    assert_string_equal(json_string_value(json_object_get(j, "nvme_version")), "2.0.0");
    assert_true(json_is_null(json_object_get(j, "namespace")));
    json_decref(j);
    j = nvmeid_json(&c, NULL, -1, -1, -1);
    assert_true(json_is_null(json_object_get(j, "volatile_write_cache_enabled")));
    assert_true(json_is_null(json_object_get(j, "temp_threshold_c")));
    json_decref(j);
    /* too short, and more power states than the page holds */
    assert_int_equal(nvmeid_decode_ctrl(pg, 4095, &c), -EINVAL);
    pg[263] = 200;
    assert_int_equal(nvmeid_decode_ctrl(pg, sizeof(pg), &c), -EINVAL);
}

static void test_ns(void **state)
{
    (void)state;
    uint8_t pg[NVMEID_PAGE_BYTES];
    memset(pg, 0, sizeof(pg));
    put32(pg, 976754646u); /* 4 KiB blocks of a 4 TB drive */
    pg[25] = 1;            /* two formats */
    pg[26] = 1;            /* the second in use */
    pg[128 + 2] = 9;       /* 512 B */
    pg[132 + 2] = 12;      /* 4 KiB */
    pg[132 + 3] = 0;
    struct nvmeid_ns ns;
    assert_int_equal(nvmeid_decode_ns(pg, sizeof(pg), &ns), 0);
    assert_int_equal(ns.n_lbaf, 2);
    assert_int_equal(ns.lbaf_used, 1);
    uint8_t cp[NVMEID_PAGE_BYTES];
    make_ctrl(cp);
    struct nvmeid_ctrl c;
    assert_int_equal(nvmeid_decode_ctrl(cp, sizeof(cp), &c), 0);
    json_t *j = nvmeid_json(&c, &ns, 1, 1, 357);
    json_t *n = json_object_get(j, "namespace");
    assert_int_equal(json_integer_value(json_object_get(n, "lba_bytes")), 4096);
    assert_int_equal(json_integer_value(json_object_get(n, "size_bytes")), 976754646LL * 4096);
    assert_int_equal(json_array_size(json_object_get(n, "lba_formats")), 2);
    json_decref(j);
    pg[26] = 5; /* a format index past NLBAF */
    assert_int_equal(nvmeid_decode_ns(pg, sizeof(pg), &ns), -EINVAL);
}

static void test_read_errors(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(nvmeid_read("/nonexistent/nvme0", 1, &j), -ENOENT);
    /* a character device that is not NVMe */
    int r = nvmeid_read("/dev/null", 1, &j);
    assert_true(r == -ENOTTY || r == -EINVAL || r == -EACCES || r == -EPERM);
    assert_null(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl),
        cmocka_unit_test(test_ns),
        cmocka_unit_test(test_read_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
