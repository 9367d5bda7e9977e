/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier compare (see compare.h). */
#include "analysis/compare.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/abtest.h"
#include "analysis/rundir.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/quantci.h"
#include "common/stats.h"
#include "common/xalloc.h"

#define COMPARE_POOLED_RESAMPLES 2000u

/* Pooled request-level quantiles of TTFT from intended send. */
static const struct {
    const char *key;
    double q;
} pooled_q[] = { { "ttft_p50_ms", 0.5 }, { "ttft_p95_ms", 0.95 }, { "ttft_p99_ms", 0.99 } };
#define NPOOLED (sizeof(pooled_q) / sizeof(pooled_q[0]))

struct side {
    const char *name; /* "baseline" / "treatment" */
    const char *dir;
    struct rundir_bundle *b;
    size_t n;
    char *mode;
    char *dir_buf;
    size_t valid, decision_grade; /* bundles with run_valid, and decision-grade among them */
};

static void free_side(struct side *s)
{
    for (size_t i = 0; i < s->n; i++)
        rundir_bundle_fini(&s->b[i]);
    free(s->b);
    free(s->mode);
    free(s->dir_buf);
}

static int load_side(struct side *s, const char *phase, struct diag *d)
{
    /* "group/B1/" and "group/B1" name the same directory; keep the paths in the output clean. */
    s->dir_buf = xstrdup(s->dir);
    char *w = s->dir_buf;
    for (const char *r = s->dir; *r; r++)
        if (!(*r == '/' && w > s->dir_buf && w[-1] == '/'))
            *w++ = *r;
    *w = 0;
    for (size_t n = strlen(s->dir_buf); n > 1 && s->dir_buf[n - 1] == '/'; n--)
        s->dir_buf[n - 1] = 0;
    s->dir = s->dir_buf;
    char **dirs;
    int r = rundir_list(s->dir, &dirs, &s->n, d);
    if (r < 0)
        return r;
    s->b = xcalloc(s->n, sizeof(*s->b));
    for (size_t i = 0; i < s->n; i++)
        s->b[i].dir = dirs[i];
    free(dirs);
    for (size_t i = 0; i < s->n; i++)
        if ((r = rundir_load(&s->b[i], phase, d)) < 0)
            return r;
    /* The phase must exist somewhere on this side (an interrupted bundle may lack it). */
    json_t *phases = NULL;
    for (size_t i = 0; i < s->n; i++) {
        json_t *ph = jsonx_path(s->b[i].summary, "phases");
        if (json_object_get(ph, phase) || !s->b[i].valid)
            break;
        if (!phases && json_is_object(ph))
            phases = ph;
        if (i + 1 == s->n) {
            char names[160] = "";
            const char *k;
            json_t *v;
            json_object_foreach (phases, k, v) {
                size_t n = strlen(names);
                snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", k);
            }
            diag_file(d, s->dir);
            return diag_set(d, -EINVAL, 0, 0, "no bundle has a phase '%s' (phases: %s)", phase,
                            names[0] ? names : "none");
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        s->valid += s->b[i].valid;
        s->decision_grade += s->b[i].decision_grade;
    }
    const char *mode = NULL;
    for (size_t i = 0; i < s->n && !mode; i++)
        mode = jsonx_str(jsonx_path(s->b[i].manifest, "mode"), "mode", NULL);
    s->mode = xstrdup(mode ? mode : "?");
    return 0;
}

/* What makes two bundles comparable: the same model, workload, dataset, seed and plan. */
static const char *const identity_paths[] = {
    "model.name",
    "workload.workload",
    "workload.dataset",
    "workload.seed",
    "workload.plan_header.requests",
    "workload.plan_header.prompt_tokens",
    "hardware",
    NULL,
};

static json_t *identity(const json_t *manifest)
{
    json_t *o = json_object();
    for (size_t i = 0; identity_paths[i]; i++) {
        json_t *v = jsonx_path(manifest, identity_paths[i]);
        json_object_set(o, identity_paths[i], v ? v : json_null());
    }
    return o;
}

/* Appends "path: a vs b" for every identity field that differs. */
static void identity_diff(const json_t *a, const json_t *b, json_t *out)
{
    const char *k;
    json_t *va;
    json_object_foreach ((json_t *)a, k, va) {
        json_t *vb = json_object_get(b, k);
        if (!json_equal(va, vb)) {
            char *sa = json_dumps(va, JSON_ENCODE_ANY | JSON_COMPACT);
            char *sb = json_dumps(vb, JSON_ENCODE_ANY | JSON_COMPACT);
            json_array_append_new(out,
                                  json_sprintf("%s: %s vs %s", k, sa ? sa : "?", sb ? sb : "?"));
            free(sa);
            free(sb);
        }
    }
}

static json_t *side_json(const struct side *s, const char *phase)
{
    json_t *o = json_object();
    json_object_set_new(o, "dir", json_string(s->dir));
    json_object_set_new(o, "mode", json_string(s->mode));
    json_t *inc = json_array(), *exc = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const struct rundir_bundle *b = &s->b[i];
        json_t *rc = json_object_get(b->verdict, "reason_codes");
        json_t *e = json_pack("{s:s, s:b, s:b, s:o}", "dir", b->dir, "run_valid", b->valid,
                              "decision_grade", b->decision_grade, "reason_codes",
                              json_is_array(rc) ? json_incref(rc) : json_array());
        json_object_set_new(e, "requests_with_ttft", json_integer((json_int_t)b->n_ttft));
        if (!json_object_get(jsonx_path(b->summary, "phases"), phase))
            json_object_set_new(e, "phase_missing", json_true());
        json_array_append_new(b->valid ? inc : exc, e);
    }
    json_object_set_new(o, "bundles", json_integer((json_int_t)s->n));
    json_object_set_new(o, "valid", json_integer((json_int_t)s->valid));
    json_object_set_new(o, "decision_grade", json_integer((json_int_t)s->decision_grade));
    json_object_set_new(o, "included", inc);
    json_object_set_new(o, "excluded", exc);
    return o;
}

