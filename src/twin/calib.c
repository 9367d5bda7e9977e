/* SPDX-License-Identifier: Apache-2.0 */
/* Calibration of the twin (see calib.h). */
#include "twin/calib.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "engine/cost.h"
#include "twin/fit.h"

const char *const calib_param_names[CALIB__N] = {
    "mfu_prefill",         "mbu_decode",           "step_overhead_s", "per_seq_overhead_s",
    "kv_read_bytes_per_s", "ssd_read_bytes_per_s", "attn_mfu",
};
const char *const calib_metric_names[CALIB_METRICS] = { "ttft_p50_ms", "ttft_p95_ms",
                                                        "itl_p50_ms" };

static const size_t param_off[CALIB__N] = {
    offsetof(struct hw_profile, mfu_prefill),
    offsetof(struct hw_profile, mbu_decode),
    offsetof(struct hw_profile, step_overhead_s),
    offsetof(struct hw_profile, per_seq_overhead_s),
    offsetof(struct hw_profile, kv_read_bytes_per_s),
    offsetof(struct hw_profile, ssd_read_bytes_per_s),
    offsetof(struct hw_profile, attn_mfu),
};
static const double param_lo[CALIB__N] = { 0.01, 0.02, 1e-6, 1e-7, 1e8, 1e7, 0.01 };
static const double param_hi[CALIB__N] = { 1.0, 1.0, 1.0, 0.1, 1e14, 1e12, 1.0 };

static double *pfield(struct hw_profile *h, int k)
{
    return (double *)((char *)h + param_off[k]);
}

/* Sets the fitted parameters of h from x (log space, clamped to the bounds). */
static void apply(struct hw_profile *h, const bool *fit, const double *x)
{
    size_t j = 0;
    for (int k = 0; k < CALIB__N; k++) {
        if (!fit[k])
            continue;
        double v = exp(x[j++]);
        *pfield(h, k) = fmin(fmax(v, param_lo[k]), param_hi[k]);
    }
}

static double metric(const struct twin_metrics *m, int i)
{
    return i == 0 ? m->ttft_p50_ms : i == 1 ? m->ttft_p95_ms : m->itl_p50_ms;
}

/* ---- from bundles ------------------------------------------------------------------------ */

struct bctx {
    struct calib_result *r;
    bool train; /* objective over train (else held-out) cases */
    struct twin_out *out;
};

static int predict(const struct twin_bundle *b, const struct hw_profile *h, struct twin_out *out,
                   struct twin_metrics *m, struct twin_stats *st)
{
    struct twin_config c = b->cfg;
    c.hw = *h;
    struct diag d = { 0 };
    int rc = twin_run(&c, &b->plan, out, st, &d);
    twin_metrics_predicted(&b->plan, out, NULL, m);
    return rc;
}

static double objective(const double *x, void *arg)
{
    struct bctx *cx = arg;
    struct calib_result *r = cx->r;
    struct hw_profile h = r->fitted;
    apply(&h, r->fit, x);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n_cases; i++) {
        struct calib_case *c = &r->cases[i];
        if (c->excluded || c->held_out == cx->train)
            continue;
        struct twin_metrics m;
        struct twin_stats st;
        if (predict(c->b, &h, cx->out, &m, &st) < 0)
            return HUGE_VAL;
        /* every phase's figures (different batch mixes make the overheads identifiable) */
        for (uint32_t ph = 0; ph <= c->b->plan.n_phase; ph++) {
            const struct twin_metrics *meas = ph ? &c->meas_phase[ph - 1] : &c->meas;
            if (ph)
                twin_metrics_predicted(&c->b->plan, cx->out, c->b->plan.phase[ph - 1], &m);
            for (int k = 0; k < CALIB_METRICS; k++) {
                double a = metric(&m, k), b = metric(meas, k);
                if (!(a > 0) || !(b > 0))
                    continue;
                sum += fabs(log(a / b)); /* L1: robust to a tail quantile of a few requests */
                n++;
            }
        }
    }
    return n ? sum / (double)n : HUGE_VAL;
}

