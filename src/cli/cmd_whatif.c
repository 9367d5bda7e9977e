/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier whatif: asks the twin (twin/twin.h, a virtual-clock replay of the engine's scheduler)
 * where the SSD tier pays off. Over a grid of models, SSD read rates, CPU- and disk-tier sizes,
 * context lengths and concurrencies it runs the built-in context-reuse workload (or a plan from
 * kvtier plan) once per mode, and reports replay TTFT p50/p95 per mode, the B1/B2 ratio, the
 * winner, the twin's error bar from calibration and how much faster than real time it ran; it
 * writes whatif.json, whatif.csv and the crossover chart whatif.svg. `--bundle DIR` instead
 * replays one bundle and compares the prediction with what was measured (self-prediction).
 * Exit 0; 2 for unusable input or a grid over --budget-s without --yes; 1 when outputs cannot be
 * written. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "twin/twin.h"
#include "twin/twin_bundle.h"

#define AXIS_MAX_VALUES 16
#define MAX_MODES       4

enum axis { AX_MODEL, AX_SSD, AX_CPU, AX_DISK, AX_CONTEXT, AX_CONC, AX__N };
static const char *const axis_names[AX__N] = { "model",         "ssd_read_gbps", "cpu_cache_gb",
                                               "disk_cache_gb", "context",       "concurrency" };

struct whatif_cli {
    const char *model, *hardware, *profiles, *bundle, *plan, *out, *modes, *grid;
    const char *ssd, *cpu, *disk, *context, *concurrency;
    uint64_t users, query, output, g1_blocks, max_pressure;
    double budget_s, slo_p95_ms;
    bool yes, json, clock_from_itl;
};

#define O(f) offsetof(struct whatif_cli, f)
static const struct opt_def defs[] = {
    { "model", 'm', OPT_STR, O(model), "llama8b_fp8", OPT_UNBOUNDED, NULL, "Grid",
      "model profile(s), comma-separated (an axis)" },
    { "hardware", 0, OPT_STR, O(hardware), NULL, OPT_UNBOUNDED, NULL, "Grid",
      "hardware profile name, or a YAML file (e.g. one written by kvtier calibrate); default "
      "dgx_spark_gb10, with --bundle the bundle's" },
    { "ssd-read-gbps", 0, OPT_STR, O(ssd), NULL, OPT_UNBOUNDED, NULL, "Grid",
      "SSD read rates in GB/s, comma-separated (default: the profile's)" },
    { "cpu-cache-gb", 0, OPT_STR, O(cpu), "8", OPT_UNBOUNDED, NULL, "Grid",
      "CPU (G2) tier sizes in GB, comma-separated" },
    { "disk-cache-gb", 0, OPT_STR, O(disk), "256", OPT_UNBOUNDED, NULL, "Grid",
      "disk (G3) tier sizes in GB, comma-separated" },
    { "context", 0, OPT_STR, O(context), "2048,8192,32768", OPT_UNBOUNDED, NULL, "Grid",
      "context (reused prefix) lengths in tokens, comma-separated" },
    { "concurrency", 0, OPT_STR, O(concurrency), NULL, OPT_UNBOUNDED, NULL, "Grid",
      "requests in flight, comma-separated (default 8; with --plan the plan's own)" },
    { "grid", 0, OPT_STR, O(grid), NULL, OPT_UNBOUNDED, NULL, "Grid",
      "axes as AXIS=V1,V2[;AXIS=...] (model, ssd_read_gbps, cpu_cache_gb, disk_cache_gb, "
      "context, concurrency); overrides the options above" },
    { "modes", 0, OPT_STR, O(modes), "B1,B2p", OPT_UNBOUNDED, NULL, "Workload",
      "modes compared (B0, B1, B2, B2p, B3); the first is the baseline" },
    { "users", 0, OPT_U64, O(users), "32", 1, 100000, NULL, "Workload",
      "users whose contexts come back in the replay phase" },
    { "query", 0, OPT_U64, O(query), "128", 1, 1048576, NULL, "Workload",
      "new tokens per request on top of the context" },
    { "output", 0, OPT_U64, O(output), "64", 1, 1048576, NULL, "Workload", "output tokens" },
    { "max-pressure", 0, OPT_U64, O(max_pressure), "4000", 0, 1000000, NULL, "Workload",
      "cap on pressure-phase requests per point" },
    { "g1-blocks", 0, OPT_U64, O(g1_blocks), "0", 0, 1073741824.0, NULL, "Workload",
      "device KV capacity in blocks; 0 = from the profiles" },
    { "slo-ttft-p95-ms", 0, OPT_DOUBLE, O(slo_p95_ms), "0", 0, 1e9, NULL, "Workload",
      "Style 2 capacity: per point and mode, the most requests in flight (up to --users) whose "
      "replay TTFT p95 stays within this many ms; 0 = off" },
    { "plan", 0, OPT_STR, O(plan), NULL, OPT_UNBOUNDED, NULL, "Workload",
      "a plan from kvtier plan instead of the built-in context-reuse workload (context and "
      "users axes are then ignored)" },
    { "bundle", 0, OPT_STR, O(bundle), NULL, OPT_UNBOUNDED, NULL, "Workload",
      "replay one run bundle in the twin and compare with what it measured" },
    { "clock-from-itl", 0, OPT_BOOL, O(clock_from_itl), NULL, OPT_UNBOUNDED, NULL, "Workload",
      "with --bundle: add the bundle's measured minus predicted ITL p50 (the host's lateness per "
      "engine step, a decode-only reference from the same run) to every step before predicting "
      "TTFT" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Input",
      "profile directory (default $KVTIER_PROFILES or the installed profiles)" },
    { "budget-s", 0, OPT_DOUBLE, O(budget_s), "300", 0, 1e9, NULL, "Run",
      "CPU seconds the grid may take before it asks for --yes" },
    { "yes", 'y', OPT_BOOL, O(yes), NULL, OPT_UNBOUNDED, NULL, "Run",
      "run a grid estimated to exceed --budget-s" },
    { "out", 'o', OPT_STR, O(out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "directory for whatif.json, whatif.csv and whatif.svg" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the JSON result instead of the table" },
    OPT_END,
};
#undef O

struct axis_vals {
    char *text[AXIS_MAX_VALUES]; /* owned */
    double num[AXIS_MAX_VALUES];
    size_t n;
};

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_list(const char *name, const char *s, struct axis_vals *a, bool numeric)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->text[i]);
    a->n = 0;
    char *dup = xstrdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (a->n == AXIS_MAX_VALUES) {
            log_error("%s: more than %d values", name, AXIS_MAX_VALUES);
            rc = -EINVAL;
            break;
        }
        char *end = NULL;
        double v = numeric ? strtod(t, &end) : 0;
        if (numeric && (end == t || *end || !(v > 0) || !isfinite(v))) {
            log_error("%s: '%s' is not a positive number", name, t);
            rc = -EINVAL;
            break;
        }
        a->num[a->n] = v;
        a->text[a->n++] = xstrdup(t);
    }
    if (rc == 0 && a->n == 0) {
        log_error("%s: empty list", name);
        rc = -EINVAL;
    }
    free(dup);
    return rc;
}

