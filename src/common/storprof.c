/* SPDX-License-Identifier: Apache-2.0 */
/* Storage profiles: vendor assertions beside measurement (storprof.h). */
#include "common/storprof.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "common/yamlx.h"

static const char *const metric_names[STORPROF_METRIC__COUNT] = {
    "seq_read_bytes_per_s", "seq_write_bytes_per_s",   "rand_read_iops",
    "rand_write_iops",      "endurance_bytes_written",
};

const char *storprof_metric_name(enum storprof_metric m)
{
    return m < STORPROF_METRIC__COUNT ? metric_names[m] : "?";
}

/* A string field into out (bounded); -EINVAL when required and absent, or not a string. */
static int get_str(const json_t *o, const char *key, const char *where, bool required, char *out,
                   size_t len, struct diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || (required && !json_string_length(v)))
        return diag_set(d, -EINVAL, 0, 0, "%s%s: %s a non-empty string", where, key,
                        v ? "must be" : "missing;");
    if (json_string_length(v) >= len)
        return diag_set(d, -EINVAL, 0, 0, "%s%s: longer than %zu characters", where, key, len - 1);
    snprintf(out, len, "%s", json_string_value(v));
    return 0;
}

static int one_assertion(const json_t *e, size_t i, struct storprof_assertion *a, struct diag *d)
{
    char where[64];
    snprintf(where, sizeof(where), "vendor_assertions[%zu].", i);
    if (!json_is_object(e))
        return diag_set(d, -EINVAL, 0, 0, "vendor_assertions[%zu]: must be a mapping", i);
    const char *m = jsonx_str(e, "metric", NULL);
    int k = -1;
    for (int j = 0; m && j < STORPROF_METRIC__COUNT; j++)
        if (!strcmp(m, metric_names[j]))
            k = j;
    if (k < 0)
        return diag_set(d, -EINVAL, 0, 0,
                        "%smetric: '%s' is not one of seq_read_bytes_per_s, seq_write_bytes_per_s, "
                        "rand_read_iops, rand_write_iops, endurance_bytes_written",
                        where, m ? m : "(missing)");
    a->metric = (enum storprof_metric)k;
    json_t *v = json_object_get(e, "value");
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return diag_set(d, -EINVAL, 0, 0, "%svalue: must be a positive number", where);
    a->value = json_number_value(v);
    int r;
    if ((r = get_str(e, "source", where, true, a->source, sizeof(a->source), d)) < 0 ||
        (r = get_str(e, "date", where, false, a->date, sizeof(a->date), d)) < 0 ||
        (r = get_str(e, "context", where, false, a->context, sizeof(a->context), d)) < 0)
        return r;
    return 0;
}

int storprof_from_json(const json_t *j, struct storprof *ret, struct diag *d)
{
    struct storprof p = { 0 };
    if (!json_is_object(j))
        return diag_set(d, -EINVAL, 0, 0, "a storage profile must be a mapping");
    int r;
    if ((r = get_str(j, "name", "", true, p.name, sizeof(p.name), d)) < 0 ||
        (r = get_str(j, "device", "", false, p.device, sizeof(p.device), d)) < 0)
        return r;
    if (strcmp(jsonx_str(j, "kind", "storage"), "storage") != 0)
        return diag_set(d, -EINVAL, 0, 0, "kind: must be 'storage'");
    json_t *mc = jsonx_path(j, "match.model_contains");
    if (!json_is_array(mc) || !json_array_size(mc) || json_array_size(mc) > STORPROF_MAX_MATCH)
        return diag_set(d, -EINVAL, 0, 0,
                        "match.model_contains: must be a list of 1 to %d model substrings",
                        STORPROF_MAX_MATCH);
    size_t i;
    json_t *v;
    json_array_foreach (mc, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof(p.match[0]))
            return diag_set(d, -EINVAL, 0, 0,
                            "match.model_contains[%zu]: must be a string of 1 to %zu characters", i,
                            sizeof(p.match[0]) - 1);
        snprintf(p.match[p.n_match++], sizeof(p.match[0]), "%s", json_string_value(v));
    }
    json_t *cap = json_object_get(j, "capacity_bytes");
    if (cap && !(json_is_number(cap) && json_number_value(cap) > 0))
        return diag_set(d, -EINVAL, 0, 0, "capacity_bytes: must be a positive number");
    p.capacity_bytes = cap ? json_number_value(cap) : 0;
    json_t *va = json_object_get(j, "vendor_assertions");
    if (!json_is_array(va) || json_array_size(va) > STORPROF_MAX_ASSERTIONS)
        return diag_set(d, -EINVAL, 0, 0, "vendor_assertions: must be a list of at most %d entries",
                        STORPROF_MAX_ASSERTIONS);
    json_array_foreach (va, i, v) {
        if ((r = one_assertion(v, i, &p.a[p.n], d)) < 0)
            return r;
        p.n++;
    }
    *ret = p;
    return 0;
}

