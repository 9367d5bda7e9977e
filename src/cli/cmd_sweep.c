/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier sweep (test plan Style 1): TTFT p50/p95/p99 with their intervals against a load axis,
 * one line per mode (src/run/sweep.h, docs/sweep.md). Every point is one bundle group of all
 * modes, repeats interleaved as kvtier bundle does, under <out>/points/<axis>-<value>/ and
 * reused on a rerun; every mode is compared with the baseline at every point by kvtier
 * compare's statistics and the points where it is worse are listed as regimes. Writes
 * <out>/sweep.json, sweep.md and sweep_ttft.{png,svg}. Exit codes as kvtier compare. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "analysis/compare.h"
#include "cli/cliopt.h"
#include "cli/clisearch.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/quantci.h"
#include "common/xalloc.h"
#include "run/axis.h"
#include "run/sweep.h"

#define O CLISEARCH_O
static const struct opt_def sweep_rows[] = {
    { "values", 0, OPT_STR, O(values), NULL, OPT_UNBOUNDED, NULL, "Points",
      "axis values, comma-separated (e.g. 1,2,4,8,16)" },
    { "from", 0, OPT_DOUBLE, O(from), NULL, OPT_UNBOUNDED, NULL, "Points",
      "first value of an evenly spaced range (with --to and --steps)" },
    { "to", 0, OPT_DOUBLE, O(to), NULL, OPT_UNBOUNDED, NULL, "Points", "last value of the range" },
    { "steps", 0, OPT_U64, O(steps), "5", 1, 64, NULL, "Points", "values in the range" },
    OPT_END,
};
#undef O

/* The comparison of mode with the baseline at one point, by compare's own statistics. */
static json_t *vs_baseline(const char *group, const char *base, const char *mode, const char *phase)
{
    char *bd = fileio_join(group, base), *td = fileio_join(group, mode);
    struct compare_config cc = { .baseline = bd,
                                 .treatment = td,
                                 .phase = phase,
                                 .primary = "ttft_p95_ms",
                                 .level = 0.95,
                                 .resamples = 2000,
                                 .seed = 1,
                                 .min_effect = 0.05,
                                 .repeats_min = 3 };
    json_t *doc = NULL, *o = json_object();
    struct diag d = { 0 };
    json_object_set_new(o, "mode", json_string(base));
    if (compare_run(&cc, &doc, &d) == 0) {
        const json_t *m = jsonx_path(jsonx_path(doc, "metrics"), "ttft_p95_ms");
        const json_t *p = jsonx_path(jsonx_path(doc, "pooled_requests"), "ttft_p95_ms");
        json_object_set_new(o, "verdict", json_string(jsonx_str(m, "verdict", "?")));
        json_object_set_new(o, "pooled_verdict", json_string(jsonx_str(p, "verdict", "?")));
        jsonx_set_num(o, "change_pct", jsonx_num(m, "change_pct", NAN));
        jsonx_set_num(o, "pooled_change_pct", jsonx_num(p, "change_pct", NAN));
        json_object_set_new(o, "decision_grade",
                            json_boolean(jsonx_bool(doc, "decision_grade", false)));
    } else {
        json_object_set_new(o, "verdict", json_string("not_compared"));
        json_object_set_new(o, "why", json_string(d.msg));
    }
    json_decref(doc);
    free(bd);
    free(td);
    return o;
}

struct sweep_state {
    json_t *modes, *regimes, *points;
    const char *engine;
    bool invalid, under;
};

