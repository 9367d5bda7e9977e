/* SPDX-License-Identifier: Apache-2.0 */
/* The Mode C ladder: see ladder.h and docs/bundle.md "Mode C ladder". */
#include "run/ladder.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/units.h"
#include "common/xalloc.h"

static int parse_one(const char *tok, double ceiling, struct ladder_level *lv, struct diag *d)
{
    size_t len = strlen(tok);
    if (len && tok[len - 1] == '%') {
        char *end = NULL;
        double p = strtod(tok, &end);
        if (end != tok + len - 1 || !(p > 0) || p > 1000)
            return diag_set(d, -EINVAL, 0, 0, "--c-levels: '%s' is not a percentage in (0, 1000]",
                            tok);
        if (!(ceiling > 0))
            return diag_set(d, -EINVAL, 0, 0,
                            "--c-levels: '%s' is a share of the probe's read ceiling, but no "
                            "--probe with a read ceiling was given",
                            tok);
        lv->pct = p;
        lv->read_bps = (uint64_t)llround(ceiling * p / 100);
        snprintf(lv->name, sizeof(lv->name), "C@%g%%", p);
    } else {
        uint64_t b = 0;
        if (units_parse_size_bytes(tok, &b) < 0 || b == 0)
            return diag_set(d, -EINVAL, 0, 0,
                            "--c-levels: '%s' is neither a percentage nor a bytes/s size", tok);
        lv->pct = NAN;
        lv->read_bps = b;
        snprintf(lv->name, sizeof(lv->name), "C@%.*s", LADDER_NAME_MAX - 3, tok);
    }
    if (lv->read_bps == 0)
        return diag_set(d, -EINVAL, 0, 0, "--c-levels: '%s' is below 1 byte/s", tok);
    return 0;
}

int ladder_parse_levels(const char *spec, double ceiling_bps, struct ladder_level *out, size_t max,
                        size_t *ret_n, struct diag *d)
{
    assert(spec && out && ret_n);
    char *s = xstrdup(spec), *save = NULL;
    size_t n = 0;
    int r = 0;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= max || n >= LADDER_MAX_LEVELS) {
            r = diag_set(d, -EINVAL, 0, 0, "--c-levels: more than %d levels", LADDER_MAX_LEVELS);
            goto out;
        }
        if ((r = parse_one(tok, ceiling_bps, &out[n], d)) < 0)
            goto out;
        for (size_t k = 0; k < n; k++)
            if (out[k].read_bps == out[n].read_bps || !strcmp(out[k].name, out[n].name)) {
                r = diag_set(d, -EINVAL, 0, 0, "--c-levels: '%s' repeats a level", tok);
                goto out;
            }
        n++;
    }
    if (n < 2)
        r = diag_set(d, -EINVAL, 0, 0, "--c-levels: a ladder needs at least two levels ('%s')",
                     spec);
out:
    free(s);
    *ret_n = r < 0 ? 0 : n;
    return r;
}

double ladder_probe_read_ceiling(const json_t *probe)
{
    static const char *const kinds[] = { "randread", "read" };
    for (size_t k = 0; k < 2; k++) {
        double best = 0;
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get(probe, "ceilings"), i, c)
            if (!strcmp(jsonx_str(c, "rw", ""), kinds[k]))
                best = fmax(best, jsonx_num(c, "bw_bytes_per_s", 0));
        if (best > 0)
            return best;
    }
    return 0;
}

/* Average ranks (1-based, ties share their mean rank). */
static void ranks(const double *v, size_t n, double *ret)
{
    for (size_t i = 0; i < n; i++) {
        double below = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            below += v[j] < v[i];
            equal += v[j] == v[i];
        }
        ret[i] = below + (equal + 1) / 2;
    }
}

static double pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

double ladder_spearman(const double *x, const double *y, size_t n)
{
    if (n < 3)
        return NAN;
    double *rx = xcalloc(n, sizeof(double)), *ry = xcalloc(n, sizeof(double));
    ranks(x, n, rx);
    ranks(y, n, ry);
    double rho = pearson(rx, ry, n);
    free(rx);
    free(ry);
    return rho;
}