/* The metric's value in every valid bundle of a side (NaN where absent). */
static size_t side_values(const struct side *s, const char *phase, const struct rundir_metric *m,
                          double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->b[i].valid)
            continue;
        out[k++] = rundir_metric_value(s->b[i].summary, phase, m);
    }
    return k;
}

static json_t *num_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return a;
}

static void set_interval(json_t *o, const char *key, double lo, double hi)
{
    json_t *a = json_array();
    json_array_append_new(a, isfinite(lo) ? json_real(lo) : json_null());
    json_array_append_new(a, isfinite(hi) ? json_real(hi) : json_null());
    json_object_set_new(o, key, a);
}

/* "better" / "worse" / "negligible" / "no_difference_shown". */
static const char *judge(bool significant, bool improved, double effect, double min_effect)
{
    if (!significant)
        return "no_difference_shown";
    if (effect < min_effect)
        return "negligible";
    return improved ? "better" : "worse";
}

/* Improvement and relative effect of a bootstrap ratio (or, with no ratio, its difference). */
static void ratio_effect(enum rundir_better bt, const struct abtest_ratio *r, bool *improved,
                         double *effect)
{
    if (isfinite(r->ratio)) {
        *improved = bt == RUNDIR_LOWER ? r->ratio < 1 : r->ratio > 1;
        *effect = fabs(r->ratio - 1);
    } else {
        *improved = bt == RUNDIR_LOWER ? r->diff < 0 : r->diff > 0;
        *effect = INFINITY;
    }
}

static bool excludes_no_change(const struct abtest_ratio *r)
{
    if (isfinite(r->ratio) && isfinite(r->lo) && isfinite(r->hi))
        return r->hi < 1 || r->lo > 1;
    return isfinite(r->diff_lo) && isfinite(r->diff_hi) && (r->diff_hi < 0 || r->diff_lo > 0);
}

static void put_ratio(json_t *o, const struct abtest_ratio *r)
{
    jsonx_set_num(o, "ratio", r->ratio);
    set_interval(o, "ratio_ci", r->lo, r->hi);
    jsonx_set_num(o, "change_pct", isfinite(r->ratio) ? (r->ratio - 1) * 100 : NAN);
    jsonx_set_num(o, "diff", r->diff);
    set_interval(o, "diff_ci", r->diff_lo, r->diff_hi);
}

static double geo_mean(const double *v, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (v[i] <= 0)
            return NAN;
        s += log(v[i]);
        k++;
    }
    return k ? exp(s / (double)k) : NAN;
}

static json_t *side_values_json(const double *v, size_t n, size_t finite, double mean)
{
    json_t *o = json_pack("{s:I, s:o}", "n", (json_int_t)finite, "values", num_array(v, n));
    jsonx_set_num(o, "mean", mean);
    jsonx_set_num(o, "geo_mean", geo_mean(v, n));
    return o;
}

/* The verdict of one metric from its bootstrap (counts, baseline mean), Welch interval and rank
 * test: the interval must exclude no change, and the rank test must agree wherever it can reach
 * alpha at these repeat counts. */
