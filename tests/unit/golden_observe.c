/* SPDX-License-Identifier: Apache-2.0 */
/* Golden test of the whole sampler over fake /proc and /sys trees (tests/fixtures/observe) with
 * an injected clock: two samples one second apart around a phase, compared byte for byte with
 * the expected CSVs (tests/fixtures/observe/expected), plus the phase OS delta, the SMART
 * pre/post/delta through the nvme-cli fallback (test double) and the sources record.
 * KVTIER_UPDATE_GOLDEN=1 rewrites the expected files (review the diff by hand). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "observe/observe.h"

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

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* got with every occurrence of the temporary root replaced by @ROOT@. */
static void normalise(struct buf *got, const char *root)
{
    struct buf n;
    buf_init(&n, 0);
    const char *p = buf_str(got), *hit;
    size_t rl = strlen(root);
    while ((hit = strstr(p, root))) {
        buf_append(&n, p, (size_t)(hit - p));
        buf_append_str(&n, "@ROOT@");
        p = hit + rl;
    }
    buf_append_str(&n, p);
    buf_fini(got);
    *got = n;
}

static void compare_golden(const char *out_dir, const char *name, const char *fx, const char *root)
{
    char *got_p = xalloc_printf("%s/%s", out_dir, name);
    char *want_p = xalloc_printf("%s/observe/expected/%s", fx, name);
    struct buf got, want;
    buf_init(&got, 1u << 20);
    buf_init(&want, 1u << 20);
    assert_int_equal(fileio_read_all(got_p, 1u << 20, &got), 0);
    normalise(&got, root);
    if (getenv("KVTIER_UPDATE_GOLDEN")) {
        assert_int_equal(fileio_write_atomic(want_p, got.data, got.len), 0);
    } else {
        assert_int_equal(fileio_read_all(want_p, 1u << 20, &want), 0);
        if (strcmp(buf_str(&got), buf_str(&want)))
            fail_msg("%s differs from %s:\n--- got\n%s--- want\n%s", got_p, want_p, buf_str(&got),
                     buf_str(&want));
    }
    buf_fini(&got);
    buf_fini(&want);
    free(got_p);
    free(want_p);
}

static json_t *load(const char *dir, const char *name)
{
    char *p = xalloc_printf("%s/%s", dir, name);
    json_t *j = NULL;
    struct diag d = { 0 };
    if (jsonx_load_file(p, &j, &d) < 0)
        fail_msg("%s: %s", p, d.msg);
    free(p);
    return j;
}