/* Loads one finished point group into the per-mode arrays. */
static int add_point(struct sweep_state *st, const struct bundle_config *bc, const char *group,
                     double value, const char *phase, const char *base, double tail_q)
{
    for (size_t m = 0; m < bc->n_modes; m++) {
        const char *mode = mode_name(bc->modes[m]);
        struct rundir_bundle *b = NULL;
        size_t n = 0;
        struct diag d = { 0 };
        int rc = axis_load_mode(group, mode, phase, &b, &n, &d);
        if (rc < 0) {
            log_diag(&d);
            return rc;
        }
        json_t *p = sweep_point_json(value, b, n, phase);
        json_object_set_new(p, "group", json_string(group));
        for (size_t i = 0; i < n; i++)
            st->invalid |= !b[i].valid || !b[i].decision_grade;
        const json_t *tq = jsonx_path(p, tail_q >= 0.99 ? "ttft_ms.p99" : "ttft_ms.p95");
        st->under |= !jsonx_bool(tq, "supported", false);
        const char *e = jsonx_str(p, "engine", "unknown");
        st->engine = !st->engine || !strcmp(st->engine, e) ? e : "mixed";
        if (strcmp(mode, base) != 0) {
            json_t *vs = vs_baseline(group, base, mode, phase);
            const char *v = jsonx_str(vs, "verdict", ""), *pv = jsonx_str(vs, "pooled_verdict", "");
            if (!strcmp(v, "worse") || !strcmp(pv, "worse") || !strcmp(pv, "worse_within_run"))
                json_array_append_new(
                    st->regimes,
                    json_pack(
                        "{s:s, s:f, s:s, s:s, s:o, s:s}", "mode", mode, "value", value, "verdict",
                        !strcmp(v, "worse") ? "worse" : pv, "against", base, "change_pct",
                        json_real(jsonx_num(
                            vs, !strcmp(v, "worse") ? "change_pct" : "pooled_change_pct", NAN)),
                        "group", group));
            json_object_set_new(p, "vs_baseline", vs);
        }
        json_array_append_new(json_object_get(st->modes, mode), p);
        axis_free_bundles(b, n);
    }
    return 0;
}

static int values_of(const struct clisearch *c, enum axis_kind axis, double **v, size_t *n)
{
    struct diag d = { 0 };
    int rc;
    if (c->values)
        rc = sweep_values_parse(c->values, axis_integer(axis), v, n, &d);
    else if (c->from > 0 || c->to > 0)
        rc = sweep_values_range(c->from, c->to, (unsigned)c->steps, axis_integer(axis), v, n, &d);
    else
        rc = diag_set(&d, -EINVAL, 0, 0, "give --values or --from/--to/--steps");
    for (size_t i = 0; rc == 0 && i < *n; i++)
        if ((rc = axis_check(axis, c->workload, (*v)[i], &d)) < 0) {
            free(*v);
            *v = NULL;
        }
    if (rc < 0)
        log_diag(&d);
    return rc;
}

static int check_inputs(const struct clisearch *c)
{
    if (!c->out) {
        log_error("--out is required (the directory of sweep.json and the points)");
        return -EINVAL;
    }
    return clisearch_check_phase(c);
}

/* Runs every point (or reuses it). Returns 0, -EINTR, or an error already reported. */
static int run_points(const struct clisearch *c, struct bundle_config *bc, enum axis_kind axis,
                      const double *v, size_t n, const char *base, struct sweep_state *st)
{
    const volatile sig_atomic_t *stop = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_KILL_LATER);
    bc->interrupt_flag = stop;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (*stop) {
            rc = -EINTR;
            break;
        }
        char *name = axis_point_name(axis, v[i]);
        char *dir = xalloc_printf("%s/points/%s", c->out, name);
        char *group = NULL;
        bool reused = false;
        struct diag d = { 0 };
        rc = axis_run_point(bc, axis, v[i], (unsigned)c->repeats, dir, &group, &reused, &d);
        if (rc < 0)
            log_diag(&d);
        else
            log_info("%s %g: %s%s", axis_name(axis), v[i], group, reused ? " (reused)" : "");
        if (rc == 0)
            rc = add_point(st, bc, group, v[i], c->phase, base, 0.95);
        if (rc == 0)
            json_array_append_new(st->points, json_pack("{s:f, s:s, s:b}", "value", v[i], "group",
                                                        group, "reused", reused));
        free(group);
        free(dir);
        free(name);
    }
    clisig_restore();
    return rc;
}

static json_t *sweep_reasons(const struct sweep_state *st, unsigned repeats, int rc)
{
    json_t *codes = json_array();
    if (repeats < 3)
        json_array_append_new(codes, json_string("INSUFFICIENT_REPEATS"));
    if (st->invalid)
        json_array_append_new(codes, json_string("BUNDLE_NOT_DECISION_GRADE"));
    if (st->under)
        json_array_append_new(codes, json_string("TAIL_UNDERSAMPLED"));
    if (rc == -EINTR)
        json_array_append_new(codes, json_string("RUN_INTERRUPTED"));
    return codes;
}

