/* SPDX-License-Identifier: Apache-2.0 */
/* Storage efficiency of a phase against the probe ceilings: the KV files' own bytes (eBPF) are
 * preferred over the device's, the ceiling is the random-access shape of the same direction
 * nearest in block size, the peak uses the busiest sample interval, and a phase without
 * ceilings or duration says why. The run's SMART data units written (the SMART decoder's delta
 * and the identity, written as the sampler writes them) become bytes and a share of the PM9E1
 * profile's rated endurance in the bundle's storage summary. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "observe/nvmeid.h"
#include "observe/smart.h"
#include "run/efficiency.h"

static const char *ceilings_text =
    "[{\"rw\":\"read\",\"block_size_bytes\":2097152,\"bw_bytes_per_s\":3e9,\"iops\":1430},"
    " {\"rw\":\"randread\",\"block_size_bytes\":262144,\"bw_bytes_per_s\":1.5e9,\"iops\":5722},"
    " {\"rw\":\"randread\",\"block_size_bytes\":2097152,\"bw_bytes_per_s\":2e9,\"iops\":953},"
    " {\"rw\":\"write\",\"block_size_bytes\":2097152,\"bw_bytes_per_s\":1e9,\"iops\":476}]";

static json_t *parse(const char *t)
{
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(t, strlen(t), &j, NULL), 0);
    return j;
}

static void test_ebpf_source(void **state)
{
    (void)state;
    json_t *c = parse(ceilings_text);
    /* 10 s phase: the KV files read 4000 blocks of 256 KiB (eBPF), the device more */
    json_t *d = parse("{\"duration_s\":10,"
                      "\"device\":{\"read_bytes\":2e9,\"read_ios\":9000,\"write_bytes\":0,"
                      "\"write_ios\":0,\"peak_read_bytes_per_s\":9e8,\"peak_r_per_s\":3500},"
                      "\"attribution\":{\"ebpf\":{\"kv_files\":{\"read_bytes\":1048576000,"
                      "\"read_ios\":4000,\"write_bytes\":0,\"write_ios\":0}}}}");
    json_t *e = efficiency_phase(d, c);
    assert_string_equal(jsonx_str(e, "source", ""), "ebpf_kv_files");
    const json_t *r = json_object_get(e, "read");
    assert_true(fabs(jsonx_num(r, "achieved_bytes_per_s", 0) - 104857600) < 1);
    assert_true(fabs(jsonx_num(r, "request_bytes", 0) - 262144) < 1);
    /* the random 256 KiB ceiling, not the sequential or the 2 MiB one */
    assert_true(jsonx_num(jsonx_path(r, "ceiling"), "block_size_bytes", 0) == 262144);
    assert_string_equal(jsonx_str(json_object_get(r, "ceiling"), "rw", ""), "randread");
    assert_true(fabs(jsonx_num(r, "bw_fraction", 0) - 104857600 / 1.5e9) < 1e-9);
    assert_true(fabs(jsonx_num(r, "peak_bw_fraction", 0) - 0.6) < 1e-9);
    assert_true(json_is_null(json_object_get(e, "write"))); /* nothing written */
    json_decref(e);
    json_decref(d);
    /* no eBPF: the device's own figures; a write direction with only a sequential ceiling */
    d = parse("{\"duration_s\":4,\"device\":{\"read_bytes\":0,\"read_ios\":0,"
              "\"write_bytes\":4194304000,\"write_ios\":2000,\"peak_write_bytes_per_s\":1.2e9,"
              "\"peak_w_per_s\":600}}");
    e = efficiency_phase(d, c);
    assert_string_equal(jsonx_str(e, "source", ""), "device");
    const json_t *w = json_object_get(e, "write");
    assert_string_equal(jsonx_str(json_object_get(w, "ceiling"), "rw", ""), "write");
    assert_true(fabs(jsonx_num(w, "bw_fraction", 0) - 1.048576) < 1e-9);
    json_decref(e);
    json_decref(d);
    json_decref(c);
}

