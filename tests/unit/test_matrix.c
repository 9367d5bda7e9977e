/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier matrix plans: every shipped plan under profiles/plans parses (and all but the large
 * decision-grade-S are assessed); bad plans
 * are refused naming the plan file, the row and the field; the feasibility arithmetic blocks a
 * Dataset L row on an engine below 32k (with the numbers) and marks a pressure the tiers cannot
 * hold infeasible; estimates grow with repeats; the child argv carries the row's settings. */
#include <dirent.h>
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
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/matrix.h"

static const char *profiles(void)
{
    const char *p = getenv("KVTIER_PROFILES");
    return p ? p : "profiles";
}

static char *write_plan(const char *text)
{
    char *path = xstrdup("/tmp/kvtier-test-matrix-XXXXXX.yaml");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static json_t *row_by_prefix(const json_t *plan, const char *prefix)
{
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(plan, "rows"), i, r) {
        if (!strncmp(jsonx_str(r, "id", ""), prefix, strlen(prefix)))
            return r;
    }
    return NULL;
}

static void test_shipped_plans(void **state)
{
    (void)state;
    char *dir = fileio_join(profiles(), "plans");
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(dh))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml"))
            continue;
        char *p = fileio_join(dir, e->d_name);
        json_t *plan = NULL;
        struct diag d = { 0 };
        int r = matrix_plan_load(p, profiles(), &plan, &d);
        if (r < 0)
            fail_msg("%s: %s", p, d.msg);
        /* decision-grade-S builds five full-size request plans (15 s on a busy 2-core box, far
         * more under ASan): parsed here, assessed by `kvtier matrix --dry-run` */
        if (!strcmp(e->d_name, "decision-grade-S.yaml")) {
            json_decref(plan);
            free(p);
            n++;
            continue;
        }
        double total = matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-plans");
        assert_true(total >= 0);
        size_t i;
        json_t *row;
        json_array_foreach (json_object_get(plan, "rows"), i, row) {
            json_t *f = json_object_get(row, "feasibility");
            assert_non_null(json_object_get(f, "state"));
            /* every row not runnable says why */
            if (!jsonx_bool(f, "feasible", false))
                assert_true(json_array_size(json_object_get(f, "reasons")) > 0);
            assert_non_null(json_object_get(row, "estimate"));
        }
        json_decref(plan);
        free(p);
        n++;
    }
    closedir(dh);
    free(dir);
    assert_true(n >= 4); /* decision-grade S and L, the demo and its quick variant */
}

static void test_feasibility_arithmetic(void **state)
{
    (void)state;
    char *path = fileio_join(profiles(), "plans/decision-grade-L.yaml");
    json_t *plan = NULL;
    struct diag d = { 0 };
    assert_int_equal(matrix_plan_load(path, profiles(), &plan, &d), 0);
    matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-l");
    json_t *gpt = row_by_prefix(plan, "02_optional_gptoss120b_mxfp4_C_L");
    assert_non_null(gpt);
    json_t *f = json_object_get(gpt, "feasibility");
    assert_string_equal(jsonx_str(f, "state", ""), MATRIX_STATE_BLOCKED);
    json_t *a = json_object_get(f, "arithmetic");
    assert_int_equal(jsonx_i64(a, "required_context_tokens", 0), 32768);
    assert_int_equal(jsonx_i64(a, "engine_max_sequence_length", 0), 8192);
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(f, "reasons"), 0)), "24576 short"));
    json_decref(plan);
    free(path);
    /* the demo's decision row is runnable, with an estimate that grows with repeats */
    path = fileio_join(profiles(), "plans/demo-builtin.yaml");
    assert_int_equal(matrix_plan_load(path, profiles(), &plan, &d), 0);
    matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-demo");
    json_t *run = row_by_prefix(plan, "01_run_tiny_A_S");
    assert_true(jsonx_bool(json_object_get(run, "feasibility"), "feasible", false));
    double three = jsonx_num(json_object_get(run, "estimate"), "wall_s", 0);
    assert_true(three > 60);
    assert_int_equal(jsonx_num(json_object_get(run, "estimate"), "bundles", 0), 9);
    double per_bundle = jsonx_num(json_object_get(run, "estimate"), "per_bundle_s", 0);
    /* its bundle arguments say --steady no: the same row with the steady phase is longer */
    json_array_clear(json_object_get(run, "bundle_args"));
    matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-demo");
    double with_steady = jsonx_num(json_object_get(run, "estimate"), "per_bundle_s", 0);
    print_message("# per bundle: %.0f s, with the steady phase %.0f s\n", per_bundle, with_steady);
    assert_true(with_steady > per_bundle + 2);
    /* a Mode C ladder in the bundle arguments: C once per level (B1, B2p and C at 3 levels) */
    json_t *modes = json_object_get(run, "modes");
    json_array_clear(modes);
    json_array_append_new(modes, json_string("B1"));
    json_array_append_new(modes, json_string("C"));
    json_array_append_new(json_object_get(run, "bundle_args"), json_string("--c-levels"));
    json_array_append_new(json_object_get(run, "bundle_args"), json_string("8MiB,32MiB,1GiB"));
    matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-demo");
    assert_int_equal(jsonx_num(json_object_get(run, "estimate"), "bundles", 0), 4 * 3);
    json_decref(plan);
    free(path);
}

