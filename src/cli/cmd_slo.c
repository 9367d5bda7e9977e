/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier slo (test plan Style 2): per mode, the largest value of a load axis whose probes meet
 * a latency SLO with confidence (src/run/slo.h for the search, docs/slo.md for the method).
 * Every probe is a bundle group under <out>/probes/<mode>/<axis>-<value>/, reused on a rerun.
 * Writes <out>/slo.json, slo.md and slo_max.{png,svg}. Exit codes as kvtier compare: 0
 * decision-grade, 3 computed but not decision-grade, 2 bad input (before anything runs), 1
 * could not write or run. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/clisearch.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "run/axis.h"
#include "run/ladder.h"
#include "run/slo.h"

#define O CLISEARCH_O
static const struct opt_def slo_rows[] = {
    { "slo", 0, OPT_STR, O(slo), NULL, OPT_UNBOUNDED, NULL, "SLO",
      "limits as key=value: ttft_p50_ms, ttft_p95_ms, ttft_p99_ms, e2e_p*_ms, itl_p*_ms (ms), "
      "error_rate (fraction), e.g. ttft_p95_ms=2000,error_rate=0.01 (required)" },
    { "min", 0, OPT_DOUBLE, O(min), "1", OPT_UNBOUNDED, NULL, "SLO",
      "smallest axis value probed (the search starts here)" },
    { "max", 0, OPT_DOUBLE, O(max), "64", OPT_UNBOUNDED, NULL, "SLO", "largest axis value probed" },
    { "resolution", 0, OPT_DOUBLE, O(resolution), "1", OPT_UNBOUNDED, NULL, "SLO",
      "bisect until the bracket [last pass, first fail] is this narrow (> 0; >= 1 on "
      "concurrency; pick a finer one on rate)" },
    { "search-repeats", 0, OPT_U64, O(search_repeats), "1", 1, 100, NULL, "SLO",
      "bundles per probe while searching; the bracket's ends get --repeats" },
    { "c-levels", 0, OPT_STR, O(c_levels), NULL, OPT_UNBOUNDED, NULL, "Mode C",
      "Mode C ladder: read limits as % of the --probe read ceiling or bytes/s "
      "(\"25%,50%,100%\"); mode C is searched once per level (C@25%, ...) and slo.json's "
      "c_ladder says whether the capacity grows with the limit" },
    { "probe", 0, OPT_STR, O(probe), NULL, OPT_UNBOUNDED, NULL, "Mode C",
      "probe.json of kvtier probe: the read ceiling of % levels, and every bundle's storage "
      "efficiency" },
    OPT_END,
};
#undef O

struct ctx {
    const struct bundle_config *bc; /* one mode */
    enum axis_kind axis;
    const char *out, *phase;
    const char *mode; /* the bundles' mode directory (C for every ladder level) */
    const char *name; /* the search's name: the mode, or the ladder level's arm (C@25%) */
    const struct slo_spec *spec;
    const volatile sig_atomic_t *stop;
    struct diag d;
    const char *engine;
};

static void note_probe(const struct ctx *x, const struct slo_probe *p, bool reused)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%s %s %g x%u%s: %s", x->name, axis_name(x->axis),
                     p->value, p->repeats, reused ? " (reused)" : "",
                     p->pass ? "pass" : (p->valid ? "fail" : "fail (run not valid)"));
    for (size_t k = 0; k < x->spec->n && n > 0 && (size_t)n < sizeof(line); k++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; %s %.4g (bound %.4g, limit %g)",
                      x->spec->lim[k].m->key, p->est[k], p->bound[k], x->spec->lim[k].limit);
    log_info("%s", line);
}

static int probe_cb(void *vctx, double value, unsigned repeats, struct slo_probe *p)
{
    struct ctx *x = vctx;
    if (x->stop && *x->stop)
        return -EINTR;
    char *name = axis_point_name(x->axis, value);
    char *dir = xalloc_printf("%s/probes/%s/%s", x->out, x->name, name);
    char *group = NULL;
    bool reused = false;
    struct rundir_bundle *b = NULL;
    size_t n = 0;
    int rc = axis_run_point(x->bc, x->axis, value, repeats, dir, &group, &reused, &x->d);
    if (rc == 0)
        rc = axis_load_mode(group, x->mode, x->phase, &b, &n, &x->d);
    if (rc == 0) {
        const json_t **sums = xcalloc(n + 1, sizeof(*sums));
        bool *valid = xcalloc(n + 1, sizeof(bool));
        json_t *dirs = json_array();
        for (size_t i = 0; i < n; i++) {
            sums[i] = b[i].summary;
            valid[i] = b[i].valid;
            json_array_append_new(dirs, json_string(b[i].dir));
            const char *e = rundir_engine(b[i].manifest);
            if (e)
                x->engine = !x->engine || !strcmp(x->engine, e) ? e : "mixed";
        }
        slo_judge(x->spec, x->phase, sums, valid, n, p);
        p->detail = json_pack("{s:s, s:o, s:b}", "group", group, "bundles", dirs, "reused", reused);
        note_probe(x, p, reused);
        free(sums);
        free(valid);
    }
    axis_free_bundles(b, n);
    free(group);
    free(dir);
    free(name);
    return rc;
}

