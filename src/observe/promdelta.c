/* SPDX-License-Identifier: Apache-2.0 */
/* Phase arithmetic on parsed Prometheus pages (see promdelta.h). */
#include "observe/promdelta.h"

#include <math.h>
#include <stdlib.h>

#include "common/xalloc.h"

static void num_add(json_t *o, const char *key, double v)
{
    json_t *cur = json_object_get(o, key);
    double base = cur ? json_number_value(cur) : 0;
    if (!cur && isnan(v)) {
        json_object_set_new(o, key, json_null());
        return;
    }
    json_object_set_new(o, key, isfinite(base + v) ? json_real(base + v) : json_null());
}

json_t *promdelta_sum_json(const struct prom_page *const *pages, size_t n)
{
    json_t *root = json_object(), *series = json_object(), *types = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!pages[i])
            continue;
        for (size_t j = 0; j < pages[i]->n; j++) {
            const struct prom_sample *s = &pages[i]->s[j];
            if (s->role == PROM_ROLE_CREATED)
                continue;
            num_add(series, s->key, s->value);
            json_object_set_new(types, s->family, json_string(prom_type_name(s->type)));
        }
    }
    json_object_set_new(root, "series", series);
    json_object_set_new(root, "types", types);
    return root;
}

static bool counter_like(const struct prom_sample *s)
{
    if (s->type == PROM_COUNTER)
        return true;
    if ((s->type == PROM_HISTOGRAM || s->type == PROM_SUMMARY) &&
        (s->role == PROM_ROLE_BUCKET || s->role == PROM_ROLE_SUM || s->role == PROM_ROLE_COUNT))
        return true;
    return false;
}

static json_t *obj_child(json_t *o, const char *key)
{
    json_t *c = json_object_get(o, key);
    if (!c) {
        c = json_object();
        json_object_set_new(o, key, c);
    }
    return c;
}

static void add_counter(json_t *counters, json_t *hist, const struct prom_sample *ss,
                        const struct prom_sample *es)
{
    double start = ss ? ss->value : 0, end = es->value, delta;
    bool reset = false;
    if (end < start) {
        delta = end;
        reset = true;
    } else {
        delta = end - start;
    }
    if (es->type == PROM_HISTOGRAM || (es->type == PROM_SUMMARY && es->role != PROM_ROLE_VALUE)) {
        char *hk = es->labels_nole[0] ? xalloc_printf("%s{%s}", es->family, es->labels_nole)
                                      : xstrdup(es->family);
        json_t *h = obj_child(hist, hk);
        free(hk);
        if (es->role == PROM_ROLE_BUCKET)
            num_add(obj_child(h, "buckets"), es->le ? es->le : "", delta);
        else if (es->role == PROM_ROLE_SUM)
            num_add(h, "sum", delta);
        else if (es->role == PROM_ROLE_COUNT)
            num_add(h, "count", delta);
        if (reset)
            json_object_set_new(h, "reset", json_true());
        else if (!json_object_get(h, "reset"))
            json_object_set_new(h, "reset", json_false());
        return;
    }
    json_t *c = obj_child(counters, es->key);
    num_add(c, "start", start);
    num_add(c, "end", end);
    num_add(c, "delta", delta);
    if (reset || !json_object_get(c, "reset"))
        json_object_set_new(c, "reset", json_boolean(reset));
    if (!ss)
        json_object_set_new(c, "new", json_true());
}

json_t *promdelta_json(const struct prom_page *const *start, const struct prom_page *const *end,
                       size_t n)
{
    json_t *root = json_object();
    json_t *counters = json_object(), *gauges = json_object(), *hist = json_object();
    size_t missing = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!start[i] || !end[i]) {
            missing++;
            continue;
        }
        used++;
        for (size_t j = 0; j < end[i]->n; j++) {
            const struct prom_sample *es = &end[i]->s[j];
            const struct prom_sample *ss = prom_find(start[i], es->key);
            if (es->role == PROM_ROLE_CREATED)
                continue;
            if (counter_like(es)) {
                add_counter(counters, hist, ss, es);
            } else if (es->role == PROM_ROLE_QUANTILE) {
                char *hk = es->labels_nole[0] ? xalloc_printf("%s{%s}", es->family, es->labels_nole)
                                              : xstrdup(es->family);
                json_t *qs = obj_child(obj_child(hist, hk), "quantiles_end");
                free(hk);
                num_add(qs, es->le ? es->le : "", es->value);
            } else {
                json_t *g = obj_child(gauges, es->key);
                if (ss)
                    num_add(g, "start", ss->value);
                else if (!json_object_get(g, "start"))
                    json_object_set_new(g, "start", json_null());
                num_add(g, "end", es->value);
                json_t *pe = json_object_get(g, "end_per_endpoint");
                if (!pe) {
                    pe = json_array();
                    json_object_set_new(g, "end_per_endpoint", pe);
                }
                json_array_append_new(pe, isfinite(es->value) ? json_real(es->value) : json_null());
            }
        }
    }
    json_object_set_new(root, "endpoints_used", json_integer((json_int_t)used));
    json_object_set_new(root, "endpoints_missing", json_integer((json_int_t)missing));
    json_object_set_new(root, "counters", counters);
    json_object_set_new(root, "gauges", gauges);
    json_object_set_new(root, "histograms", hist);
    return root;
}
