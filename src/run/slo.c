/* SPDX-License-Identifier: Apache-2.0 */
/* The Style 2 search (see slo.h). */
#include "run/slo.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/ladder.h"

/* One "key=value" item of an SLO list. */
static int parse_item(char *item, struct slo_spec *s, struct diag *d)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return diag_set(d, -EINVAL, 0, 0, "--slo: '%s' is not key=limit (e.g. ttft_p95_ms=2000)",
                        item);
    *eq = 0;
    const struct rundir_metric *m = rundir_metric_find(item);
    if (!m)
        return diag_set(d, -EINVAL, 0, 0,
                        "--slo: '%s' is not a summary metric (valid SLO keys: ttft_p50_ms, "
                        "ttft_p95_ms, ttft_p99_ms, e2e_p50_ms, e2e_p95_ms, e2e_p99_ms, "
                        "itl_p50_ms, itl_p95_ms, itl_p99_ms, error_rate)",
                        item);
    if (m->better != RUNDIR_LOWER)
        return diag_set(d, -EINVAL, 0, 0,
                        "--slo: '%s' is a higher-is-better metric, not a latency or error limit",
                        item);
    char *end = NULL;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v) || v < 0)
        return diag_set(d, -EINVAL, 0, 0, "--slo: %s: limit '%s' is not a number >= 0", item,
                        eq + 1);
    for (size_t i = 0; i < s->n; i++)
        if (s->lim[i].m == m)
            return diag_set(d, -EINVAL, 0, 0, "--slo: %s given twice", item);
    if (s->n >= SLO_MAX_LIMITS)
        return diag_set(d, -EMSGSIZE, 0, 0, "--slo: more than %d limits", SLO_MAX_LIMITS);
    s->lim[s->n++] = (struct slo_limit){ .m = m, .limit = v };
    return 0;
}

int slo_spec_parse(const char *text, struct slo_spec *ret, struct diag *d)
{
    struct slo_spec s = { .n = 0 };
    char *dup = xstrdup(text ? text : "");
    char *save = NULL;
    int r = 0;
    for (char *t = strtok_r(dup, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save))
        r = parse_item(t, &s, d);
    free(dup);
    if (r == 0 && s.n == 0)
        r = diag_set(d, -EINVAL, 0, 0, "--slo is empty (e.g. ttft_p95_ms=2000,error_rate=0.01)");
    if (r == 0)
        *ret = s;
    return r;
}

json_t *slo_spec_json(const struct slo_spec *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(o, s->lim[i].m->key, json_real(s->lim[i].limit));
    return o;
}

/* The upper bound judged for one metric of one bundle: the interval's upper end for a
 * quantile (NaN when the sample cannot give it), the value itself for a rate. */
static double bundle_bound(const json_t *summary, const char *phase, const struct rundir_metric *m)
{
    if (m->q <= 0)
        return rundir_metric_value(summary, phase, m);
    const json_t *ci = rundir_metric_ci(summary, phase, m);
    const json_t *hi = json_object_get(ci, "hi");
    return json_is_number(hi) ? json_number_value(hi) : NAN;
}

void slo_judge(const struct slo_spec *spec, const char *phase, const json_t *const *summaries,
               const bool *valid, size_t n, struct slo_probe *p)
{
    p->valid = n > 0;
    for (size_t i = 0; i < n; i++)
        p->valid &= valid[i];
    p->pass = p->valid;
    for (size_t k = 0; k < spec->n; k++) {
        const struct rundir_metric *m = spec->lim[k].m;
        double sum = 0, bound = -INFINITY;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            if (!valid[i])
                continue;
            double v = rundir_metric_value(summaries[i], phase, m);
            double b = bundle_bound(summaries[i], phase, m);
            if (isfinite(v)) {
                sum += v;
                cnt++;
            }
            /* NaN (undersampled or absent) poisons the bound: no claim without it */
            bound = isnan(b) || isnan(bound) ? NAN : fmax(bound, b);
        }
        p->est[k] = cnt ? sum / (double)cnt : NAN;
        p->bound[k] = cnt && isfinite(bound) ? bound : NAN;
        p->pass &= isfinite(p->bound[k]) && p->bound[k] <= spec->lim[k].limit;
    }
}