/* The decision-grade reason codes of a finished search document. */
static json_t *reasons(const json_t *modes, unsigned repeats)
{
    json_t *codes = json_array();
    bool nonmono = false, invalid = false, under = false, incomplete = false;
    const char *k;
    const json_t *r;
    json_object_foreach ((json_t *)modes, k, r) {
        nonmono |= jsonx_bool(r, "non_monotonic", false);
        const char *st = jsonx_str(r, "status", "");
        incomplete |= strcmp(st, "found") && strcmp(st, "all_pass") && strcmp(st, "none_pass");
        size_t i;
        const json_t *p;
        json_array_foreach (json_object_get(r, "probes"), i, p) {
            if (jsonx_bool(p, "superseded", false))
                continue;
            invalid |= !jsonx_bool(p, "run_valid", false);
            const char *mk;
            const json_t *m;
            json_object_foreach (json_object_get(p, "metrics"), mk, m)
                under |= jsonx_bool(m, "undersampled", false);
        }
    }
    if (repeats < 3)
        json_array_append_new(codes, json_string("INSUFFICIENT_REPEATS"));
    if (nonmono)
        json_array_append_new(codes, json_string("NON_MONOTONIC"));
    if (invalid)
        json_array_append_new(codes, json_string("PROBE_INVALID"));
    if (under)
        json_array_append_new(codes, json_string("TAIL_UNDERSAMPLED"));
    if (incomplete)
        json_array_append_new(codes, json_string("SEARCH_INCOMPLETE"));
    return codes;
}

/* The Mode C ladder's levels (n = 0: none). */
struct levels {
    struct ladder_level lv[LADDER_MAX_LEVELS];
    size_t n;
};

/* --probe (loadable, when given) and --c-levels (mode C among the modes; % levels need the
 * probe's read ceiling). 0 or -EINVAL, reported. */