double ladder_perm_p(const double *x, const double *y, size_t n, uint64_t seed, unsigned perms)
{
    double obs = ladder_spearman(x, y, n);
    if (isnan(obs) || perms == 0)
        return NAN;
    double *py = xcalloc(n, sizeof(double));
    memcpy(py, y, n * sizeof(double));
    struct rng r;
    rng_seed(&r, rng_derive(seed, "c-ladder-permutation"));
    unsigned hits = 0;
    for (unsigned p = 0; p < perms; p++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)rng_range(&r, 0, i - 1);
            double t = py[i - 1];
            py[i - 1] = py[j];
            py[j] = t;
        }
        double rho = ladder_spearman(x, py, n);
        hits += !isnan(rho) && rho <= obs + 1e-12;
    }
    free(py);
    return (1.0 + hits) / (1.0 + perms);
}

/* order[0..n) = the level indexes by read limit, lowest first (insertion sort: n <= 8). */
static void by_bandwidth(const struct ladder_level *lv, size_t n, size_t *order)
{
    assert(n <= LADDER_MAX_LEVELS);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && lv[order[j]].read_bps < lv[order[j - 1]].read_bps; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* One level's valid replay TTFT p95 values into v (capacity max); returns how many. */
static size_t level_values(const json_t *quicks, const char *arm, double *v, size_t max)
{
    size_t n = 0, i;
    json_t *q;
    json_array_foreach (quicks, i, q) {
        if (strcmp(jsonx_str(q, "arm", ""), arm) || !jsonx_bool(q, "run_valid", false))
            continue;
        double t = jsonx_num(json_object_get(q, "replay"), "ttft_p95_ms", NAN);
        if (isfinite(t) && n < max)
            v[n++] = t;
    }
    return n;
}

json_t *ladder_report(const struct ladder_level *lv, size_t n_levels, const json_t *quicks,
                      uint64_t seed)
{
    size_t cap = json_array_size(quicks) + 1;
    double *x = xcalloc(cap, sizeof(double)), *y = xcalloc(cap, sizeof(double));
    double *v = xcalloc(cap, sizeof(double));
    double med[LADDER_MAX_LEVELS];
    size_t order[LADDER_MAX_LEVELS], n = 0;
    json_t *levels = json_array();
    for (size_t k = 0; k < n_levels && k < LADDER_MAX_LEVELS; k++) {
        size_t m = level_values(quicks, lv[k].name, v, cap);
        json_t *l = json_object();
        json_object_set_new(l, "arm", json_string(lv[k].name));
        json_object_set_new(l, "read_bps", json_integer((json_int_t)lv[k].read_bps));
        jsonx_set_num(l, "pct", lv[k].pct);
        json_object_set_new(l, "n", json_integer((json_int_t)m));
        json_t *vals = json_array();
        for (size_t i = 0; i < m; i++) {
            json_array_append_new(vals, json_real(v[i]));
            x[n] = (double)lv[k].read_bps;
            y[n++] = v[i];
        }
        json_object_set_new(l, "replay_ttft_p95_ms", vals);
        qsort(v, m, sizeof(double), stats_cmp_double);
        med[k] = m ? stats_quantile_sorted(v, m, 0.5) : NAN;
        jsonx_set_num(l, "median_ms", med[k]);
        json_array_append_new(levels, l);
    }
    /* levels by capability, then: do the medians never rise as bandwidth grows? */
    by_bandwidth(lv, n_levels, order);
    bool mono = true, known = true;
    for (size_t i = 0; i < n_levels; i++) {
        known &= !isnan(med[order[i]]);
        if (i && known && med[order[i]] > med[order[i - 1]])
            mono = false;
    }
    double rho = ladder_spearman(x, y, n);
    double p = ladder_perm_p(x, y, n, seed, LADDER_PERMUTATIONS);
    json_t *o = json_object();
    json_object_set_new(o, "metric", json_string("replay TTFT p95 (ms) per valid bundle"));
    json_object_set_new(o, "levels", levels);
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    jsonx_set_num(o, "spearman_rho", rho);
    jsonx_set_num(o, "p_value", p);
    json_object_set_new(o, "permutations", json_integer(LADDER_PERMUTATIONS));
    json_object_set_new(o, "monotonic_medians", known ? json_boolean(mono) : json_null());
    const char *outcome =
        isnan(p) ? "insufficient"
        : p < 0.05 && rho < 0 && known && mono
            ? "monotonic"
            : (p < 0.05 && rho < 0 ? "decreasing_trend_not_monotonic" : "no_significant_trend");
    json_object_set_new(o, "outcome", json_string(outcome));
    json_object_set_new(o, "note",
                        json_string("Spearman's rho between each level's read limit and the "
                                    "replay TTFT p95 of every valid repeat; one-sided "
                                    "permutation p-value (H1: more bandwidth, lower TTFT); "
                                    "monotonic when p < 0.05, rho < 0 and the level medians "
                                    "never rise with bandwidth"));
    free(x);
    free(y);
    free(v);
    return o;
}

int ladder_write_chart(const char *dir, const json_t *report, const char *gnuplot,
                       struct charts_result *res)
{
    struct buf dat, gp;
    buf_init(&dat, 1u << 20);
    buf_init(&gp, 1u << 16);
    buf_printf(&dat, "# read_bps\treplay_ttft_p95_ms\tlevel_median_ms\tarm\n");
    size_t i, j, rows = 0;
    double xlo = INFINITY, xhi = 0;
    json_t *l, *v;
    json_array_foreach (json_object_get(report, "levels"), i, l) {
        double bps = jsonx_num(l, "read_bps", 0);
        json_array_foreach (json_object_get(l, "replay_ttft_p95_ms"), j, v) {
            buf_printf(&dat, "%.0f\t%.6g\t%.6g\t%s\n", bps, json_number_value(v),
                       jsonx_num(l, "median_ms", NAN), jsonx_str(l, "arm", "?"));
            rows++;
            xlo = fmin(xlo, bps);
            xhi = fmax(xhi, bps);
        }
    }
    int r = 0;
    if (rows) { /* no valid repeat: nothing to draw (gnuplot refuses an empty range) */
        const double mib = 1048576;
        buf_printf(&gp,
                   "set xrange [%g:%g]\n"
                   "set title 'Mode C ladder: replay TTFT p95 per read limit (rho %.3f, p %.4f, "
                   "%s)' noenhanced\n"
                   "set logscale x 2\nset xlabel 'cgroup read limit (MiB/s)'\n"
                   "set ylabel 'replay TTFT p95 (ms)'\nset grid\nset yrange [0:*]\n"
                   "set datafile separator '\\t'\nset key top right\n",
                   xlo / mib / 2, xhi / mib * 2, jsonx_num(report, "spearman_rho", NAN),
                   jsonx_num(report, "p_value", NAN), jsonx_str(report, "outcome", "?"));
        r = charts_write(dir, "c_ladder", buf_str(&dat), dat.len, buf_str(&gp),
                         "plot 'c_ladder.dat' using ($1/1048576):2 with points pt 7 title "
                         "'repeats', '' using ($1/1048576):3 with linespoints title 'level "
                         "median'",
                         gnuplot, res);
    }
    buf_fini(&dat);
    buf_fini(&gp);
    return r;
}

/* One level's capacity from its search result: the value ranked, and how it is censored. false
 * when the search did not finish (the order is then unknown). */
static bool level_capacity(const json_t *r, double *value, const char **censored)
{
    const char *st = jsonx_str(r, "status", "");
    double mx = jsonx_num(r, "max", NAN);
    *censored = NULL;
    if (!strcmp(st, "found") && isfinite(mx)) {
        *value = mx;
        return true;
    }
    if (!strcmp(st, "all_pass") && isfinite(mx)) {
        *value = mx;
        *censored = "at_least";
        return true;
    }
    if (!strcmp(st, "none_pass")) {
        *value = 0;
        *censored = "below_min";
        return true;
    }
    return false;
}

/* "monotonic" (significant, increasing, never falling), "increasing_trend_not_monotonic",
 * "no_significant_trend" or "insufficient". */
static const char *capacity_outcome(double rho, double p, bool known, bool mono)
{
    if (isnan(p))
        return "insufficient";
    if (p < 0.05 && rho > 0)
        return known && mono ? "monotonic" : "increasing_trend_not_monotonic";
    return "no_significant_trend";
}

json_t *ladder_capacity_report(const struct ladder_level *lv, size_t n_levels, const json_t *modes,
                               const char *axis, uint64_t seed)
{
    assert(n_levels <= LADDER_MAX_LEVELS);
    double x[LADDER_MAX_LEVELS], y[LADDER_MAX_LEVELS], neg[LADDER_MAX_LEVELS];
    size_t order[LADDER_MAX_LEVELS], n = 0;
    bool ok[LADDER_MAX_LEVELS];
    json_t *levels = json_array();
    for (size_t k = 0; k < n_levels; k++) {
        const json_t *r = json_object_get(modes, lv[k].name);
        const char *cens = NULL;
        double v = NAN;
        ok[k] = r && level_capacity(r, &v, &cens);
        json_t *l = json_object();
        json_object_set_new(l, "arm", json_string(lv[k].name));
        json_object_set_new(l, "read_bps", json_integer((json_int_t)lv[k].read_bps));
        jsonx_set_num(l, "pct", lv[k].pct);
        json_object_set_new(l, "status", json_string(r ? jsonx_str(r, "status", "?") : "missing"));
        jsonx_set_num(l, "capacity", ok[k] ? v : NAN);
        json_object_set_new(l, "censored", cens ? json_string(cens) : json_null());
        json_t *br = r ? json_object_get(r, "bracket") : NULL;
        json_object_set_new(l, "bracket", br ? json_deep_copy(br) : json_null());
        json_array_append_new(levels, l);
        if (ok[k]) {
            x[n] = (double)lv[k].read_bps;
            y[n] = v;
            neg[n++] = -v;
        }
    }
    /* by capability: does the capacity never fall as bandwidth grows? */
    by_bandwidth(lv, n_levels, order);
    bool known = n == n_levels, mono = true;
    double prev = -INFINITY;
    for (size_t i = 0; i < n_levels && known; i++) {
        double v = jsonx_num(json_array_get(levels, order[i]), "capacity", NAN);
        mono &= v >= prev;
        prev = v;
    }
    double rho = ladder_spearman(x, y, n);
    /* H1 is rho > 0: the permutation tail of rho(x, -y) <= its observed value */
    double p = ladder_perm_p(x, neg, n, seed, LADDER_PERMUTATIONS);
    json_t *o = json_object();
    char *metric = xalloc_printf("largest %s under the SLO per level (kvtier slo)", axis);
    json_object_set_new(o, "metric", json_string(metric));
    free(metric);
    json_object_set_new(o, "axis", json_string(axis));
    json_object_set_new(o, "levels", levels);
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    jsonx_set_num(o, "spearman_rho", rho);
    jsonx_set_num(o, "p_value", p);
    json_object_set_new(o, "permutations", json_integer(LADDER_PERMUTATIONS));
    json_object_set_new(o, "monotonic_capacities", known ? json_boolean(mono) : json_null());
    json_object_set_new(o, "outcome", json_string(capacity_outcome(rho, p, known, mono)));
    json_object_set_new(
        o, "note",
        json_string("Spearman's rho between each level's read limit and its capacity (one "
                    "value per level: a search passed at --max counts as --max, one failed at "
                    "--min as 0); one-sided permutation p-value (H1: more bandwidth, larger "
                    "capacity); monotonic when p < 0.05, rho > 0 and the capacities never fall "
                    "with bandwidth. With one value per level the smallest p is about 1/k! for k "
                    "levels: 3 levels can never be significant, 4 perfectly ordered give 0.04"));
    return o;
}

int ladder_capacity_chart(const json_t *report, const char *dir, const char *gnuplot,
                          struct charts_result *res)
{
    struct buf dat, gp;
    buf_init(&dat, 1u << 16);
    buf_init(&gp, 1u << 16);
    buf_append_str(&dat, "# read_bps\tcapacity\tlast_pass\tfirst_fail\tarm\n");
    size_t i, rows = 0;
    double xlo = INFINITY, xhi = 0;
    const json_t *l;
    json_array_foreach (json_object_get(report, "levels"), i, l) {
        double c = jsonx_num(l, "capacity", NAN);
        if (!isfinite(c))
            continue;
        rows++;
        xlo = fmin(xlo, jsonx_num(l, "read_bps", 0));
        xhi = fmax(xhi, jsonx_num(l, "read_bps", 0));
        const json_t *br = json_object_get(l, "bracket"), *a = json_array_get(br, 0),
                     *b = json_array_get(br, 1);
        double lp = json_is_number(a) ? json_number_value(a) : c,
               ff = json_is_number(b) ? json_number_value(b) : c;
        buf_printf(&dat, "%.0f\t%g\t%g\t%g\t%s\n", jsonx_num(l, "read_bps", 0), c, lp, ff,
                   jsonx_str(l, "arm", "?"));
    }
    if (rows == 0) { /* no search finished: nothing to draw (gnuplot refuses an empty range) */
        buf_fini(&dat);
        buf_fini(&gp);
        return 0;
    }
    const char *axis = jsonx_str(report, "axis", "?");
    /* in MiB/s; the range explicitly: gnuplot finds none in a single level */
    const double mib = 1048576;
    buf_printf(&gp, "set xrange [%g:%g]\n", xlo / mib / 2, xhi / mib * 2);
    buf_printf(&gp,
               "set title 'Mode C ladder: largest %s under the SLO per read limit (rho %.3f, p "
               "%.4f, %s); whisker = [last pass, first fail]' noenhanced\n"
               "set logscale x 2\nset xlabel 'cgroup read limit (MiB/s)'\nset ylabel '%s'\n"
               "set grid\nset yrange [0:*]\nset offsets 0, 0, graph 0.1, 0\n"
               "set datafile separator '\\t'\nunset key\n",
               axis, jsonx_num(report, "spearman_rho", NAN), jsonx_num(report, "p_value", NAN),
               jsonx_str(report, "outcome", "?"), axis);
    int rc = charts_write(dir, "c_ladder_capacity", buf_str(&dat), dat.len, buf_str(&gp),
                          "plot 'c_ladder_capacity.dat' using ($1/1048576):2 with linespoints "
                          "pt 7 ps 1.5, '' using ($1/1048576):2:3:4 with yerrorbars pt 0",
                          gnuplot, res);
    buf_fini(&dat);
    buf_fini(&gp);
    return rc;
}

char *ladder_capacity_markdown(const json_t *report)
{
    struct buf m;
    buf_init(&m, 1u << 20);
    const char *axis = jsonx_str(report, "axis", "?");
    buf_printf(&m,
               "\n## Mode C ladder: capacity against storage capability\n\n"
               "| level | read limit (bytes/s) | largest %s | bracket [pass, fail] | status |\n"
               "|---|---|---|---|---|\n",
               axis);
    size_t i;
    const json_t *l;
    json_array_foreach (json_object_get(report, "levels"), i, l) {
        char *br = json_dumps(json_object_get(l, "bracket"), JSON_COMPACT | JSON_ENCODE_ANY);
        const char *cens = jsonx_str(l, "censored", NULL);
        double c = jsonx_num(l, "capacity", NAN);
        buf_printf(&m, "| %s | %.0f | ", jsonx_str(l, "arm", "?"), jsonx_num(l, "read_bps", 0));
        if (isfinite(c))
            buf_printf(&m, "%s%g", cens && !strcmp(cens, "at_least") ? ">= " : "", c);
        else
            buf_append_str(&m, "unknown");
        buf_printf(&m, "%s | %s | %s |\n",
                   cens && !strcmp(cens, "below_min") ? " (below --min)" : "", br ? br : "null",
                   jsonx_str(l, "status", "?"));
        free(br);
    }
    buf_printf(&m,
               "\nSpearman's rho %.3f over %d levels, one-sided permutation p = %.4f; capacities "
               "never fall with bandwidth: %s. Outcome: **%s**.\n\n%s\n\n"
               "![capacity per read limit](c_ladder_capacity.svg)\n",
               jsonx_num(report, "spearman_rho", NAN), (int)jsonx_i64(report, "n", 0),
               jsonx_num(report, "p_value", NAN),
               json_is_boolean(json_object_get(report, "monotonic_capacities"))
                   ? (jsonx_bool(report, "monotonic_capacities", false) ? "yes" : "no")
                   : "unknown",
               jsonx_str(report, "outcome", "?"), jsonx_str(report, "note", ""));
    return buf_take_str(&m);
}
