/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier calibrate: fits the twin's hardware parameters from run bundles (--results DIR) or
 * from a real-silicon measurement (--silicon FILE), writes the fitted hardware profile and a
 * JSON report beside it, and prints the per-bundle prediction error with the held-out MAPE.
 * Exit 0 when the held-out MAPE meets --pass-mape, 3 when it does not (the profile is still
 * written), 2 for unusable input (including bundles of several models or hardware without
 * --group), 1 for failures writing the output. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "probe/probe.h"
#include "twin/calib.h"
#include "twin/twin_bundle.h"

#define MAX_BUNDLES 4096

struct calibrate_cli {
    const char *results, *out, *profiles, *hardware, *name, *probe, *silicon, *model, *report;
    double pass_mape;
    uint64_t max_evals;
    bool group, json, include_unclean;
};

#define O(f) offsetof(struct calibrate_cli, f)
static const struct opt_def defs[] = {
    { "results", 'r', OPT_STR, O(results), NULL, OPT_UNBOUNDED, NULL, "Input",
      "results tree: every run bundle under it (manifest.json + raw/records.jsonl) is a case" },
    { "silicon", 0, OPT_STR, O(silicon), NULL, OPT_UNBOUNDED, NULL, "Input",
      "instead of bundles: a bench/gpu/silicon_check.py JSON (needs --model and --hardware)" },
    { "model", 'm', OPT_STR, O(model), NULL, OPT_UNBOUNDED, NULL, "Input",
      "model profile of the --silicon measurement (e.g. llama8b_bf16)" },
    { "hardware", 0, OPT_STR, O(hardware), NULL, OPT_UNBOUNDED, NULL, "Input",
      "hardware profile to start from (default: the one each bundle names)" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Input",
      "profile directory (default $KVTIER_PROFILES or the installed profiles)" },
    { "probe", 0, OPT_STR, O(probe), NULL, OPT_UNBOUNDED, NULL, "Input",
      "kvtier probe JSON fixing the SSD read/write rates (default: a probe recorded in the "
      "bundles, else the read rate is fitted from disk onboards)" },
    { "group", 0, OPT_BOOL, O(group), NULL, OPT_UNBOUNDED, NULL, "Input",
      "calibrate bundles of different models or hardware as separate groups (one profile each, "
      "OUT.<hardware>.<model>.yaml) instead of refusing them" },
    { "include-unclean", 0, OPT_BOOL, O(include_unclean), NULL, OPT_UNBOUNDED, NULL, "Input",
      "also fit and hold out bundles whose verdict says the measurement is not clean "
      "(run_valid false, interrupted, SYSTEM_NOISE, CLIENT_LAG, THERMAL_THROTTLE); by default "
      "they are left out, with the reason printed and recorded in the report" },
    { "max-evals", 0, OPT_U64, O(max_evals), "400", 20, 100000, NULL, "Fit",
      "twin evaluations of the fit (each replays every training bundle)" },
    { "pass-mape", 0, OPT_DOUBLE, O(pass_mape), "15", 0, 1000, NULL, "Fit",
      "held-out MAPE (percent) that passes (BLIS: 15)" },
    { "out", 'o', OPT_STR, O(out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "fitted hardware profile YAML (required); the report goes beside it as .json" },
    { "name", 0, OPT_STR, O(name), NULL, OPT_UNBOUNDED, NULL, "Output",
      "profile name written (default <hardware>_fitted)" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the report JSON on stdout instead of the table" },
    OPT_END,
};
#undef O

/* ---- bundle discovery -------------------------------------------------------------------- */

static char **found;
static size_t n_found, cap_found;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_D || ftw->level > 8)
        return 0;
    char *m = fileio_join(path, "manifest.json"), *r = fileio_join(path, "raw/records.jsonl");
    struct stat s1, s2;
    if (stat(m, &s1) == 0 && stat(r, &s2) == 0 && n_found < MAX_BUNDLES) {
        xalloc_grow((void **)&found, &cap_found, n_found + 1, sizeof(*found));
        found[n_found++] = xstrdup(path);
    }
    free(m);
    free(r);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *with_suffix(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    if (n > 5 && strcmp(out + n - 5, ".yaml") == 0)
        n -= 5;
    return xalloc_printf("%.*s%s", (int)n, out, suffix);
}

/* ---- reporting --------------------------------------------------------------------------- */

static json_t *metrics_json(const struct twin_metrics *m)
{
    json_t *o = json_object();
    double v[3] = { m->ttft_p50_ms, m->ttft_p95_ms, m->itl_p50_ms };
    for (int k = 0; k < CALIB_METRICS; k++)
        json_object_set_new(o, calib_metric_names[k],
                            isfinite(v[k]) ? json_real(v[k]) : json_null());
    json_object_set_new(o, "n", json_integer((json_int_t)m->n));
    return o;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *result_json(const struct calib_result *r, double pass)
{
    json_t *o = json_object(), *params = json_object(), *cases = json_array();
    for (int p = 0; p < CALIB__N; p++) {
        json_t *e = json_pack("{s:b,s:f,s:f}", "fitted", r->fit[p], "start", r->start[p], "value",
                              r->value[p]);
        json_object_set_new(params, calib_param_names[p], e);
    }
    for (size_t i = 0; i < r->n_cases; i++) {
        const struct calib_case *c = &r->cases[i];
        json_t *e = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "bundle", c->b->dir, "mode",
                              c->b->mode, "engine", c->b->engine, "held_out", c->held_out,
                              "measured", metrics_json(&c->meas), "predicted_start",
                              metrics_json(&c->before), "predicted", metrics_json(&c->after));
        json_t *ape = json_object();
        for (int k = 0; k < CALIB_METRICS; k++)
            json_object_set_new(ape, calib_metric_names[k], num_or_null(c->ape[k]));
        json_object_set_new(e, "ape_pct", ape);
        json_object_set_new(e, "excluded", json_boolean(c->excluded));
        json_object_set_new(e, "unclean", c->unclean[0] ? json_string(c->unclean) : json_null());
        json_array_append_new(cases, e);
    }
    json_t *pm = json_object();
    for (int k = 0; k < CALIB_METRICS; k++)
        json_object_set_new(pm, calib_metric_names[k], num_or_null(r->mape_held_metric[k]));
    json_object_set_new(o, "parameters", params);
    json_object_set_new(o, "cases", cases);
    json_object_set_new(o, "n_train", json_integer((json_int_t)r->n_train));
    json_object_set_new(o, "n_held_out", json_integer((json_int_t)r->n_held));
    json_object_set_new(o, "mape_train_pct", num_or_null(r->mape_train));
    json_object_set_new(o, "mape_held_out_pct", num_or_null(r->mape_held));
    json_object_set_new(o, "mape_held_out_start_pct", num_or_null(r->mape_held_before));
    json_object_set_new(o, "mape_held_out_by_metric_pct", pm);
    json_object_set_new(o, "n_unclean", json_integer((json_int_t)r->n_unclean));
    json_object_set_new(o, "n_excluded", json_integer((json_int_t)r->n_excluded));
    json_object_set_new(o, "pass_mape_pct", json_real(pass));
    json_object_set_new(o, "pass", json_boolean(isfinite(r->mape_held) && r->mape_held <= pass));
    return o;
}

static void print_table(const struct calib_result *r, double pass)
{
    printf("%-52s %-4s %-5s %21s %21s %19s\n", "bundle", "mode", "split", "TTFT p50 meas/pred ms",
           "TTFT p95 meas/pred ms", "ITL p50 meas/pred");
    for (size_t i = 0; i < r->n_cases; i++) {
        const struct calib_case *c = &r->cases[i];
        const char *dir = c->b->dir;
        size_t n = strlen(dir);
        printf("%-52s %-4s %-5s %10.1f/%-10.1f %10.1f/%-10.1f %9.2f/%-9.2f\n",
               n > 52 ? dir + n - 52 : dir, c->b->mode,
               c->excluded   ? "excl"
               : c->held_out ? "held"
                             : "train",
               c->meas.ttft_p50_ms, c->after.ttft_p50_ms, c->meas.ttft_p95_ms, c->after.ttft_p95_ms,
               c->meas.itl_p50_ms, c->after.itl_p50_ms);
    }
    for (size_t i = 0; i < r->n_cases; i++)
        if (r->cases[i].unclean[0])
            printf("%s %s: %s\n", r->cases[i].excluded ? "left out" : "unclean, used",
                   r->cases[i].b->dir, r->cases[i].unclean);
    printf("fitted:");
    for (int p = 0; p < CALIB__N; p++)
        if (r->fit[p])
            printf(" %s %.4g (from %.4g)", calib_param_names[p], r->value[p], r->start[p]);
    printf("\ntrain MAPE %.1f%% over %zu bundles; held-out MAPE %.1f%% over %zu bundles "
           "(%.1f%% before fitting): %s (bar %.0f%%)\n",
           r->mape_train, r->n_train, r->mape_held, r->n_held, r->mape_held_before,
           !isfinite(r->mape_held) ? "no held-out bundle"
           : r->mape_held <= pass  ? "PASS"
                                   : "FAIL",
           pass);
}

/* ---- the commands ------------------------------------------------------------------------ */

static int write_text(const char *path, const char *text)
{
    int rc = fileio_write_atomic(path, text, strlen(text));
    if (rc < 0)
        log_error("cannot write %s: %s", path, strerror(-rc));
    return rc;
}

static void probe_rates(const json_t *probe, uint64_t bpb, struct calib_opts *o)
{
    double bw = 0;
    if (!probe)
        return;
    if (probe_ceiling(probe, "randread", bpb, &bw, NULL, NULL, NULL) == 0 ||
        probe_ceiling(probe, "read", bpb, &bw, NULL, NULL, NULL) == 0)
        o->ssd_read_bytes_per_s = bw;
    if (probe_ceiling(probe, "randwrite", bpb, &bw, NULL, NULL, NULL) == 0 ||
        probe_ceiling(probe, "write", bpb, &bw, NULL, NULL, NULL) == 0)
        o->ssd_write_bytes_per_s = bw;
}

/* The held-out MAPE the other way round (unclean bundles included when the main fit left them
 * out, left out when it included them), so a report shows what the unclean bundles change. */
static json_t *other_way(struct twin_bundle *bs, size_t n, const struct calib_opts *main_o)
{
    struct calib_opts o = *main_o;
    o.include_unclean = !main_o->include_unclean;
    struct calib_result r;
    struct diag d = { 0 };
    json_t *e = json_pack("{s:b}", "unclean_included", o.include_unclean);
    if (calib_bundles(bs, n, &o, &r, &d) < 0) {
        json_object_set_new(e, "error", json_string(d.msg));
        return e;
    }
    json_t *pm = json_object();
    for (int k = 0; k < CALIB_METRICS; k++)
        json_object_set_new(pm, calib_metric_names[k], num_or_null(r.mape_held_metric[k]));
    json_object_set_new(e, "n_train", json_integer((json_int_t)r.n_train));
    json_object_set_new(e, "n_held_out", json_integer((json_int_t)r.n_held));
    json_object_set_new(e, "mape_held_out_pct", num_or_null(r.mape_held));
    json_object_set_new(e, "mape_held_out_by_metric_pct", pm);
    calib_result_free(&r);
    return e;
}

static void print_other(const json_t *e)
{
    bool inc = json_is_true(json_object_get(e, "unclean_included"));
    const json_t *m = json_object_get(e, "mape_held_out_pct");
    if (json_is_number(m))
        printf("the other way (unclean bundles %s): held-out MAPE %.1f%% over %d bundles\n",
               inc ? "included" : "left out", json_number_value(m),
               (int)json_integer_value(json_object_get(e, "n_held_out")));
    else
        printf("the other way (unclean bundles %s): %s\n", inc ? "included" : "left out",
               jsonx_str(e, "error", "no held-out bundle"));
}

/* Calibrates one group (same model and hardware) and writes its profile and report. */
static int calibrate_group(const struct calibrate_cli *c, struct twin_bundle *bs, size_t n,
                           const char *out, const json_t *probe)
{
    struct calib_opts o = { .max_evals = (unsigned)c->max_evals,
                            .include_unclean = c->include_unclean };
    probe_rates(probe ? probe : bs[0].probe, profile_bytes_per_block(&bs[0].model), &o);
    struct calib_result r;
    struct diag d = { 0 };
    int rc = calib_bundles(bs, n, &o, &r, &d);
    if (rc < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_USAGE;
    }
    json_t *rep = result_json(&r, c->pass_mape);
    json_t *other = r.n_unclean ? other_way(bs, n, &o) : NULL;
    json_object_set_new(rep, "unclean_included", json_boolean(c->include_unclean));
    json_object_set_new(rep, "other_way", other ? other : json_null());
    json_object_set_new(rep, "model", json_string(bs[0].model_name));
    json_object_set_new(rep, "hardware_start", json_string(bs[0].hw_name));
    json_object_set_new(rep, "engine", json_string(bs[0].engine));
    json_object_set_new(rep, "source",
                        json_string(strcmp(bs[0].engine, "builtin") == 0
                                        ? "bundles of the builtin emulation (kvtier serve)"
                                        : "bundles of a real stack"));
    char *name = c->name ? xstrdup(c->name) : xalloc_printf("%s_fitted", bs[0].hw_name);
    json_t *cal =
        json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:o,s:o}", "source",
                  json_string_value(json_object_get(rep, "source")), "model", bs[0].model_name,
                  "from_profile", bs[0].hw_name, "bundles", (int)r.n_train, "held_out_bundles",
                  (int)r.n_held, "unclean_bundles_left_out", (int)r.n_excluded, "held_out_mape_pct",
                  num_or_null(r.mape_held), "held_out_by_metric_pct",
                  json_deep_copy(json_object_get(rep, "mape_held_out_by_metric_pct")));
    char *comment = xalloc_printf("Fitted by kvtier calibrate from %zu bundles (%s, model %s).\n"
                                  "Held-out MAPE of TTFT p50/p95 and ITL p50: %.1f %%.",
                                  n, bs[0].engine, bs[0].model_name, r.mape_held);
    char *yaml = calib_profile_yaml(&r.fitted, name, comment, cal);
    char *jpath = with_suffix(out, ".json");
    char *jtext = json_dumps(rep, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    rc = CLIOPT_EXIT_FAIL;
    if (write_text(out, yaml) == 0 && write_text(jpath, jtext) == 0) {
        if (c->json)
            printf("%s\n", jtext);
        else
            print_table(&r, c->pass_mape);
        if (!c->json && other)
            print_other(other);
        log_info("wrote %s and %s (twin replay of %s bundles)", out, jpath, bs[0].engine);
        rc = isfinite(r.mape_held) && r.mape_held > c->pass_mape ? CLIOPT_EXIT_INVALID
                                                                 : CLIOPT_EXIT_OK;
    }
    free(jtext);
    free(jpath);
    free(yaml);
    free(comment);
    free(name);
    json_decref(cal);
    json_decref(rep);
    calib_result_free(&r);
    return rc;
}