int slo_search_check(const struct slo_search_config *c, struct diag *d)
{
    if (!(c->min > 0) || !isfinite(c->min))
        return diag_set(d, -EINVAL, 0, 0, "--min must be a number > 0 (got %g)", c->min);
    if (!isfinite(c->max) || c->max < c->min)
        return diag_set(d, -EINVAL, 0, 0, "empty or inverted range: --min %g --max %g", c->min,
                        c->max);
    if (!(c->resolution > 0) || !isfinite(c->resolution))
        return diag_set(d, -EINVAL, 0, 0, "--resolution must be > 0 (got %g)", c->resolution);
    if (c->integer && c->resolution < 1)
        return diag_set(d, -EINVAL, 0, 0, "--resolution must be >= 1 on a whole-number axis");
    if (c->search_repeats < 1 || c->repeats < c->search_repeats)
        return diag_set(d, -EINVAL, 0, 0,
                        "--search-repeats (%u) must be >= 1 and <= --repeats (%u)",
                        c->search_repeats, c->repeats);
    return 0;
}

struct search {
    const struct slo_search_config *c;
    slo_probe_fn *fn;
    void *ctx;
    struct slo_result *r;
    size_t cap;
    bool limited;
};

/* The latest probe at value (the one with the most repeats), or NULL. */
static const struct slo_probe *latest(const struct slo_result *r, double value)
{
    const struct slo_probe *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->probes[i].value == value && (!best || r->probes[i].repeats >= best->repeats))
            best = &r->probes[i];
    return best;
}

/* Probes value with at least reps bundles, reusing a probe that has them. Sets *pass. */
static int probe(struct search *s, double value, unsigned reps, bool *pass)
{
    const struct slo_probe *old = latest(s->r, value);
    if (old && old->repeats >= reps) {
        *pass = old->pass;
        return 0;
    }
    if (s->r->n >= SLO_MAX_PROBES) {
        s->limited = true;
        return 1;
    }
    struct slo_probe p = { .value = value, .repeats = reps };
    for (size_t k = 0; k < SLO_MAX_LIMITS; k++)
        p.est[k] = p.bound[k] = NAN;
    int rc = s->fn(s->ctx, value, reps, &p);
    if (rc < 0) {
        json_decref(p.detail);
        return rc;
    }
    p.value = value;
    xalloc_grow((void **)&s->r->probes, &s->cap, s->r->n + 1, sizeof(p));
    s->r->probes[s->r->n++] = p;
    *pass = p.pass;
    return 0;
}

static double next_up(const struct search *s, double v)
{
    double n = fmin(v * 2, s->c->max);
    return s->c->integer ? floor(n) : n;
}

/* Doubles from start (probed first) until a probe fails or max passes; updates lo and hi. */
static int widen(struct search *s, double start, double *lo, double *hi)
{
    for (double v = start;;) {
        bool pass;
        int rc = probe(s, v, s->c->search_repeats, &pass);
        if (rc)
            return rc;
        if (!pass) {
            *hi = v;
            return 0;
        }
        *lo = v;
        if (v >= s->c->max)
            return 0;
        v = next_up(s, v);
    }
}

static int bisect(struct search *s, double *lo, double *hi)
{
    while (isfinite(*lo) && isfinite(*hi) && *hi - *lo > s->c->resolution) {
        double mid = (*lo + *hi) / 2;
        if (s->c->integer)
            mid = floor(mid);
        assert(mid > *lo && mid < *hi);
        bool pass;
        int rc = probe(s, mid, s->c->search_repeats, &pass);
        if (rc)
            return rc;
        *(pass ? lo : hi) = mid;
    }
    return 0;
}

/* The largest passing value below v (latest verdicts), NaN if none; the smallest failing one
 * above v likewise. */
static double pass_below(const struct slo_result *r, double v)
{
    double best = NAN;
    for (size_t i = 0; i < r->n; i++) {
        double x = r->probes[i].value;
        if (x < v && latest(r, x)->pass && !(best >= x))
            best = x;
    }
    return best;
}

static double fail_above(const struct slo_result *r, double v)
{
    double best = NAN;
    for (size_t i = 0; i < r->n; i++) {
        double x = r->probes[i].value;
        if (x > v && !latest(r, x)->pass && !(best <= x))
            best = x;
    }
    return best;
}

/* Confirms the bracket's ends at the boundary repeat count; true when a verdict flipped (the
 * bracket moved and the search goes on). */