static void test_golden(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    char tmpl[] = "/tmp/kvtier-golden-XXXXXX";
    char *root = mkdtemp(tmpl);
    assert_non_null(root);
    sh("mkdir -p %s/out && cp -a %s/observe/sys %s/ && cp -a %s/observe/step1/. %s/", root, fx,
       root, fx, root);
    char *proc = xalloc_printf("%s/proc", root), *sys = xalloc_printf("%s/sys", root);
    char *out = xalloc_printf("%s/out", root), *dev = xalloc_printf("%s/observe/dev", fx);
    char *nvme = xalloc_printf("%s/observe/bin/fake-nvme", fx);
    char *pre = xalloc_printf("%s/observe/smart/nvme-cli-2.8.json", fx);
    char *post = xalloc_printf("%s/observe/smart/nvme-cli-2.8-post.json", fx);
    setenv("KVTIER_FAKE_NVME_JSON", pre, 1);
    struct fake f = { .now = 1000 * 1000000000ULL };
    struct clk c = { .now_ns = fake_now, .wall_unix_ns = fake_wall, .ctx = &f };
    pid_t pids[1] = { 100 };
    struct observe_config cfg = {
        .proc_root = proc,
        .sys_root = sys,
        .dev_root = dev,
        .device = "nvme0n1",
        .pids = pids,
        .n_pids = 1,
        .os_dir = out,
        .clk = &c,
        .nvml_path = "/nonexistent/libnvidia-ml.so.1",
        .nvme_cli = nvme,
        .manual = true,
    };
    struct observe *o = NULL;
    assert_int_equal(observe_start(&cfg, &o), 0);
    assert_int_equal(observe_phase_begin(o, "replay"), 0);
    assert_int_equal(observe_phase_begin(o, "again"), -EINVAL); /* one phase at a time */
    sh("cp -a %s/observe/step2/. %s/", fx, root);
    f.now += 1000000000ULL;
    json_t *d = NULL;
    assert_int_equal(observe_phase_end(o, "wrong", &d), -EINVAL);
    assert_int_equal(observe_phase_end(o, "replay", &d), 0);
    setenv("KVTIER_FAKE_NVME_JSON", post, 1);
    json_t *sum = NULL;
    assert_int_equal(observe_stop(o, &sum), 0);
    assert_int_equal(json_integer_value(json_object_get(sum, "samples")), 2);
    json_decref(sum);
    observe_free(o);

    /* Phase OS delta: device bytes from the 20-column diskstats, server tree sums. */
    json_t *dv = json_object_get(d, "device");
    assert_int_equal(json_integer_value(json_object_get(dv, "read_bytes")), 8000 * 512);
    assert_int_equal(json_integer_value(json_object_get(dv, "write_bytes")), 16000 * 512);
    assert_true(json_number_value(json_object_get(dv, "r_await")) == 0.5); /* 32-bit wrap */
    json_t *srv = json_object_get(d, "server");
    assert_int_equal(json_integer_value(json_object_get(srv, "read_bytes")), 1000000 + 4096000);
    assert_int_equal(json_integer_value(json_object_get(srv, "write_bytes")), 2000000);
    json_t *at = json_object_get(d, "attribution");
    /* The server claims more than the device read (readahead of cached pages is not in the
     * fixture): the share is clamped to 1 and nothing is left for elsewhere. */
    assert_true(json_number_value(json_object_get(at, "server_read_share")) == 1.0);
    assert_int_equal(json_integer_value(json_object_get(at, "elsewhere_read_bytes")), 0);
    assert_int_equal(json_integer_value(json_object_get(at, "elsewhere_write_bytes")),
                     16000 * 512 - 2000000);
    json_t *cg = json_object_get(d, "cgroup");
    assert_string_equal(json_string_value(json_object_get(cg, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(cg, "rbytes")), 4096000);
    json_t *nz = json_object_get(d, "noise");
    assert_true(json_number_value(json_object_get(nz, "psi_cpu_some_pct")) == 5.0);
    assert_true(json_number_value(json_object_get(nz, "psi_io_full_pct")) == 5.0);
    assert_true(json_number_value(json_object_get(nz, "cpufreq_ratio_min")) == 0.5);
    assert_true(json_number_value(json_object_get(nz, "thermal_max_c")) == 55.0);
    json_decref(d);

    compare_golden(out, "os_iostat.csv", fx, root);
    compare_golden(out, "os_pid_io.csv", fx, root);
    compare_golden(out, "cgroup_io.csv", fx, root);
    compare_golden(out, "noise.csv", fx, root);
    compare_golden(out, "net_dev.csv", fx, root);
    compare_golden(out, "gpu.csv", fx, root);

    json_t *sp = load(out, "nvme_smart_pre.json");
    assert_string_equal(json_string_value(json_object_get(sp, "method")), "nvme-cli");
    assert_string_equal(json_string_value(json_object_get(sp, "nvme_cli_encoding")), "number");
    assert_true(json_number_value(json_object_get(json_object_get(sp, "hwmon"), "temp1_c")) ==
                45.85);
    json_t *link = json_object_get(sp, "pcie_link");
    assert_string_equal(json_string_value(json_object_get(link, "current_link_speed")),
                        "32.0 GT/s PCIe");
    json_decref(sp);
    json_t *sd = load(out, "nvme_smart_delta.json");
    json_t *dd = json_object_get(sd, "delta");
    assert_int_equal(json_integer_value(json_object_get(dd, "data_read_bytes")), 2000 * 512000);
    assert_true(json_is_true(json_object_get(dd, "thermal_event")));
    json_decref(sd);
    json_t *src = load(out, "sources.json");
    json_t *ss = json_object_get(src, "sources");
    const char *want_ok[] = { "diskstats", "pid_io",  "cgroup_io", "psi",
                              "cpufreq",   "thermal", "smart" };
    for (size_t i = 0; i < sizeof(want_ok) / sizeof(want_ok[0]); i++)
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(ss, want_ok[i]), "status")), "ok");
    json_t *g = json_object_get(ss, "gpu");
    assert_string_equal(json_string_value(json_object_get(g, "status")), "unavailable");
    assert_non_null(strstr(json_string_value(json_object_get(g, "reason")), "NVML"));
    json_t *info = json_object_get(json_object_get(ss, "diskstats"), "info");
    assert_string_equal(json_string_value(json_object_get(info, "model")),
                        "SAMSUNG MZVL21T0HCLR-00B00");
    assert_string_equal(json_string_value(json_object_get(info, "transport")), "nvme");
    json_decref(src);
    json_t *ar = load(out, "io_attribution_report.json");
    assert_int_equal(json_array_size(json_object_get(ar, "phases")), 1);
    json_decref(ar);

    sh("rm -rf %s", root);
    free(proc);
    free(sys);
    free(out);
    free(dev);
    free(nvme);
    free(pre);
    free(post);
}

static void test_missing_everything(void **state)
{
    (void)state;
    /* An empty machine: nothing to read, yet start/phase/stop work and say why. */
    char tmpl[] = "/tmp/kvtier-empty-XXXXXX";
    char *root = mkdtemp(tmpl);
    char *out = xalloc_printf("%s/out", root);
    struct observe_config cfg = { .proc_root = root,
                                  .sys_root = root,
                                  .dev_root = root,
                                  .os_dir = out,
                                  .manual = true,
                                  .nvme_cli = "" };
    struct observe *o = NULL;
    assert_int_equal(observe_start(&cfg, &o), 0);
    assert_int_equal(observe_phase_begin(o, "x"), 0);
    json_t *d = NULL;
    assert_int_equal(observe_phase_end(o, "x", &d), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "device"), "status")),
                        "unavailable");
    json_decref(d);
    assert_int_equal(observe_stop(o, NULL), 0);
    observe_free(o);
    json_t *sp = load(out, "nvme_smart_post.json");
    assert_string_equal(json_string_value(json_object_get(sp, "status")), "unavailable");
    json_decref(sp);
    /* A named device that does not exist is an error, not a silent empty run. */
    cfg.device = "nvme9n9";
    assert_int_equal(observe_start(&cfg, &o), -ENOENT);
    /* Bad config. */
    struct observe_config bad = { 0 };
    assert_int_equal(observe_start(&bad, &o), -EINVAL);
    char *cmd = xalloc_printf("rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_missing_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
