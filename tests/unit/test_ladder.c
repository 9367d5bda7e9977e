/* SPDX-License-Identifier: Apache-2.0 */
/* The Mode C ladder (src/run/ladder.c): level parsing (shares of the probe ceiling, absolute
 * sizes, bad input named), Spearman's rho with ties against hand-computed values, the
 * permutation p-value, and the report over quick summaries: a TTFT that falls with bandwidth
 * is "monotonic" with a small p, a flat or reversed one is not. */
#include <errno.h>
#include <math.h>
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
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/ladder.h"

static void parse_levels(void **state)
{
    (void)state;
    struct ladder_level lv[LADDER_MAX_LEVELS];
    size_t n = 0;
    struct diag d = { 0 };
    assert_int_equal(ladder_parse_levels("25%,50%,100%", 4e9, lv, LADDER_MAX_LEVELS, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_string_equal(lv[0].name, "C@25%");
    assert_int_equal(lv[0].read_bps, 1000000000);
    assert_int_equal(lv[2].read_bps, 4000000000);
    assert_int_equal(ladder_parse_levels("8MiB,1GiB", 0, lv, LADDER_MAX_LEVELS, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lv[0].name, "C@8MiB");
    assert_int_equal(lv[0].read_bps, 8u << 20);
    assert_true(isnan(lv[0].pct));
    assert_int_equal(ladder_parse_levels("25%,50%", 0, lv, LADDER_MAX_LEVELS, &n, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "--probe"));
    assert_int_equal(ladder_parse_levels("25%,fast", 1e9, lv, LADDER_MAX_LEVELS, &n, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "'fast'"));
    assert_int_equal(ladder_parse_levels("50%", 1e9, lv, LADDER_MAX_LEVELS, &n, &d), -EINVAL);
    assert_int_equal(ladder_parse_levels("1MiB,1MiB", 1e9, lv, LADDER_MAX_LEVELS, &n, &d), -EINVAL);
    assert_int_equal(n, 0);
}

static void probe_ceiling(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:[{s:s,s:f},{s:s,s:f},{s:s,s:f}]}", "ceilings", "rw", "randread",
                          "bw_bytes_per_s", 2e9, "rw", "randread", "bw_bytes_per_s", 3e9, "rw",
                          "write", "bw_bytes_per_s", 9e9);
    assert_true(ladder_probe_read_ceiling(p) == 3e9);
    json_decref(p);
    assert_true(ladder_probe_read_ceiling(NULL) == 0);
}

static void spearman_values(void **state)
{
    (void)state;
    const double x[] = { 1, 2, 3, 4, 5 };
    const double up[] = { 10, 20, 30, 40, 50 }, down[] = { 5, 4, 3, 2, 1 };
    assert_true(fabs(ladder_spearman(x, up, 5) - 1) < 1e-12);
    assert_true(fabs(ladder_spearman(x, down, 5) + 1) < 1e-12);
    /* ties: x ranks 1.5 1.5 3 4, y ranks 1 2 3 4 -> Pearson of the ranks = 0.9486833 */
    const double xt[] = { 1, 1, 2, 3 }, yt[] = { 1, 2, 3, 4 };
    assert_true(fabs(ladder_spearman(xt, yt, 4) - 0.9486832980505138) < 1e-9);
    const double flat[] = { 7, 7, 7 };
    assert_true(isnan(ladder_spearman(x, flat, 3)));
    assert_true(isnan(ladder_spearman(x, up, 2)));
    /* a perfect decrease over 3 levels x 3 repeats: p near the exact 1/1680 of the ordering
     * classes; reversed: p near 1 */
    const double cx[] = { 1, 1, 1, 2, 2, 2, 3, 3, 3 };
    const double cy[] = { 90, 91, 92, 60, 61, 62, 30, 31, 32 };
    double p = ladder_perm_p(cx, cy, 9, 7, LADDER_PERMUTATIONS);
    assert_true(p < 0.01);
    assert_true(p == ladder_perm_p(cx, cy, 9, 7, LADDER_PERMUTATIONS)); /* seeded */
    const double ry[] = { 30, 31, 32, 60, 61, 62, 90, 91, 92 };
    assert_true(ladder_perm_p(cx, ry, 9, 7, LADDER_PERMUTATIONS) > 0.9);
}

static json_t *quick(const char *arm, double p95, bool valid)
{
    return json_pack("{s:s, s:b, s:{s:f}}", "arm", arm, "run_valid", valid, "replay", "ttft_p95_ms",
                     p95);
}

/* The data rows of <dir>/<stem>.dat, after checking that <stem>.gp is there; removes both, the
 * log of a render tried, and the directory. */
static int chart_rows(char *dir, const char *stem)
{
    char *dat = xalloc_printf("%s/%s.dat", dir, stem), *gp = xalloc_printf("%s/%s.gp", dir, stem);
    FILE *f = fopen(dat, "r");
    assert_non_null(f);
    char line[256];
    int rows = 0;
    while (fgets(line, sizeof(line), f))
        rows += line[0] != '#';
    fclose(f);
    assert_int_equal(access(gp, R_OK), 0);
    unlink(dat);
    unlink(gp);
    char *log = xalloc_printf("%s/gnuplot.log", dir);
    unlink(log);
    free(log);
    assert_int_equal(rmdir(dir), 0);
    free(dat);
    free(gp);
    return rows;
}

static void report_and_chart(void **state)
{
    (void)state;
    struct ladder_level lv[3];
    size_t n = 0;
    assert_int_equal(ladder_parse_levels("8MiB,32MiB,1GiB", 0, lv, 3, &n, NULL), 0);
    json_t *qs = json_array();
    const double t[3][3] = { { 400, 420, 410 }, { 200, 190, 210 }, { 50, 55, 52 } };
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++)
            json_array_append_new(qs, quick(lv[k].name, t[k][r], true));
    json_array_append_new(qs, quick(lv[2].name, 9999, false)); /* invalid: not counted */
    json_t *rep = ladder_report(lv, 3, qs, 1);
    assert_int_equal(jsonx_i64(rep, "n", 0), 9);
    assert_true(jsonx_num(rep, "spearman_rho", 0) < -0.9);
    assert_true(jsonx_num(rep, "p_value", 1) < 0.01);
    assert_string_equal(jsonx_str(rep, "outcome", ""), "monotonic");
    assert_true(json_is_true(json_object_get(rep, "monotonic_medians")));
    assert_true(jsonx_num(json_array_get(json_object_get(rep, "levels"), 1), "median_ms", 0) ==
                200);
    char tmpl[] = "/tmp/kvtier-test-ladder-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct charts_result cr = { 0 };
    assert_int_equal(ladder_write_chart(dir, rep, "/nonexistent/gnuplot", &cr), 0);
    assert_true(cr.gnuplot_missing);
    assert_int_equal(chart_rows(dir, "c_ladder"), 9);
    json_decref(rep);
    /* the middle level slower than the slowest: not monotonic */
    json_array_clear(qs);
    const double u[3] = { 400, 500, 50 };
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++)
            json_array_append_new(qs, quick(lv[k].name, u[k] + r, true));
    rep = ladder_report(lv, 3, qs, 1);
    assert_true(json_is_false(json_object_get(rep, "monotonic_medians")));
    assert_string_not_equal(jsonx_str(rep, "outcome", ""), "monotonic");
    json_decref(rep);
    json_decref(qs);
}

