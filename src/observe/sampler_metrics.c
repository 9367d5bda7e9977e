/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics samplers: the KVBM endpoints (one per worker, summed) and the frontend endpoint,
 * scraped every tick into a time series of every non-bucket series, and at the phase edges
 * the whole pages (phase_<name>_<endpoint>_metrics_{start,end}.json) and their deltas
 * (..._delta.json: counters with reset detection, gauges, histogram buckets). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "observe/sampler.h"

/* One of the two endpoint sets. */
struct epset {
    const char *name; /* "kvbm" or "frontend" in file names */
    struct endpoint *eps;
    size_t n;
    struct prom_page **snap; /* the pages of a snapshot */
};

static struct epset set_of(struct observe *o, bool fe, const struct snap *s)
{
    assert(o->n_kvbm <= OBSERVE_MAX_URLS);
    if (fe)
        return (struct epset){ "frontend", &o->fe, o->have_fe ? 1 : 0,
                               s ? (struct prom_page **)&s->fe : NULL };
    return (struct epset){ "kvbm", o->kvbm, o->n_kvbm, s ? (struct prom_page **)s->kvbm : NULL };
}

static void scrape_endpoint(struct observe *o, struct endpoint *e, struct buf *b)
{
    struct diag d = { 0 };
    int r = scrape_fetch(e->sc, o->scrape_timeout_ns, b, e->err);
    if (r == 0) {
        struct prom_page p;
        r = prom_parse(buf_str(b), b->len, &p, &d);
        if (r < 0) {
            snprintf(e->err, sizeof(e->err), "%.100s: line %u: %.140s", scrape_url(e->sc), d.line,
                     d.msg);
        } else {
            prom_page_fini(&e->page);
            e->page = p;
        }
    }
    e->ok = r == 0;
}

static void write_timeseries(struct observe *o, FILE *csv, struct endpoint *eps, size_t n,
                             const char *tcols)
{
    const struct prom_page *pages[OBSERVE_MAX_URLS];
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        pages[i] = eps[i].ok ? &eps[i].page : NULL;
        ok += eps[i].ok;
    }
    if (!csv)
        return;
    json_t *sum = promdelta_sum_json(pages, n);
    json_t *series = json_object_get(sum, "series");
    const char *key;
    json_t *v;
    json_object_foreach (series, key, v) {
        /* Histogram buckets stay out of the time series (they are in the phase deltas). */
        const char *brace = strchr(key, '{');
        size_t nl = brace ? (size_t)(brace - key) : strlen(key);
        if (nl > 7 && !memcmp(key + nl - 7, "_bucket", 7))
            continue;
        char num[64];
        if (json_is_number(v))
            snprintf(num, sizeof(num), "%.17g", json_number_value(v));
        else
            num[0] = 0;
        /* CSV-quote the key: labels contain commas and quotes. */
        struct buf q;
        buf_init(&q, 0);
        for (const char *p = key; *p; p++) {
            if (*p == '"')
                buf_append_str(&q, "\"\"");
            else
                buf_append(&q, p, 1);
        }
        sampler_row(o, csv, "%s%zu,%zu,\"%s\",%s\n", tcols, ok, n, buf_str(&q), num);
        buf_fini(&q);
    }
    json_decref(sum);
}

static struct prom_page *page_copy(const struct endpoint *e)
{
    if (!e->ok)
        return NULL;
    struct prom_page *p = xcalloc(1, sizeof(*p));
    p->n = p->cap = e->page.n;
    p->s = xcalloc(p->n ? p->n : 1, sizeof(*p->s));
    for (size_t i = 0; i < p->n; i++) {
        const struct prom_sample *a = &e->page.s[i];
        struct prom_sample *b = &p->s[i];
        *b = *a;
        b->key = xstrdup(a->key);
        b->family = xstrdup(a->family);
        b->labels_nole = xstrdup(a->labels_nole);
        b->le = a->le ? xstrdup(a->le) : NULL;
    }
    return p;
}

static json_t *endpoints_json(const struct observe *o, const struct endpoint *eps, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "url", json_string(scrape_url(eps[i].sc)));
        json_object_set_new(e, "status", json_string(eps[i].ok ? "ok" : "unreachable"));
        if (!eps[i].ok)
            json_object_set_new(e, "error", json_string(eps[i].err));
        json_array_append_new(arr, e);
    }
    (void)o;
    return arr;
}

static int write_metrics_file(struct observe *o, const char *phase, const char *ep,
                              const char *which, json_t *body)
{
    char name[256];
    snprintf(name, sizeof(name), "phase_%s_%s_metrics_%s.json", phase, ep, which);
    int r = sampler_write_json(o, o->metrics_dir, name, body);
    return r;
}

static void sample_set(struct observe *o, bool fe, struct sampler_tick *t, FILE *csv)
{
    struct epset es = set_of(o, fe, NULL);
    if (!es.n)
        return;
    struct buf b;
    buf_init(&b, PROM_PAGE_MAX_BYTES);
    for (size_t i = 0; i < es.n; i++)
        scrape_endpoint(o, &es.eps[i], &b);
    buf_fini(&b);
    write_timeseries(o, csv, es.eps, es.n, t->tcols_nointv);
}