static int by_group(const void *a, const void *b)
{
    const struct twin_bundle *x = a, *y = b;
    int k = strcmp(x->hw_name, y->hw_name);
    if (!k)
        k = strcmp(x->model_name, y->model_name);
    return k ? k : strcmp(x->dir, y->dir);
}

static int run_bundles(const struct calibrate_cli *c, const char *profiles)
{
    n_found = 0;
    if (nftw(c->results, visit, 16, FTW_PHYS) != 0) {
        log_error("%s: cannot walk the results tree: %s", c->results, strerror(errno));
        return CLIOPT_EXIT_USAGE;
    }
    if (n_found == 0) {
        log_error("%s: no run bundle found (a directory with manifest.json and raw/records.jsonl)",
                  c->results);
        return CLIOPT_EXIT_USAGE;
    }
    qsort(found, n_found, sizeof(*found), cmp_str);
    json_t *probe = NULL;
    struct diag d = { 0 };
    if (c->probe && jsonx_load_file(c->probe, &probe, &d) < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_USAGE;
    }
    struct twin_bundle *bs = xcalloc(n_found, sizeof(*bs));
    size_t n = 0;
    int rc = CLIOPT_EXIT_OK;
    for (size_t i = 0; i < n_found && rc == CLIOPT_EXIT_OK; i++) {
        d = (struct diag){ 0 };
        if (twin_bundle_load(found[i], profiles, c->hardware, &bs[n], &d) < 0) {
            log_diag(&d);
            rc = CLIOPT_EXIT_USAGE;
            break;
        }
        n++;
    }
    /* grouping must not move a bundle after its cfg.model pointer was taken: re-point */
    if (rc == CLIOPT_EXIT_OK)
        qsort(bs, n, sizeof(*bs), by_group);
    for (size_t i = 0; i < n; i++)
        bs[i].cfg.model = &bs[i].model;
    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(bs[i].hw_name, bs[i - 1].hw_name) ||
            strcmp(bs[i].model_name, bs[i - 1].model_name))
            groups++;
    if (rc == CLIOPT_EXIT_OK && groups > 1 && !c->group) {
        log_error("%s: bundles of %zu model/hardware groups in one calibration set; pass --group "
                  "to fit one profile per group, or give bundles of one group:",
                  c->results, groups);
        for (size_t i = 0; i < n; i++)
            log_error("  %s: model %s, hardware %s", bs[i].dir, bs[i].model_name, bs[i].hw_name);
        rc = CLIOPT_EXIT_USAGE;
    }
    for (size_t i = 0; (rc == CLIOPT_EXIT_OK || rc == CLIOPT_EXIT_INVALID) && i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(bs[j].hw_name, bs[i].hw_name) &&
               !strcmp(bs[j].model_name, bs[i].model_name))
            j++;
        char *out = groups > 1 ? with_suffix(c->out, "") : xstrdup(c->out);
        if (groups > 1) {
            char *o2 = xalloc_printf("%s.%s.%s.yaml", out, bs[i].hw_name, bs[i].model_name);
            free(out);
            out = o2;
        }
        int g = calibrate_group(c, bs + i, j - i, out, probe);
        if (g != CLIOPT_EXIT_OK && (rc == CLIOPT_EXIT_OK || g != CLIOPT_EXIT_INVALID))
            rc = g;
        free(out);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        twin_bundle_free(&bs[i]);
    free(bs);
    for (size_t i = 0; i < n_found; i++)
        free(found[i]);
    free(found);
    found = NULL;
    json_decref(probe);
    return rc;
}

