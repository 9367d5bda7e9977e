/* SPDX-License-Identifier: Apache-2.0 */
/* Mode x row rollups and the RESULTS/ writers of the evidence pack (packroll.h). */
#include "report/packroll.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis/bootstrap.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

#define ROLL_RESAMPLES 2000
#define ROLL_SEED      1

static const char *const rolled[] = {
    "replay_ttft_p50_ms",          "replay_ttft_p95_ms",
    "replay_ttft_p99_ms",          "replay_error_rate",
    "replay_onboard_d2d_blocks",   "replay_onboard_h2d_blocks",
    "replay_matched_tokens",       "replay_device_read_bytes",
    "replay_server_read_bytes",    "pressure_offload_d2h_blocks",
    "pressure_offload_h2d_blocks", "pressure_device_write_bytes",
    "pressure_server_write_bytes", NULL,
};

static void roll_figure(json_t *out, const json_t *bundles, const char *group, const char *mode,
                        const char *key)
{
    size_t nb = json_array_size(bundles);
    double *v = xcalloc(nb ? nb : 1, sizeof(*v));
    size_t n = 0;
    size_t i;
    json_t *b;
    json_array_foreach (bundles, i, b) {
        if (strcmp(jsonx_str(b, "group", ""), group) || strcmp(jsonx_str(b, "mode", ""), mode) ||
            !jsonx_bool(b, "run_valid", false))
            continue;
        double x = jsonx_num(b, key, NAN);
        if (isfinite(x))
            v[n++] = x;
    }
    char k[96];
    struct bootstrap_ci ci = { 0 };
    bool ok =
        n > 0 && bootstrap_ci(BOOTSTRAP_MEAN, v, n, ROLL_RESAMPLES, 0.95, ROLL_SEED, &ci) == 0;
    double mn = INFINITY, mx = -INFINITY;
    for (size_t j = 0; j < n; j++) {
        mn = fmin(mn, v[j]);
        mx = fmax(mx, v[j]);
    }
    const char *suffix[] = { "mean", "lo", "hi", "min", "max" };
    double val[] = { ok ? ci.estimate : NAN, ok ? ci.lo : NAN, ok ? ci.hi : NAN, n ? mn : NAN,
                     n ? mx : NAN };
    for (size_t s = 0; s < 5; s++) {
        snprintf(k, sizeof(k), "%s_%s", key, suffix[s]);
        jsonx_set_num(out, k, val[s]);
    }
    if (!strcmp(key, "replay_ttft_p50_ms"))
        jsonx_set_num(out, "cv_replay_ttft_p50", n >= 2 ? bootstrap_cv(v, n) : NAN);
    free(v);
}

static json_t *roll_one(const json_t *bundles, const json_t *first)
{
    const char *group = jsonx_str(first, "group", "");
    const char *mode = jsonx_str(first, "mode", "");
    json_t *o = json_object();
    const char *copy[] = { "row",      "group",   "engine", "stack",       "model",
                           "workload", "dataset", "mode",   "concurrency", NULL };
    for (size_t i = 0; copy[i]; i++)
        json_object_set(o, copy[i], json_object_get(first, copy[i]));
    size_t n = 0, valid = 0, dg = 0, reqs = 0;
    size_t i;
    json_t *b;
    json_array_foreach (bundles, i, b) {
        if (strcmp(jsonx_str(b, "group", ""), group) || strcmp(jsonx_str(b, "mode", ""), mode))
            continue;
        n++;
        valid += jsonx_bool(b, "run_valid", false);
        dg += jsonx_bool(b, "decision_grade", false);
        double r = jsonx_num(b, "replay_ttft_n", 0);
        reqs += isfinite(r) ? (size_t)r : 0;
    }
    json_object_set_new(o, "bundles", json_integer((json_int_t)n));
    json_object_set_new(o, "run_valid", json_integer((json_int_t)valid));
    json_object_set_new(o, "decision_grade", json_integer((json_int_t)dg));
    json_object_set_new(o, "replay_ttft_requests", json_integer((json_int_t)reqs));
    for (size_t k = 0; rolled[k]; k++)
        roll_figure(o, bundles, group, mode, rolled[k]);
    return o;
}

const json_t *packroll_find(const json_t *rollups, const char *group, const char *mode)
{
    size_t i;
    json_t *r;
    json_array_foreach (rollups, i, r)
        if (!strcmp(jsonx_str(r, "group", ""), group) && !strcmp(jsonx_str(r, "mode", ""), mode))
            return r;
    return NULL;
}

json_t *packroll_modes(const json_t *bundles)
{
    json_t *out = json_array();
    size_t i;
    json_t *b;
    json_array_foreach (bundles, i, b) {
        if (!packroll_find(out, jsonx_str(b, "group", ""), jsonx_str(b, "mode", "")))
            json_array_append_new(out, roll_one(bundles, b));
    }
    return out;
}

static void csv_cell(struct buf *o, const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strpbrk(s, ",\"\n")) {
            buf_append_str(o, "\"");
            for (; *s; s++)
                buf_append_str(o, *s == '"' ? "\"\"" : (char[]){ *s, 0 });
            buf_append_str(o, "\"");
        } else {
            buf_append_str(o, s);
        }
    } else if (json_is_true(v) || json_is_false(v)) {
        buf_append_str(o, json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        buf_printf(o, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        buf_printf(o, "%.6g", json_real_value(v));
    }
}

int packroll_write_csv(const char *path, const json_t *records)
{
    struct buf o;
    buf_init(&o, 0);
    const json_t *first = json_array_get(records, 0);
    const char *k;
    json_t *v;
    bool lead = false;
    json_object_foreach ((json_t *)first, k, v) {
        if (k[0] == '_')
            continue;
        buf_printf(&o, "%s%s", lead ? "," : "", k);
        lead = true;
    }
    buf_append_str(&o, "\n");
    size_t i;
    json_t *rec;
    json_array_foreach (records, i, rec) {
        lead = false;
        json_object_foreach ((json_t *)first, k, v) {
            if (k[0] == '_')
                continue;
            if (lead)
                buf_append_str(&o, ",");
            csv_cell(&o, json_object_get(rec, k));
            lead = true;
        }
        buf_append_str(&o, "\n");
    }
    int r = fileio_write_atomic(path, o.data, o.len);
    buf_fini(&o);
    return r;
}