static const char *decide(const struct compare_config *c, enum rundir_better better,
                          const struct abtest_ratio *bs, const struct abtest_welch *w,
                          const struct abtest_mw *mw)
{
    if (bs->nb < c->repeats_min || bs->nt < c->repeats_min || isnan(w->lo))
        return "insufficient_repeats";
    double alpha = 1 - c->level;
    bool decisive = abtest_mw_min_p(mw->na, mw->nb) < alpha;
    bool excl = w->log_scale ? (w->hi < 1 || w->lo > 1) : (w->hi < 0 || w->lo > 0);
    bool rank_ok = !decisive || mw->p < alpha;
    bool improved;
    double effect;
    if (w->log_scale) {
        improved = better == RUNDIR_LOWER ? w->estimate < 1 : w->estimate > 1;
        effect = fabs(w->estimate - 1);
    } else {
        improved = better == RUNDIR_LOWER ? w->estimate < 0 : w->estimate > 0;
        effect = bs->base != 0 ? fabs(w->estimate / bs->base) : INFINITY;
    }
    return judge(excl && rank_ok, improved, effect, c->min_effect);
}

const char *compare_verdict(const struct compare_config *c, enum rundir_better better,
                            const double *vb, size_t nb, const double *vt, size_t nt, uint64_t seed)
{
    struct abtest_ratio bs;
    abtest_ratio_ci(BOOTSTRAP_MEAN, vb, nb, vt, nt, c->resamples, c->level, seed, &bs);
    struct abtest_welch w;
    abtest_welch(vb, nb, vt, nt, c->level, &w);
    struct abtest_mw mw;
    abtest_mann_whitney(vt, nt, vb, nb, &mw);
    return decide(c, better, &bs, &w, &mw);
}

/* The order-statistic interval of a quantile metric in every valid bundle (null where the
 * summary predates intervals). */
static json_t *side_intervals(const struct side *s, const char *phase,
                              const struct rundir_metric *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        if (!s->b[i].valid)
            continue;
        const json_t *ci = rundir_metric_ci(s->b[i].summary, phase, m);
        json_array_append_new(a, ci ? json_deep_copy(ci) : json_null());
    }
    return a;
}

/* The order-statistic interval of quantile q over a side's pooled request TTFTs. */
static json_t *pooled_side_ci(const struct side *s, double q)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->b[i].valid ? s->b[i].n_ttft : 0;
    double *v = xmalloc((n + 1) * sizeof(double));
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; s->b[i].valid && j < s->b[i].n_ttft; j++)
            v[k++] = s->b[i].ttft[j];
    qsort(v, k, sizeof(double), stats_cmp_double);
    struct quantci ci;
    quantci_sorted(v, k, q, QUANTCI_LEVEL, &ci);
    free(v);
    return quantci_json(&ci);
}

/* One metric: Welch's interval (on logs: the ratio of geometric means) decides, together with
 * the exact rank test wherever that test can reach alpha at these repeat counts; the bootstrap
 * interval of the ratio of means is reported beside them as a check. */
static json_t *metric_json(const struct compare_config *c, const struct rundir_metric *m,
                           const struct side *b, const struct side *t, uint64_t seed)
{
    double *vb = xmalloc((b->n + 1) * sizeof(double)), *vt = xmalloc((t->n + 1) * sizeof(double));
    size_t nb = side_values(b, c->phase, m, vb), nt = side_values(t, c->phase, m, vt);
    struct abtest_ratio bs;
    abtest_ratio_ci(BOOTSTRAP_MEAN, vb, nb, vt, nt, c->resamples, c->level, seed, &bs);
    struct abtest_welch w;
    abtest_welch(vb, nb, vt, nt, c->level, &w);
    struct abtest_mw mw;
    abtest_mann_whitney(vt, nt, vb, nb, &mw);
    double alpha = 1 - c->level, min_p = abtest_mw_min_p(mw.na, mw.nb);
    json_t *o = json_object();
    json_object_set_new(o, "label", json_string(m->label));
    json_object_set_new(o, "better", json_string(m->better == RUNDIR_LOWER ? "lower" : "higher"));
    json_object_set_new(o, "baseline", side_values_json(vb, nb, bs.nb, bs.base));
    json_object_set_new(o, "treatment", side_values_json(vt, nt, bs.nt, bs.treat));
    if (m->q > 0) {
        json_object_set_new(json_object_get(o, "baseline"), "intervals",
                            side_intervals(b, c->phase, m));
        json_object_set_new(json_object_get(o, "treatment"), "intervals",
                            side_intervals(t, c->phase, m));
    }
    /* Headline figures: the ratio of geometric means when every value is positive, else the
     * ratio of means; the interval is Welch's. */
    double ratio = w.log_scale ? w.estimate : bs.ratio;
    jsonx_set_num(o, "ratio", ratio);
    set_interval(o, "ratio_ci", w.log_scale ? w.lo : NAN, w.log_scale ? w.hi : NAN);
    jsonx_set_num(o, "change_pct", isfinite(ratio) ? (ratio - 1) * 100 : NAN);
    jsonx_set_num(o, "diff", bs.diff);
    json_t *jw = json_object();
    json_object_set_new(jw, "scale",
                        json_string(w.log_scale ? "log (ratio of geometric means)"
                                                : "linear (difference of means)"));
    jsonx_set_num(jw, "estimate", w.estimate);
    set_interval(jw, "ci", w.lo, w.hi);
    jsonx_set_num(jw, "df", w.df);
    json_object_set_new(o, "welch", jw);
    json_t *jb = json_object();
    put_ratio(jb, &bs);
    json_object_set_new(jb, "resamples", json_integer(c->resamples));
    json_object_set_new(o, "bootstrap", jb);
    json_t *jm = json_object();
    jsonx_set_num(jm, "u", mw.u);
    jsonx_set_num(jm, "p", mw.p);
    json_object_set_new(jm, "exact", json_boolean(mw.exact));
    /* Probability that a treatment repeat is better than a baseline repeat. */
    jsonx_set_num(jm, "p_superiority", m->better == RUNDIR_LOWER ? mw.p_below : 1 - mw.p_below);
    jsonx_set_num(jm, "min_attainable_p", min_p);
    bool decisive = min_p < alpha;
    json_object_set_new(jm, "can_decide", json_boolean(decisive));
    json_object_set_new(o, "mann_whitney", jm);
    const char *verdict = decide(c, m->better, &bs, &w, &mw);
    json_object_set_new(o, "verdict", json_string(verdict));
    free(vb);
    free(vt);
    return o;
}

