/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier probe library: a short real run on this machine (both engines) with the page-cache
 * bypass check and nothing left behind, bad inputs (tmpfs, not a directory, too little space,
 * bad shapes), and the ceiling / storage-efficiency lookup. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "probe/probe.h"

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void base(struct probe_config *c, const char *dir)
{
    memset(c, 0, sizeof(*c));
    c->dir = dir;
    c->size_bytes = 16u << 20;
    c->time_ns = 400000000ULL;
    c->block_bytes[0] = 4096;
    c->block_bytes[1] = 1u << 20;
    c->n_block = 2;
    c->qds[0] = 1;
    c->qds[1] = 4;
    c->n_qd = 2;
    c->rw_enabled[PROBE_RANDREAD] = true;
    c->rw_enabled[PROBE_WRITE] = true;
    c->min_free_bytes = 1u << 20;
    c->seed = 7;
}

static void run_engine(bool pread_only)
{
    char tmpl[] = "./probe-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct probe_config c;
    base(&c, dir);
    c.force_pread = pread_only;
    json_t *doc = NULL;
    struct diag d = { 0 };
    int r = probe_run(&c, &doc, &d);
    if (r < 0)
        fail_msg("probe_run: %s", d.msg);
    assert_int_equal(count_entries(dir), 0); /* nothing left behind */
    rmdir(dir);
    assert_string_equal(json_string_value(json_object_get(doc, "engine")),
                        pread_only ? "pread" : "io_uring");
    json_t *res = json_object_get(doc, "results");
    assert_int_equal(json_array_size(res), 8);
    size_t i;
    json_t *v;
    json_array_foreach (res, i, v) {
        assert_true(json_number_value(json_object_get(v, "bw_bytes_per_s")) > 0);
        assert_true(json_integer_value(json_object_get(v, "ios")) > 0);
        json_t *lat = json_object_get(v, "lat_ns");
        assert_true(json_number_value(json_object_get(lat, "p50")) > 0);
        assert_true(json_number_value(json_object_get(lat, "p99")) >=
                    json_number_value(json_object_get(lat, "p50")));
        /* O_DIRECT: the device moved the bytes. */
        assert_true(json_is_true(json_object_get(v, "cache_bypass_verified")));
    }
    assert_int_equal(json_array_size(json_object_get(doc, "ceilings")), 4);
    assert_true(json_is_object(json_object_get(doc, "device")));
    double bw = 0, eff = 0;
    uint64_t bs = 0;
    bool exact = false;
    assert_int_equal(probe_ceiling(doc, "randread", 1u << 20, &bw, &bs, NULL, &exact), 0);
    assert_true(exact && bw > 0 && bs == (1u << 20));
    assert_int_equal(probe_storage_efficiency(doc, 1u << 20, bw / 2, &eff), 0);
    assert_true(eff > 0.49 && eff < 0.51);
    json_decref(doc);
}

static void test_real_uring(void **state)
{
    (void)state;
    run_engine(false);
}

static void test_real_pread(void **state)
{
    (void)state;
    run_engine(true);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct probe_config c;
    json_t *doc = NULL;
    struct diag d = { 0 };
    struct stat st;
    if (stat("/dev/shm", &st) == 0) {
        base(&c, "/dev/shm");
        assert_int_equal(probe_run(&c, &doc, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "tmpfs"));
    }
    base(&c, "/etc/hostname");
    assert_int_equal(probe_run(&c, &doc, &d), -ENOTDIR);
    base(&c, "/nonexistent-dir-kvtier");
    assert_int_equal(probe_run(&c, &doc, &d), -ENOENT);
    base(&c, ".");
    c.size_bytes = 1ULL << 50;
    assert_int_equal(probe_run(&c, &doc, &d), -ENOSPC);
    assert_non_null(strstr(d.msg, "free"));
    base(&c, ".");
    c.block_bytes[0] = 1000;
    assert_int_equal(probe_run(&c, &doc, &d), -EINVAL);
    base(&c, ".");
    c.qds[0] = 0;
    assert_int_equal(probe_run(&c, &doc, &d), -EINVAL);
    base(&c, ".");
    memset(c.rw_enabled, 0, sizeof(c.rw_enabled));
    assert_int_equal(probe_run(&c, &doc, &d), -EINVAL);
    base(&c, ".");
    c.size_bytes = 1u << 20; /* smaller than two 1 MiB blocks */
    assert_int_equal(probe_run(&c, &doc, &d), -EINVAL);
    assert_null(doc);
}

static void test_lookup(void **state)
{
    (void)state;
    const char *text = "{\"ceilings\":["
                       "{\"rw\":\"randread\",\"block_size_bytes\":4096,\"bw_bytes_per_s\":3e8,"
                       "\"queue_depth\":64},"
                       "{\"rw\":\"randread\",\"block_size_bytes\":2097152,\"bw_bytes_per_s\":6e9,"
                       "\"queue_depth\":16},"
                       "{\"rw\":\"read\",\"block_size_bytes\":8388608,\"bw_bytes_per_s\":7e9,"
                       "\"queue_depth\":8}]}";
    json_t *doc = json_loads(text, 0, NULL);
    double bw = 0, eff = 0;
    uint64_t bs = 0;
    unsigned qd = 0;
    bool exact = true;
    assert_int_equal(probe_ceiling(doc, "randread", 2097152, &bw, &bs, &qd, &exact), 0);
    assert_true(bw == 6e9 && qd == 16 && exact);
    /* 1.5 MiB is nearer to 2 MiB than to 4 KiB by ratio. */
    assert_int_equal(probe_ceiling(doc, "randread", 1572864, &bw, &bs, NULL, &exact), 0);
    assert_true(bs == 2097152 && !exact);
    assert_int_equal(probe_ceiling(doc, "randwrite", 4096, &bw, NULL, NULL, NULL), -ENOENT);
    assert_int_equal(probe_storage_efficiency(doc, 2097152, 3e9, &eff), 0);
    assert_true(eff == 0.5);
    json_t *onlyread = json_loads("{\"ceilings\":[{\"rw\":\"read\",\"block_size_bytes\":4096,"
                                  "\"bw_bytes_per_s\":1e9}]}",
                                  0, NULL);
    assert_int_equal(probe_storage_efficiency(onlyread, 4096, 5e8, &eff), 0);
    assert_true(eff == 0.5);
    json_t *zero = json_loads("{\"ceilings\":[{\"rw\":\"randread\",\"block_size_bytes\":4096,"
                              "\"bw_bytes_per_s\":0}]}",
                              0, NULL);
    assert_int_equal(probe_storage_efficiency(zero, 4096, 5e8, &eff), -EINVAL);
    assert_int_equal(probe_storage_efficiency(json_object_get(doc, "nothing"), 4096, 1, &eff),
                     -ENOENT);
    json_decref(zero);
    json_decref(onlyread);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_uring),
        cmocka_unit_test(test_real_pread),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