static void test_pressure_infeasible(void **state)
{
    (void)state;
    /* 2 requests per phase cannot push the working set past G1+G2 */
    char *p = write_plan("name: t\nstack: builtin\nmax_requests: 2\nruns:\n"
                         "  - {model: tiny, workload: A, modes: [B1, B2]}\n");
    json_t *plan = NULL;
    struct diag d = { 0 };
    assert_int_equal(matrix_plan_load(p, profiles(), &plan, &d), 0);
    matrix_assess(profiles(), NULL, plan, "/tmp/kvtier-test-matrix-p");
    json_t *f = json_object_get(json_array_get(json_object_get(plan, "rows"), 0), "feasibility");
    assert_string_equal(jsonx_str(f, "state", ""), MATRIX_STATE_INFEASIBLE);
    assert_non_null(jsonx_path(f, "arithmetic.pressure.target_unique_blocks"));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(f, "reasons"), 0)),
                           "capped by max_requests"));
    json_decref(plan);
    unlink(p);
    free(p);
}

static const struct bad_case {
    const char *text, *want; /* the diagnostic must contain want */
    int err;
} bad_cases[] = {
    { "runs:\n  - {model: nope, workload: A, modes: [B1]}\n", "runs[0]", -ENOENT },
    { "runs:\n  - {model: tiny, workload: Z, modes: [B1]}\n", "runs[0]", -ENOENT },
    { "runs:\n  - {model: tiny, workload: A, modes: [B9]}\n", "unknown mode 'B9'", -EINVAL },
    { "runs:\n  - {model: tiny, workload: A, modes: []}\n", "'modes' is missing", -EINVAL },
    { "runs:\n  - {model: tiny, workload: A, dataset: M, modes: [B1]}\n", "dataset 'M'", -EINVAL },
    { "runs:\n  - {model: tiny, workload: A, modes: [B1], colour: red}\n", "unknown key 'colour'",
      -EINVAL },
    { "stack: nostack\nruns:\n  - {model: tiny, workload: A, modes: [B1]}\n", "stack", -ENOENT },
    { "name: empty\n", "no rows", -EINVAL },
    { "sweeps:\n  - {model: tiny, workload: A, modes: [B1], values: []}\n", "'values'", -EINVAL },
    { "searches:\n  - {model: tiny, workload: A, modes: [B1], slo: {ttft_p95_ms: 1}, min: 8, "
      "max: 2}\n",
      "inverted", -EINVAL },
    { "rows: []\n", "unknown top-level key 'rows'", -EINVAL },
    { "tail: p80\nruns:\n  - {model: tiny, workload: A, modes: [B1]}\n", "tail must be", -EINVAL },
    { "sweeps:\n  - {model: tiny, workload: A, modes: [B1], values: [2], tail: p50}\n",
      "'tail' applies to run rows", -EINVAL },
};

static void test_bad_plans(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char *p = write_plan(bad_cases[i].text);
        json_t *plan = NULL;
        struct diag d = { 0 };
        int r = matrix_plan_load(p, profiles(), &plan, &d);
        if (r != bad_cases[i].err || !strstr(d.msg, bad_cases[i].want) || strcmp(d.file, p))
            fail_msg("case %zu: rc %d, file '%s', msg '%s'", i, r, d.file, d.msg);
        assert_null(plan);
        unlink(p);
        free(p);
    }
}

static void test_row_argv(void **state)
{
    (void)state;
    char *p = write_plan("name: t\nstack: builtin\nrepeats: 2\nseed: 7\nmax_requests: 9\n"
                         "tail: p50\nbundle_args: [--interval, 500ms]\nruns:\n"
                         "  - {model: tiny, workload: W1, modes: \"B1,B2p\", rate_scale: 1.5}\n"
                         "sweeps:\n  - {model: tiny, workload: A, modes: [B1], values: [2]}\n");
    json_t *plan = NULL;
    struct diag d = { 0 };
    assert_int_equal(matrix_plan_load(p, profiles(), &plan, &d), 0);
    struct matrix_config cfg = { .kvtier_path = "/bin/kvtier", .drop_caches = false };
    json_t *row = json_array_get(json_object_get(plan, "rows"), 0);
    assert_string_equal(jsonx_str(row, "workload", ""), "A");
    json_t *argv = matrix_row_argv(row, plan, &cfg, "/out/rows/x");
    char *line = jsonx_dump_line(argv);
    const char *want[] = { "\"/bin/kvtier\",\"bundle\"",
                           "\"--mode\",\"B1,B2p\"",
                           "\"--repeats\",\"2\"",
                           "\"--seed\",\"7\"",
                           "\"--max-requests\",\"9\"",
                           "\"--rate-scale\",\"1.5\"",
                           "\"--drop-caches\",\"no\"",
                           "\"--interval\",\"500ms\"",
                           "\"--tail\",\"p50\"",
                           "\"--out\",\"/out/rows/x\"]",
                           NULL };
    for (size_t i = 0; want[i]; i++)
        if (!strstr(line, want[i]))
            fail_msg("argv %s lacks %s", line, want[i]);
    free(line);
    json_decref(argv);
    /* the plan's tail is the run rows' claim; a sweep states its own quantiles */
    row = json_array_get(json_object_get(plan, "rows"), 1);
    argv = matrix_row_argv(row, plan, &cfg, "/out/rows/y");
    line = jsonx_dump_line(argv);
    if (strstr(line, "--tail"))
        fail_msg("sweep argv %s carries the run rows' --tail", line);
    free(line);
    json_decref(argv);
    json_decref(plan);
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_plans),
        cmocka_unit_test(test_feasibility_arithmetic),
        cmocka_unit_test(test_pressure_infeasible),
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_row_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