static json_t *silicon_json(const struct calib_silicon *r, const struct model_profile *m)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct calib_row *w = &r->rows[i];
        json_array_append_new(rows,
                              json_pack("{s:s,s:i,s:i,s:f,s:f,s:f,s:b}", "kind",
                                        w->decode ? "decode" : "prefill", "batch", (int)w->batch,
                                        w->decode ? "context" : "isl", (int)w->tokens, "measured_s",
                                        w->measured_s, "twin_start_s", w->before_s, "twin_fitted_s",
                                        w->after_s, "held_out", w->held_out));
    }
    json_t *cross = json_array();
    for (int k = 0; k < 3; k++)
        json_array_append_new(cross,
                              json_pack("{s:f,s:i,s:i,s:i}", "ssd_read_bytes_per_s", r->ssd_bps[k],
                                        "measured_tokens", (int)r->crossover_measured[k],
                                        "twin_start_tokens", (int)r->crossover_before[k],
                                        "twin_fitted_tokens", (int)r->crossover_after[k]));
    return json_pack("{s:s,s:o,s:f,s:f,s:f,s:f,s:o,s:i,s:i}", "model", m->name, "rows", rows,
                     "mape_start_pct", r->mape_before, "mape_held_out_pct", r->mape_held,
                     "disk_read_bytes_per_s", r->disk_read_bps, "h2d_bytes_per_s", r->h2d_bps,
                     "crossover", cross, "crossover_query_tokens", CALIB_CROSSOVER_QUERY,
                     "kv_bytes_per_token", (int)profile_kv_bytes_per_token(m));
}