static double mape_of(struct calib_result *r, bool held, bool after, double *per_metric)
{
    double sum = 0, pm[CALIB_METRICS] = { 0 };
    size_t n = 0, pn[CALIB_METRICS] = { 0 };
    for (size_t i = 0; i < r->n_cases; i++) {
        const struct calib_case *c = &r->cases[i];
        if (c->excluded || c->held_out != held)
            continue;
        for (int k = 0; k < CALIB_METRICS; k++) {
            double p = metric(after ? &c->after : &c->before, k), m = metric(&c->meas, k);
            if (!(m > 0) || !isfinite(p))
                continue;
            double ape = fabs(p - m) / m * 100;
            sum += ape;
            n++;
            pm[k] += ape;
            pn[k]++;
        }
    }
    for (int k = 0; per_metric && k < CALIB_METRICS; k++)
        per_metric[k] = pn[k] ? pm[k] / (double)pn[k] : NAN;
    return n ? sum / (double)n : NAN;
}

/* Reason codes that say a run's latencies were measured under outside interference. */
static const char *const unclean_codes[] = { "SYSTEM_NOISE", "CLIENT_LAG", "THERMAL_THROTTLE" };

/* Appends "code (why; why)" of the verdict's reason code to out. */
static void add_reason(struct buf *out, const json_t *v, const char *code)
{
    buf_printf(out, "%s%s", out->len ? ", " : "", code);
    json_t *whys = json_object_get(json_object_get(json_object_get(v, "details"), code), "why");
    size_t i;
    json_t *w;
    json_array_foreach (whys, i, w) {
        if (json_is_string(w))
            buf_printf(out, "%s%s", i ? "; " : " (", json_string_value(w));
        if (i + 1 == json_array_size(whys))
            buf_printf(out, ")");
    }
}

bool calib_bundle_unclean(const struct twin_bundle *b, char *why, size_t n)
{
    const json_t *v = b->verdict;
    struct buf out;
    buf_init(&out, 0);
    if (json_is_false(json_object_get(v, "run_valid")))
        buf_printf(&out, "run_valid false");
    if (json_is_true(json_object_get(json_object_get(v, "evidence"), "interrupted")))
        buf_printf(&out, "%sinterrupted", out.len ? ", " : "");
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(v, "reason_codes"), i, c) {
        for (size_t k = 0; k < sizeof(unclean_codes) / sizeof(unclean_codes[0]); k++)
            if (json_is_string(c) && strcmp(json_string_value(c), unclean_codes[k]) == 0)
                add_reason(&out, v, unclean_codes[k]);
    }
    bool unclean = out.len > 0;
    if (n)
        snprintf(why, n, "%s", buf_str(&out));
    buf_fini(&out);
    return unclean;
}

static void setup_cases(struct twin_bundle *bs, size_t n, bool include_unclean,
                        struct calib_result *r)
{
    r->cases = xcalloc(n, sizeof(*r->cases));
    r->n_cases = n;
    for (size_t i = 0; i < n; i++) {
        struct calib_case *c = &r->cases[i];
        c->b = &bs[i];
        r->n_unclean += calib_bundle_unclean(&bs[i], c->unclean, sizeof(c->unclean));
        c->excluded = c->unclean[0] && !include_unclean;
        r->n_excluded += c->excluded;
    }
    /* stratified by mode (bundles come sorted by directory): within each mode the second of
       every three bundles used is held out, so each mode is in both sets once it has two */
    size_t used = n - r->n_excluded;
    for (size_t i = 0; i < n; i++) {
        struct calib_case *c = &r->cases[i];
        size_t k = 0;
        for (size_t j = 0; j < i; j++)
            k += !r->cases[j].excluded && strcmp(bs[j].mode, bs[i].mode) == 0;
        c->held_out = !c->excluded && k % 3 == 1;
        c->meas = bs[i].measured;
        for (uint32_t ph = 0; ph < bs[i].plan.n_phase; ph++)
            twin_metrics_measured(&bs[i].plan, bs[i].plan.phase[ph], &c->meas_phase[ph]);
        r->n_held += c->held_out;
    }
    if (r->n_held == used) /* never leave nothing to train on */
        for (size_t i = 0; i < n; i++)
            r->n_held -= r->cases[i].held_out && i % 2 == 0 ? (r->cases[i].held_out = false, 1) : 0;
    r->n_train = used - r->n_held;
}

