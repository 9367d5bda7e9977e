/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe SMART decoding: raw 512-byte log pages, nvme-cli JSON of 1.x (floats), 2.0-2.3 (strings),
 * 2.4+ (numbers) and verbose output, the pre/post delta, smartctl output refused, the nvme-cli
 * runner against a test double, and the ioctl error path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"
#include "observe/smart.h"

static void slurp(const char *name, struct buf *b)
{
    char *p = xalloc_printf("%s/observe/smart/%s", getenv("KVTIER_FIXTURES"), name);
    buf_init(b, SMART_JSON_MAX_BYTES);
    assert_int_equal(fileio_read_all(p, SMART_JSON_MAX_BYTES, b), 0);
    free(p);
}

static void test_raw_page(void **state)
{
    (void)state;
    struct buf a, b;
    slurp("page_pre.bin", &a);
    slurp("page_post.bin", &b);
    assert_int_equal(a.len, SMART_LOG_BYTES);
    struct smart_log pre, post;
    assert_int_equal(smart_decode(a.data, a.len, &pre), 0);
    assert_int_equal(smart_decode(b.data, b.len, &post), 0);
    assert_int_equal(pre.data_units_read, 123456789);
    assert_int_equal(pre.data_units_written, 98765432);
    assert_int_equal(pre.temperature_k, 318);
    assert_int_equal(pre.avail_spare, 100);
    assert_int_equal(pre.percent_used, 3);
    assert_int_equal(pre.power_on_hours, 345);
    assert_int_equal(pre.num_err_log_entries, 9);
    assert_int_equal(pre.temp_sensor_k[0], 320);
    assert_int_equal(pre.temp_sensor_k[1], 315);
    assert_int_equal(post.thm_temp1_trans_count, 2);
    assert_int_equal(post.thm_temp1_total_time_s, 30);
    json_t *d = smart_delta_json(&pre, &post);
    assert_int_equal(json_integer_value(json_object_get(d, "data_read_bytes")), 2000 * 512000);
    assert_int_equal(json_integer_value(json_object_get(d, "data_written_bytes")), 1000 * 512000);
    assert_int_equal(json_integer_value(json_object_get(d, "thm_temp1_trans_count")), 2);
    assert_true(json_is_true(json_object_get(d, "thermal_event")));
    assert_true(json_is_false(json_object_get(d, "errors_grew")));
    assert_int_equal(json_integer_value(json_object_get(d, "temperature_c_post")), 68);
    json_decref(d);
    json_t *j = smart_to_json(&pre);
    assert_int_equal(json_integer_value(json_object_get(j, "temperature_c")), 45);
    json_decref(j);
    assert_int_equal(smart_decode(a.data, 511, &pre), -EINVAL);
    buf_fini(&a);
    buf_fini(&b);
}

struct vcase {
    const char *file;
    int rc;
    const char *variant;
    unsigned cw;
};

static void test_nvme_cli_variants(void **state)
{
    (void)state;
    static const struct vcase cases[] = {
        { "nvme-cli-1.9.json", 0, "float", 0 },  { "nvme-cli-2.3.json", 0, "string", 0 },
        { "nvme-cli-2.8.json", 0, "number", 0 }, { "nvme-cli-2.8-verbose.json", 0, "number", 2 },
        { "smartctl.json", -EINVAL, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        slurp(cases[i].file, &b);
        struct smart_log s;
        const char *v = NULL;
        int r = smart_from_nvme_cli_text(buf_str(&b), b.len, &s, &v);
        assert_int_equal(r, cases[i].rc);
        if (r == 0) {
            assert_string_equal(v, cases[i].variant);
            assert_int_equal(s.data_units_read, 123456789);
            assert_int_equal(s.data_units_written, 98765432);
            assert_int_equal(s.host_read_commands, 5000000);
            assert_int_equal(s.temperature_k, 318);
            assert_int_equal(s.critical_warning, cases[i].cw);
            assert_int_equal(s.temp_sensor_k[0], 320);
        }
        buf_fini(&b);
    }
    struct smart_log s;
    const char *bad[] = {
        "{\"data_units_read\":\"12x\",\"data_units_written\":1,\"temperature\":300}",
        "{\"data_units_read\":-1,\"data_units_written\":1,\"temperature\":300}",
        "{\"data_units_written\":1,\"temperature\":300}",
        "[1,2]",
        "{not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(smart_from_nvme_cli_text(bad[i], strlen(bad[i]), &s, NULL), -EINVAL);
    /* A 128-bit string beyond 64 bits saturates instead of wrapping. */
    const char *huge = "{\"data_units_read\":\"340282366920938463463374607431768211455\","
                       "\"data_units_written\":1,\"temperature\":300}";
    assert_int_equal(smart_from_nvme_cli_text(huge, strlen(huge), &s, NULL), 0);
    assert_true(s.data_units_read == UINT64_MAX);
}

static void test_runner(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    char *prog = xalloc_printf("%s/observe/bin/fake-nvme", fx);
    char *json = xalloc_printf("%s/observe/smart/nvme-cli-2.3.json", fx);
    setenv("KVTIER_FAKE_NVME_JSON", json, 1);
    struct smart_log s;
    const char *v = NULL;
    assert_int_equal(smart_read_nvme_cli(prog, "/dev/nvme0", 5000000000ULL, &s, &v), 0);
    assert_string_equal(v, "string");
    assert_int_equal(s.data_units_read, 123456789);
    assert_int_equal(smart_read_nvme_cli("/nonexistent/nvme", "/dev/nvme0", 1000000000ULL, &s, &v),
                     -ENOENT);
    setenv("KVTIER_FAKE_NVME_JSON", "/nonexistent.json", 1);
    assert_int_equal(smart_read_nvme_cli(prog, "/dev/nvme0", 5000000000ULL, &s, &v), -EIO);
    uint8_t page[SMART_LOG_BYTES];
    assert_int_equal(smart_read_ioctl("/nonexistent/nvme0", page), -ENOENT);
    char *notdev = xalloc_printf("%s/observe/dev/nvme0", fx);
    assert_int_equal(smart_read_ioctl(notdev, page), -ENOTTY);
    free(notdev);
    free(prog);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_page),
        cmocka_unit_test(test_nvme_cli_variants),
        cmocka_unit_test(test_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