static int grid_override(const char *grid, struct axis_vals *ax);

static int parse_grid(const struct whatif_cli *c, struct axis_vals *ax)
{
    const char *conc = c->concurrency ? c->concurrency : c->plan ? NULL : "8";
    const char *def[AX__N] = {
        c->model, c->ssd, c->cpu, c->disk, c->plan ? NULL : c->context, conc
    };
    for (int a = 0; a < AX__N; a++)
        if (def[a] && parse_list(axis_names[a], def[a], &ax[a], a != AX_MODEL) < 0)
            return -EINVAL;
    int rc = 0;
    if (c->grid)
        rc = grid_override(c->grid, ax);
    if (c->plan && ax[AX_CONTEXT].n) { /* a plan has its own prompts */
        for (size_t i = 0; i < ax[AX_CONTEXT].n; i++)
            free(ax[AX_CONTEXT].text[i]);
        ax[AX_CONTEXT].n = 0;
    }
    /* an axis not given has one value 0: the profile's SSD rate, the plan's concurrency */
    for (int a = 0; a < AX__N; a++)
        if (ax[a].n == 0) {
            ax[a].text[0] = xstrdup("0");
            ax[a].num[0] = 0;
            ax[a].n = 1;
        }
    return rc;
}

static int grid_override(const char *grid, struct axis_vals *ax)
{
    char *dup = xstrdup(grid), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(dup, ";", &save); t && rc == 0; t = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(t, '=');
        int a = 0;
        if (eq) {
            *eq = 0;
            while (a < AX__N && strcmp(axis_names[a], t) != 0)
                a++;
        }
        if (!eq || a == AX__N) {
            log_error("--grid: '%s' is not AXIS=V1,V2 with AXIS one of model, ssd_read_gbps, "
                      "cpu_cache_gb, disk_cache_gb, context, concurrency",
                      t);
            rc = -EINVAL;
            break;
        }
        rc = parse_list(axis_names[a], eq + 1, &ax[a], a != AX_MODEL);
    }
    free(dup);
    return rc;
}

/* Hardware profile by name or YAML file; *err_pct = its calibration's held-out MAPE or NaN. */
static int load_hw(const char *profiles, const char *hw, struct hw_profile *h, double *err_pct,
                   struct diag *d)
{
    json_t *j = NULL;
    size_t n = strlen(hw);
    bool file = strchr(hw, '/') || (n > 5 && strcmp(hw + n - 5, ".yaml") == 0);
    int rc = file ? yamlx_load_file(hw, &j, d) : profile_load(profiles, "hardware", hw, &j, d);
    if (rc == 0) {
        if (file)
            diag_file(d, hw);
        rc = profile_hw_from_json(j, h, d);
    }
    *err_pct = jsonx_num(json_object_get(j, "calibration"), "held_out_mape_pct", NAN);
    json_decref(j);
    return rc;
}