static void groups_of(const struct side *s, struct abtest_groups *g, const double **v, size_t *n)
{
    g->g = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->b[i].valid) {
            v[g->g] = s->b[i].ttft;
            n[g->g] = s->b[i].n_ttft;
            g->g++;
        }
    g->v = v;
    g->n = n;
}

static json_t *pooled_json(const struct compare_config *c, const struct side *b,
                           const struct side *t, uint64_t seed)
{
    const double **v1 = xcalloc(b->n + 1, sizeof(*v1)), **v2 = xcalloc(t->n + 1, sizeof(*v2));
    size_t *n1 = xcalloc(b->n + 1, sizeof(size_t)), *n2 = xcalloc(t->n + 1, sizeof(size_t));
    struct abtest_groups gb, gt;
    groups_of(b, &gb, v1, n1);
    groups_of(t, &gt, v2, n2);
    json_t *o = json_object();
    bool within = gb.g < 2 || gt.g < 2;
    json_object_set_new(o, "runs_baseline", json_integer((json_int_t)gb.g));
    json_object_set_new(o, "runs_treatment", json_integer((json_int_t)gt.g));
    json_object_set_new(o, "within_run_only", json_boolean(within));
    json_object_set_new(o, "method",
                        json_string(within ? "bootstrap over the requests of the single run of "
                                             "a side: shows request-level spread only, not "
                                             "run-to-run variation"
                                           : "hierarchical bootstrap: runs drawn with "
                                             "replacement, then each drawn run's requests"));
    /* Each resample redraws every request: 2,000 resamples of 10 runs x 5,000 requests a side
     * take about 4 s per quantile on one core, and 2,000 is plenty for a 95% interval. */
    unsigned rs = c->resamples < COMPARE_POOLED_RESAMPLES ? c->resamples : COMPARE_POOLED_RESAMPLES;
    json_object_set_new(o, "resamples", json_integer(rs));
    for (size_t i = 0; i < NPOOLED; i++) {
        struct abtest_ratio r;
        json_t *m = json_object();
        int rc =
            abtest_pooled_quantile_ci(&gb, &gt, pooled_q[i].q, rs, c->level, seed + 1000 + i, &r);
        if (rc == 0) {
            json_object_set_new(m, "requests_baseline", json_integer((json_int_t)r.nb));
            json_object_set_new(m, "requests_treatment", json_integer((json_int_t)r.nt));
            jsonx_set_num(m, "baseline", r.base);
            jsonx_set_num(m, "treatment", r.treat);
            json_object_set_new(m, "baseline_ci", pooled_side_ci(b, pooled_q[i].q));
            json_object_set_new(m, "treatment_ci", pooled_side_ci(t, pooled_q[i].q));
            put_ratio(m, &r);
            bool improved;
            double effect;
            ratio_effect(RUNDIR_LOWER, &r, &improved, &effect);
            const char *verdict = judge(excludes_no_change(&r), improved, effect, c->min_effect);
            if (within)
                verdict = strcmp(verdict, "better") == 0  ? "better_within_run"
                          : strcmp(verdict, "worse") == 0 ? "worse_within_run"
                                                          : verdict;
            json_object_set_new(m, "verdict", json_string(verdict));
        } else {
            json_object_set_new(m, "verdict", json_string("no_data"));
        }
        json_object_set_new(o, pooled_q[i].key, m);
    }
    free(v1);
    free(v2);
    free(n1);
    free(n2);
    return o;
}

