/* SPDX-License-Identifier: Apache-2.0 */
/* Storage profiles: the shipped PM9E1 profile loads and matches its model string only; the
 * comparison with a probe document gives "vendor asserts X, measured Y" with the ratio and lists
 * the sources' disagreement; no profile says so; bad fields are named. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "common/profile.h"
#include "common/storprof.h"
#include "common/yamlx.h"

static json_t *probe_doc(void)
{
    const char *t = "{\"ceilings\":["
                    "{\"rw\":\"read\",\"block_size_bytes\":2097152,\"queue_depth\":16,"
                    "\"bw_bytes_per_s\":7.25e9,\"iops\":3457},"
                    "{\"rw\":\"read\",\"block_size_bytes\":4096,\"queue_depth\":64,"
                    "\"bw_bytes_per_s\":2.0e9,\"iops\":488281},"
                    "{\"rw\":\"randread\",\"block_size_bytes\":4096,\"queue_depth\":64,"
                    "\"bw_bytes_per_s\":4.096e9,\"iops\":1.0e6}]}";
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(t, strlen(t), &j, NULL), 0);
    return j;
}

static void test_pm9e1(void **state)
{
    (void)state;
    char *dir = profile_dir(NULL);
    struct storprof p;
    struct diag d = { 0 };
    int r = storprof_find(dir, "  SAMSUNG PM9E1 NVMe 4TB  ", &p, &d);
    if (r != 0)
        fail_msg("%d: %s", r, d.msg);
    assert_string_equal(p.name, "pm9e1");
    assert_int_equal(storprof_find(dir, "QEMU NVMe Ctrl", &p, &d), -ENOENT);
    assert_int_equal(storprof_find(dir, "", &p, &d), -ENOENT);
    assert_non_null(storprof_find(dir, "pm9e1", &p, &d) == 0 ? storprof_endurance(&p) : NULL);
    assert_true(storprof_endurance(&p)->value == 2.4e15);
    json_t *probe = probe_doc();
    json_t *c = storprof_compare(&p, "PM9E1", "nvme_id", probe);
    assert_string_equal(jsonx_str(c, "status", ""), "matched");
    size_t i;
    json_t *e;
    bool seq = false, rnd = false;
    json_array_foreach (json_object_get(c, "comparisons"), i, e) {
        const char *m = jsonx_str(e, "metric", "");
        if (!strcmp(m, "seq_read_bytes_per_s") && !strcmp(jsonx_str(e, "date", ""), "2026-01")) {
            /* the best sequential read over block sizes, against 14.5 GB/s */
            assert_true(fabs(jsonx_num(e, "ratio", 0) - 7.25 / 14.5) < 1e-9);
            assert_int_equal(jsonx_u64(jsonx_path(e, "measured_shape"), "block_size_bytes", 0),
                             2097152);
            assert_non_null(strstr(jsonx_str(e, "text", ""), "vendor asserts 14.50 GB/s"));
            assert_non_null(strstr(jsonx_str(e, "text", ""), "measured 7.25 GB/s"));
            seq = true;
        }
        if (!strcmp(m, "rand_read_iops")) {
            assert_true(fabs(jsonx_num(e, "ratio", 0) - 0.5) < 1e-9);
            rnd = true;
        }
        if (!strcmp(m, "seq_write_bytes_per_s"))
            assert_true(json_is_null(json_object_get(e, "ratio"))); /* not probed */
    }
    assert_true(seq && rnd);
    /* 12.6 vs 13 GB/s write: a conflict; the two equal read figures are not */
    json_t *cf = json_object_get(c, "conflicts");
    assert_int_equal(json_array_size(cf), 1);
    assert_string_equal(jsonx_str(json_array_get(cf, 0), "metric", ""), "seq_write_bytes_per_s");
    json_decref(c);
    c = storprof_compare(NULL, "QEMU NVMe Ctrl", "sysfs", probe);
    assert_string_equal(jsonx_str(c, "status", ""), "no_profile");
    assert_non_null(strstr(jsonx_str(c, "reason", ""), "no storage profile for this device"));
    json_decref(c);
    json_decref(probe);
    free(dir);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *field;
    } cases[] = {
        { "name: x\nmatch: {model_contains: []}\nvendor_assertions: []\n", "model_contains" },
        { "name: x\nmatch: {model_contains: [A]}\nvendor_assertions:\n"
          "  - {metric: seq_read_gbps, value: 1, source: s}\n",
          "vendor_assertions[0].metric" },
        { "name: x\nmatch: {model_contains: [A]}\nvendor_assertions:\n"
          "  - {metric: rand_read_iops, value: 1, source: s}\n"
          "  - {metric: rand_read_iops, value: -3, source: s}\n",
          "vendor_assertions[1].value" },
        { "name: x\nmatch: {model_contains: [A]}\nvendor_assertions:\n"
          "  - {metric: rand_read_iops, value: 1}\n",
          "vendor_assertions[0].source" },
        { "match: {model_contains: [A]}\nvendor_assertions: []\n", "name" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = NULL;
        assert_int_equal(yamlx_parse(cases[i].yaml, strlen(cases[i].yaml), &j, NULL), 0);
        struct storprof p;
        struct diag d = { 0 };
        assert_int_equal(storprof_from_json(j, &p, &d), -EINVAL);
        if (!strstr(d.msg, cases[i].field))
            fail_msg("case %zu: '%s' does not name %s", i, d.msg, cases[i].field);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pm9e1),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
