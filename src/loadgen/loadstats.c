/* SPDX-License-Identifier: Apache-2.0 */
/* Exact per-phase statistics from finished requests (see loadstats.h). */
#include "loadgen/loadstats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/quantci.h"
#include "common/stats.h"
#include "common/xalloc.h"

enum dist {
    D_TTFT,
    D_TTFT_SENT,
    D_TTFC,
    D_TTFC_SENT,
    D_ITL,
    D_TPOT,
    D_E2E,
    D_E2E_SENT,
    D_LAG,
    D_SEND_LAG,
    D__COUNT
};

static const char *const dist_names[D__COUNT] = {
    "ttft_ms", "ttft_sent_ms", "ttfc_ms",     "ttfc_sent_ms",  "itl_ms",
    "tpot_ms", "e2e_ms",       "e2e_sent_ms", "client_lag_ms", "send_lag_ms",
};

struct dvec {
    double *v;
    size_t n, cap;
};

struct acc {
    char name[64];
    bool measured;
    struct dvec d[D__COUNT];
    uint64_t requests, errors, good, by_class[LOADREC_ERROR__COUNT];
    uint64_t output_tokens, prompt_tokens, cached_tokens, usage_count, not_sent;
    uint64_t t_begin_ns, t_end_ns, t_first_intended_ns, t_last_end_ns;
    uint64_t t_first_sent_ns, t_last_sent_ns, sent_count;
};

struct loadstats {
    struct loadgen_slo slo;
    struct acc *phases;
    size_t n, cap;
    struct acc all;
};

struct loadstats *loadstats_new(const struct loadgen_slo *slo)
{
    struct loadstats *s = xcalloc(1, sizeof(*s));
    if (slo)
        s->slo = *slo;
    snprintf(s->all.name, sizeof(s->all.name), "all");
    return s;
}

static void acc_fini(struct acc *a)
{
    for (int i = 0; i < D__COUNT; i++)
        free(a->d[i].v);
}

void loadstats_free(struct loadstats *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        acc_fini(&s->phases[i]);
    acc_fini(&s->all);
    free(s->phases);
    free(s);
}

int loadstats_phase_begin(struct loadstats *s, const char *name, bool measured, uint64_t t_ns)
{
    xalloc_grow((void **)&s->phases, &s->cap, s->n + 1, sizeof(*s->phases));
    struct acc *a = &s->phases[s->n];
    *a = (struct acc){ .measured = measured, .t_begin_ns = t_ns };
    snprintf(a->name, sizeof(a->name), "%s", name);
    if (measured && (!s->all.t_begin_ns || t_ns < s->all.t_begin_ns))
        s->all.t_begin_ns = t_ns;
    return (int)s->n++;
}

static void push(struct dvec *d, double v)
{
    if (isnan(v))
        return;
    xalloc_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(double));
    d->v[d->n++] = v;
}

static bool is_good(const struct loadstats *s, const struct loadrec *r)
{
    if (r->error != LOADREC_OK)
        return false;
    double ttft = loadrec_ttft_ms(r), tpot = loadrec_tpot_ms(r), e2e = loadrec_e2e_ms(r);
    if (s->slo.ttft_ms > 0 && !(ttft <= s->slo.ttft_ms))
        return false;
    if (s->slo.tpot_ms > 0 && !isnan(tpot) && !(tpot <= s->slo.tpot_ms))
        return false;
    if (s->slo.e2e_ms > 0 && !(e2e <= s->slo.e2e_ms))
        return false;
    return true;
}

static void acc_add(struct acc *a, const struct loadrec *r, bool good)
{
    a->requests++;
    a->by_class[r->error]++;
    if (r->error != LOADREC_OK)
        a->errors++;
    if (good)
        a->good++;
    if (r->t_intended_ns && (!a->t_first_intended_ns || r->t_intended_ns < a->t_first_intended_ns))
        a->t_first_intended_ns = r->t_intended_ns;
    if (r->t_sent_ns) {
        a->sent_count++;
        if (!a->t_first_sent_ns || r->t_sent_ns < a->t_first_sent_ns)
            a->t_first_sent_ns = r->t_sent_ns;
        if (r->t_sent_ns > a->t_last_sent_ns)
            a->t_last_sent_ns = r->t_sent_ns;
    }
    uint64_t end = r->t_end_ns ? r->t_end_ns : r->t_last_token_ns;
    if (end > a->t_last_end_ns)
        a->t_last_end_ns = end;
    /* latency distributions describe successful requests; errors are counted apart and
     * count against goodput */
    push(&a->d[D_LAG], loadrec_lag_ms(r));
    push(&a->d[D_SEND_LAG], loadrec_send_lag_ms(r));
    if (r->error != LOADREC_OK)
        return;
    a->output_tokens += loadrec_output_tokens(r);
    if (r->prompt_tokens >= 0) {
        a->prompt_tokens += (uint64_t)r->prompt_tokens;
        a->usage_count++;
    }
    if (r->cached_tokens >= 0)
        a->cached_tokens += (uint64_t)r->cached_tokens;
    push(&a->d[D_TTFT], loadrec_ttft_ms(r));
    push(&a->d[D_TTFT_SENT], loadrec_ttft_sent_ms(r));
    push(&a->d[D_TTFC], loadrec_ttfc_ms(r));
    double ttfc_sent = r->t_first_content_ns && r->t_sent_ns
                           ? ((double)r->t_first_content_ns - (double)r->t_sent_ns) / 1e6
                           : NAN;
    push(&a->d[D_TTFC_SENT], ttfc_sent);
    push(&a->d[D_TPOT], loadrec_tpot_ms(r));
    push(&a->d[D_E2E], loadrec_e2e_ms(r));
    double e2e_sent = r->t_last_token_ns && r->t_sent_ns
                          ? ((double)r->t_last_token_ns - (double)r->t_sent_ns) / 1e6
                          : NAN;
    push(&a->d[D_E2E_SENT], e2e_sent);
    for (size_t i = 0; i < r->n_gaps; i++) {
        uint32_t k = r->gap_tokens[i] ? r->gap_tokens[i] : 1;
        double per = (double)r->gaps_ns[i] / 1e6 / k;
        for (uint32_t j = 0; j < k && j < 4096; j++)
            push(&a->d[D_ITL], per);
    }
}