static void add_reason(json_t *codes, json_t *details, const char *code, json_t *why)
{
    json_array_append_new(codes, json_string(code));
    json_object_set_new(details, code, why);
}

static double arr_num(const json_t *a, size_t i)
{
    const json_t *v = json_array_get(a, i);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *headline(const struct compare_config *c, const struct side *b, const struct side *t,
                        const struct rundir_metric *pm, json_t *pmj, bool dg)
{
    const char *verdict = jsonx_str(pmj, "verdict", "");
    double ratio = jsonx_num(pmj, "ratio", NAN),
           p = jsonx_num(jsonx_path(pmj, "mann_whitney"), "p", NAN);
    json_t *ci = json_object_get(pmj, "ratio_ci");
    double lo = arr_num(ci, 0), hi = arr_num(ci, 1);
    size_t nb = (size_t)jsonx_u64(jsonx_path(pmj, "baseline"), "n", 0);
    size_t nt = (size_t)jsonx_u64(jsonx_path(pmj, "treatment"), "n", 0);
    char change[160];
    if (isfinite(ratio) && isfinite(lo) && isfinite(hi))
        snprintf(change, sizeof(change), "%+.1f%% (%.0f%% CI %+.1f%% to %+.1f%%)",
                 (ratio - 1) * 100, c->level * 100, (lo - 1) * 100, (hi - 1) * 100);
    else if (isfinite(ratio))
        snprintf(change, sizeof(change), "%+.1f%% (no interval: one repeat per side)",
                 (ratio - 1) * 100);
    else
        snprintf(change, sizeof(change), "not comparable (baseline mean is 0 or missing)");
    bool rank_decides = json_is_true(jsonx_path(pmj, "mann_whitney.can_decide"));
    return json_sprintf("%s phase, %s: %s vs %s %s; Mann-Whitney p = %.3g%s; %zu vs %zu "
                        "repeats: %s%s",
                        c->phase, pm->label, t->mode, b->mode, change, p,
                        rank_decides ? "" : " (cannot decide at these counts)", nb, nt, verdict,
                        dg ? "" : " (not decision-grade)");
}

/* The identity differences between every valid bundle of both sides and the first valid one
 * (as "path: a vs b (dir)" strings); *ret_id0 (owned) is that first identity. */
static json_t *identity_diffs(const struct side *b, const struct side *t, json_t **ret_id0)
{
    const json_t *ref = NULL;
    for (int s = 0; s < 2 && !ref; s++)
        for (size_t i = 0; i < (s ? t->n : b->n) && !ref; i++)
            if ((s ? t->b : b->b)[i].valid)
                ref = (s ? t->b : b->b)[i].manifest;
    json_t *id0 = identity(ref ? ref : b->b[0].manifest), *diffs = json_array();
    for (int s = 0; s < 2; s++) {
        const struct side *x = s ? t : b;
        for (size_t i = 0; i < x->n; i++) {
            if (!x->b[i].valid)
                continue;
            json_t *id = identity(x->b[i].manifest);
            size_t before = json_array_size(diffs);
            identity_diff(id0, id, diffs);
            for (size_t k = before; k < json_array_size(diffs); k++) {
                json_t *e = json_array_get(diffs, k);
                json_array_set_new(diffs, k,
                                   json_sprintf("%s (%s)", json_string_value(e), x->b[i].dir));
            }
            json_decref(id);
        }
    }
    *ret_id0 = id0;
    return diffs;
}

/* The engine every valid bundle ran on: "builtin", "real", "mixed" or "unknown". */
static const char *engine_of(const struct side *b, const struct side *t)
{
    const char *e = NULL;
    for (int s = 0; s < 2; s++) {
        const struct side *x = s ? t : b;
        for (size_t i = 0; i < x->n; i++) {
            const char *k = rundir_engine(x->b[i].manifest);
            if (!k)
                continue;
            if (e && strcmp(e, k) != 0)
                return "mixed";
            e = k;
        }
    }
    return e ? e : "unknown";
}

/* TAIL_UNDERSAMPLED: the primary quantile is not supported by its sample in some included
 * bundle (its order-statistic interval lacks a bound), so no claim may rest on it. */
static void tail_reason(const struct compare_config *c, const struct rundir_metric *pm,
                        const struct side *b, const struct side *t, json_t *codes, json_t *details)
{
    if (pm->q <= 0)
        return;
    json_t *why = json_array();
    for (int s = 0; s < 2; s++) {
        const struct side *x = s ? t : b;
        for (size_t i = 0; i < x->n; i++) {
            if (!x->b[i].valid)
                continue;
            const json_t *ci = rundir_metric_ci(x->b[i].summary, c->phase, pm);
            if (ci && !jsonx_bool(ci, "supported", true))
                json_array_append_new(
                    why, json_sprintf("%s: %s from %lld requests has no %.0f%% interval (needs "
                                      "%zu)",
                                      x->b[i].dir, pm->key, (long long)jsonx_i64(ci, "n", 0),
                                      QUANTCI_LEVEL * 100, quantci_min_n(pm->q, QUANTCI_LEVEL)));
        }
    }
    if (json_array_size(why))
        add_reason(codes, details, "TAIL_UNDERSAMPLED", json_pack("{s:o}", "why", why));
    else
        json_decref(why);
}

/* The decision-grade reason codes of the sides' repeat counts and bundle verdicts. */
static void side_reasons(const struct compare_config *c, const struct side *b, const struct side *t,
                         json_t *codes, json_t *details)
{
    size_t vb = b->valid, vt = t->valid;
    if (vb < c->repeats_min || vt < c->repeats_min)
        add_reason(codes, details, "INSUFFICIENT_REPEATS",
                   json_pack("{s:[s], s:I, s:I, s:I}", "why",
                             "fewer valid repeats than needed for a rank test and an interval",
                             "baseline", (json_int_t)vb, "treatment", (json_int_t)vt, "repeats_min",
                             (json_int_t)c->repeats_min));
    for (int s = 0; s < 2; s++) {
        const struct side *x = s ? t : b;
        size_t valid = x->valid, dg = x->decision_grade;
        if (valid < x->n)
            add_reason(codes, details,
                       s ? "TREATMENT_INVALID_EXCLUDED" : "BASELINE_INVALID_EXCLUDED",
                       json_pack("{s:[s], s:I}", "why",
                                 "run_valid false bundles were left out (see excluded)", "excluded",
                                 (json_int_t)(x->n - valid)));
        if (dg < valid) {
            json_t *why = json_array();
            for (size_t i = 0; i < x->n; i++)
                if (x->b[i].valid && !x->b[i].decision_grade) {
                    char *rc = json_dumps(json_object_get(x->b[i].verdict, "reason_codes"),
                                          JSON_COMPACT | JSON_ENCODE_ANY);
                    json_array_append_new(why, json_sprintf("%s: %s", x->b[i].dir, rc ? rc : "[]"));
                    free(rc);
                }
            add_reason(codes, details,
                       s ? "TREATMENT_NOT_DECISION_GRADE" : "BASELINE_NOT_DECISION_GRADE",
                       json_pack("{s:o}", "why", why));
        }
    }
}

static json_t *method_json(const struct compare_config *c)
{
    return json_pack("{s:f, s:I, s:I, s:f, s:I, s:s, s:s, s:s, s:s}", "level", c->level,
                     "resamples", (json_int_t)c->resamples, "seed", (json_int_t)c->seed,
                     "min_effect", c->min_effect, "repeats_min", (json_int_t)c->repeats_min, "unit",
                     "one value per valid repeat (run bundle), from summary.json", "interval",
                     "Welch t interval on log values (ratio of geometric means); a percentile "
                     "bootstrap of the ratio of means is reported beside it",
                     "test",
                     "two-sided Mann-Whitney U (exact without ties up to 60 values), required "
                     "wherever it can reach alpha at the repeat counts",
                     "quantile_interval",
                     "per repeat and pooled: distribution-free order-statistic interval "
                     "(binomial), null bounds = undersampled");
}

/* The document of two loaded sides. */
static json_t *compare_doc(const struct compare_config *c, const struct rundir_metric *pm,
                           const struct side *b, const struct side *t, json_t *id0, json_t *codes,
                           json_t *details)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "kind", json_string("kvtier.compare"));
    json_object_set_new(o, "engine", json_string(engine_of(b, t)));
    json_object_set_new(o, "phase", json_string(c->phase));
    json_object_set_new(o, "identity", id0);
    json_object_set_new(o, "baseline", side_json(b, c->phase));
    json_object_set_new(o, "treatment", side_json(t, c->phase));
    json_object_set_new(o, "method", method_json(c));
    json_t *jm = json_object();
    json_t *pmj = NULL;
    size_t nm;
    const struct rundir_metric *metrics = rundir_metrics(&nm);
    for (size_t i = 0; i < nm; i++) {
        json_t *x = metric_json(c, &metrics[i], b, t, c->seed + i);
        if (&metrics[i] == pm)
            pmj = x;
        json_object_set_new(jm, metrics[i].key, x);
    }
    json_object_set_new(o, "metrics", jm);
    json_object_set_new(o, "pooled_requests", pooled_json(c, b, t, c->seed));
    side_reasons(c, b, t, codes, details);
    tail_reason(c, pm, b, t, codes, details);
    bool dg = json_array_size(codes) == 0;
    json_object_set_new(o, "decision_grade", json_boolean(dg));
    json_object_set_new(o, "reason_codes", codes);
    json_object_set_new(o, "details", details);
    json_object_set_new(o, "primary_metric", json_string(pm->key));
    json_object_set_new(o, "headline", headline(c, b, t, pm, pmj, dg));
    return o;
}