int calib_bundles(struct twin_bundle *bs, size_t n, const struct calib_opts *o,
                  struct calib_result *r, struct diag *d)
{
    *r = (struct calib_result){ .mape_train = NAN, .mape_held = NAN, .mape_held_before = NAN };
    if (n == 0)
        return diag_set(d, -EINVAL, 0, 0, "no bundles to calibrate from");
    size_t max_req = 0;
    for (size_t i = 0; i < n; i++) {
        if (bs[i].measured.n == 0)
            return diag_set(d, -EINVAL, 0, 0, "%s: no successful request to fit", bs[i].dir);
        if (bs[i].plan.n_req > max_req)
            max_req = bs[i].plan.n_req;
    }
    r->fitted = bs[0].cfg.hw;
    if (o->ssd_read_bytes_per_s > 0)
        r->fitted.ssd_read_bytes_per_s = o->ssd_read_bytes_per_s;
    if (o->ssd_write_bytes_per_s > 0)
        r->fitted.ssd_write_bytes_per_s = o->ssd_write_bytes_per_s;
    setup_cases(bs, n, o->include_unclean, r);
    if (r->n_train == 0) {
        calib_result_free(r);
        return diag_set(d, -EINVAL, 0, 0,
                        "all %zu bundles have verdicts saying their measurement is not clean "
                        "(SYSTEM_NOISE, CLIENT_LAG, ...): none left to calibrate from "
                        "(--include-unclean uses them anyway)",
                        n);
    }
    struct bctx cx = { .r = r, .train = true, .out = xcalloc(max_req + 1, sizeof(*cx.out)) };
    bool disk = false;
    for (size_t i = 0; i < n; i++) {
        struct twin_stats st;
        struct twin_config c = bs[i].cfg;
        c.hw = r->fitted;
        struct diag dd = { 0 };
        if (twin_run(&c, &bs[i].plan, cx.out, &st, &dd) == 0 && st.onboard_d_blocks &&
            !r->cases[i].held_out && !r->cases[i].excluded)
            disk = true;
        twin_metrics_predicted(&bs[i].plan, cx.out, NULL, &r->cases[i].before);
    }
    r->fit[CALIB_MFU] = r->fit[CALIB_MBU] = r->fit[CALIB_STEP] = r->fit[CALIB_PER_SEQ] = true;
    r->fit[CALIB_SSD_READ] = disk && !(o->ssd_read_bytes_per_s > 0);
    double x[FIT_MAX_PARAMS], step[FIT_MAX_PARAMS];
    size_t k = 0;
    for (int p = 0; p < CALIB__N; p++) {
        r->start[p] = r->value[p] = *pfield(&r->fitted, p);
        if (!r->fit[p])
            continue;
        x[k] = log(fmax(r->start[p], param_lo[p]));
        step[k++] = 0.7;
    }
    /* restarts from the best point with fresh simplices: NM stalls on flat valleys */
    unsigned budget = o->max_evals ? o->max_evals : 400;
    for (int round = 0; round < 3; round++) {
        fit_nelder_mead(objective, &cx, x, step, k, budget / 3, 1e-7);
        for (size_t j = 0; j < k; j++)
            step[j] *= 0.5;
    }
    apply(&r->fitted, r->fit, x);
    for (int p = 0; p < CALIB__N; p++)
        r->value[p] = *pfield(&r->fitted, p);
    for (size_t i = 0; i < n; i++) {
        struct twin_stats st;
        struct calib_case *c = &r->cases[i];
        predict(c->b, &r->fitted, cx.out, &c->after, &st);
        for (int m = 0; m < CALIB_METRICS; m++) {
            double a = metric(&c->after, m), b = metric(&c->meas, m);
            c->ape[m] = b > 0 && isfinite(a) ? fabs(a - b) / b * 100 : NAN;
        }
    }
    free(cx.out);
    r->mape_train = mape_of(r, false, true, NULL);
    r->mape_held = mape_of(r, true, true, r->mape_held_metric);
    r->mape_held_before = mape_of(r, true, false, NULL);
    return 0;
}

void calib_result_free(struct calib_result *r)
{
    free(r->cases);
    r->cases = NULL;
}
