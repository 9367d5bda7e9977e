/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier matrix: runs a plan's rows (src/run/matrix.h, docs/matrix.md), each as a kvtier child
 * (bundle, sweep, slo) into <out>/rows/<id>/, with matrix.json recording every row's state so
 * that a second run resumes. --dry-run lists every row with its feasibility and estimated wall
 * time and runs nothing. Exit codes: 0 every runnable row done; 1 a row failed or the output
 * cannot be written; 2 a bad plan (unknown model, workload, mode, dataset, stack; the error
 * names the plan file and row); 3 interrupted (run the same command again to resume). */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "run/matrix.h"

struct matrix_cli {
    const char *plan, *out, *profiles, *disk_cache_dir, *tokenizer, *endpoint;
    bool dry_run, optional, json;
    int drop_caches;
};

static const struct opt_choice yes_no[] = { { "yes", "on" }, { "no", "off" }, { NULL, NULL } };

#define O(f) offsetof(struct matrix_cli, f)
static const struct opt_def matrix_opts[] = {
    { "plan", 'p', OPT_STR, O(plan), NULL, OPT_UNBOUNDED, NULL, "What",
      "plan file (profiles/plans/NAME.yaml, or a name under profiles/plans)" },
    { "out", 'o', OPT_STR, O(out), "results", OPT_UNBOUNDED, NULL, "Output",
      "results directory: matrix.json and rows/<id>/ (a second run resumes there)" },
    { "dry-run", 'n', OPT_BOOL, O(dry_run), NULL, OPT_UNBOUNDED, NULL, "What",
      "list every row with its feasibility, estimated wall time and child command line; run "
      "nothing" },
    { "optional", 0, OPT_BOOL, O(optional), NULL, OPT_UNBOUNDED, NULL, "What",
      "also run the plan's optional rows" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the assessed plan (dry run) or matrix.json as JSON on stdout" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "profiles directory (default: $KVTIER_PROFILES or the installed/source profiles)" },
    { "disk-cache-dir", 0, OPT_STR, O(disk_cache_dir), NULL, OPT_UNBOUNDED, NULL, "Run",
      "KVBM disk cache directory given to every bundle (default: theirs)" },
    { "tokenizer", 0, OPT_STR, O(tokenizer), NULL, OPT_UNBOUNDED, NULL, "What",
      "tokenizer.json every row's child plans token-exact prompts with (--tokenizer of "
      "bundle/sweep/slo; over the plan's tokenizer: key; default: the plan's, else each "
      "child's own default)" },
    { "endpoint", 0, OPT_STR, O(endpoint), NULL, OPT_UNBOUNDED, NULL, "What",
      "chat or completions: every row's request body (--endpoint of bundle/sweep/slo; over "
      "the plan's endpoint: key; default: the plan's, else chat)" },
    { "drop-caches", 0, OPT_ENUM, O(drop_caches), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "let every bundle sync and drop the page cache before each run where permitted" },
    OPT_END,
};
#undef O

static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    log_info("%s", line);
}

static char *plan_path(const char *arg, const char *pdir)
{
    if (access(arg, R_OK) == 0 || strchr(arg, '/'))
        return xstrdup(arg);
    char *p = xalloc_printf("%s/plans/%s.yaml", pdir, arg);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return xstrdup(arg);
}

static void print_rows(const json_t *plan, bool ran)
{
    printf("%-40s %-10s %-11s %7s %8s  %s\n", "row", "kind", ran ? "state" : "feasibility",
           "bundles", "est_min", "why");
    size_t i;
    json_t *row;
    json_array_foreach (json_object_get(plan, "rows"), i, row) {
        json_t *f = json_object_get(row, "feasibility");
        json_t *e = json_object_get(row, "estimate");
        const char *st = ran ? jsonx_str(row, "state", "?") : jsonx_str(f, "state", "?");
        const char *why = json_string_value(json_array_get(json_object_get(f, "reasons"), 0));
        printf("%-40s %-10s %-11s %7.0f %8.1f  %s\n", jsonx_str(row, "id", ""),
               jsonx_str(row, "kind", ""), st, jsonx_num(e, "bundles", 0),
               jsonx_num(e, "wall_s", 0) / 60, why ? why : "");
    }
}

/* Each row's child command line (its "argv" in the dry-run JSON), as matrix_run would start it. */
static void add_argv(json_t *plan, const struct matrix_config *mc, bool print)
{
    size_t i;
    json_t *row;
    if (print)
        printf("commands:\n");
    json_array_foreach (json_object_get(plan, "rows"), i, row) {
        char *dir = xalloc_printf("%s/rows/%s", mc->out_dir, jsonx_str(row, "id", ""));
        json_t *a = matrix_row_argv(row, plan, mc, dir);
        free(dir);
        json_object_set_new(row, "argv", a);
        if (!print)
            continue;
        size_t k;
        json_t *v;
        json_array_foreach (a, k, v)
            printf("%s%s", k ? " " : "  ", json_string_value(v));
        printf("\n");
    }
}