/* A search result as slo.json's modes[arm] holds it. */
static json_t *search(const char *status, double max, double pass, double fail)
{
    json_t *br = json_array();
    json_array_append_new(br, isfinite(pass) ? json_real(pass) : json_null());
    json_array_append_new(br, isfinite(fail) ? json_real(fail) : json_null());
    json_t *r = json_pack("{s:s, s:o}", "status", status, "bracket", br);
    json_object_set_new(r, "max", isfinite(max) ? json_real(max) : json_null());
    return r;
}

/* The Style 2 side: one capacity per level, censored ends, order by bandwidth. */
static void capacity_report(void **state)
{
    (void)state;
    struct ladder_level lv[4];
    size_t n = 0;
    struct diag d = { 0 };
    /* given out of order: the report sorts by bandwidth */
    assert_int_equal(ladder_parse_levels("1GiB,4MiB,64MiB,16MiB", 0, lv, 4, &n, &d), 0);
    json_t *modes = json_object();
    json_object_set_new(modes, "C@4MiB", search("none_pass", NAN, NAN, 1));
    json_object_set_new(modes, "C@16MiB", search("found", 2, 2, 3));
    json_object_set_new(modes, "C@64MiB", search("found", 4, 4, 5));
    json_object_set_new(modes, "C@1GiB", search("all_pass", 8, 8, NAN));
    json_t *rep = ladder_capacity_report(lv, n, modes, "concurrency", 1);
    assert_int_equal(jsonx_i64(rep, "n", 0), 4);
    assert_true(fabs(jsonx_num(rep, "spearman_rho", 0) - 1) < 1e-9);
    /* four perfectly ordered values: p = 1/24 (estimated over 10,000 permutations) */
    double p = jsonx_num(rep, "p_value", 1);
    assert_true(p > 0.035 && p < 0.05);
    assert_true(json_is_true(json_object_get(rep, "monotonic_capacities")));
    assert_string_equal(jsonx_str(rep, "outcome", ""), "monotonic");
    const json_t *l0 = json_array_get(json_object_get(rep, "levels"), 1); /* C@4MiB */
    assert_string_equal(jsonx_str(l0, "arm", ""), "C@4MiB");
    assert_true(jsonx_num(l0, "capacity", -1) == 0);
    assert_string_equal(jsonx_str(l0, "censored", ""), "below_min");
    const json_t *l3 = json_array_get(json_object_get(rep, "levels"), 0); /* C@1GiB */
    assert_string_equal(jsonx_str(l3, "censored", ""), "at_least");
    assert_true(jsonx_num(l3, "capacity", 0) == 8);
    char *md = ladder_capacity_markdown(rep);
    assert_non_null(strstr(md, "| C@1GiB | 1073741824 | >= 8 |"));
    assert_non_null(strstr(md, "(below --min)"));
    assert_non_null(strstr(md, "**monotonic**"));
    free(md);
    char tmpl[] = "/tmp/kvtier-test-ladder-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct charts_result cr = { 0 };
    assert_int_equal(ladder_capacity_chart(rep, dir, "/nonexistent/gnuplot", &cr), 0);
    assert_true(cr.gnuplot_missing);
    assert_int_equal(chart_rows(dir, "c_ladder_capacity"), 4);
    json_decref(rep);
    /* a faster storage with a smaller capacity: not monotonic, whatever the trend */
    json_object_set_new(modes, "C@64MiB", search("found", 1, 1, 2));
    rep = ladder_capacity_report(lv, n, modes, "concurrency", 1);
    assert_true(json_is_false(json_object_get(rep, "monotonic_capacities")));
    assert_string_not_equal(jsonx_str(rep, "outcome", ""), "monotonic");
    json_decref(rep);
    /* an unfinished search: its order is unknown, the rest still ranked */
    json_object_set_new(modes, "C@64MiB", search("interrupted", NAN, NAN, NAN));
    rep = ladder_capacity_report(lv, n, modes, "concurrency", 1);
    assert_int_equal(jsonx_i64(rep, "n", 0), 3);
    assert_true(json_is_null(json_object_get(rep, "monotonic_capacities")));
    /* three ordered values can never be significant (p = 1/6) */
    assert_string_equal(jsonx_str(rep, "outcome", ""), "no_significant_trend");
    json_decref(rep);
    /* no search finished: no capacity, no chart (gnuplot refuses an empty range) */
    json_object_clear(modes);
    rep = ladder_capacity_report(lv, n, modes, "concurrency", 1);
    assert_int_equal(jsonx_i64(rep, "n", 1), 0);
    char tmpl2[] = "/tmp/kvtier-test-ladder-XXXXXX";
    char *dir2 = mkdtemp(tmpl2);
    assert_non_null(dir2);
    struct charts_result cr2 = { 0 };
    assert_int_equal(ladder_capacity_chart(rep, dir2, "/nonexistent/gnuplot", &cr2), 0);
    assert_int_equal(rmdir(dir2), 0); /* nothing was written into it */
    json_decref(rep);
    /* every level passes at --max: no order at all */
    json_object_clear(modes);
    for (size_t k = 0; k < n; k++)
        json_object_set_new(modes, lv[k].name, search("all_pass", 8, 8, NAN));
    rep = ladder_capacity_report(lv, n, modes, "concurrency", 1);
    assert_string_equal(jsonx_str(rep, "outcome", ""), "insufficient");
    json_decref(rep);
    json_decref(modes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_levels),    cmocka_unit_test(probe_ceiling),
        cmocka_unit_test(spearman_values), cmocka_unit_test(report_and_chart),
        cmocka_unit_test(capacity_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