int storprof_load_file(const char *path, struct storprof *ret, struct diag *d)
{
    json_t *j = NULL;
    int r = yamlx_load_file(path, &j, d);
    if (r < 0)
        return r;
    r = storprof_from_json(j, ret, d);
    if (r < 0)
        diag_file(d, path);
    json_decref(j);
    return r;
}

bool storprof_matches(const struct storprof *p, const char *model, const char **ret_pattern)
{
    if (!model)
        return false;
    while (isspace((unsigned char)*model))
        model++;
    size_t ml = strlen(model);
    while (ml && isspace((unsigned char)model[ml - 1]))
        ml--;
    for (size_t i = 0; i < p->n_match; i++) {
        size_t pl = strlen(p->match[i]);
        for (size_t o = 0; pl && o + pl <= ml; o++)
            if (!strncasecmp(model + o, p->match[i], pl)) {
                if (ret_pattern)
                    *ret_pattern = p->match[i];
                return true;
            }
    }
    return false;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int storprof_find(const char *dir, const char *model, struct storprof *ret, struct diag *d)
{
    if (!model || !*model)
        return -ENOENT;
    char *sd = fileio_join(dir, "storage");
    DIR *dh = opendir(sd);
    int r = -ENOENT;
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while (dh && (e = readdir(dh)) && n < 64) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml"))
            names[n++] = xstrdup(e->d_name);
    }
    if (dh)
        closedir(dh);
    qsort(names, n, sizeof(names[0]), cmp_name);
    for (size_t i = 0; i < n; i++) {
        if (r == -ENOENT) {
            char *path = fileio_join(sd, names[i]);
            struct storprof p;
            int lr = storprof_load_file(path, &p, d);
            free(path);
            if (lr < 0)
                r = lr;
            else if (storprof_matches(&p, model, NULL)) {
                *ret = p;
                r = 0;
            }
        }
        free(names[i]);
    }
    free(sd);
    return r;
}

const struct storprof_assertion *storprof_endurance(const struct storprof *p)
{
    const struct storprof_assertion *best = NULL;
    for (size_t i = 0; p && i < p->n; i++)
        if (p->a[i].metric == STORPROF_ENDURANCE_BYTES && (!best || p->a[i].value < best->value))
            best = &p->a[i];
    return best;
}

/* A figure in the metric's unit as text ("14.50 GB/s", "2000K IOPS", "2400 TBW"). */
static void fmt_value(enum storprof_metric m, double v, char *out, size_t len)
{
    if (m == STORPROF_SEQ_READ_BPS || m == STORPROF_SEQ_WRITE_BPS)
        snprintf(out, len, "%.2f GB/s", v / 1e9);
    else if (m == STORPROF_ENDURANCE_BYTES)
        snprintf(out, len, "%.0f TBW", v / 1e12);
    else
        snprintf(out, len, "%.0fK IOPS", v / 1e3);
}

/* The probe's best figure for a metric: sequential bandwidth over every block size and queue
 * depth; random IOPS at 4 KiB. NULL when the probe has no such shape. */
static const json_t *measured_of(const json_t *probe, enum storprof_metric m, double *ret)
{
    static const char *const rw[] = { "read", "write", "randread", "randwrite" };
    if (m >= STORPROF_ENDURANCE_BYTES)
        return NULL;
    bool iops = m == STORPROF_RAND_READ_IOPS || m == STORPROF_RAND_WRITE_IOPS;
    const json_t *best = NULL;
    double bv = 0;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(probe, "ceilings"), i, c) {
        if (strcmp(jsonx_str(c, "rw", ""), rw[m]) != 0)
            continue;
        if (iops && jsonx_num(c, "block_size_bytes", 0) != 4096)
            continue;
        double v = jsonx_num(c, iops ? "iops" : "bw_bytes_per_s", 0);
        if (v > bv) {
            bv = v;
            best = c;
        }
    }
    *ret = bv;
    return best;
}