static int summarize(const json_t *doc)
{
    int fails = 0;
    size_t i;
    json_t *row;
    json_array_foreach (json_object_get(doc, "rows"), i, row) {
        const char *st = jsonx_str(row, "state", "");
        if (!strcmp(st, MATRIX_STATE_FAILED)) {
            log_error("row %s failed (exit %lld); see %s/child.log", jsonx_str(row, "id", ""),
                      (long long)jsonx_i64(row, "exit_code", -1), jsonx_str(row, "dir", ""));
            fails++;
        }
    }
    return fails;
}

int cmd_matrix_main(int argc, char **argv)
{
    struct matrix_cli c = { 0 };
    int rc = cliopt_parse_noargs(
        "matrix", matrix_opts, argc, argv, &c,
        "kvtier matrix --plan profiles/plans/demo-builtin.yaml --out results/ [--dry-run]",
        "Runs an experiment plan: every row (model x workload x modes x repeats, mechanism rows, "
        "Style 1 sweeps, Style 2 searches) as one kvtier bundle/sweep/slo child into "
        "<out>/rows/<id>/, with feasibility arithmetic, blocker dossiers for Dataset L rows "
        "the engine cannot serve, and matrix.json so an interrupted matrix resumes.");
    if (rc >= 0)
        return rc;
    if (!c.plan) {
        log_error("--plan FILE is required (e.g. profiles/plans/demo-builtin.yaml)");
        return CLIOPT_EXIT_USAGE;
    }
    char *pdir = profile_dir(c.profiles);
    char *ppath = plan_path(c.plan, pdir);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    json_t *plan = NULL, *doc = NULL;
    struct diag d = { 0 };
    int exit_code = CLIOPT_EXIT_OK;
    if (matrix_plan_load(ppath, pdir, &plan, &d) < 0) {
        log_diag(&d);
        exit_code = CLIOPT_EXIT_USAGE;
        goto out;
    }
    if ((c.tokenizer || c.endpoint) && matrix_plan_prompts(plan, c.tokenizer, c.endpoint, &d) < 0) {
        log_diag(&d);
        exit_code = CLIOPT_EXIT_USAGE;
        goto out;
    }
    char *tmp = xalloc_printf("%s/.kvtier-matrix-tmp-%d", c.dry_run ? "/tmp" : c.out, getpid());
    double total = matrix_assess(pdir, exe, plan, tmp);
    rmdir(tmp);
    free(tmp);
    struct matrix_config mc = { .profiles_dir = pdir,
                                .plan_path = ppath,
                                .out_dir = c.out,
                                .kvtier_path = exe,
                                .disk_cache_dir = c.disk_cache_dir,
                                .optional = c.optional,
                                .drop_caches = c.drop_caches == 0,
                                .note = print_note };
    if (c.dry_run) {
        add_argv(plan, &mc, false);
        if (c.json) {
            char *s = json_dumps(plan, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
            puts(s);
            free(s);
        } else {
            print_rows(plan, false);
            add_argv(plan, &mc, true);
            printf("plan %s: %zu rows, estimated wall time of the runnable rows %.1f min\n",
                   jsonx_str(plan, "name", ""), json_array_size(json_object_get(plan, "rows")),
                   total / 60);
        }
        goto out;
    }
    mc.interrupt_flag = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_KILL_LATER);
    log_info("plan %s: estimated %.1f min for the runnable rows -> %s/matrix.json",
             jsonx_str(plan, "name", ""), total / 60, c.out);
    rc = matrix_run(&mc, plan, &doc, &d);
    clisig_restore();
    if (rc == -EINTR) {
        log_warn("interrupted: finished rows are kept; run the same command again to resume");
        exit_code = CLIOPT_EXIT_INVALID;
    } else if (rc < 0) {
        log_diag(&d);
        exit_code = CLIOPT_EXIT_FAIL;
        goto out;
    }
    if (c.json) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
        puts(s);
        free(s);
    } else {
        print_rows(doc, true);
        printf("matrix: %s/matrix.json\n", c.out);
    }
    if (summarize(doc) && exit_code == CLIOPT_EXIT_OK)
        exit_code = CLIOPT_EXIT_FAIL;
out:
    json_decref(plan);
    json_decref(doc);
    free(ppath);
    free(pdir);
    return exit_code;
}
