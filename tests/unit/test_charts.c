/* SPDX-License-Identifier: Apache-2.0 */
/* Charts from a synthetic bundle: data and scripts are written for every chart whose inputs
 * exist, the notes name what was skipped, and with gnuplot installed the PNGs are real PNGs. */
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

#include "common/fileio.h"
#include "report/charts.h"

static char dir[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(fileio_write_atomic(path, text, strlen(text)), 0);
}

static bool is_png(const char *rel)
{
    char path[512];
    unsigned char magic[8] = { 0 };
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, 8, f);
    fclose(f);
    return n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8);
}

static void make_bundle(bool with_os)
{
    snprintf(dir, sizeof(dir), "/tmp/kvtier-test-charts-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/raw", dir);
    assert_int_equal(fileio_mkdir_p(sub), 0);
    snprintf(sub, sizeof(sub), "%s/os", dir);
    assert_int_equal(fileio_mkdir_p(sub), 0);
    char line[256];
    FILE *f;
    snprintf(sub, sizeof(sub), "%s/raw/records.jsonl", dir);
    f = fopen(sub, "w");
    for (int i = 0; i < 40; i++) {
        const char *ph = i < 10 ? "warmup" : i < 30 ? "pressure" : "replay";
        unsigned long long ti = 1000000000ULL + (unsigned long long)i * 100000000ULL;
        snprintf(line, sizeof(line),
                 "{\"id\":\"r%d\",\"phase\":\"%s\",\"t_intended_ns\":%llu,"
                 "\"t_first_token_ns\":%llu,\"t_end_ns\":%llu}\n",
                 i, ph, ti, ti + 20000000ULL + (unsigned long long)(i % 7) * 5000000ULL,
                 ti + 90000000ULL);
        fputs(line, f);
    }
    fputs("not json\n", f);
    fclose(f);
    write_file("raw/phases.json", "{\"phases\":[{\"name\":\"warmup\",\"t_start_ns\":1000000000,"
                                  "\"t_start_unix_ns\":1000000001000000000,"
                                  "\"t_end_ns\":2000000000},{\"name\":\"pressure\",\"t_start_ns\":"
                                  "2000000000,\"t_end_ns\":4000000000},{\"name\":\"replay\","
                                  "\"t_start_ns\":4000000000,\"t_end_ns\":5000000000}]}");
    if (!with_os)
        return;
    /* long format with wall-clock times, as the sampler writes it (wall = mono + 1e18) */
    write_file("raw/kvbm_timeseries.csv", "t_unix_ns,t_s,endpoints_ok,endpoints,series,value\n"
                                          "1000000001000000000,0,1,1,kvbm_offload_blocks_d2h,0\n"
                                          "1000000001000000000,0,1,1,kvbm_onboard_blocks_d2d,0\n"
                                          "1000000003000000000,2,1,1,kvbm_offload_blocks_d2h,40\n"
                                          "1000000003000000000,2,1,1,kvbm_onboard_blocks_d2d,0\n"
                                          "1000000005000000000,4,1,1,kvbm_offload_blocks_d2h,60\n"
                                          "1000000005000000000,4,1,1,kvbm_onboard_blocks_d2d,25\n");
    write_file("os/os_iostat.csv", "t_ns,device,r/s,rkB/s,wkB/s,r_await\n"
                                   "1500000000,vda,0,0,0,0\n2500000000,vda,1,10,500,0.5\n"
                                   "3500000000,vda,2,20,800,0.7\n4500000000,vda,90,9000,0,2.5\n"
                                   "5500000000,vda,1,10,0,0.2\n");
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_full_bundle(void **state)
{
    (void)state;
    make_bundle(true);
    struct charts_result res;
    struct diag d = { 0 };
    assert_int_equal(charts_render_bundle(dir, NULL, &res, &d), 0);
    assert_int_equal(res.written, 4);
    char path[512];
    snprintf(path, sizeof(path), "%s/charts/kvbm_timeline.dat", dir);
    assert_int_equal(access(path, R_OK), 0);
    FILE *f = fopen(path, "r");
    char text[2048] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    /* 40 d2h blocks over the 2 s from t0 (wall 1e18 + 1 s) = 20 blocks/s, drawn from 0 s */
    assert_non_null(strstr(text, "0.000000\t20.000"));
    assert_non_null(strstr(text, "kvbm_onboard_blocks_d2d"));
    snprintf(path, sizeof(path), "%s/charts/ttft_timeline.gp", dir);
    assert_int_equal(access(path, R_OK), 0);
    if (!res.gnuplot_missing) {
        assert_int_equal(res.rendered, 4);
        assert_true(is_png("charts/ttft_timeline.png"));
        assert_true(is_png("charts/iostat_timeline.png"));
    }
    json_decref(res.notes);
    cleanup();
}

static void test_partial_and_missing(void **state)
{
    (void)state;
    make_bundle(false);
    struct charts_result res;
    struct diag d = { 0 };
    assert_int_equal(charts_render_bundle(dir, "/nonexistent/gnuplot", &res, &d), 0);
    assert_int_equal(res.written, 1);
    assert_int_equal(res.rendered, 0);
    assert_true(res.gnuplot_missing);
    assert_true(json_array_size(res.notes) >= 2);
    json_decref(res.notes);
    cleanup();
    assert_int_equal(charts_render_bundle("/nonexistent-bundle", NULL, &res, &d), -ENOENT);
    assert_int_equal(access("/nonexistent-bundle", F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_bundle),
        cmocka_unit_test(test_partial_and_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
