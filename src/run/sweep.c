/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of kvtier sweep (see sweep.h). */
#include "run/sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonx.h"
#include "common/quantci.h"
#include "common/stats.h"
#include "common/xalloc.h"

static int cmp_num(const void *a, const void *b)
{
    return stats_cmp_double(a, b);
}

/* Sorts and drops duplicates; returns the new count. */
static size_t sort_unique(double *v, size_t n)
{
    qsort(v, n, sizeof(double), cmp_num);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

int sweep_values_parse(const char *list, bool integer, double **ret, size_t *ret_n, struct diag *d)
{
    double *v = xcalloc(SWEEP_MAX_VALUES, sizeof(double));
    size_t n = 0;
    char *dup = xstrdup(list ? list : ""), *save = NULL;
    int r = 0;
    for (char *t = strtok_r(dup, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        double x = strtod(t, &end);
        if (end == t || *end || !isfinite(x) || x <= 0)
            r = diag_set(d, -EINVAL, 0, 0, "--values: '%s' is not a number > 0", t);
        else if (integer && x != floor(x))
            r = diag_set(d, -EINVAL, 0, 0, "--values: '%s' is not a whole number", t);
        else if (n >= SWEEP_MAX_VALUES)
            r = diag_set(d, -EMSGSIZE, 0, 0, "--values: more than %d values", SWEEP_MAX_VALUES);
        else
            v[n++] = x;
    }
    free(dup);
    if (r == 0 && n == 0)
        r = diag_set(d, -EINVAL, 0, 0, "--values is empty (e.g. --values 1,2,4,8)");
    if (r < 0) {
        free(v);
        return r;
    }
    *ret_n = sort_unique(v, n);
    *ret = v;
    return 0;
}

int sweep_values_range(double from, double to, unsigned steps, bool integer, double **ret,
                       size_t *ret_n, struct diag *d)
{
    if (!(from > 0) || !isfinite(from) || !isfinite(to) || to < from)
        return diag_set(d, -EINVAL, 0, 0, "empty or inverted range: --from %g --to %g", from, to);
    if (steps < 1 || steps > SWEEP_MAX_VALUES || (steps == 1 && from != to))
        return diag_set(d, -EINVAL, 0, 0, "--steps must be 2..%d (1 only when --from == --to)",
                        SWEEP_MAX_VALUES);
    double *v = xcalloc(steps, sizeof(double));
    for (unsigned i = 0; i < steps; i++) {
        double x = steps == 1 ? from : from + (to - from) * i / (steps - 1);
        v[i] = integer ? round(x) : x;
    }
    *ret_n = sort_unique(v, steps);
    *ret = v;
    return 0;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* {value, lo, hi, n, supported} of quantile q over sorted[0..n). */
static json_t *quantile_json(const double *sorted, size_t n, double q)
{
    struct quantci c;
    quantci_sorted(sorted, n, q, QUANTCI_LEVEL, &c);
    json_t *o = quantci_json(&c);
    json_object_set_new(o, "value", num_or_null(c.value));
    return o;
}

static double mean_metric(const struct rundir_bundle *b, size_t n, const char *phase,
                          const char *key)
{
    const struct rundir_metric *m = rundir_metric_find(key);
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double v = b[i].valid ? rundir_metric_value(b[i].summary, phase, m) : NAN;
        if (isfinite(v)) {
            s += v;
            k++;
        }
    }
    return k ? s / (double)k : NAN;
}

json_t *sweep_point_json(double value, const struct rundir_bundle *b, size_t n, const char *phase)
{
    size_t total = 0, valid = 0;
    const char *engine = NULL;
    json_t *dirs = json_array();
    for (size_t i = 0; i < n; i++) {
        total += b[i].valid ? b[i].n_ttft : 0;
        valid += b[i].valid;
        json_array_append_new(dirs, json_string(b[i].dir));
        if (!engine)
            engine = rundir_engine(b[i].manifest);
    }
    double *v = xmalloc((total + 1) * sizeof(double));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; b[i].valid && j < b[i].n_ttft; j++)
            v[k++] = b[i].ttft[j];
    qsort(v, k, sizeof(double), cmp_num);
    json_t *t = json_object();
    json_object_set_new(t, "p50", quantile_json(v, k, 0.5));
    json_object_set_new(t, "p95", quantile_json(v, k, 0.95));
    json_object_set_new(t, "p99", quantile_json(v, k, 0.99));
    free(v);
    json_t *o = json_object();
    json_object_set_new(o, "value", json_real(value));
    json_object_set_new(o, "repeats", json_integer((json_int_t)n));
    json_object_set_new(o, "run_valid", json_integer((json_int_t)valid));
    json_object_set_new(o, "bundles", dirs);
    json_object_set_new(o, "ttft_ms", t);
    json_object_set_new(o, "error_rate", num_or_null(mean_metric(b, n, phase, "error_rate")));
    json_object_set_new(o, "throughput_rps",
                        num_or_null(mean_metric(b, n, phase, "throughput_rps")));
    json_object_set_new(o, "engine", json_string(engine ? engine : "unknown"));
    return o;
}

static void md_q(struct buf *m, const json_t *q)
{
    double v = jsonx_num(q, "value", NAN), lo = jsonx_num(q, "lo", NAN),
           hi = jsonx_num(q, "hi", NAN);
    if (!isfinite(v)) {
        buf_append_str(m, " – |");
        return;
    }
    buf_printf(m, " %.1f [%s", v, isfinite(lo) ? "" : "–");
    if (isfinite(lo))
        buf_printf(m, "%.1f", lo);
    buf_append_str(m, ", ");
    if (isfinite(hi))
        buf_printf(m, "%.1f]", hi);
    else
        buf_append_str(m, "–] undersampled");
    buf_append_str(m, " |");
}

char *sweep_markdown(const json_t *doc)
{
    struct buf m;
    buf_init(&m, 1u << 22);
    const char *axis = jsonx_str(doc, "axis", "?");
    buf_printf(&m, "# kvtier sweep: TTFT against %s (%s phase)\n\n", axis,
               jsonx_str(doc, "phase", "?"));
    buf_printf(&m,
               "Engine: **%s**. Decision-grade: **%s**. TTFT from the intended send, pooled "
               "over the valid repeats of each point; [lo, hi] is the 95%% order-statistic "
               "interval (– = the sample cannot give that bound).\n\n",
               jsonx_str(doc, "engine", "?"),
               jsonx_bool(doc, "decision_grade", false) ? "yes" : "no");
    const char *mode;
    const json_t *pts;
    json_object_foreach ((json_t *)json_object_get(doc, "modes"), mode, pts) {
        buf_printf(&m,
                   "## %s\n\n| %s | valid/repeats | n | p50 (ms) | p95 (ms) | p99 (ms) | vs %s "
                   "|\n|---|---|---|---|---|---|---|\n",
                   mode, axis, jsonx_str(doc, "baseline", "?"));
        size_t i;
        const json_t *p;
        json_array_foreach ((json_t *)pts, i, p) {
            const json_t *t = json_object_get(p, "ttft_ms");
            buf_printf(&m, "| %g | %d/%d | %d |", jsonx_num(p, "value", NAN),
                       (int)jsonx_i64(p, "run_valid", 0), (int)jsonx_i64(p, "repeats", 0),
                       (int)jsonx_i64(json_object_get(t, "p95"), "n", 0));
            md_q(&m, json_object_get(t, "p50"));
            md_q(&m, json_object_get(t, "p95"));
            md_q(&m, json_object_get(t, "p99"));
            const json_t *vs = json_object_get(p, "vs_baseline");
            buf_printf(&m, " %s (pooled: %s) |\n", jsonx_str(vs, "verdict", "–"),
                       jsonx_str(vs, "pooled_verdict", "–"));
        }
        buf_append_str(&m, "\n");
    }
    const json_t *reg = json_object_get(doc, "regimes");
    buf_printf(&m, "## Regimes where a mode is worse than %s\n\n", jsonx_str(doc, "baseline", "?"));
    if (json_array_size(reg) == 0)
        buf_append_str(&m, "None found at these points.\n");
    size_t i;
    const json_t *r;
    json_array_foreach ((json_t *)reg, i, r)
        buf_printf(&m, "- %s at %s %g: %s (TTFT p95 %+.1f%%)\n", jsonx_str(r, "mode", "?"), axis,
                   jsonx_num(r, "value", NAN), jsonx_str(r, "verdict", "?"),
                   jsonx_num(r, "change_pct", NAN));
    const json_t *codes = json_object_get(doc, "reason_codes");
    if (json_array_size(codes)) {
        buf_append_str(&m, "\nReason codes:");
        const json_t *c;
        json_array_foreach ((json_t *)codes, i, c)
            buf_printf(&m, " `%s`", json_string_value(c));
        buf_append_str(&m, "\n");
    }
    buf_append_str(&m, "\n![TTFT against the axis](sweep_ttft.svg)\n");
    return buf_take_str(&m);
}

static void dat_q(struct buf *dat, const json_t *q)
{
    static const char *const keys[] = { "value", "lo", "hi" };
    for (int i = 0; i < 3; i++) {
        double v = jsonx_num(q, keys[i], NAN);
        if (isfinite(v))
            buf_printf(dat, "\t%.6g", v);
        else
            buf_append_str(dat, "\tnan");
    }
}

int sweep_chart(const json_t *doc, const char *dir, const char *gnuplot, struct charts_result *res)
{
    struct buf dat, gp, plot;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    const char *axis = jsonx_str(doc, "axis", "?");
    buf_printf(&gp,
               "set title 'TTFT from the intended send against %s (%s, %s phase)'\n"
               "set xlabel '%s'\nset ylabel 'TTFT (ms)'\nset grid\nset key below\n"
               "set datafile separator '\\t'\nset datafile missing 'nan'\n"
               "set termoption noenhanced\nset style fill transparent solid 0.2 noborder\n",
               axis, jsonx_str(doc, "engine", "?"), jsonx_str(doc, "phase", "?"), axis);
    buf_append_str(&plot, "plot ");
    const char *mode;
    const json_t *pts;
    int idx = 0;
    json_object_foreach ((json_t *)json_object_get(doc, "modes"), mode, pts) {
        buf_printf(&dat, "# %s: value p50 lo hi p95 lo hi p99 lo hi\n", mode);
        size_t i;
        const json_t *p;
        json_array_foreach ((json_t *)pts, i, p) {
            const json_t *t = json_object_get(p, "ttft_ms");
            buf_printf(&dat, "%.6g", jsonx_num(p, "value", NAN));
            dat_q(&dat, json_object_get(t, "p50"));
            dat_q(&dat, json_object_get(t, "p95"));
            dat_q(&dat, json_object_get(t, "p99"));
            buf_append_str(&dat, "\n");
        }
        buf_append_str(&dat, "\n\n");
        buf_printf(&plot,
                   "%s'sweep_ttft.dat' index %d using 1:6:7 with filledcurves lc %d notitle, "
                   "'' index %d using 1:5 with linespoints lw 2 lc %d title '%s p95 (band: 95%% "
                   "CI)', '' index %d using 1:2 with linespoints dt 2 lc %d title '%s p50', '' "
                   "index %d using 1:8 with linespoints dt 3 lc %d title '%s p99'",
                   idx ? ", " : "", idx, idx + 1, idx, idx + 1, mode, idx, idx + 1, mode, idx,
                   idx + 1, mode);
        idx++;
    }
    buf_append(&gp, "", 1);
    buf_append(&plot, "", 1);
    int r = charts_write(dir, "sweep_ttft", (const char *)dat.data, dat.len, (const char *)gp.data,
                         (const char *)plot.data, gnuplot, res);
    buf_fini(&dat);
    buf_fini(&gp);
    buf_fini(&plot);
    return r;
}