void loadstats_add(struct loadstats *s, int idx, const struct loadrec *r)
{
    if (idx < 0 || (size_t)idx >= s->n)
        return;
    bool good = is_good(s, r);
    acc_add(&s->phases[idx], r, good);
    if (s->phases[idx].measured)
        acc_add(&s->all, r, good);
}

void loadstats_phase_end(struct loadstats *s, int idx, uint64_t t_ns, uint64_t not_sent)
{
    if (idx < 0 || (size_t)idx >= s->n)
        return;
    s->phases[idx].t_end_ns = t_ns;
    s->phases[idx].not_sent += not_sent;
    if (s->phases[idx].measured) {
        s->all.t_end_ns = t_ns;
        s->all.not_sent += not_sent;
    }
}

static json_t *acc_json(struct acc *a, const struct loadstats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "requests", json_integer((json_int_t)a->requests));
    json_object_set_new(o, "errors", json_integer((json_int_t)a->errors));
    jsonx_set_num(o, "error_rate", a->requests ? (double)a->errors / (double)a->requests : NAN);
    /* duration: first intended send to the last end (the measured window, drain included) */
    double dur = NAN;
    if (a->t_first_intended_ns && a->t_last_end_ns > a->t_first_intended_ns)
        dur = (double)(a->t_last_end_ns - a->t_first_intended_ns) / 1e9;
    jsonx_set_num(o, "duration_s", dur);
    uint64_t ok = a->by_class[LOADREC_OK];
    jsonx_set_num(o, "throughput_rps", (double)ok / dur);
    jsonx_set_num(o, "output_tps", (double)a->output_tokens / dur);
    jsonx_set_num(o, "goodput_rps", (double)a->good / dur);
    jsonx_set_num(o, "good_fraction", a->requests ? (double)a->good / (double)a->requests : NAN);
    json_t *cls = json_object();
    for (int i = 1; i < LOADREC_ERROR__COUNT; i++)
        json_object_set_new(cls, loadrec_error_name((enum loadrec_error)i),
                            json_integer((json_int_t)a->by_class[i]));
    json_object_set_new(o, "errors_by_class", cls);
    json_object_set_new(o, "not_sent", json_integer((json_int_t)a->not_sent));
    json_object_set_new(o, "output_tokens", json_integer((json_int_t)a->output_tokens));
    json_object_set_new(o, "prompt_tokens", json_integer((json_int_t)a->prompt_tokens));
    json_object_set_new(o, "cached_tokens", json_integer((json_int_t)a->cached_tokens));
    jsonx_set_num(o, "cached_pct",
                  a->prompt_tokens ? 100.0 * (double)a->cached_tokens / (double)a->prompt_tokens
                                   : NAN);
    for (int i = 0; i < D__COUNT; i++) {
        struct stats_summary sum;
        stats_summarize(a->d[i].v, a->d[i].n, &sum);
        json_t *dj = stats_summary_json(&sum);
        /* every quantile with its n and order-statistic interval (a->d[i].v is now sorted) */
        quantci_add_summary(dj, a->d[i].v, a->d[i].n);
        json_object_set_new(o, dist_names[i], dj);
    }
    /* schedule fidelity: achieved send rate and whether the client kept up */
    double span = a->t_last_sent_ns > a->t_first_sent_ns
                      ? (double)(a->t_last_sent_ns - a->t_first_sent_ns) / 1e9
                      : NAN;
    jsonx_set_num(o, "send_rate_per_s",
                  a->sent_count > 1 ? (double)(a->sent_count - 1) / span : NAN);
    double limit = s->slo.client_lag_limit_ms > 0 ? s->slo.client_lag_limit_ms : 1.0;
    json_t *lag = json_object_get(o, "client_lag_ms");
    double lag99 = jsonx_num(lag, "p99", NAN);
    jsonx_set_num(o, "client_lag_limit_ms", limit);
    json_object_set_new(o, "client_lag_exceeded", json_boolean(!isnan(lag99) && lag99 > limit));
    json_t *slo = json_object();
    jsonx_set_num(slo, "ttft_ms", s->slo.ttft_ms > 0 ? s->slo.ttft_ms : NAN);
    jsonx_set_num(slo, "tpot_ms", s->slo.tpot_ms > 0 ? s->slo.tpot_ms : NAN);
    jsonx_set_num(slo, "e2e_ms", s->slo.e2e_ms > 0 ? s->slo.e2e_ms : NAN);
    json_object_set_new(o, "slo", slo);
    return o;
}

json_t *loadstats_phase_json(struct loadstats *s, int idx)
{
    if (idx < 0 || (size_t)idx >= s->n)
        return json_null();
    return acc_json(&s->phases[idx], s);
}

json_t *loadstats_phases_json(struct loadstats *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(o, s->phases[i].name, acc_json(&s->phases[i], s));
    json_object_set_new(o, "all", acc_json(&s->all, s));
    return o;
}