int compare_run(const struct compare_config *c, json_t **doc, struct diag *d)
{
    const struct rundir_metric *pm = rundir_metric_find(c->primary ? c->primary : "ttft_p95_ms");
    if (!pm)
        return diag_set(d, -EINVAL, 0, 0, "--primary: unknown metric '%s' (valid: %s)", c->primary,
                        rundir_metric_names());
    struct side b = { .name = "baseline", .dir = c->baseline },
                t = { .name = "treatment", .dir = c->treatment };
    json_t *codes = NULL, *details = NULL, *id0 = NULL, *diffs = NULL;
    int r = load_side(&b, c->phase, d);
    if (r == 0)
        r = load_side(&t, c->phase, d);
    if (r < 0)
        goto out;
    codes = json_array();
    details = json_object();
    /* Comparable inputs: every bundle of both sides has the first valid bundle's identity. */
    diffs = identity_diffs(&b, &t, &id0);
    if (json_array_size(diffs) > 0) {
        if (!c->allow_mismatch) {
            diag_file(d, "");
            r = diag_set(d, -EINVAL, 0, 0,
                         "the bundles do not run the same experiment (%s%s); pass "
                         "--allow-mismatch to compare them anyway",
                         json_string_value(json_array_get(diffs, 0)),
                         json_array_size(diffs) > 1 ? ", ..." : "");
            goto out;
        }
        add_reason(codes, details, "WORKLOAD_MISMATCH", json_pack("{s:O}", "why", diffs));
    }
    *doc = compare_doc(c, pm, &b, &t, id0, codes, details);
    codes = details = id0 = NULL;
out:
    json_decref(diffs);
    json_decref(id0);
    json_decref(codes);
    json_decref(details);
    free_side(&b);
    free_side(&t);
    return r;
}