static json_t *comparison(const struct storprof_assertion *a, const json_t *probe)
{
    json_t *o = json_object();
    char vt[48], mt[48], text[600];
    fmt_value(a->metric, a->value, vt, sizeof(vt));
    json_object_set_new(o, "metric", json_string(metric_names[a->metric]));
    jsonx_set_num(o, "vendor_value", a->value);
    json_object_set_new(o, "source", json_string(a->source));
    json_object_set_new(o, "date", a->date[0] ? json_string(a->date) : json_null());
    json_object_set_new(o, "context", a->context[0] ? json_string(a->context) : json_null());
    double mv = 0;
    const json_t *c = probe ? measured_of(probe, a->metric, &mv) : NULL;
    if (!c) {
        const char *why =
            a->metric == STORPROF_ENDURANCE_BYTES
                ? "endurance is not measured; the run's share of it is in summary.json"
            : !probe ? "no probe.json (run kvtier probe)"
                     : "the probe measured no such shape";
        json_object_set_new(o, "measured", json_null());
        json_object_set_new(o, "ratio", json_null());
        json_object_set_new(o, "reason", json_string(why));
        snprintf(text, sizeof(text), "vendor asserts %s (%s%s%s); not measured: %s", vt, a->source,
                 a->date[0] ? ", " : "", a->date, why);
    } else {
        fmt_value(a->metric, mv, mt, sizeof(mt));
        jsonx_set_num(o, "measured", mv);
        json_t *sh = json_object();
        json_object_set_new(sh, "rw", json_string(jsonx_str(c, "rw", "?")));
        json_object_set_new(sh, "block_size_bytes",
                            json_integer((json_int_t)jsonx_u64(c, "block_size_bytes", 0)));
        json_object_set_new(sh, "queue_depth",
                            json_integer((json_int_t)jsonx_u64(c, "queue_depth", 0)));
        json_object_set_new(o, "measured_shape", sh);
        jsonx_set_num(o, "ratio", mv / a->value);
        snprintf(text, sizeof(text),
                 "vendor asserts %s (%s%s%s), measured %s (%s, %llu KiB, QD %llu): %.2f of the "
                 "assertion",
                 vt, a->source, a->date[0] ? ", " : "", a->date, mt, jsonx_str(c, "rw", "?"),
                 (unsigned long long)(jsonx_u64(c, "block_size_bytes", 0) / 1024),
                 (unsigned long long)jsonx_u64(c, "queue_depth", 0), mv / a->value);
    }
    json_object_set_new(o, "text", json_string(text));
    return o;
}

/* Metrics whose sources disagree: every value with its source, and one line. */
static json_t *conflicts(const struct storprof *p)
{
    json_t *arr = json_array();
    for (int m = 0; m < STORPROF_METRIC__COUNT; m++) {
        json_t *vals = json_array();
        bool differ = false;
        double first = NAN;
        char text[700];
        int off = snprintf(text, sizeof(text), "%s: sources disagree:", metric_names[m]);
        for (size_t i = 0; i < p->n; i++) {
            const struct storprof_assertion *a = &p->a[i];
            if ((int)a->metric != m)
                continue;
            if (isnan(first))
                first = a->value;
            else if (a->value != first)
                differ = true;
            json_array_append_new(vals,
                                  json_pack("{s:f, s:s}", "value", a->value, "source", a->source));
            char vt[48];
            fmt_value(a->metric, a->value, vt, sizeof(vt));
            if (off > 0 && (size_t)off < sizeof(text))
                off += snprintf(text + off, sizeof(text) - (size_t)off, "%s %s (%s%s%s)",
                                json_array_size(vals) > 1 ? ";" : "", vt, a->source,
                                a->date[0] ? ", " : "", a->date);
        }
        if (differ)
            json_array_append_new(arr, json_pack("{s:s, s:o, s:s}", "metric", metric_names[m],
                                                 "values", vals, "text", text));
        else
            json_decref(vals);
    }
    return arr;
}

json_t *storprof_compare(const struct storprof *p, const char *model, const char *model_source,
                         const json_t *probe)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", model && *model ? json_string(model) : json_null());
    json_object_set_new(o, "model_source", json_string(model_source ? model_source : "unknown"));
    const char *pat = NULL;
    if (!p || !storprof_matches(p, model, &pat)) {
        char why[300];
        snprintf(why, sizeof(why), "no storage profile for this device (model %s%s%s)",
                 model && *model ? "'" : "", model && *model ? model : "unknown",
                 model && *model ? "'" : "");
        json_object_set_new(o, "status", json_string("no_profile"));
        json_object_set_new(o, "reason", json_string(why));
        return o;
    }
    json_object_set_new(o, "status", json_string("matched"));
    json_object_set_new(o, "profile", json_string(p->name));
    json_object_set_new(o, "device", json_string(p->device));
    json_object_set_new(o, "matched_pattern", json_string(pat));
    json_t *cs = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(cs, comparison(&p->a[i], probe));
    json_object_set_new(o, "comparisons", cs);
    json_object_set_new(o, "conflicts", conflicts(p));
    json_object_set_new(o, "note",
                        json_string("vendor figures are assertions, recorded with their "
                                    "sources; the probe's measurement on this file system is "
                                    "the ceiling kvtier uses"));
    return o;
}