static int mode_config(const char *mode, struct twin_config *c, double cpu_gb, double disk_gb,
                       uint64_t bpb)
{
    c->kvbm = strcmp(mode, "B0") != 0;
    c->g2_blocks = (uint64_t)(cpu_gb * 1e9 / (double)bpb);
    c->g3_blocks = (uint64_t)(disk_gb * 1e9 / (double)bpb);
    c->filter = strcmp(mode, "B2") == 0;
    c->disk_only = strcmp(mode, "B3") == 0;
    if (!strcmp(mode, "B0") || !strcmp(mode, "B1"))
        c->g3_blocks = 0;
    if (c->disk_only)
        c->g2_blocks = 0;
    if (strcmp(mode, "B0") && strcmp(mode, "B1") && strcmp(mode, "B2") && strcmp(mode, "B2p") &&
        strcmp(mode, "B3"))
        return -EINVAL;
    return 0;
}

struct point_res {
    struct twin_metrics m;
    double modelled_s, cpu_s;
    uint64_t onboard_d, onboard_h;
    bool ok;
    uint32_t capacity; /* Style 2: most requests in flight meeting the SLO (0 = none, or off) */
    char why[336];
};

/* Runs one mode at one grid point. */
static void run_point(const struct twin_config *base, const struct twin_plan *plan,
                      const char *mode, double cpu_gb, double disk_gb, struct point_res *r)
{
    struct twin_config c = *base;
    *r = (struct point_res){ 0 };
    mode_config(mode, &c, cpu_gb, disk_gb, profile_bytes_per_block(c.model));
    struct twin_out *out = xcalloc(plan->n_req + 1, sizeof(*out));
    struct twin_stats st;
    struct diag d = { 0 };
    double t0 = cpu_now();
    int rc = twin_run(&c, plan, out, &st, &d);
    r->cpu_s = cpu_now() - t0;
    r->modelled_s = (double)st.elapsed_ns / 1e9;
    r->onboard_d = st.onboard_d_blocks;
    r->onboard_h = st.onboard_h_blocks;
    const char *phase = plan->n_phase > 1 ? "replay" : NULL;
    bool has_replay = false;
    for (uint32_t i = 0; i < plan->n_phase; i++)
        has_replay |= strcmp(plan->phase[i], "replay") == 0;
    twin_metrics_predicted(plan, out, has_replay ? phase : NULL, &r->m);
    r->ok = rc == 0 && r->m.n > 0;
    if (!r->ok)
        snprintf(r->why, sizeof(r->why), "%s", rc < 0 ? d.msg : "no request finished");
    free(out);
}

/* Style 2 capacity: bisection over requests in flight (1..max) for the largest whose replay
 * TTFT p95 meets the SLO; assumes the tail grows with load. The searched runs' CPU and modelled
 * time are added to r. */
static uint32_t capacity(const struct twin_config *base, struct twin_plan *plan, const char *mode,
                         double cpu_gb, double disk_gb, double slo_ms, uint32_t max,
                         struct point_res *r)
{
    uint32_t saved[TWIN_MAX_PHASES], lo = 0, hi = max;
    memcpy(saved, plan->max_inflight, sizeof(saved));
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        for (uint32_t i = 0; i < plan->n_phase; i++)
            plan->max_inflight[i] = mid;
        struct point_res t;
        run_point(base, plan, mode, cpu_gb, disk_gb, &t);
        r->cpu_s += t.cpu_s;
        r->modelled_s += t.modelled_s;
        if (t.ok && t.m.ttft_p95_ms <= slo_ms)
            lo = mid;
        else
            hi = mid - 1;
    }
    memcpy(plan->max_inflight, saved, sizeof(saved));
    return lo;
}

/* ---- bundle self-prediction -------------------------------------------------------------- */