static void test_unavailable(void **state)
{
    (void)state;
    json_t *d = parse("{\"duration_s\":4,\"device\":{\"read_bytes\":1,\"read_ios\":1}}");
    json_t *e = efficiency_phase(d, NULL);
    assert_string_equal(jsonx_str(e, "status", ""), "unavailable");
    assert_non_null(strstr(jsonx_str(e, "reason", ""), "probe"));
    json_decref(e);
    json_t *c = parse(ceilings_text);
    json_t *z = parse("{\"device\":{}}");
    e = efficiency_phase(z, c);
    assert_non_null(strstr(jsonx_str(e, "reason", ""), "duration"));
    json_decref(e);
    json_decref(z);
    json_decref(c);
    json_decref(d);
}

/* The bundle's os/ files as the SMART sampler writes them: identity and run delta. */
static void write_os(const char *dir, const char *model, uint64_t units_pre, uint64_t units_post)
{
    struct nvmeid_ctrl c = { 0 };
    snprintf(c.model, sizeof(c.model), "%s", model);
    json_t *id =
        json_pack("{s:s, s:o}", "status", "ok", "identity", nvmeid_json(&c, NULL, -1, -1, -1));
    struct smart_log pre = { .data_units_written = units_pre }, post = pre;
    post.data_units_written = units_post;
    json_t *sd = json_pack("{s:s, s:o}", "status", "ok", "delta", smart_delta_json(&pre, &post));
    char *os = fileio_join(dir, "os");
    fileio_mkdir_p(os);
    char *a = fileio_join(os, "nvme_id.json"), *b = fileio_join(os, "nvme_smart_delta.json");
    assert_int_equal(jsonx_write_file(a, id), 0);
    assert_int_equal(jsonx_write_file(b, sd), 0);
    free(a);
    free(b);
    free(os);
    json_decref(id);
    json_decref(sd);
}

static void test_endurance_seam(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/kvtier-endur-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *profiles = profile_dir(NULL);
    /* 4,800 units of 512,000 B = 2.4576 GB written: 1.024e-6 of 2,400 TBW */
    write_os(tmpl, "SAMSUNG PM9E1 4TB", 1000, 5800);
    json_t *s = efficiency_storage(tmpl, profiles, NULL, NULL);
    json_t *e = json_object_get(s, "endurance");
    assert_string_equal(jsonx_str(e, "status", ""), "ok");
    assert_true(jsonx_num(e, "data_units_written", 0) == 4800);
    assert_true(jsonx_num(e, "bytes_written", 0) == 4800.0 * 512000);
    assert_true(fabs(jsonx_num(e, "share_of_rated", 0) - 4800.0 * 512000 / 2.4e15) < 1e-15);
    assert_string_equal(jsonx_str(json_object_get(s, "vendor_vs_measured"), "model_source", ""),
                        "os/nvme_id.json");
    assert_string_equal(jsonx_str(json_object_get(s, "vendor_vs_measured"), "status", ""),
                        "matched");
    json_decref(s);
    /* another drive: bytes only, with the reason */
    write_os(tmpl, "QEMU NVMe Ctrl", 10, 12);
    s = efficiency_storage(tmpl, profiles, NULL, NULL);
    e = json_object_get(s, "endurance");
    assert_true(jsonx_num(e, "bytes_written", 0) == 1024000);
    assert_true(json_is_null(json_object_get(e, "share_of_rated")));
    assert_non_null(strstr(jsonx_str(e, "reason", ""), "no storage profile for this device"));
    json_decref(s);
    /* no SMART at all: unavailable, with the reason */
    json_t *u = efficiency_endurance(NULL, NULL, NULL);
    assert_string_equal(jsonx_str(u, "status", ""), "unavailable");
    json_decref(u);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "rm -rf '%s'", tmpl) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(profiles);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ebpf_source),
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_endurance_seam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