static int run_silicon(const struct calibrate_cli *c, const char *profiles)
{
    if (!c->model || !c->hardware) {
        log_error("--silicon needs --model and --hardware (the profile to start from)");
        return CLIOPT_EXIT_USAGE;
    }
    struct model_profile m;
    struct hw_profile h;
    struct diag d = { 0 };
    json_t *sil = NULL;
    if (profile_load_model(profiles, c->model, &m, &d) < 0 ||
        profile_load_hw(profiles, c->hardware, &h, &d) < 0 ||
        jsonx_load_file(c->silicon, &sil, &d) < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_USAGE;
    }
    struct calib_silicon r;
    diag_file(&d, c->silicon);
    if (calib_silicon_fit(sil, &m, &h, &r, &d) < 0) {
        log_diag(&d);
        json_decref(sil);
        return CLIOPT_EXIT_USAGE;
    }
    h = r.fitted;
    if (r.disk_read_bps > 0)
        h.ssd_read_bytes_per_s = r.disk_read_bps;
    double w = jsonx_num(json_object_get(sil, "disk"), "write_bytes_per_s_qd1", 0);
    if (w > 0)
        h.ssd_write_bytes_per_s = w;
    if (r.h2d_bps > 0)
        h.g1_g2_bytes_per_s = r.h2d_bps;
    json_t *rep = silicon_json(&r, &m);
    json_object_set_new(rep, "device", json_deep_copy(json_object_get(sil, "device")));
    json_object_set_new(rep, "source", json_string("real silicon (bench/gpu/silicon_check.py)"));
    char *name = c->name ? xstrdup(c->name) : xalloc_printf("%s_fitted", h.name);
    json_t *cal =
        json_pack("{s:s,s:s,s:s,s:f}", "source", "real silicon (PyTorch step times)", "model",
                  m.name, "from_profile", c->hardware, "held_out_mape_pct", r.mape_held);
    char *yaml = calib_profile_yaml(&h, name, "Fitted by kvtier calibrate --silicon.", cal);
    char *jpath = with_suffix(c->out, ".json");
    char *jtext = json_dumps(rep, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    int rc = CLIOPT_EXIT_FAIL;
    if (write_text(c->out, yaml) == 0 && write_text(jpath, jtext) == 0) {
        rc = CLIOPT_EXIT_OK;
        if (c->json) {
            printf("%s\n", jtext);
        } else {
            printf("%-8s %5s %6s %12s %12s %12s %s\n", "kind", "batch", "tokens", "measured ms",
                   "start ms", "fitted ms", "split");
            for (size_t i = 0; i < r.n_rows; i++)
                printf("%-8s %5u %6u %12.2f %12.2f %12.2f %s\n",
                       r.rows[i].decode ? "decode" : "prefill", r.rows[i].batch, r.rows[i].tokens,
                       r.rows[i].measured_s * 1e3, r.rows[i].before_s * 1e3,
                       r.rows[i].after_s * 1e3, r.rows[i].held_out ? "held" : "train");
            printf("MAPE of the starting profile %.1f%%; fitted, held-out rows %.1f%%\n",
                   r.mape_before, r.mape_held);
            for (int k = 0; k < 3; k++)
                printf("reload-vs-recompute crossover at %5.2f GB/s: measured %u tokens, twin %u "
                       "(start) / %u (fitted) (0 = none up to 1M)\n",
                       r.ssd_bps[k] / 1e9, r.crossover_measured[k], r.crossover_before[k],
                       r.crossover_after[k]);
        }
    }
    free(jtext);
    free(jpath);
    free(yaml);
    free(name);
    json_decref(cal);
    json_decref(rep);
    json_decref(sil);
    calib_silicon_free(&r);
    return rc;
}

int cmd_calibrate_main(int argc, char **argv)
{
    struct calibrate_cli c = { 0 };
    int rc = cliopt_parse_noargs(
        "calibrate", defs, argc, argv, &c,
        "kvtier calibrate --results DIR --out fitted-hw.yaml [--hardware NAME] [--group]\n"
        "       kvtier calibrate --silicon FILE --model NAME --hardware NAME --out h100.yaml",
        "Fits the twin's hardware parameters (prefill MFU, decode MBU, step and per-sequence "
        "overheads, SSD rates) so that the twin's replay of each bundle matches its measured "
        "TTFT p50/p95 and ITL p50; every third bundle is held out and its error reported (MAPE).");
    if (rc >= 0)
        return rc;
    if (!c.out || (!c.results == !c.silicon)) {
        log_error("give --out FILE and one of --results DIR or --silicon FILE");
        return CLIOPT_EXIT_USAGE;
    }
    char *profiles = profile_dir(c.profiles);
    rc = c.silicon ? run_silicon(&c, profiles) : run_bundles(&c, profiles);
    free(profiles);
    return rc;
}