static int run_bundle(const struct whatif_cli *cl, const char *profiles)
{
    struct twin_bundle b;
    struct diag d = { 0 };
    bool hw_given = cl->hardware != NULL;
    if (twin_bundle_load(cl->bundle, profiles, NULL, &b, &d) < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_USAGE;
    }
    double err = NAN;
    struct hw_profile named;
    if (hw_given ? load_hw(profiles, cl->hardware, &b.cfg.hw, &err, &d) < 0
                 : load_hw(profiles, b.hw_name, &named, &err, &d) < 0) {
        log_diag(&d);
        twin_bundle_free(&b);
        return CLIOPT_EXIT_USAGE;
    }
    struct twin_out *out = xcalloc(b.plan.n_req + 1, sizeof(*out));
    struct twin_stats st;
    double t0 = cpu_now(), extra_ms = 0;
    int rc = twin_run(&b.cfg, &b.plan, out, &st, &d);
    if (rc == 0 && cl->clock_from_itl) {
        struct twin_metrics p;
        twin_metrics_predicted(&b.plan, out, NULL, &p);
        if (b.measured.itl_p50_ms > 0 && p.itl_p50_ms > 0) {
            /* the host's lateness per engine step, added to every modelled step */
            double sp = b.cfg.speedup > 0 ? b.cfg.speedup : 1;
            extra_ms = b.measured.itl_p50_ms - p.itl_p50_ms;
            b.cfg.hw.step_overhead_s = fmax(0, b.cfg.hw.step_overhead_s + extra_ms / 1e3 * sp);
            rc = twin_run(&b.cfg, &b.plan, out, &st, &d);
        }
    }
    double cpu = cpu_now() - t0;
    if (rc < 0)
        log_warn("twin: %s", d.msg);
    json_t *phases = json_object();
    if (!cl->json)
        printf("%-9s %5s %23s %23s %21s\n", "phase", "n", "TTFT p50 meas/twin ms",
               "TTFT p95 meas/twin ms", "ITL p50 meas/twin ms");
    for (uint32_t i = 0; i <= b.plan.n_phase; i++) {
        const char *ph = i < b.plan.n_phase ? b.plan.phase[i] : NULL;
        struct twin_metrics m, p;
        twin_metrics_measured(&b.plan, ph, &m);
        twin_metrics_predicted(&b.plan, out, ph, &p);
        if (m.n == 0)
            continue;
        json_object_set_new(phases, ph ? ph : "all",
                            json_pack("{s:i,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (int)m.n,
                                      "ttft_p50_ms_measured", m.ttft_p50_ms, "ttft_p50_ms_twin",
                                      p.ttft_p50_ms, "ttft_p95_ms_measured", m.ttft_p95_ms,
                                      "ttft_p95_ms_twin", p.ttft_p95_ms, "itl_p50_ms_measured",
                                      isfinite(m.itl_p50_ms) ? m.itl_p50_ms : 0, "itl_p50_ms_twin",
                                      isfinite(p.itl_p50_ms) ? p.itl_p50_ms : 0));
        if (!cl->json)
            printf("%-9s %5zu %11.1f/%-11.1f %11.1f/%-11.1f %10.2f/%-10.2f\n", ph ? ph : "all", m.n,
                   m.ttft_p50_ms, p.ttft_p50_ms, m.ttft_p95_ms, p.ttft_p95_ms, m.itl_p50_ms,
                   p.itl_p50_ms);
    }
    double modelled = (double)st.elapsed_ns / 1e9;
    json_t *res = json_pack("{s:s,s:s,s:s,s:s,s:o,s:f,s:f,s:f,s:o}", "bundle", b.dir, "engine",
                            b.engine, "mode", b.mode, "hardware", b.cfg.hw.name, "phases", phases,
                            "modelled_s", modelled, "cpu_s", cpu, "step_lateness_ms", extra_ms,
                            "error_bar_pct", isfinite(err) ? json_real(err) : json_null());
    if (cl->json) {
        char *s = json_dumps(res, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
    } else {
        printf("twin of the %s engine's bundle (mode %s, hardware %s, step lateness %+.2f ms): "
               "%.1f s modelled in %.3f s CPU (%.0fx real time)\n",
               b.engine, b.mode, b.cfg.hw.name, extra_ms, modelled, cpu,
               cpu > 0 ? modelled / cpu : 0);
    }
    json_decref(res);
    free(out);
    twin_bundle_free(&b);
    return rc < 0 ? CLIOPT_EXIT_FAIL : CLIOPT_EXIT_OK;
}

/* ---- the grid ---------------------------------------------------------------------------- */

struct grid {
    struct axis_vals ax[AX__N];
    char modes[MAX_MODES][8];
    size_t n_modes, n_points;
    struct point_res *res; /* n_points x n_modes */
    size_t *idx;           /* n_points x AX__N value indices */
    double err_pct, slo_ms;
    char hw_name[64];
};

static void point_index(const struct grid *g, size_t p, size_t *ix)
{
    for (int a = AX__N - 1; a >= 0; a--) {
        ix[a] = p % g->ax[a].n;
        p /= g->ax[a].n;
    }
}

static int run_one_point(const struct whatif_cli *cl, const char *profiles, struct grid *g,
                         size_t p, const struct hw_profile *hw0)
{
    size_t *ix = &g->idx[p * AX__N];
    point_index(g, p, ix);
    struct model_profile m;
    struct diag d = { 0 };
    if (profile_load_model(profiles, g->ax[AX_MODEL].text[ix[AX_MODEL]], &m, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    struct hw_profile hw = *hw0;
    if (g->ax[AX_SSD].num[ix[AX_SSD]] > 0)
        hw.ssd_read_bytes_per_s = g->ax[AX_SSD].num[ix[AX_SSD]] * 1e9;
    struct twin_config base;
    if (twin_config_init(&base, &m, &hw, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    if (cl->g1_blocks)
        base.g1_blocks = cl->g1_blocks;
    double cpu_gb = g->ax[AX_CPU].num[ix[AX_CPU]], disk_gb = g->ax[AX_DISK].num[ix[AX_DISK]];
    uint32_t conc = (uint32_t)g->ax[AX_CONC].num[ix[AX_CONC]];
    struct twin_plan plan;
    if (cl->plan) {
        if (twin_plan_load(cl->plan, NULL, &plan, &d) < 0) {
            log_diag(&d);
            return -EINVAL;
        }
        if (conc)
            for (uint32_t i = 0; i < plan.n_phase; i++)
                plan.max_inflight[i] = conc;
    } else {
        uint64_t bpb = profile_bytes_per_block(&m);
        struct twin_synth s = { .context = (uint32_t)g->ax[AX_CONTEXT].num[ix[AX_CONTEXT]],
                                .query = (uint32_t)cl->query,
                                .output = (uint32_t)cl->output,
                                .users = (uint32_t)cl->users,
                                .concurrency = conc,
                                .max_pressure = (uint32_t)cl->max_pressure,
                                .g1_g2_blocks = base.g1_blocks + (uint64_t)(cpu_gb * 1e9 / bpb),
                                .tokens_per_block = m.tokens_per_block,
                                .seed = 1 };
        twin_plan_synthetic(&s, &plan);
    }
    for (size_t k = 0; k < g->n_modes; k++) {
        struct point_res *r = &g->res[p * g->n_modes + k];
        run_point(&base, &plan, g->modes[k], cpu_gb, disk_gb, r);
        if (cl->slo_p95_ms > 0 && !cl->plan && r->ok)
            r->capacity = capacity(&base, &plan, g->modes[k], cpu_gb, disk_gb, cl->slo_p95_ms,
                                   (uint32_t)cl->users, r);
    }
    twin_plan_free(&plan);
    return 0;
}

static json_t *grid_json(const struct grid *g)
{
    json_t *rows = json_array();
    for (size_t p = 0; p < g->n_points; p++) {
        const size_t *ix = &g->idx[p * AX__N];
        json_t *row = json_object(), *modes = json_object();
        for (int a = 0; a < AX__N; a++)
            json_object_set_new(row, axis_names[a],
                                a == AX_MODEL ? json_string(g->ax[a].text[ix[a]])
                                              : json_real(g->ax[a].num[ix[a]]));
        for (size_t k = 0; k < g->n_modes; k++) {
            const struct point_res *r = &g->res[p * g->n_modes + k];
            json_t *e = json_pack("{s:s}", "error", r->why);
            if (r->ok) {
                json_decref(e);
                e = json_pack("{s:f,s:f,s:i,s:f,s:f,s:I,s:I}", "ttft_p50_ms", r->m.ttft_p50_ms,
                              "ttft_p95_ms", r->m.ttft_p95_ms, "n", (int)r->m.n, "modelled_s",
                              r->modelled_s, "cpu_s", r->cpu_s, "onboard_disk_blocks",
                              (json_int_t)r->onboard_d, "onboard_host_blocks",
                              (json_int_t)r->onboard_h);
                json_object_set_new(e, "capacity_concurrency",
                                    g->slo_ms > 0 ? json_integer(r->capacity) : json_null());
            }
            json_object_set_new(modes, g->modes[k], e);
        }
        json_object_set_new(row, "modes", modes);
        const struct point_res *b = &g->res[p * g->n_modes], *t = b + (g->n_modes - 1);
        if (g->n_modes > 1 && b->ok && t->ok) {
            double ratio = b->m.ttft_p50_ms / t->m.ttft_p50_ms;
            json_object_set_new(row, "ttft_p50_ratio", json_real(ratio));
            json_object_set_new(row, "ttft_p95_ratio",
                                json_real(b->m.ttft_p95_ms / t->m.ttft_p95_ms));
            json_object_set_new(row, "winner",
                                json_string(ratio > 1 ? g->modes[g->n_modes - 1] : g->modes[0]));
            double e = isfinite(g->err_pct) ? g->err_pct / 100 : NAN;
            json_object_set_new(row, "beyond_error_bar",
                                isfinite(e) ? json_boolean(fabs(ratio - 1) > 2 * e) : json_null());
        }
        json_array_append_new(rows, row);
    }
    json_t *modes = json_array();
    for (size_t k = 0; k < g->n_modes; k++)
        json_array_append_new(modes, json_string(g->modes[k]));
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "kind", "kvtier.whatif", "source",
                     "twin (virtual-clock replay of the builtin engine's scheduler; no real I/O)",
                     "hardware", g->hw_name, "modes", modes, "error_bar_pct",
                     isfinite(g->err_pct) ? json_real(g->err_pct) : json_null(), "points", rows);
}

static void print_grid(const struct grid *g, double cpu_total, double modelled_total)
{
    printf("%-14s %6s %6s %6s %7s %5s", "model", "ssd", "cpu_gb", "disk", "context", "conc");
    for (size_t k = 0; k < g->n_modes; k++)
        printf(" %9s p50 %9s p95", g->modes[k], g->modes[k]);
    printf(" %7s  winner\n", "ratio");
    char err[48];
    if (isfinite(g->err_pct))
        snprintf(err, sizeof(err), "+-%.0f%%", g->err_pct);
    else
        snprintf(err, sizeof(err), "(uncalibrated)");
    for (size_t p = 0; p < g->n_points; p++) {
        const size_t *ix = &g->idx[p * AX__N];
        printf("%-14s %6s %6s %6s %7s %5s", g->ax[AX_MODEL].text[ix[AX_MODEL]],
               g->ax[AX_SSD].num[ix[AX_SSD]] > 0 ? g->ax[AX_SSD].text[ix[AX_SSD]] : "prof",
               g->ax[AX_CPU].text[ix[AX_CPU]], g->ax[AX_DISK].text[ix[AX_DISK]],
               g->ax[AX_CONTEXT].num[ix[AX_CONTEXT]] > 0 ? g->ax[AX_CONTEXT].text[ix[AX_CONTEXT]]
                                                         : "plan",
               g->ax[AX_CONC].num[ix[AX_CONC]] > 0 ? g->ax[AX_CONC].text[ix[AX_CONC]] : "plan");
        for (size_t k = 0; k < g->n_modes; k++) {
            const struct point_res *r = &g->res[p * g->n_modes + k];
            if (r->ok)
                printf(" %13.1f %13.1f", r->m.ttft_p50_ms, r->m.ttft_p95_ms);
            else
                printf(" %27s", "failed");
        }
        const struct point_res *b = &g->res[p * g->n_modes], *t = b + (g->n_modes - 1);
        if (g->n_modes > 1 && b->ok && t->ok) {
            double ratio = b->m.ttft_p50_ms / t->m.ttft_p50_ms;
            bool clear = !isfinite(g->err_pct) || fabs(ratio - 1) > 2 * g->err_pct / 100;
            printf(" %6.2fx  %s%s", ratio, ratio > 1 ? g->modes[g->n_modes - 1] : g->modes[0],
                   clear ? "" : " (within error)");
        }
        for (size_t k = 0; g->slo_ms > 0 && k < g->n_modes; k++)
            printf("%s%s %u", k ? ", " : "  capacity at SLO: ", g->modes[k],
                   g->res[p * g->n_modes + k].capacity);
        printf("\n");
    }
    if (g->slo_ms > 0)
        printf("capacity = most requests in flight with replay TTFT p95 <= %g ms (Style 2)\n",
               g->slo_ms);
    printf("replay TTFT in ms, twin predictions %s (hardware %s); the twin ran %.0f s of modelled "
           "time in %.2f s CPU (%.0fx real time)\n",
           err, g->hw_name, modelled_total, cpu_total,
           cpu_total > 0 ? modelled_total / cpu_total : 0);
}

static int write_csv(const struct grid *g, const char *path)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "model,ssd_read_gbps,cpu_cache_gb,disk_cache_gb,context,concurrency");
    for (size_t k = 0; k < g->n_modes; k++)
        buf_printf(&b, ",%s_ttft_p50_ms,%s_ttft_p95_ms", g->modes[k], g->modes[k]);
    buf_printf(&b, ",error_bar_pct\n");
    for (size_t p = 0; p < g->n_points; p++) {
        const size_t *ix = &g->idx[p * AX__N];
        buf_printf(&b, "%s", g->ax[AX_MODEL].text[ix[AX_MODEL]]);
        for (int a = 1; a < AX__N; a++)
            buf_printf(&b, ",%g", g->ax[a].num[ix[a]]);
        for (size_t k = 0; k < g->n_modes; k++) {
            const struct point_res *r = &g->res[p * g->n_modes + k];
            if (r->ok)
                buf_printf(&b, ",%.3f,%.3f", r->m.ttft_p50_ms, r->m.ttft_p95_ms);
            else
                buf_printf(&b, ",,");
        }
        if (isfinite(g->err_pct))
            buf_printf(&b, ",%.2f\n", g->err_pct);
        else
            buf_printf(&b, ",\n");
    }
    int rc = fileio_write_atomic(path, buf_str(&b), strlen(buf_str(&b)));
    buf_fini(&b);
    return rc;
}

/* ---- the crossover chart (SVG) ----------------------------------------------------------- */

#define SVG_W 760
#define SVG_H 440
#define SVG_L 70
#define SVG_R 210
#define SVG_T 40
#define SVG_B 50

/* Grid point with the given context and ssd indices and the other axes at their first value. */
static size_t point_at(const struct grid *g, size_t ctx, size_t ssd)
{
    size_t ix[AX__N] = { 0 }, p = 0;
    ix[AX_CONTEXT] = ctx;
    ix[AX_SSD] = ssd;
    for (int a = 0; a < AX__N; a++)
        p = p * g->ax[a].n + ix[a];
    return p;
}

static double sx(const struct grid *g, double ctx)
{
    double lo = log(g->ax[AX_CONTEXT].num[0]),
           hi = log(g->ax[AX_CONTEXT].num[g->ax[AX_CONTEXT].n - 1]);
    return SVG_L + (log(ctx) - lo) / (hi - lo) * (SVG_W - SVG_L - SVG_R);
}

static double sy(double v, double lo, double hi)
{
    return SVG_H - SVG_B - (log10(v) - lo) / (hi - lo) * (SVG_H - SVG_T - SVG_B);
}

static void svg_series(struct buf *b, const struct grid *g, size_t k, size_t ssd, const char *col,
                       double lo, double hi)
{
    buf_printf(b, "<polyline fill='none' stroke='%s' stroke-width='2' points='", col);
    for (size_t c = 0; c < g->ax[AX_CONTEXT].n; c++) {
        const struct point_res *r = &g->res[point_at(g, c, ssd) * g->n_modes + k];
        if (r->ok)
            buf_printf(b, "%.1f,%.1f ", sx(g, g->ax[AX_CONTEXT].num[c]),
                       sy(r->m.ttft_p50_ms, lo, hi));
    }
    buf_printf(b, "'/>\n");
    double e = isfinite(g->err_pct) ? g->err_pct / 100 : 0;
    for (size_t c = 0; e > 0 && c < g->ax[AX_CONTEXT].n; c++) {
        const struct point_res *r = &g->res[point_at(g, c, ssd) * g->n_modes + k];
        if (!r->ok)
            continue;
        double x = sx(g, g->ax[AX_CONTEXT].num[c]);
        buf_printf(b, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>\n", x, x,
                   sy(r->m.ttft_p50_ms * (1 + e), lo, hi), sy(r->m.ttft_p50_ms * (1 - e), lo, hi),
                   col);
    }
}

static int write_svg(const struct grid *g, const char *path)
{
    if (g->ax[AX_CONTEXT].n < 2)
        return 1;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < g->n_points * g->n_modes; i++)
        if (g->res[i].ok && g->res[i].m.ttft_p50_ms > 0) {
            lo = fmin(lo, log10(g->res[i].m.ttft_p50_ms * 0.7));
            hi = fmax(hi, log10(g->res[i].m.ttft_p50_ms * 1.3));
        }
    if (!(hi > lo))
        return 1;
    static const char *const cols[] = { "#444444", "#1f77b4", "#d62728", "#2ca02c",
                                        "#9467bd", "#ff7f0e", "#8c564b", "#e377c2" };
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b,
               "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "font-family='sans-serif' font-size='12'>\n<rect width='100%%' height='100%%' "
               "fill='white'/>\n<text x='%d' y='20' font-size='14'>Replay TTFT p50: reload from "
               "the SSD vs recompute (twin, %s, model %s%s)</text>\n",
               SVG_W, SVG_H, SVG_L, g->hw_name, g->ax[AX_MODEL].text[0],
               isfinite(g->err_pct) ? ", bars = calibration error" : ", uncalibrated");
    for (double d = floor(lo); d <= ceil(hi); d++) {
        if (d < lo || d > hi)
            continue;
        double y = sy(pow(10, d), lo, hi);
        buf_printf(&b,
                   "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/><text x='5' "
                   "y='%.1f'>%g ms</text>\n",
                   SVG_L, SVG_W - SVG_R, y, y, y + 4, pow(10, d));
    }
    for (size_t c = 0; c < g->ax[AX_CONTEXT].n; c++) {
        double x = sx(g, g->ax[AX_CONTEXT].num[c]);
        buf_printf(&b,
                   "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#ddd'/><text x='%.1f' "
                   "y='%d' text-anchor='middle'>%s</text>\n",
                   x, x, SVG_T, SVG_H - SVG_B, x, SVG_H - SVG_B + 16, g->ax[AX_CONTEXT].text[c]);
    }
    buf_printf(&b,
               "<text x='%d' y='%d' text-anchor='middle'>context (reused prefix tokens)</text>\n",
               (SVG_W - SVG_R + SVG_L) / 2, SVG_H - 12);
    size_t s = 0;
    for (size_t k = 0; k < g->n_modes; k++) {
        bool disk = strcmp(g->modes[k], "B0") && strcmp(g->modes[k], "B1");
        for (size_t d = 0; d < (disk ? g->ax[AX_SSD].n : 1); d++, s++) {
            const char *col = cols[s % 8];
            svg_series(&b, g, k, d, col, lo, hi);
            char label[64];
            if (disk && g->ax[AX_SSD].num[d] > 0)
                snprintf(label, sizeof(label), "%s, SSD %s GB/s", g->modes[k],
                         g->ax[AX_SSD].text[d]);
            else
                snprintf(label, sizeof(label), "%s%s", g->modes[k], disk ? "" : " (recompute)");
            buf_printf(&b,
                       "<line x1='%d' x2='%d' y1='%zu' y2='%zu' stroke='%s' stroke-width='2'/>"
                       "<text x='%d' y='%zu'>%s</text>\n",
                       SVG_W - SVG_R + 10, SVG_W - SVG_R + 30, SVG_T + 10 + s * 18,
                       SVG_T + 10 + s * 18, col, SVG_W - SVG_R + 35, SVG_T + 14 + s * 18, label);
        }
    }
    buf_printf(&b, "</svg>\n");
    int rc = fileio_write_atomic(path, buf_str(&b), strlen(buf_str(&b)));
    buf_fini(&b);
    return rc;
}