static int confirm(struct search *s, double *lo, double *hi, bool *moved)
{
    bool pass;
    int rc;
    *moved = false;
    if (s->c->repeats <= s->c->search_repeats)
        return 0;
    if (isfinite(*lo)) {
        if ((rc = probe(s, *lo, s->c->repeats, &pass)))
            return rc;
        if (!pass) {
            *hi = *lo;
            *lo = pass_below(s->r, *hi);
            *moved = true;
            return 0;
        }
    }
    if (isfinite(*hi)) {
        if ((rc = probe(s, *hi, s->c->repeats, &pass)))
            return rc;
        if (pass) {
            *lo = *hi;
            *hi = fail_above(s->r, *lo);
            if (isnan(*hi) && *lo < s->c->max && (rc = widen(s, next_up(s, *lo), lo, hi)))
                return rc;
            *moved = true;
        }
    }
    return 0;
}

/* Pairs (pass at a larger value, fail at a smaller one) among the latest verdicts. */
static void monotonicity(struct slo_result *r)
{
    r->non_monotonic_probes = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const struct slo_probe *f = latest(r, r->probes[i].value);
        if (f != &r->probes[i] || f->pass)
            continue;
        for (size_t j = 0; j < r->n; j++) {
            const struct slo_probe *p = latest(r, r->probes[j].value);
            if (p == &r->probes[j] && p->pass && p->value > f->value)
                json_array_append_new(
                    r->non_monotonic_probes,
                    json_pack("{s:f, s:f}", "fail_value", f->value, "pass_value", p->value));
        }
    }
    r->non_monotonic = json_array_size(r->non_monotonic_probes) > 0;
}

int slo_search(const struct slo_search_config *cfg, slo_probe_fn *fn, void *ctx,
               struct slo_result *ret)
{
    *ret = (struct slo_result){ .max_pass = NAN, .first_fail = NAN };
    struct search s = { .c = cfg, .fn = fn, .ctx = ctx, .r = ret };
    double lo = NAN, hi = NAN;
    double start = cfg->integer ? ceil(cfg->min) : cfg->min;
    int rc = widen(&s, start, &lo, &hi);
    for (bool moved = true; rc == 0 && moved;) {
        rc = bisect(&s, &lo, &hi);
        if (rc == 0)
            rc = confirm(&s, &lo, &hi, &moved);
    }
    /* The search alone can never see a pass above its first fail: one probe a step above the
     * bracket checks, and a pass there is reported (NON_MONOTONIC), not smoothed away. */
    if (rc == 0 && isfinite(hi) && hi + cfg->resolution <= cfg->max) {
        bool pass;
        rc = probe(&s, hi + cfg->resolution, cfg->search_repeats, &pass);
    }
    monotonicity(ret);
    if (rc < 0)
        return rc;
    ret->max_pass = lo;
    ret->first_fail = hi;
    ret->status = s.limited   ? "probe_limit"
                  : isnan(lo) ? "none_pass"
                  : isnan(hi) ? "all_pass"
                              : "found";
    return 0;
}

void slo_result_fini(struct slo_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        json_decref(r->probes[i].detail);
    free(r->probes);
    json_decref(r->non_monotonic_probes);
    *r = (struct slo_result){ .max_pass = NAN, .first_fail = NAN };
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *probe_json(const struct slo_spec *spec, const struct slo_result *r,
                          const struct slo_probe *p)
{
    json_t *o = p->detail ? json_deep_copy(p->detail) : json_object();
    json_object_set_new(o, "value", json_real(p->value));
    json_object_set_new(o, "repeats", json_integer(p->repeats));
    json_object_set_new(o, "run_valid", json_boolean(p->valid));
    json_object_set_new(o, "pass", json_boolean(p->pass));
    json_object_set_new(o, "superseded", json_boolean(latest(r, p->value) != p));
    json_t *m = json_object();
    for (size_t k = 0; k < spec->n; k++) {
        json_t *x = json_object();
        json_object_set_new(x, "estimate", num_or_null(p->est[k]));
        json_object_set_new(x, "upper_bound", num_or_null(p->bound[k]));
        json_object_set_new(x, "limit", json_real(spec->lim[k].limit));
        json_object_set_new(x, "undersampled", json_boolean(p->valid && isnan(p->bound[k])));
        json_object_set_new(
            x, "meets", json_boolean(isfinite(p->bound[k]) && p->bound[k] <= spec->lim[k].limit));
        json_object_set_new(m, spec->lim[k].m->key, x);
    }
    json_object_set_new(o, "metrics", m);
    return o;
}

json_t *slo_result_json(const struct slo_spec *spec, const struct slo_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "max", num_or_null(r->max_pass));
    json_t *br = json_array();
    json_array_append_new(br, num_or_null(r->max_pass));
    json_array_append_new(br, num_or_null(r->first_fail));
    json_object_set_new(o, "bracket", br);
    json_object_set_new(o, "status", json_string(r->status ? r->status : "aborted"));
    json_object_set_new(o, "non_monotonic", json_boolean(r->non_monotonic));
    json_object_set_new(o, "non_monotonic_probes",
                        r->non_monotonic_probes ? json_incref(r->non_monotonic_probes)
                                                : json_array());
    json_t *pa = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(pa, probe_json(spec, r, &r->probes[i]));
    json_object_set_new(o, "probes", pa);
    return o;
}