static void md_num(struct buf *m, double v)
{
    if (!isfinite(v))
        buf_append_str(m, "–");
    else if (fabs(v) >= 100)
        buf_printf(m, "%.1f", v);
    else
        buf_printf(m, "%.3g", v);
}

static void md_change(struct buf *m, const json_t *x)
{
    double ratio = jsonx_num(x, "ratio", NAN);
    const json_t *ci = json_object_get(x, "ratio_ci");
    if (!isfinite(ratio)) {
        buf_append_str(m, "– | –");
        return;
    }
    if (!isfinite(arr_num(ci, 0))) {
        buf_printf(m, "%+.1f%% | –", (ratio - 1) * 100);
        return;
    }
    buf_printf(m, "%+.1f%% | %+.1f%% to %+.1f%%", (ratio - 1) * 100, (arr_num(ci, 0) - 1) * 100,
               (arr_num(ci, 1) - 1) * 100);
}

char *compare_markdown(const json_t *doc)
{
    struct buf m;
    buf_init(&m, 1u << 22);
    const json_t *b = json_object_get(doc, "baseline"), *t = json_object_get(doc, "treatment");
    const char *bm = jsonx_str(b, "mode", "?"), *tm = jsonx_str(t, "mode", "?");
    buf_printf(&m, "# kvtier compare: %s (baseline) vs %s (treatment), %s phase\n\n", bm, tm,
               jsonx_str(doc, "phase", "?"));
    buf_printf(&m, "**%s**\n\n", jsonx_str(doc, "headline", ""));
    buf_printf(&m, "Decision-grade: **%s**",
               jsonx_bool(doc, "decision_grade", false) ? "yes" : "no");
    const json_t *codes = json_object_get(doc, "reason_codes");
    size_t i;
    const json_t *v;
    if (json_array_size(codes)) {
        buf_append_str(&m, " —");
        json_array_foreach ((json_t *)codes, i, v)
            buf_printf(&m, " `%s`", json_string_value(v));
    }
    buf_append_str(&m, "\n\n");
    const json_t *det = json_object_get(doc, "details");
    json_array_foreach ((json_t *)codes, i, v) {
        const json_t *why = jsonx_path(json_object_get(det, json_string_value(v)), "why");
        size_t k;
        const json_t *w;
        json_array_foreach ((json_t *)why, k, w)
            buf_printf(&m, "- `%s`: %s\n", json_string_value(v), json_string_value(w));
    }
    buf_printf(&m, "\n| side | mode | directory | bundles | valid | decision-grade "
                   "|\n|---|---|---|---|---|---|\n");
    for (int s = 0; s < 2; s++) {
        const json_t *x = s ? t : b;
        buf_printf(&m, "| %s | %s | `%s` | %d | %d | %d |\n", s ? "treatment" : "baseline",
                   jsonx_str(x, "mode", "?"), jsonx_str(x, "dir", "?"),
                   (int)jsonx_i64(x, "bundles", 0), (int)jsonx_i64(x, "valid", 0),
                   (int)jsonx_i64(x, "decision_grade", 0));
    }
    const json_t *meth = json_object_get(doc, "method");
    double level = jsonx_num(meth, "level", 0.95) * 100;
    buf_printf(
        &m,
        "\n## Per repeat\n\nOne value per valid repeat; change = ratio of geometric means "
        "(treatment / baseline) - 1 with its %.0f%% Welch interval on logs; p from a "
        "two-sided Mann-Whitney test (with 3 vs 3 repeats it cannot go below 0.1, and "
        "the interval decides alone); P(better) = chance that a treatment repeat beats "
        "a baseline repeat.\n\n| metric | better | %s mean | %s mean | change | %.0f%% CI | p | "
        "P(better) | n | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n",
        level, bm, tm, level);
    const char *k;
    const json_t *x;
    json_object_foreach ((json_t *)json_object_get(doc, "metrics"), k, x) {
        buf_printf(&m, "| %s | %s | ", jsonx_str(x, "label", k), jsonx_str(x, "better", ""));
        md_num(&m, jsonx_num(json_object_get(x, "baseline"), "mean", NAN));
        buf_append_str(&m, " | ");
        md_num(&m, jsonx_num(json_object_get(x, "treatment"), "mean", NAN));
        buf_append_str(&m, " | ");
        md_change(&m, x);
        buf_append_str(&m, " | ");
        md_num(&m, jsonx_num(json_object_get(x, "mann_whitney"), "p", NAN));
        buf_append_str(&m, " | ");
        md_num(&m, jsonx_num(json_object_get(x, "mann_whitney"), "p_superiority", NAN));
        buf_printf(
            &m, " | %d vs %d | %s |\n", (int)jsonx_i64(json_object_get(x, "baseline"), "n", 0),
            (int)jsonx_i64(json_object_get(x, "treatment"), "n", 0), jsonx_str(x, "verdict", ""));
    }
    const json_t *pool = json_object_get(doc, "pooled_requests");
    buf_printf(&m,
               "\n## Requests pooled over the repeats\n\nTTFT from the intended send time of "
               "every successful request of the phase; %s.\n\n| quantile | %s (ms) | %s (ms) | "
               "change | %.0f%% CI | requests | verdict |\n|---|---|---|---|---|---|---|\n",
               jsonx_str(pool, "method", ""), bm, tm, level);
    for (size_t q = 0; q < NPOOLED; q++) {
        const json_t *y = json_object_get(pool, pooled_q[q].key);
        buf_printf(&m, "| %s | ", pooled_q[q].key);
        md_num(&m, jsonx_num(y, "baseline", NAN));
        buf_append_str(&m, " | ");
        md_num(&m, jsonx_num(y, "treatment", NAN));
        buf_append_str(&m, " | ");
        md_change(&m, y);
        buf_printf(&m, " | %d vs %d | %s |\n", (int)jsonx_i64(y, "requests_baseline", 0),
                   (int)jsonx_i64(y, "requests_treatment", 0), jsonx_str(y, "verdict", ""));
    }
    for (int s = 0; s < 2; s++) {
        const json_t *exc = json_object_get(s ? t : b, "excluded");
        json_array_foreach ((json_t *)exc, i, v) {
            char *rc =
                json_dumps(json_object_get(v, "reason_codes"), JSON_COMPACT | JSON_ENCODE_ANY);
            buf_printf(&m, "%s- excluded (%s, run_valid false): `%s` %s\n", i == 0 ? "\n" : "",
                       s ? "treatment" : "baseline", jsonx_str(v, "dir", "?"), rc ? rc : "");
            free(rc);
        }
    }
    buf_printf(&m,
               "\nMethod: %s; %s; %s; seed %d, %d resamples; changes under %.0f%% are "
               "`negligible`; a decision needs %d valid repeats per side.\n",
               jsonx_str(meth, "unit", ""), jsonx_str(meth, "interval", ""),
               jsonx_str(meth, "test", ""), (int)jsonx_i64(meth, "seed", 0),
               (int)jsonx_i64(meth, "resamples", 0), jsonx_num(meth, "min_effect", 0) * 100,
               (int)jsonx_i64(meth, "repeats_min", 0));
    return buf_take_str(&m);
}