static void snapshot_set(struct observe *o, bool fe, struct snap *s, bool end)
{
    struct epset es = set_of(o, fe, s);
    if (!es.n)
        return;
    const struct prom_page *pages[OBSERVE_MAX_URLS];
    for (size_t i = 0; i < es.n; i++)
        pages[i] = es.snap[i] = page_copy(&es.eps[i]);
    json_t *j = promdelta_sum_json(pages, es.n);
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(j, "endpoint", json_string(es.name));
    json_object_set_new(j, "phase", json_string(o->phase));
    json_object_set_new(j, "t_unix_ns", json_integer((json_int_t)s->t_unix_ns));
    json_object_set_new(j, "endpoints", endpoints_json(o, es.eps, es.n));
    write_metrics_file(o, o->phase, es.name, end ? "end" : "start", j);
    json_decref(j);
}

static void delta_set(struct observe *o, bool fe, const struct snap *b, const struct snap *e,
                      struct sampler_phase *f, json_t *d)
{
    struct epset bs = set_of(o, fe, b), ee = set_of(o, fe, e);
    if (bs.n) {
        json_t *j = promdelta_json((const struct prom_page *const *)bs.snap,
                                   (const struct prom_page *const *)ee.snap, bs.n);
        json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(j, "endpoint", json_string(bs.name));
        json_object_set_new(j, "phase", json_string(o->phase));
        json_object_set_new(j, "duration_s", json_real(f->dur_s));
        write_metrics_file(o, o->phase, bs.name, "delta", j);
        json_decref(j);
    }
    /* reachability at the two edges, under "metrics" */
    size_t ok_b = 0, ok_e = 0;
    for (size_t i = 0; i < bs.n; i++) {
        ok_b += bs.snap[i] != NULL;
        ok_e += ee.snap[i] != NULL;
    }
    json_t *m = json_object_get(d, "metrics");
    if (!m) {
        m = json_object();
        json_object_set_new(d, "metrics", m);
    }
    json_t *k = json_object();
    json_object_set_new(k, "endpoints", json_integer((json_int_t)bs.n));
    json_object_set_new(k, "ok_start", json_integer((json_int_t)ok_b));
    json_object_set_new(k, "ok_end", json_integer((json_int_t)ok_e));
    json_object_set_new(m, bs.name, k);
}

static void fini_set(struct observe *o, bool fe)
{
    struct epset es = set_of(o, fe, NULL);
    for (size_t i = 0; i < es.n; i++) {
        scrape_free(es.eps[i].sc);
        es.eps[i].sc = NULL;
        prom_page_fini(&es.eps[i].page);
    }
}

static int kvbm_setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    for (size_t i = 0; i < cfg->n_kvbm_urls; i++)
        o->kvbm[o->n_kvbm++].sc = scrape_new(cfg->kvbm_urls[i]);
    json_t *x = json_object();
    json_t *urls = json_array();
    for (size_t i = 0; i < o->n_kvbm; i++)
        json_array_append_new(urls, json_string(scrape_url(o->kvbm[i].sc)));
    json_object_set_new(x, "urls", urls);
    sampler_source(o, "kvbm_metrics", o->n_kvbm > 0, "no KVBM metrics URL given", x);
    return o->n_kvbm ? 0 : SAMPLER_NO_CSV;
}

static void kvbm_sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    sample_set(o, false, t, csv);
}

static void kvbm_snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    snapshot_set(o, false, s, end);
}

static void kvbm_delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                       struct sampler_phase *f, json_t *d)
{
    delta_set(o, false, b, e, f, d);
}

static void kvbm_fini(struct observe *o, void *state)
{
    fini_set(o, false);
}

static int fe_setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    if (cfg->frontend_url) {
        o->fe.sc = scrape_new(cfg->frontend_url);
        o->have_fe = true;
    }
    json_t *x = json_object();
    if (o->have_fe)
        json_object_set_new(x, "url", json_string(scrape_url(o->fe.sc)));
    sampler_source(o, "frontend_metrics", o->have_fe, "no frontend metrics URL given", x);
    return o->have_fe ? 0 : SAMPLER_NO_CSV;
}

static void fe_sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    sample_set(o, true, t, csv);
}

static void fe_snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    snapshot_set(o, true, s, end);
}

static void fe_delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                     struct sampler_phase *f, json_t *d)
{
    delta_set(o, true, b, e, f, d);
}

static void fe_fini(struct observe *o, void *state)
{
    fini_set(o, true);
}

const struct sampler_ops sampler_kvbm_ops = {
    .name = "kvbm_metrics",
    .csv_name = "kvbm_timeseries.csv",
    .csv_header = "t_unix_ns,t_s,endpoints_ok,endpoints,series,value",
    .csv_raw = true,
    .setup = kvbm_setup,
    .sample = kvbm_sample,
    .snapshot = kvbm_snapshot,
    .delta = kvbm_delta,
    .fini = kvbm_fini,
};

const struct sampler_ops sampler_fe_ops = {
    .name = "frontend_metrics",
    .csv_name = "frontend_timeseries.csv",
    .csv_header = "t_unix_ns,t_s,endpoints_ok,endpoints,series,value",
    .csv_raw = true,
    .setup = fe_setup,
    .sample = fe_sample,
    .snapshot = fe_snapshot,
    .delta = fe_delta,
    .fini = fe_fini,
};