static double arr_num(const json_t *a, size_t i)
{
    const json_t *v = json_array_get(a, i);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

json_t *slo_comparison_json(const json_t *modes, const char *baseline)
{
    json_t *o = json_object(), *m = json_object();
    json_object_set_new(o, "baseline", json_string(baseline));
    const json_t *b = json_object_get(modes, baseline);
    double bp = arr_num(json_object_get(b, "bracket"), 0),
           bf = arr_num(json_object_get(b, "bracket"), 1);
    const char *k;
    const json_t *t;
    json_object_foreach ((json_t *)modes, k, t) {
        if (strcmp(k, baseline) == 0)
            continue;
        double tp = arr_num(json_object_get(t, "bracket"), 0),
               tf = arr_num(json_object_get(t, "bracket"), 1);
        json_t *x = json_object();
        json_object_set_new(x, "ratio", num_or_null(tp / bp));
        json_t *range = json_array();
        json_array_append_new(range, num_or_null(tp / bf));
        json_array_append_new(range, num_or_null(tf / bp));
        json_object_set_new(x, "ratio_range", range);
        const char *why = !isfinite(bp)   ? "the baseline meets the SLO nowhere in the range"
                          : !isfinite(tp) ? "this mode meets the SLO nowhere in the range"
                          : !isfinite(bf) || !isfinite(tf)
                              ? "a search reached --max: the range is open on that side"
                              : "true capacities lie in [last pass, first fail) of each bracket";
        json_object_set_new(x, "why", json_string(why));
        json_object_set_new(m, k, x);
    }
    json_object_set_new(o, "modes", m);
    return o;
}

static void md_num(struct buf *m, double v)
{
    if (isfinite(v))
        buf_printf(m, "%g", v);
    else
        buf_append_str(m, "–");
}

static void md_probes(struct buf *m, const json_t *r, const json_t *slo)
{
    buf_append_str(m, "\n| value | repeats | run_valid | pass |");
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *)slo, k, v)
        buf_printf(m, " %s (est / upper bound) |", k);
    buf_append_str(m, " bundles |\n|---|---|---|---|");
    json_object_foreach ((json_t *)slo, k, v)
        buf_append_str(m, "---|");
    buf_append_str(m, "---|\n");
    size_t i;
    const json_t *p;
    json_array_foreach (json_object_get(r, "probes"), i, p) {
        buf_printf(m, "| %g%s | %d | %s | %s |", jsonx_num(p, "value", NAN),
                   jsonx_bool(p, "superseded", false) ? " (superseded)" : "",
                   (int)jsonx_i64(p, "repeats", 0),
                   jsonx_bool(p, "run_valid", false) ? "yes" : "no",
                   jsonx_bool(p, "pass", false) ? "**pass**" : "fail");
        json_object_foreach ((json_t *)slo, k, v) {
            const json_t *x = json_object_get(json_object_get(p, "metrics"), k);
            buf_append_str(m, " ");
            md_num(m, jsonx_num(x, "estimate", NAN));
            buf_append_str(m, " / ");
            md_num(m, jsonx_num(x, "upper_bound", NAN));
            buf_append_str(m, jsonx_bool(x, "undersampled", false) ? " undersampled |" : " |");
        }
        buf_printf(m, " `%s` |\n", jsonx_str(p, "group", "?"));
    }
}