static int parse_modes(const char *s, struct grid *g)
{
    struct axis_vals v = { 0 };
    if (parse_list("--modes", s, &v, false) < 0)
        return -EINVAL;
    int rc = 0;
    struct twin_config probe = { 0 };
    for (size_t i = 0; i < v.n; i++) {
        if (i == MAX_MODES || strlen(v.text[i]) >= sizeof(g->modes[0]) ||
            mode_config(v.text[i], &probe, 1, 1, 1) < 0) {
            log_error("--modes: '%s' is not one of B0, B1, B2, B2p, B3 (at most %d)", v.text[i],
                      MAX_MODES);
            rc = -EINVAL;
            break;
        }
        snprintf(g->modes[g->n_modes++], sizeof(g->modes[0]), "%s", v.text[i]);
    }
    for (size_t i = 0; i < v.n; i++)
        free(v.text[i]);
    return rc;
}

static int write_outputs(const struct whatif_cli *cl, const struct grid *g, json_t *res)
{
    if (!cl->out)
        return 0;
    int rc = fileio_mkdir_p(cl->out);
    char *j = fileio_join(cl->out, "whatif.json"), *c = fileio_join(cl->out, "whatif.csv");
    char *s = fileio_join(cl->out, "whatif.svg");
    char *text = json_dumps(res, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    if (rc == 0)
        rc = fileio_write_atomic(j, text, strlen(text));
    if (rc == 0)
        rc = write_csv(g, c);
    int sv = rc == 0 ? write_svg(g, s) : 0;
    if (rc == 0 && sv < 0)
        rc = sv;
    if (rc < 0)
        log_error("%s: cannot write the results: %s", cl->out, strerror(-rc));
    else if (!cl->json && fflush(stdout) == 0)
        log_info("wrote %s, %s%s%s", j, c, sv == 0 ? " and " : "",
                 sv == 0 ? s : " (no chart: the context axis needs two values)");
    free(text);
    free(j);
    free(c);
    free(s);
    return rc;
}

static int run_grid(const struct whatif_cli *cl, const char *profiles)
{
    struct grid g = { .err_pct = NAN, .slo_ms = cl->plan ? 0 : cl->slo_p95_ms };
    struct hw_profile hw;
    struct diag d = { 0 };
    int rc = CLIOPT_EXIT_USAGE;
    if (parse_grid(cl, g.ax) < 0 || parse_modes(cl->modes, &g) < 0)
        goto out;
    if (load_hw(profiles, cl->hardware ? cl->hardware : "dgx_spark_gb10", &hw, &g.err_pct, &d) <
        0) {
        log_diag(&d);
        goto out;
    }
    snprintf(g.hw_name, sizeof(g.hw_name), "%s", hw.name);
    g.n_points = 1;
    for (int a = 0; a < AX__N; a++)
        g.n_points *= g.ax[a].n;
    g.res = xcalloc(g.n_points * g.n_modes, sizeof(*g.res));
    g.idx = xcalloc(g.n_points * AX__N, sizeof(*g.idx));
    double cpu0 = cpu_now(), modelled = 0;
    for (size_t p = 0; p < g.n_points; p++) {
        if (run_one_point(cl, profiles, &g, p, &hw) < 0)
            goto out;
        double spent = cpu_now() - cpu0, est = spent / (double)(p + 1) * (double)g.n_points;
        if (p == 0 && est > cl->budget_s && !cl->yes) {
            log_error("the grid of %zu points x %zu modes would take about %.0f s of CPU (the "
                      "first point took %.2f s), over --budget-s %.0f: pass --yes to run it, or "
                      "a smaller grid",
                      g.n_points, g.n_modes, est, spent, cl->budget_s);
            goto out;
        }
    }
    double cpu = cpu_now() - cpu0;
    for (size_t i = 0; i < g.n_points * g.n_modes; i++)
        modelled += g.res[i].modelled_s;
    json_t *res = grid_json(&g);
    json_object_set_new(res, "cpu_s", json_real(cpu));
    json_object_set_new(res, "modelled_s", json_real(modelled));
    json_object_set_new(res, "speedup_vs_real_time", json_real(cpu > 0 ? modelled / cpu : 0));
    if (cl->json) {
        char *s = json_dumps(res, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
    } else {
        print_grid(&g, cpu, modelled);
    }
    rc = write_outputs(cl, &g, res) < 0 ? CLIOPT_EXIT_FAIL : CLIOPT_EXIT_OK;
    json_decref(res);
out:
    for (int a = 0; a < AX__N; a++)
        for (size_t i = 0; i < g.ax[a].n; i++)
            free(g.ax[a].text[i]);
    free(g.res);
    free(g.idx);
    return rc;
}

int cmd_whatif_main(int argc, char **argv)
{
    struct whatif_cli c = { 0 };
    int rc = cliopt_parse_noargs(
        "whatif", defs, argc, argv, &c,
        "kvtier whatif [--model M[,M]] [--hardware H|FILE] [--ssd-read-gbps 3.5,7,14.5] "
        "[--context 2048,8192,32768] [--concurrency 1,8] [--modes B1,B2p] [--out DIR]\n"
        "       kvtier whatif --bundle DIR [--hardware H|FILE]",
        "Runs the twin (the engine's scheduler on a virtual clock, no sockets, no real I/O) over a "
        "grid and maps where reloading KV from the SSD (B2) beats the CPU tier alone (B1) in "
        "replay TTFT, with the twin's error bar from calibration; --bundle replays a bundle and "
        "compares with what it measured.");
    if (rc >= 0)
        return rc;
    char *profiles = profile_dir(c.profiles);
    rc = c.bundle ? run_bundle(&c, profiles) : run_grid(&c, profiles);
    free(profiles);
    return rc;
}