int cmd_sweep_main(int argc, char **argv)
{
    struct clisearch c = { 0 };
    struct opt_def *table = clisearch_table(sweep_rows);
    int rc = cliopt_parse_noargs(
        "sweep", table, argc, argv, &c,
        "kvtier sweep --stack builtin --model tiny --workload A --mode B1,B2p --axis "
        "concurrency --values 1,2,4,8 --repeats 3 --out DIR",
        "Runs one bundle group (all modes, repeats interleaved) per axis value and charts TTFT "
        "p50/p95/p99 with their order-statistic intervals against the axis, one line per mode; "
        "every mode is compared with the baseline at every point and the points where it is "
        "worse are listed as regimes. Writes sweep.json, sweep.md and the chart into --out; a "
        "rerun reuses finished points.");
    if (rc >= 0) {
        free(table);
        return rc;
    }
    char *pdir = profile_dir(c.profiles);
    json_t *doc = NULL, *cmdline = clisearch_argv_json("sweep", argc, argv),
           *opts = opt_to_json(table, &c);
    struct sweep_state st = { .modes = json_object(),
                              .regimes = json_array(),
                              .points = json_array() };
    double *v = NULL;
    size_t n = 0;
    int exit_code = CLIOPT_EXIT_USAGE;
    struct bundle_config bc;
    enum axis_kind axis;
    if (clisearch_bundle_config(&c, pdir, &bc, &axis) < 0 || check_inputs(&c) < 0 ||
        values_of(&c, axis, &v, &n) < 0)
        goto out;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[len > 0 ? len : 0] = 0;
    bc.kvtier_path = exe;
    bc.command_line = cmdline;
    bc.options = opts;
    bc.repeats = (unsigned)c.repeats;
    const char *base = c.baseline ? c.baseline : mode_name(bc.modes[0]);
    for (size_t m = 0; m < bc.n_modes; m++)
        json_object_set_new(st.modes, mode_name(bc.modes[m]), json_array());
    if ((rc = fileio_mkdir_p(c.out)) < 0) {
        log_error("%s: cannot create: %s", c.out, strerror(-rc));
        exit_code = CLIOPT_EXIT_FAIL;
        goto out;
    }
    rc = run_points(&c, &bc, axis, v, n, base, &st);
    if (rc < 0 && rc != -EINTR && json_array_size(st.points) == 0) {
        exit_code = rc == -EINVAL || rc == -ENOENT ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
        goto out;
    }
    json_t *codes = sweep_reasons(&st, (unsigned)c.repeats, rc);
    doc =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:b, s:o, s:O}", "schema_version",
                  1, "kind", "kvtier.sweep", "engine", st.engine ? st.engine : "unknown", "axis",
                  axis_name(axis), "phase", c.phase, "baseline", base, "modes", st.modes, "regimes",
                  st.regimes, "points", st.points, "decision_grade", json_array_size(codes) == 0,
                  "reason_codes", codes, "command_line", cmdline);
    exit_code = json_array_size(codes) ? CLIOPT_EXIT_INVALID : CLIOPT_EXIT_OK;
    if (clisearch_write(c.out, "sweep", doc, sweep_markdown(doc)) < 0) {
        exit_code = CLIOPT_EXIT_FAIL;
        goto out;
    }
    struct charts_result cr = { 0 };
    if (sweep_chart(doc, c.out, c.gnuplot, &cr) < 0 || cr.gnuplot_missing)
        log_warn("%s/sweep_ttft.gp written; %s", c.out,
                 cr.gnuplot_missing ? "gnuplot not found, chart not rendered"
                                    : "gnuplot failed (see gnuplot.log)");
    printf("%s/sweep.json: %zu points, %zu regimes where a mode is worse than %s\n", c.out,
           json_array_size(st.points), json_array_size(st.regimes), base);
out:
    json_decref(doc);
    json_decref(st.modes);
    json_decref(st.regimes);
    json_decref(st.points);
    json_decref(cmdline);
    json_decref(opts);
    free(v);
    free(pdir);
    free(table);
    return exit_code;
}