char *slo_markdown(const json_t *doc)
{
    struct buf m;
    buf_init(&m, 1u << 22);
    const char *axis = jsonx_str(doc, "axis", "?");
    const json_t *slo = json_object_get(doc, "slo");
    char *sl = json_dumps(slo, JSON_COMPACT);
    buf_printf(&m, "# kvtier slo: the largest %s under %s (%s phase)\n\n", axis, sl ? sl : "?",
               jsonx_str(doc, "phase", "?"));
    free(sl);
    buf_printf(&m,
               "Engine: **%s**. Decision-grade: **%s**. A probe passes only when every bundle "
               "is run_valid and the upper 95%% order-statistic bound of every SLO quantile "
               "meets its limit (an undersampled quantile fails).\n\n",
               jsonx_str(doc, "engine", "?"),
               jsonx_bool(doc, "decision_grade", false) ? "yes" : "no");
    buf_printf(&m,
               "| mode | largest %s | bracket [pass, fail] | status | probes |\n"
               "|---|---|---|---|---|\n",
               axis);
    const char *k;
    const json_t *r;
    json_object_foreach ((json_t *)json_object_get(doc, "modes"), k, r) {
        const json_t *br = json_object_get(r, "bracket");
        buf_printf(&m, "| %s | ", k);
        md_num(&m, jsonx_num(r, "max", NAN));
        buf_append_str(&m, " | [");
        md_num(&m, arr_num(br, 0));
        buf_append_str(&m, ", ");
        md_num(&m, arr_num(br, 1));
        buf_printf(&m, "] | %s%s | %zu |\n", jsonx_str(r, "status", "?"),
                   jsonx_bool(r, "non_monotonic", false) ? ", **NON_MONOTONIC**" : "",
                   json_array_size(json_object_get(r, "probes")));
    }
    const json_t *cmp = json_object_get(doc, "comparison");
    buf_printf(&m, "\n## Against %s\n\n", jsonx_str(cmp, "baseline", "?"));
    json_object_foreach ((json_t *)json_object_get(cmp, "modes"), k, r) {
        const json_t *rr = json_object_get(r, "ratio_range");
        buf_printf(&m, "- %s / %s: ", k, jsonx_str(cmp, "baseline", "?"));
        md_num(&m, jsonx_num(r, "ratio", NAN));
        buf_append_str(&m, " (bracket range ");
        md_num(&m, arr_num(rr, 0));
        buf_append_str(&m, " to ");
        md_num(&m, arr_num(rr, 1));
        buf_printf(&m, "; %s)\n", jsonx_str(r, "why", ""));
    }
    const json_t *codes = json_object_get(doc, "reason_codes");
    if (json_array_size(codes)) {
        size_t i;
        const json_t *c;
        buf_append_str(&m, "\nReason codes:");
        json_array_foreach ((json_t *)codes, i, c)
            buf_printf(&m, " `%s`", json_string_value(c));
        buf_append_str(&m, "\n");
    }
    json_object_foreach ((json_t *)json_object_get(doc, "modes"), k, r) {
        buf_printf(&m, "\n## Probes of %s\n", k);
        md_probes(&m, r, slo);
    }
    buf_append_str(&m, "\n![largest value under the SLO](slo_max.svg)\n");
    const json_t *lad = json_object_get(doc, "c_ladder");
    if (lad) {
        char *lm = ladder_capacity_markdown(lad);
        buf_append_str(&m, lm);
        free(lm);
    }
    return buf_take_str(&m);
}

int slo_chart(const json_t *doc, const char *dir, const char *gnuplot, struct charts_result *res)
{
    struct buf dat, gp;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    const char *axis = jsonx_str(doc, "axis", "?");
    buf_append_str(&dat, "# index mode max last_pass first_fail\n");
    const char *k;
    const json_t *r;
    int i = 0;
    json_object_foreach ((json_t *)json_object_get(doc, "modes"), k, r) {
        const json_t *br = json_object_get(r, "bracket");
        double mx = jsonx_num(r, "max", NAN), p = arr_num(br, 0), f = arr_num(br, 1);
        buf_printf(&dat, "%d\t%s\t%g\t%g\t%g\n", i++, k, isfinite(mx) ? mx : 0, isfinite(p) ? p : 0,
                   isfinite(f) ? f : (isfinite(p) ? p : 0));
    }
    buf_printf(&gp,
               "set title 'Largest %s under the SLO (%s, %s phase); bar = last pass, whisker "
               "= first fail'\nset ylabel '%s'\nset grid ytics\nset style fill solid 0.5\n"
               "set boxwidth 0.6\nset yrange [0:*]\nset offsets 0, 0, graph 0.1, 0\n"
               "set xrange [-0.5:%d.5]\n"
               "set datafile separator '\\t'\nset termoption noenhanced\nunset key\n",
               axis, jsonx_str(doc, "engine", "?"), jsonx_str(doc, "phase", "?"), axis, i - 1);
    buf_append(&gp, "", 1);
    int rc = charts_write(dir, "slo_max", (const char *)dat.data, dat.len, (const char *)gp.data,
                          "plot 'slo_max.dat' using 1:3:xtic(2) with boxes, '' using 1:3:4:5 "
                          "with yerrorbars lc rgb '#000000' pt 0",
                          gnuplot, res);
    buf_fini(&dat);
    buf_fini(&gp);
    return rc;
}