static int check_ladder(const struct clisearch *c, const struct bundle_config *bc,
                        struct levels *lad)
{
    struct diag d = { 0 };
    json_t *probe = NULL;
    double ceiling = 0;
    lad->n = 0;
    if (c->probe && jsonx_load_file(c->probe, &probe, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    ceiling = probe ? ladder_probe_read_ceiling(probe) : 0;
    json_decref(probe);
    if (!c->c_levels)
        return 0;
    bool has_c = false;
    for (size_t i = 0; i < bc->n_modes; i++)
        has_c |= bc->modes[i] == MODE_C;
    if (!has_c) {
        log_error("--c-levels needs mode C in --mode (%s)", c->mode);
        return -EINVAL;
    }
    if (ladder_parse_levels(c->c_levels, ceiling, lad->lv, LADDER_MAX_LEVELS, &lad->n, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    return 0;
}

/* Everything checked before anything is launched. */
static int check_inputs(const struct clisearch *c, enum axis_kind axis, struct slo_spec *spec,
                        struct slo_search_config *sc)
{
    struct diag d = { 0 };
    if (!c->out) {
        log_error("--out is required (the directory of slo.json and the probes)");
        return -EINVAL;
    }
    if (!c->slo) {
        log_error("--slo is required (e.g. --slo ttft_p95_ms=2000,error_rate=0.01)");
        return -EINVAL;
    }
    if (clisearch_check_phase(c) < 0)
        return -EINVAL;
    *sc = (struct slo_search_config){ .min = c->min,
                                      .max = c->max,
                                      .resolution = c->resolution,
                                      .integer = axis_integer(axis),
                                      .search_repeats = (unsigned)c->search_repeats,
                                      .repeats = (unsigned)c->repeats };
    if (slo_spec_parse(c->slo, spec, &d) < 0 || slo_search_check(sc, &d) < 0 ||
        axis_check(axis, c->workload, c->min, &d) < 0 ||
        axis_check(axis, c->workload, c->max, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    return 0;
}

static json_t *search_json(const struct slo_search_config *sc)
{
    return json_pack("{s:f, s:f, s:f, s:I, s:I, s:s}", "min", sc->min, "max", sc->max, "resolution",
                     sc->resolution, "search_repeats", (json_int_t)sc->search_repeats, "repeats",
                     (json_int_t)sc->repeats, "method",
                     "double from --min until a probe fails, bisect to --resolution, confirm "
                     "the bracket's ends at --repeats, probe one step above the first fail");
}

/* One search: mode id under the name `name` (the mode's, or a ladder level's arm with its read
 * limit read_bps) into modes[name]. Returns 0, -EINTR (stopped), or a probe's error. */
static int run_one(const struct clisearch *c, const struct bundle_config *bc, enum mode_id id,
                   const char *name, uint64_t read_bps, enum axis_kind axis,
                   const struct slo_spec *spec, const struct slo_search_config *sc,
                   const volatile sig_atomic_t *stop, json_t *modes, const char **engine)
{
    struct bundle_config one = *bc;
    one.modes[0] = id;
    one.n_modes = 1;
    one.interrupt_flag = stop;
    if (read_bps)
        one.c_read_bps = read_bps;
    struct ctx x = { .bc = &one,
                     .axis = axis,
                     .out = c->out,
                     .phase = c->phase,
                     .mode = mode_name(id),
                     .name = name,
                     .spec = spec,
                     .stop = stop,
                     .engine = *engine };
    struct slo_result r;
    int rc = slo_search(sc, probe_cb, &x, &r);
    if (rc < 0 && rc != -EINTR)
        log_diag(&x.d);
    *engine = x.engine;
    json_t *j = slo_result_json(spec, &r);
    if (rc == -EINTR)
        json_object_set_new(j, "status", json_string("interrupted"));
    if (read_bps)
        json_object_set_new(j, "c_read_bps", json_integer((json_int_t)read_bps));
    json_object_set_new(modes, name, j);
    slo_result_fini(&r);
    return rc;
}

/* Runs every mode's search, mode C once per ladder level; fills modes. Returns 0, -EINTR
 * (stopped), or a probe's error. */
static int run_searches(const struct clisearch *c, const struct bundle_config *bc,
                        const struct levels *lad, enum axis_kind axis, const struct slo_spec *spec,
                        const struct slo_search_config *sc, json_t *modes, const char **engine)
{
    const volatile sig_atomic_t *stop = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_KILL_LATER);
    int rc = 0;
    for (size_t m = 0; m < bc->n_modes && rc == 0; m++) {
        enum mode_id id = bc->modes[m];
        if (id == MODE_C && lad->n)
            for (size_t k = 0; k < lad->n && rc == 0; k++)
                rc = run_one(c, bc, id, lad->lv[k].name, lad->lv[k].read_bps, axis, spec, sc, stop,
                             modes, engine);
        else
            rc = run_one(c, bc, id, mode_name(id), 0, axis, spec, sc, stop, modes, engine);
    }
    clisig_restore();
    return rc;
}

int cmd_slo_main(int argc, char **argv)
{
    struct clisearch c = { 0 };
    struct opt_def *table = clisearch_table(slo_rows);
    int rc = cliopt_parse_noargs(
        "slo", table, argc, argv, &c,
        "kvtier slo --stack builtin --model tiny --workload A --dataset S --mode B1,B2p "
        "--slo ttft_p95_ms=2000,error_rate=0.01 --axis concurrency --min 1 --max 64 "
        "--repeats 3 --out DIR",
        "Searches, per mode, the largest value of a load axis under a latency SLO: doubles "
        "until a probe fails, bisects to the resolution, confirms the bracket at --repeats. "
        "Every probe is a bundle group; a probe passes only when every bundle is run_valid "
        "and the upper confidence bound of every SLO quantile meets its limit. Writes "
        "slo.json, slo.md and the chart into --out; a rerun reuses finished probes.");
    if (rc >= 0) {
        free(table);
        return rc;
    }
    char *pdir = profile_dir(c.profiles);
    json_t *doc = NULL, *cmdline = clisearch_argv_json("slo", argc, argv),
           *opts = opt_to_json(table, &c);
    int exit_code = CLIOPT_EXIT_USAGE;
    struct bundle_config bc;
    enum axis_kind axis;
    struct slo_spec spec;
    struct slo_search_config sc;
    struct levels lad;
    if (clisearch_bundle_config(&c, pdir, &bc, &axis) < 0 ||
        check_inputs(&c, axis, &spec, &sc) < 0 || check_ladder(&c, &bc, &lad) < 0)
        goto out;
    bc.probe_path = c.probe;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    bc.kvtier_path = exe;
    /* the plans are sized for the highest SLO quantile (p99 needs 368 requests a phase) */
    for (size_t k = 0; k < spec.n; k++)
        if (spec.lim[k].m->q > bc.tail_quantile && spec.lim[k].m->q <= 0.99)
            bc.tail_quantile = spec.lim[k].m->q;
    if (bc.tail_quantile < 0.95)
        bc.tail_quantile = 0.95;
    bc.thresholds.tail_quantile = bc.tail_quantile;
    bc.command_line = cmdline;
    bc.options = opts;
    const char *baseline = c.baseline ? c.baseline : mode_name(bc.modes[0]);
    if (lad.n && !strcmp(baseline, "C")) /* searched per level: the first level stands for C */
        baseline = lad.lv[0].name;
    if ((rc = fileio_mkdir_p(c.out)) < 0) {
        log_error("%s: cannot create: %s", c.out, strerror(-rc));
        exit_code = CLIOPT_EXIT_FAIL;
        goto out;
    }
    json_t *modes = json_object();
    const char *engine = NULL;
    rc = run_searches(&c, &bc, &lad, axis, &spec, &sc, modes, &engine);
    if (rc < 0 && rc != -EINTR && json_object_size(modes) <= 1 &&
        json_array_size(jsonx_path(json_object_get(modes, mode_name(bc.modes[0])), "probes")) ==
            0) {
        /* a configuration error found by the first bundle run, before any probe ran */
        json_decref(modes);
        exit_code = rc == -EINVAL || rc == -ENOENT ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
        goto out;
    }
    json_t *codes = reasons(modes, sc.repeats);
    if (rc == -EINTR)
        json_array_append_new(codes, json_string("RUN_INTERRUPTED"));
    doc = json_pack("{s:i, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:O}",
                    "schema_version", 1, "kind", "kvtier.slo", "engine",
                    engine ? engine : "unknown", "slo", slo_spec_json(&spec), "axis",
                    axis_name(axis), "phase", c.phase, "search", search_json(&sc), "modes", modes,
                    "comparison", slo_comparison_json(modes, baseline), "decision_grade",
                    json_array_size(codes) == 0, "reason_codes", codes, "command_line", cmdline);
    if (lad.n)
        json_object_set_new(doc, "c_ladder",
                            ladder_capacity_report(lad.lv, lad.n, modes, axis_name(axis), c.seed));
    exit_code = json_array_size(codes) ? CLIOPT_EXIT_INVALID : CLIOPT_EXIT_OK;
    if (clisearch_write(c.out, "slo", doc, slo_markdown(doc)) < 0) {
        exit_code = CLIOPT_EXIT_FAIL;
        goto out;
    }
    struct charts_result cr = { 0 };
    if (slo_chart(doc, c.out, c.gnuplot, &cr) < 0 || cr.gnuplot_missing)
        log_warn("%s/slo_max.gp written; %s", c.out,
                 cr.gnuplot_missing ? "gnuplot not found, chart not rendered"
                                    : "gnuplot failed (see gnuplot.log)");
    const json_t *ladr = json_object_get(doc, "c_ladder");
    struct charts_result lr = { 0 };
    if (ladr && (ladder_capacity_chart(ladr, c.out, c.gnuplot, &lr) < 0 || lr.gnuplot_missing))
        log_warn("%s/c_ladder_capacity.gp written; %s", c.out,
                 lr.gnuplot_missing ? "gnuplot not found, chart not rendered"
                                    : "gnuplot failed (see gnuplot.log)");
    printf("%s/slo.json\n", c.out);
    const char *k;
    const json_t *r;
    json_object_foreach (modes, k, r) {
        char *br = jsonx_dump_line(json_object_get(r, "bracket"));
        char *mx = jsonx_dump_line(json_object_get(r, "max"));
        printf("  %-4s largest %s %s, bracket %s, %s%s\n", k, axis_name(axis), mx, br,
               jsonx_str(r, "status", "?"),
               jsonx_bool(r, "non_monotonic", false) ? ", NON_MONOTONIC" : "");
        free(br);
        free(mx);
    }
    if (ladr)
        printf("  Mode C ladder: rho %.3f, p %.4f over %d levels: %s\n",
               jsonx_num(ladr, "spearman_rho", NAN), jsonx_num(ladr, "p_value", NAN),
               (int)jsonx_i64(ladr, "n", 0), jsonx_str(ladr, "outcome", "?"));
out:
    json_decref(doc);
    json_decref(cmdline);
    json_decref(opts);
    free(pdir);
    free(table);
    return exit_code;
}
