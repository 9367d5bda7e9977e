/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier matrix: plan loading and validation, feasibility with its arithmetic, wall-time
 * estimates, and the resumable conductor that runs each row as a kvtier child process (see
 * matrix.h and docs/matrix.md). The plan is read through YAML into one JSON document; every
 * name it uses is checked against the profiles before anything runs. */
#include "run/matrix.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/spawn.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "stack/mode.h"
#include "stack/stack.h"
#include "workload/workload.h"

#define STARTUP_BUILTIN_S 6.0   /* engine start, readiness, settle and teardown per bundle */
#define STARTUP_REAL_S    180.0 /* model load of a real stack per bundle (estimate only) */
#define PHASE_TAIL_S      2.0   /* last request's service time + phase settle, per phase */
#define COMPARE_S         3.0   /* one kvtier compare */

static const char *const row_lists[] = { "runs", "mechanism", "optional", "sweeps", "searches" };
static const char *const row_kinds[] = { "run", "mechanism", "optional", "sweep", "slo" };

static const char *workload_alias(const char *w)
{
    static const char *const map[][2] = {
        { "W1", "A" }, { "W2", "B" }, { "W3", "C" }, { "W4", "D" }
    };
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(w, map[i][0]))
            return map[i][1];
    return w;
}

static bool stack_is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml"));
}

static int load_stack(const char *dir, const char *name, json_t **ret, struct diag *d)
{
    if (stack_is_path(name))
        return yamlx_load_file(name, ret, d);
    return profile_load(dir, "stacks", name, ret, d);
}

/* Re-labels a profile diagnostic with the plan path and row. */
static int where_err(struct diag *d, int r, const char *path, const char *where)
{
    char msg[sizeof(d->msg)];
    snprintf(msg, sizeof(msg), "%s", d->msg);
    diag_file(d, path);
    d->line = d->col = 0;
    return diag_set(d, r, 0, 0, "%s: %s", where, msg);
}

static int check_profile(const char *dir, const char *kind, const char *name, const char *path,
                         const char *where, struct diag *d)
{
    json_t *j = NULL;
    int r = profile_load(dir, kind, name, &j, d);
    json_decref(j);
    return r < 0 ? where_err(d, r, path, where) : 0;
}

/* modes: a list of names or a comma string -> JSON array of canonical names. */
static int parse_modes(const json_t *v, json_t **ret, const char *path, const char *where,
                       struct diag *d)
{
    json_t *out = json_array();
    json_t *items = json_array();
    if (json_is_string(v)) {
        char *dup = xstrdup(json_string_value(v));
        char *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(items, json_string(t));
        free(dup);
    } else if (json_is_array(v)) {
        json_array_extend(items, (json_t *)v);
    }
    int r = 0;
    size_t i;
    json_t *m;
    json_array_foreach (items, i, m) {
        enum mode_id id;
        if (!json_is_string(m) || mode_parse(json_string_value(m), &id) < 0) {
            diag_file(d, path);
            r = diag_set(d, -EINVAL, 0, 0, "%s: unknown mode '%s' (valid: %s)", where,
                         json_is_string(m) ? json_string_value(m) : "?", mode_names_list());
            goto out;
        }
        json_array_append_new(out, json_string(mode_name(id)));
    }
    if (json_array_size(out) == 0) {
        diag_file(d, path);
        r = diag_set(d, -EINVAL, 0, 0, "%s: 'modes' is missing or empty (valid: %s)", where,
                     mode_names_list());
    }
out:
    json_decref(items);
    if (r < 0)
        json_decref(out);
    else
        *ret = out;
    return r;
}

static void copy_num(json_t *row, const json_t *src, const json_t *plan, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (!json_is_number(v))
        v = json_object_get(plan, key);
    if (json_is_number(v))
        json_object_set(row, key, v);
}

static int check_known_keys(const json_t *o, const char *path, const char *where, struct diag *d)
{
    static const char *const known[] = {
        "model",        "workload",   "dataset",     "modes", "mode",      "repeats",  "seed",
        "max_requests", "rate_scale", "bundle_args", "axis",  "values",    "slo",      "min",
        "max",          "resolution", "note",        "tail",  "tokenizer", "endpoint", NULL
    };
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)o, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok) {
            diag_file(d, path);
            return diag_set(d, -EINVAL, 0, 0, "%s: unknown key '%s'", where, k);
        }
    }
    return 0;
}

static int row_search_args(json_t *row, const json_t *src, const char *kind, const char *path,
                           const char *where, struct diag *d)
{
    diag_file(d, path);
    const char *axis = jsonx_str(src, "axis", "concurrency");
    if (strcmp(axis, "concurrency") && strcmp(axis, "rate") && strcmp(axis, "context"))
        return diag_set(d, -EINVAL, 0, 0, "%s: axis '%s' (valid: concurrency, rate, context)",
                        where, axis);
    json_object_set_new(row, "axis", json_string(axis));
    if (!strcmp(kind, "sweep")) {
        json_t *vals = json_object_get(src, "values");
        if (!json_is_array(vals) || json_array_size(vals) == 0)
            return diag_set(d, -EINVAL, 0, 0, "%s: 'values' must be a non-empty list", where);
        size_t i;
        json_t *v;
        json_array_foreach (vals, i, v)
            if (!json_is_number(v))
                return diag_set(d, -EINVAL, 0, 0, "%s: values[%zu] is not a number", where, i);
        json_object_set(row, "values", vals);
        return 0;
    }
    json_t *slo = json_object_get(src, "slo");
    if (!json_is_object(slo) || json_object_size(slo) == 0)
        return diag_set(d, -EINVAL, 0, 0,
                        "%s: 'slo' must map summary keys to limits (ttft_p95_ms: 2000)", where);
    json_object_set(row, "slo", slo);
    double lo = jsonx_num(src, "min", 1), hi = jsonx_num(src, "max", 64);
    if (!(lo > 0) || !(hi > lo))
        return diag_set(d, -EINVAL, 0, 0, "%s: range min %g .. max %g is empty or inverted", where,
                        lo, hi);
    jsonx_set_num(row, "min", lo);
    jsonx_set_num(row, "max", hi);
    copy_num(row, src, NULL, "resolution");
    return 0;
}

/* The prompt options of a row or the plan header (src) into dst: "endpoint" (chat or
 * completions) and "tokenizer" (a readable tokenizer.json; a relative path is taken from the
 * plan file's directory, recorded absolute). A row's own keys win over the header's (dst
 * already holds those). */
static int prompt_keys(json_t *dst, const json_t *src, const char *path, const char *where,
                       struct diag *d)
{
    json_t *ep = json_object_get(src, "endpoint"), *tok = json_object_get(src, "tokenizer");
    diag_file(d, path);
    if (ep && (!json_is_string(ep) || (strcmp(json_string_value(ep), "chat") &&
                                       strcmp(json_string_value(ep), "completions"))))
        return diag_set(d, -EINVAL, 0, 0, "%s: endpoint must be chat or completions", where);
    if (ep)
        json_object_set(dst, "endpoint", ep);
    if (tok && !json_is_string(tok))
        return diag_set(d, -EINVAL, 0, 0, "%s: tokenizer must be a path to a tokenizer.json",
                        where);
    if (!tok)
        return 0;
    const char *t = json_string_value(tok);
    char *dir = NULL, *joined = NULL;
    if (t[0] != '/' && strchr(path, '/')) {
        dir = xalloc_strndup(path, (size_t)(strrchr(path, '/') - path));
        joined = fileio_join(dir, t);
    }
    char *abs = realpath(joined ? joined : t, NULL);
    int r = 0;
    if (!abs || access(abs, R_OK) < 0)
        r = diag_set(d, -ENOENT, 0, 0, "%s: tokenizer '%s' cannot be read: %s", where,
                     joined ? joined : t, strerror(errno));
    else
        json_object_set_new(dst, "tokenizer", json_string(abs));
    free(abs);
    free(joined);
    free(dir);
    return r;
}

/* The quantile a run row's claim is made on (`tail: p50|p95|p99`, the row's or the plan's):
 * each bundle sizes its replay for it and gates on it (kvtier bundle --tail), and the row's
 * comparisons take the replay TTFT at that quantile as their primary metric. Sweeps and
 * searches state their quantiles themselves (the SLO keys, the pooled tails). */
static int row_tail(json_t *row, const json_t *src, const json_t *plan, const char *kind,
                    const char *path, const char *where, struct diag *d)
{
    const json_t *t = json_object_get(src, "tail");
    bool search = !strcmp(kind, "sweep") || !strcmp(kind, "slo");
    if (t && search) {
        diag_file(d, path);
        return diag_set(d, -EINVAL, 0, 0,
                        "%s: 'tail' applies to run rows (a %s states its quantiles in its "
                        "SLO or pools its tails)",
                        where, kind);
    }
    if (!t && !search)
        t = json_object_get(plan, "tail");
    if (!t)
        return 0;
    const char *v = json_string_value(t);
    if (!v || (strcmp(v, "p50") && strcmp(v, "p95") && strcmp(v, "p99"))) {
        diag_file(d, path);
        return diag_set(d, -EINVAL, 0, 0, "%s: tail must be p50, p95 or p99", where);
    }
    json_object_set_new(row, "tail", json_string(v));
    return 0;
}

static int plan_row(json_t *plan, const json_t *src, const char *kind, size_t idx,
                    const char *where, const char *profiles_dir, const char *path, json_t **ret,
                    struct diag *d)
{
    int r;
    if (!json_is_object(src)) {
        diag_file(d, path);
        return diag_set(d, -EINVAL, 0, 0, "%s: a row must be a mapping", where);
    }
    if ((r = check_known_keys(src, path, where, d)) < 0)
        return r;
    const char *model = jsonx_str(src, "model", NULL);
    const char *wl = jsonx_str(src, "workload", NULL);
    if (!model || !wl) {
        diag_file(d, path);
        return diag_set(d, -EINVAL, 0, 0, "%s: 'model' and 'workload' are required", where);
    }
    wl = workload_alias(wl);
    const char *ds = jsonx_str(src, "dataset", jsonx_str(plan, "dataset", "S"));
    if (strcmp(ds, "S") && strcmp(ds, "L")) {
        diag_file(d, path);
        return diag_set(d, -EINVAL, 0, 0, "%s: dataset '%s' (valid: S, L)", where, ds);
    }
    if ((r = check_profile(profiles_dir, "models", model, path, where, d)) < 0 ||
        (r = check_profile(profiles_dir, "workloads", wl, path, where, d)) < 0)
        return r;
    json_t *modes = NULL;
    json_t *mv = json_object_get(src, "modes");
    if ((r = parse_modes(mv ? mv : json_object_get(src, "mode"), &modes, path, where, d)) < 0)
        return r;
    json_t *row = json_object();
    struct buf id;
    buf_init(&id, 256);
    buf_printf(&id, "%02zu_%s_%s_%s_%s", idx + 1, kind, model, wl, ds);
    size_t i;
    json_t *m;
    json_array_foreach (modes, i, m)
        buf_printf(&id, "%s%s", i ? "-" : "_", json_string_value(m));
    json_object_set_new(row, "id", json_string(buf_str(&id)));
    buf_fini(&id);
    json_object_set_new(row, "kind", json_string(kind));
    json_object_set_new(row, "where", json_string(where));
    json_object_set_new(row, "model", json_string(model));
    json_object_set_new(row, "workload", json_string(wl));
    json_object_set_new(row, "dataset", json_string(ds));
    json_object_set_new(row, "modes", modes);
    const char *nums[] = { "repeats", "seed", "max_requests", "rate_scale", NULL };
    for (size_t k = 0; nums[k]; k++)
        copy_num(row, src, plan, nums[k]);
    json_t *ba = json_array();
    json_array_extend(ba, json_object_get(plan, "bundle_args"));
    json_array_extend(ba, json_object_get(src, "bundle_args"));
    json_object_set_new(row, "bundle_args", ba);
    if (json_is_string(json_object_get(src, "note")))
        json_object_set(row, "note", json_object_get(src, "note"));
    const char *pk[] = { "tokenizer", "endpoint", NULL };
    for (size_t k = 0; pk[k]; k++)
        if (json_object_get(plan, pk[k]))
            json_object_set(row, pk[k], json_object_get(plan, pk[k]));
    if ((r = prompt_keys(row, src, path, where, d)) < 0 ||
        (r = row_tail(row, src, plan, kind, path, where, d)) < 0) {
        json_decref(row);
        return r;
    }
    if ((!strcmp(kind, "sweep") || !strcmp(kind, "slo")) &&
        (r = row_search_args(row, src, kind, path, where, d)) < 0) {
        json_decref(row);
        return r;
    }
    *ret = row;
    return 0;
}

static int plan_header(json_t *doc, const char *path, const char *profiles_dir, json_t **ret,
                       struct diag *d)
{
    static const char *const known[] = { "name",        "description", "dataset",      "stack",
                                         "repeats",     "seed",        "max_requests", "rate_scale",
                                         "bundle_args", "tail",        "runs",         "mechanism",
                                         "optional",    "sweeps",      "searches",     "tokenizer",
                                         "endpoint",    NULL };
    diag_file(d, path);
    if (!json_is_object(doc))
        return diag_set(d, -EINVAL, 0, 0, "a plan must be a YAML mapping");
    const char *k;
    json_t *v;
    json_object_foreach (doc, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok)
            return diag_set(d, -EINVAL, 0, 0, "unknown top-level key '%s'", k);
    }
    json_t *p = json_object();
    json_object_set_new(p, "kind", json_string("kvtier.matrix_plan"));
    json_object_set_new(p, "name", json_string(jsonx_str(doc, "name", "unnamed")));
    json_object_set_new(p, "path", json_string(path));
    json_object_set_new(p, "stack", json_string(jsonx_str(doc, "stack", "builtin")));
    json_object_set_new(p, "dataset", json_string(jsonx_str(doc, "dataset", "S")));
    json_object_set_new(p, "repeats", json_integer(jsonx_i64(doc, "repeats", 1)));
    json_object_set_new(p, "seed", json_integer(jsonx_i64(doc, "seed", 1)));
    const char *num[] = { "max_requests", "rate_scale", NULL };
    for (size_t i = 0; num[i]; i++)
        if (json_is_number(json_object_get(doc, num[i])))
            json_object_set(p, num[i], json_object_get(doc, num[i]));
    if (json_object_get(doc, "tail"))
        json_object_set(p, "tail", json_object_get(doc, "tail"));
    json_t *ba = json_object_get(doc, "bundle_args");
    if (ba && !json_is_array(ba)) {
        json_decref(p);
        return diag_set(d, -EINVAL, 0, 0, "'bundle_args' must be a list of strings");
    }
    json_object_set_new(p, "bundle_args", ba ? json_incref(ba) : json_array());
    int r = prompt_keys(p, doc, path, "plan", d);
    if (r < 0) {
        json_decref(p);
        return r;
    }
    json_t *st = NULL;
    r = load_stack(profiles_dir, jsonx_str(p, "stack", ""), &st, d);
    if (r < 0) {
        json_decref(p);
        return where_err(d, r, path, "stack");
    }
    json_object_set_new(p, "stack_kind", json_string(jsonx_str(st, "kind", "")));
    json_object_set_new(p, "hardware", json_string(jsonx_str(st, "hardware", "dgx_spark_gb10")));
    json_decref(st);
    *ret = p;
    return 0;
}

int matrix_plan_load(const char *path, const char *profiles_dir, json_t **ret, struct diag *d)
{
    struct buf text;
    buf_init(&text, MATRIX_PLAN_MAX_BYTES);
    int r = fileio_read_all(path, MATRIX_PLAN_MAX_BYTES, &text);
    if (r < 0) {
        diag_file(d, path);
        diag_set(d, r == -EMSGSIZE ? -EINVAL : -ENOENT, 0, 0, "cannot read the plan: %s",
                 strerror(-r));
        buf_fini(&text);
        return r == -EMSGSIZE ? -EINVAL : -ENOENT;
    }
    r = matrix_plan_parse(buf_str(&text), text.len, path, profiles_dir, ret, d);
    buf_fini(&text);
    return r;
}

int matrix_plan_parse(const char *text, size_t len, const char *path, const char *profiles_dir,
                      json_t **ret, struct diag *d)
{
    json_t *doc = NULL, *p = NULL;
    int r = yamlx_parse(text, len, &doc, d);
    if (r < 0) {
        diag_file(d, path);
        return r;
    }
    if ((r = plan_header(doc, path, profiles_dir, &p, d)) < 0)
        goto out;
    json_t *rows = json_array();
    json_object_set_new(p, "rows", rows);
    for (size_t l = 0; l < sizeof(row_lists) / sizeof(row_lists[0]); l++) {
        json_t *list = json_object_get(doc, row_lists[l]);
        if (list && !json_is_array(list)) {
            diag_file(d, path);
            r = diag_set(d, -EINVAL, 0, 0, "'%s' must be a list of rows", row_lists[l]);
            goto out;
        }
        size_t i;
        json_t *src;
        json_array_foreach (list, i, src) {
            char where[64];
            snprintf(where, sizeof(where), "%s[%zu]", row_lists[l], i);
            json_t *row = NULL;
            if (json_array_size(rows) >= MATRIX_MAX_ROWS) {
                diag_file(d, path);
                r = diag_set(d, -EMSGSIZE, 0, 0, "more than %d rows", MATRIX_MAX_ROWS);
                goto out;
            }
            r = plan_row(p, src, row_kinds[l], json_array_size(rows), where, profiles_dir, path,
                         &row, d);
            if (r < 0)
                goto out;
            json_array_append_new(rows, row);
        }
    }
    if (json_array_size(rows) == 0) {
        diag_file(d, path);
        r = diag_set(d, -EINVAL, 0, 0, "the plan has no rows (runs, mechanism, sweeps ...)");
    }
out:
    json_decref(doc);
    if (r < 0)
        json_decref(p);
    else
        *ret = p;
    return r;
}

int matrix_plan_prompts(json_t *plan, const char *tokenizer, const char *endpoint, struct diag *d)
{
    json_t *src = json_object();
    if (tokenizer)
        json_object_set_new(src, "tokenizer", json_string(tokenizer));
    if (endpoint)
        json_object_set_new(src, "endpoint", json_string(endpoint));
    json_t *keys = json_object();
    int r = prompt_keys(keys, src, "", "command line", d);
    if (r == 0) {
        json_object_update(plan, keys);
        size_t i;
        json_t *row;
        json_array_foreach (json_object_get(plan, "rows"), i, row)
            json_object_update(row, keys);
    }
    json_decref(keys);
    json_decref(src);
    return r;
}

/* ---- feasibility and estimates ---- */

static void set_state(json_t *f, const char *state, const char *reason)
{
    json_object_set_new(f, "feasible", json_boolean(!strcmp(state, MATRIX_STATE_PENDING)));
    json_object_set_new(f, "state", json_string(state));
    if (reason)
        json_array_append_new(json_object_get(f, "reasons"), json_string(reason));
}

/* The B2 capacities a bundle child would size its plan with (bundle.c does the same). */
static int row_capacity(const char *profiles_dir, const json_t *plan, const json_t *row,
                        struct model_profile *m, struct workload_capacity *cap, json_t *arith,
                        struct diag *d)
{
    json_t *mj = NULL, *st = NULL;
    struct hw_profile hw;
    int r;
    if ((r = profile_load(profiles_dir, "models", jsonx_str(row, "model", ""), &mj, d)) < 0 ||
        (r = profile_model_from_json(mj, m, d)) < 0 ||
        (r = load_stack(profiles_dir, jsonx_str(plan, "stack", ""), &st, d)) < 0 ||
        (r = profile_load_hw(profiles_dir, jsonx_str(plan, "hardware", ""), &hw, d)) < 0)
        goto out;
    struct mode_settings b2 = { .id = MODE_B2,
                                .bytes_per_block = profile_bytes_per_block(m),
                                .c_disk_fraction = 1 };
    uint64_t g1 = 0;
    stack_profile_tiers(st, m->name, &b2, &g1);
    *cap = (struct workload_capacity){ .g1_blocks = g1 ? g1 : profile_g1_blocks(&hw, m),
                                       .g2_blocks = mode_cpu_blocks(&b2),
                                       .g3_blocks = mode_disk_blocks(&b2),
                                       .bytes_per_block = b2.bytes_per_block,
                                       .source = "kvtier matrix: stack profile tiers, mode B2" };
    json_object_set_new(arith, "g1_blocks", json_integer((json_int_t)cap->g1_blocks));
    json_object_set_new(arith, "g2_blocks", json_integer((json_int_t)cap->g2_blocks));
    json_object_set_new(arith, "g3_blocks", json_integer((json_int_t)cap->g3_blocks));
    json_object_set_new(arith, "bytes_per_block", json_integer((json_int_t)cap->bytes_per_block));
    json_object_set_new(arith, "engine_max_sequence_length", json_integer(m->max_sequence_length));
    json_object_set_new(arith, "engine_build_id", json_string(m->build_id));
    json_object_set_new(arith, "hardware", json_string(hw.name));
out:
    json_decref(mj);
    json_decref(st);
    return r;
}

static double per_bundle_seconds(const json_t *header, bool builtin)
{
    double s = builtin ? STARTUP_BUILTIN_S : STARTUP_REAL_S;
    size_t i;
    json_t *ph;
    json_array_foreach (json_object_get(header, "phases"), i, ph) {
        double span = (double)jsonx_u64(ph, "schedule_span_ns", 0) / 1e9;
        double dur = (double)jsonx_u64(ph, "duration_ns", 0) / 1e9;
        s += (span > dur ? span : dur) + PHASE_TAIL_S;
    }
    return s;
}

/* The row's arms: its modes, mode C counted once per level where its bundle arguments give
 * --c-levels (a ladder runs, or searches, C at each level). */
static size_t row_arms(const json_t *row)
{
    const json_t *modes = json_object_get(row, "modes"),
                 *args = json_object_get(row, "bundle_args");
    size_t n = json_array_size(modes), i, levels = 0;
    const json_t *m;
    bool has_c = false;
    json_array_foreach ((json_t *)modes, i, m)
        has_c |= json_is_string(m) && !strcmp(json_string_value(m), "C");
    for (i = 0; i + 1 < json_array_size(args); i++) {
        const char *a = json_string_value(json_array_get(args, i));
        const char *v = json_string_value(json_array_get(args, i + 1));
        if (a && v && !strcmp(a, "--c-levels"))
            for (levels = 1; *v; v++)
                levels += *v == ',';
    }
    return has_c && levels > 1 ? n - 1 + levels : n;
}

static void row_estimate(json_t *row, double per_bundle, const char *how)
{
    size_t modes = row_arms(row);
    double reps = (double)jsonx_i64(row, "repeats", 1);
    const char *kind = jsonx_str(row, "kind", "");
    double points = 1;
    if (!strcmp(kind, "sweep"))
        points = (double)json_array_size(json_object_get(row, "values"));
    else if (!strcmp(kind, "slo")) /* doubling up to the first failure, then bisection */
        points = 2 * ceil(log2(jsonx_num(row, "max", 64) / jsonx_num(row, "min", 1))) + 1;
    double bundles = (double)modes * reps * points;
    double compares = !strcmp(kind, "sweep") || !strcmp(kind, "slo") ? 0 : (double)(modes - 1);
    json_t *e = json_object();
    jsonx_set_num(e, "bundles", bundles);
    jsonx_set_num(e, "per_bundle_s", round(per_bundle));
    jsonx_set_num(e, "wall_s", round(bundles * per_bundle + compares * COMPARE_S));
    json_object_set_new(e, "how", json_string(how));
    json_object_set_new(row, "estimate", e);
}

static void blocker_reason(json_t *f, const struct model_profile *m)
{
    char msg[400];
    snprintf(msg, sizeof(msg),
             "Dataset L needs an engine of >= %u tokens of context; model %s's engine "
             "(build %s) has max_sequence_length %u, %u short: rebuild the engine for long "
             "context (test plan P2.1) or use a *_ctx32k profile",
             WORKLOAD_L_MIN_SEQ_TOKENS, m->name, m->build_id, m->max_sequence_length,
             WORKLOAD_L_MIN_SEQ_TOKENS - m->max_sequence_length);
    set_state(f, MATRIX_STATE_BLOCKED, msg);
    json_t *a = json_object_get(f, "arithmetic");
    json_object_set_new(a, "required_context_tokens", json_integer(WORKLOAD_L_MIN_SEQ_TOKENS));
    json_object_set_new(a, "context_source",
                        json_string("model profile engine.max_sequence_length (the engine as "
                                    "built; doctor reads the running one)"));
}

static void pressure_reason(json_t *f, const json_t *header)
{
    json_t *pr = json_object_get(header, "pressure");
    json_object_set(json_object_get(f, "arithmetic"), "pressure", pr);
    if (jsonx_bool(pr, "feasible", true))
        return;
    char msg[600];
    snprintf(msg, sizeof(msg), "pressure cannot evict as sized for the tiers%s: %s",
             jsonx_bool(pr, "capped", false) ? " (capped by max_requests)" : "",
             jsonx_str(pr, "arithmetic", "no arithmetic"));
    set_state(f, MATRIX_STATE_INFEASIBLE, msg);
}

/* Whether the row's bundle arguments leave the steady phase out (--steady no, as the bundle
 * children will be told), so the estimate plans the same phases they run. */
static bool args_skip_steady(const json_t *bundle_args)
{
    size_t i;
    json_t *v;
    json_array_foreach (bundle_args, i, v) {
        const char *a = json_string_value(v);
        if (a && !strcmp(a, "--steady=no"))
            return true;
        if (a && !strcmp(a, "--steady")) {
            const char *next = json_string_value(json_array_get(bundle_args, i + 1));
            return next && !strcmp(next, "no");
        }
    }
    return false;
}

static void assess_row(const char *profiles_dir, const json_t *plan, json_t *row,
                       const char *tmp_dir, bool builtin)
{
    json_t *f = json_object();
    json_object_set_new(f, "reasons", json_array());
    json_object_set_new(f, "arithmetic", json_object());
    set_state(f, MATRIX_STATE_PENDING, NULL);
    json_object_set_new(row, "feasibility", f);
    struct model_profile m;
    struct workload_capacity cap;
    struct diag d = { 0 };
    json_t *header = NULL;
    double per_bundle = 0;
    const char *how = "no estimate";
    if (row_capacity(profiles_dir, plan, row, &m, &cap, json_object_get(f, "arithmetic"), &d) < 0) {
        set_state(f, MATRIX_STATE_INFEASIBLE, d.msg);
        goto out;
    }
    if (!strcmp(jsonx_str(row, "dataset", "S"), "L") &&
        m.max_sequence_length < WORKLOAD_L_MIN_SEQ_TOKENS) {
        blocker_reason(f, &m);
        goto out;
    }
    char *plan_path = xalloc_printf("%s/%s.plan.jsonl", tmp_dir, jsonx_str(row, "id", "row"));
    struct workload_options wo;
    workload_options_init(&wo);
    wo.max_requests = jsonx_u64(row, "max_requests", 0);
    wo.rate_scale = jsonx_num(row, "rate_scale", 0);
    wo.skip_steady = args_skip_steady(json_object_get(row, "bundle_args"));
    wo.tokenizer_path = jsonx_str(row, "tokenizer", NULL);
    wo.endpoint = !strcmp(jsonx_str(row, "endpoint", "chat"), "completions")
                      ? WORKLOAD_ENDPOINT_COMPLETIONS
                      : WORKLOAD_ENDPOINT_CHAT;
    int r = workload_plan_write(profiles_dir, jsonx_str(row, "workload", ""),
                                jsonx_str(row, "dataset", ""), m.name, jsonx_u64(row, "seed", 1),
                                &cap, &wo, plan_path, &header, &d);
    unlink(plan_path);
    free(plan_path);
    if (r < 0) {
        set_state(f, MATRIX_STATE_INFEASIBLE, d.msg);
        goto out;
    }
    pressure_reason(f, header);
    per_bundle = per_bundle_seconds(header, builtin);
    how = builtin ? "planned phase spans + 2 s per phase + 6 s engine start per bundle"
                  : "planned phase spans + 2 s per phase + 180 s model load per bundle";
out:
    row_estimate(row, per_bundle, how);
    json_decref(header);
}

static bool command_available(const char *kvtier, const char *cmd)
{
    if (!kvtier)
        return true;
    char *argv[] = { (char *)kvtier, (char *)cmd, (char *)"--help", NULL };
    extern char **environ;
    struct spawn_opts o = { .argv = argv, .envp = environ };
    struct spawn_proc p;
    if (spawn_start(&o, &p) < 0)
        return false;
    if (spawn_wait(&p, 10 * CLK_NS_PER_S) < 0)
        spawn_stop(&p, CLK_NS_PER_S);
    return spawn_exit_code(&p) == 0;
}

double matrix_assess(const char *profiles_dir, const char *kvtier_path, json_t *plan,
                     const char *tmp_dir)
{
    fileio_mkdir_p(tmp_dir);
    bool builtin = !strcmp(jsonx_str(plan, "stack_kind", ""), "builtin");
    int have_sweep = -1, have_slo = -1;
    double total = 0;
    size_t i;
    json_t *row;
    json_array_foreach (json_object_get(plan, "rows"), i, row) {
        assess_row(profiles_dir, plan, row, tmp_dir, builtin);
        const char *kind = jsonx_str(row, "kind", "");
        json_t *f = json_object_get(row, "feasibility");
        bool search = !strcmp(kind, "sweep") || !strcmp(kind, "slo");
        if (search && jsonx_bool(f, "feasible", false)) {
            int *have = !strcmp(kind, "sweep") ? &have_sweep : &have_slo;
            if (*have < 0)
                *have = command_available(kvtier_path, kind);
            if (!*have) {
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "waiting on `kvtier %s` (issue 13): this build does not provide it yet",
                         kind);
                set_state(f, MATRIX_STATE_WAITING, msg);
            }
        }
        if (jsonx_bool(f, "feasible", false))
            total += jsonx_num(json_object_get(row, "estimate"), "wall_s", 0);
    }
    jsonx_set_num(plan, "estimated_wall_s", total);
    return total;
}

/* ---- running ---- */

static void argv_add(json_t *a, const char *s)
{
    json_array_append_new(a, json_string(s));
}

static void argv_addf(json_t *a, const char *key, const char *fmt, double v)
{
    char b[64];
    snprintf(b, sizeof(b), fmt, v);
    argv_add(a, key);
    argv_add(a, b);
}

static char *modes_csv(const json_t *row)
{
    struct buf b;
    buf_init(&b, 256);
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(row, "modes"), i, m)
        buf_printf(&b, "%s%s", i ? "," : "", json_string_value(m));
    return buf_take_str(&b);
}

static void argv_search(json_t *a, const json_t *row, const char *kind)
{
    argv_add(a, "--axis");
    argv_add(a, jsonx_str(row, "axis", "concurrency"));
    struct buf b;
    buf_init(&b, 4096);
    size_t i;
    json_t *v;
    if (!strcmp(kind, "sweep")) {
        json_array_foreach (json_object_get(row, "values"), i, v)
            buf_printf(&b, "%s%g", i ? "," : "", json_number_value(v));
        argv_add(a, "--values");
        argv_add(a, buf_str(&b));
    } else {
        const char *k;
        i = 0;
        json_object_foreach (json_object_get(row, "slo"), k, v) {
            if (json_is_number(v))
                buf_printf(&b, "%s%s=%g", i++ ? "," : "", k, json_number_value(v));
            else
                buf_printf(&b, "%s%s=%s", i++ ? "," : "", k, jsonx_str(row, k, "?"));
        }
        argv_add(a, "--slo");
        argv_add(a, buf_str(&b));
        argv_addf(a, "--min", "%g", jsonx_num(row, "min", 1));
        argv_addf(a, "--max", "%g", jsonx_num(row, "max", 64));
        if (json_is_number(json_object_get(row, "resolution")))
            argv_addf(a, "--resolution", "%g", jsonx_num(row, "resolution", 1));
    }
    buf_fini(&b);
}

json_t *matrix_row_argv(const json_t *row, const json_t *plan, const struct matrix_config *cfg,
                        const char *row_dir)
{
    const char *kind = jsonx_str(row, "kind", "");
    bool search = !strcmp(kind, "sweep") || !strcmp(kind, "slo");
    json_t *a = json_array();
    argv_add(a, cfg->kvtier_path ? cfg->kvtier_path : "kvtier");
    argv_add(a, search ? kind : "bundle");
    if (cfg->profiles_dir) {
        argv_add(a, "--profiles");
        argv_add(a, cfg->profiles_dir);
    }
    const char *pairs[][2] = { { "--stack", jsonx_str(plan, "stack", "builtin") },
                               { "--model", jsonx_str(row, "model", "") },
                               { "--workload", jsonx_str(row, "workload", "") },
                               { "--dataset", jsonx_str(row, "dataset", "S") } };
    for (size_t i = 0; i < 4; i++) {
        argv_add(a, pairs[i][0]);
        argv_add(a, pairs[i][1]);
    }
    char *modes = modes_csv(row);
    argv_add(a, "--mode");
    argv_add(a, modes);
    free(modes);
    argv_addf(a, "--repeats", "%.0f", (double)jsonx_i64(row, "repeats", 1));
    argv_addf(a, "--seed", "%.0f", (double)jsonx_i64(row, "seed", 1));
    if (json_is_number(json_object_get(row, "max_requests")))
        argv_addf(a, "--max-requests", "%.0f", jsonx_num(row, "max_requests", 0));
    if (json_is_number(json_object_get(row, "rate_scale")))
        argv_addf(a, "--rate-scale", "%g", jsonx_num(row, "rate_scale", 1));
    if (search)
        argv_search(a, row, kind);
    const char *pk[][2] = { { "tokenizer", "--tokenizer" }, { "endpoint", "--endpoint" } };
    for (size_t k = 0; k < 2; k++)
        if (json_is_string(json_object_get(row, pk[k][0]))) {
            argv_add(a, pk[k][1]);
            argv_add(a, jsonx_str(row, pk[k][0], ""));
        }
    if (json_is_string(json_object_get(row, "tail"))) {
        argv_add(a, "--tail");
        argv_add(a, jsonx_str(row, "tail", "p95"));
    }
    if (cfg->disk_cache_dir) {
        argv_add(a, "--disk-cache-dir");
        argv_add(a, cfg->disk_cache_dir);
    }
    if (!cfg->drop_caches) {
        argv_add(a, "--drop-caches");
        argv_add(a, "no");
    }
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(row, "bundle_args"), i, v)
        if (json_is_string(v))
            json_array_append(a, v);
    argv_add(a, "--out");
    argv_add(a, row_dir);
    return a;
}

static void note(const struct matrix_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const struct matrix_config *cfg, const char *fmt, ...)
{
    if (!cfg->note)
        return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cfg->note(cfg->note_ctx, line);
}

/* The group directory (owned) under row_dir holding group_summary.json, or NULL. */
static char *find_group(const char *row_dir)
{
    DIR *dh = opendir(row_dir);
    if (!dh)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(dh)) && !found) {
        if (e->d_name[0] == '.')
            continue;
        char *g = fileio_join(row_dir, e->d_name);
        char *gs = fileio_join(g, "group_summary.json");
        if (access(gs, R_OK) == 0)
            found = g;
        else
            free(g);
        free(gs);
    }
    closedir(dh);
    return found;
}

/* Whether a finished row's outputs are still there and complete. */
static bool row_outputs_ok(const json_t *row, const char *row_dir)
{
    const char *kind = jsonx_str(row, "kind", "");
    if (!strcmp(kind, "sweep") || !strcmp(kind, "slo")) {
        char *p = xalloc_printf("%s/%s.json", row_dir, kind);
        bool ok = access(p, R_OK) == 0;
        free(p);
        return ok;
    }
    char *g = find_group(row_dir);
    if (!g)
        return false;
    char *gs = fileio_join(g, "group_summary.json");
    json_t *j = NULL;
    struct diag d = { 0 };
    bool ok = jsonx_load_file(gs, &j, &d) == 0 && !jsonx_bool(j, "interrupted", true);
    json_decref(j);
    free(gs);
    free(g);
    return ok;
}

static void write_dossier(const json_t *row, const json_t *plan, const char *row_dir)
{
    fileio_mkdir_p(row_dir);
    json_t *f = json_object_get(row, "feasibility");
    json_t *a = json_object_get(f, "arithmetic");
    const char *model = jsonx_str(row, "model", "");
    json_t *doc = json_object();
    json_object_set_new(doc, "schema_version", json_integer(MATRIX_SCHEMA_VERSION));
    json_object_set_new(doc, "kind", json_string("kvtier.blocker"));
    json_object_set_new(doc, "outcome", json_string("blocked (test plan §2 outcome A.5)"));
    json_object_set(doc, "row", json_object_get(row, "id"));
    json_object_set(doc, "reasons", json_object_get(f, "reasons"));
    json_object_set(doc, "arithmetic", a);
    char *repro = xalloc_printf("kvtier plan --workload %s --dataset L --model %s --seed 1 "
                                "--out /tmp/plan.jsonl",
                                jsonx_str(row, "workload", ""), model);
    char *doctor =
        xalloc_printf("kvtier doctor --stack %s --model %s", jsonx_str(plan, "stack", ""), model);
    json_t *steps = json_array();
    json_array_append_new(steps, json_string(repro));
    json_array_append_new(steps, json_string(doctor));
    json_object_set_new(doc, "minimal_repro", steps);
    json_object_set_new(
        doc, "what_must_change",
        json_string("build (or select) a TensorRT-LLM engine with max_sequence_length >= 32768 "
                    "plus the output tokens, record its build id in a *_ctx32k model profile, and "
                    "check with kvtier doctor that the running engine reports that context"));
    char *p = fileio_join(row_dir, "blocker.json");
    jsonx_write_file(p, doc);
    free(p);
    struct buf md;
    buf_init(&md, 1 << 16);
    buf_printf(&md, "# Blocker dossier: %s\n\n", jsonx_str(row, "id", ""));
    buf_printf(&md, "Outcome: **blocked** for this row (test plan §2 outcome A.5, long-context "
                    "enablement). The other rows of the matrix ran.\n\n## Why\n\n");
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(f, "reasons"), i, r)
        buf_printf(&md, "- %s\n", json_string_value(r));
    buf_printf(&md,
               "\n## Arithmetic\n\n| quantity | value |\n|---|---|\n| required context | %lld "
               "tokens |\n| engine max_sequence_length | %lld tokens |\n| engine build | %s |\n"
               "| source | %s |\n\n## Minimal repro\n\n```sh\n%s\n%s\n```\n\n## What must "
               "change\n\n%s\n",
               (long long)jsonx_i64(a, "required_context_tokens", 0),
               (long long)jsonx_i64(a, "engine_max_sequence_length", 0),
               jsonx_str(a, "engine_build_id", "?"), jsonx_str(a, "context_source", "?"), repro,
               doctor, jsonx_str(doc, "what_must_change", ""));
    p = fileio_join(row_dir, "BLOCKER.md");
    fileio_write_atomic(p, md.data, md.len);
    free(p);
    buf_fini(&md);
    free(repro);
    free(doctor);
    json_decref(doc);
}

/* Runs argv (borrowed JSON strings) with output appended to log; forwards an interrupt to the
 * child's group as SIGINT (the child writes what it measured and exits). Returns the exit code,
 * or negative errno when it could not start. *ret_interrupted says whether it was stopped. */
static int run_child(const struct matrix_config *cfg, const json_t *argv, const char *log,
                     bool *ret_interrupted)
{
    size_t n = json_array_size(argv);
    char **av = xcalloc(n + 1, sizeof(*av));
    for (size_t i = 0; i < n; i++)
        av[i] = (char *)json_string_value(json_array_get(argv, i));
    extern char **environ;
    struct spawn_opts o = { .argv = av, .envp = environ, .stdout_path = log };
    struct spawn_proc p;
    bool sent = false;
    int r = spawn_start(&o, &p);
    free(av);
    if (r < 0)
        return r;
    while (spawn_wait(&p, 200 * CLK_NS_PER_MS) == -ETIMEDOUT) {
        if (cfg->interrupt_flag && *cfg->interrupt_flag && !sent) {
            spawn_kill_group(&p, SIGINT);
            sent = true;
        }
    }
    *ret_interrupted = sent;
    return spawn_exit_code(&p);
}

static const char *baseline_mode(const json_t *modes)
{
    const char *pref[] = { "B1", "B0", NULL };
    for (size_t k = 0; pref[k]; k++) {
        size_t i;
        json_t *m;
        json_array_foreach (modes, i, m)
            if (!strcmp(json_string_value(m), pref[k]))
                return pref[k];
    }
    return json_string_value(json_array_get(modes, 0));
}

/* kvtier compare of the baseline against every other mode of a finished bundle row. */
static void run_compares(const struct matrix_config *cfg, json_t *row, const char *group)
{
    json_t *modes = json_object_get(row, "modes");
    const char *base = baseline_mode(modes);
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach (modes, i, m) {
        const char *t = json_string_value(m);
        if (!strcmp(t, base))
            continue;
        char *bd = xalloc_printf("%s/%s", group, base);
        char *td = xalloc_printf("%s/%s", group, t);
        char *cp = xalloc_printf("%s/compare_%s_%s.json", group, base, t);
        char *log = xalloc_printf("%s/compare_%s_%s.log", group, base, t);
        json_t *a = json_array();
        argv_add(a, cfg->kvtier_path ? cfg->kvtier_path : "kvtier");
        const char *rest[] = { "compare", "--baseline", bd,        "--treatment", td,
                               "--out",   cp,           "--quiet", NULL };
        for (size_t k = 0; rest[k]; k++)
            argv_add(a, rest[k]);
        if (json_is_string(json_object_get(row, "tail"))) {
            char pm[32];
            snprintf(pm, sizeof(pm), "ttft_%s_ms", jsonx_str(row, "tail", "p95"));
            argv_add(a, "--primary");
            argv_add(a, pm);
        }
        bool intr = false;
        int rc = run_child(cfg, a, log, &intr);
        json_t *c = json_object();
        json_object_set_new(c, "baseline", json_string(base));
        json_object_set_new(c, "treatment", json_string(t));
        json_object_set_new(c, "path", json_string(cp));
        json_object_set_new(c, "exit_code", json_integer(rc));
        json_object_set_new(c, "command", a);
        json_array_append_new(out, c);
        note(cfg, "  compare %s -> %s: exit %d (%s)", base, t, rc, cp);
        free(bd);
        free(td);
        free(cp);
        free(log);
    }
    json_object_set_new(row, "compares", out);
}

static json_t *engine_json(const json_t *plan)
{
    bool builtin = !strcmp(jsonx_str(plan, "stack_kind", ""), "builtin");
    json_t *e = json_object();
    json_object_set_new(e, "kind", json_string(builtin ? "emulated" : "real"));
    json_object_set_new(e, "stack", json_string(jsonx_str(plan, "stack", "")));
    json_object_set_new(e, "stack_kind", json_string(jsonx_str(plan, "stack_kind", "")));
    json_object_set_new(
        e, "label",
        json_string(builtin ? "emulated engine (kvtier serve, builtin stack)" : "real stack"));
    return e;
}

static int save(const char *path, json_t *doc)
{
    json_object_set_new(doc, "updated_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    return jsonx_write_file(path, doc);
}

/* The previous state of row id in an earlier matrix.json (borrowed), or NULL. */
static json_t *prev_row(const json_t *prev, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(prev, "rows"), i, r)
        if (!strcmp(jsonx_str(r, "id", ""), id))
            return r;
    return NULL;
}

/* Moves a partial row directory aside (nothing measured is deleted). */
static void set_aside(const struct matrix_config *cfg, const char *row_dir)
{
    if (access(row_dir, F_OK) != 0)
        return;
    for (int k = 1; k < 1000; k++) {
        char *to = xalloc_printf("%s.partial-%d", row_dir, k);
        bool free_slot = access(to, F_OK) != 0;
        if (free_slot && rename(row_dir, to) == 0)
            note(cfg, "  partial output moved aside to %s", to);
        free(to);
        if (free_slot)
            return;
    }
}

/* Runs one row; returns -EINTR when interrupted. */
static int run_row(const struct matrix_config *cfg, const json_t *plan, json_t *row,
                   const char *row_dir, json_t *doc, const char *mpath)
{
    set_aside(cfg, row_dir);
    fileio_mkdir_p(row_dir);
    json_t *argv = matrix_row_argv(row, plan, cfg, row_dir);
    json_object_set_new(row, "command", argv);
    json_object_set_new(row, "state", json_string(MATRIX_STATE_RUNNING));
    json_object_set_new(row, "started_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    save(mpath, doc);
    char *log = fileio_join(row_dir, "child.log");
    note(cfg, "row %s: running (log %s)", jsonx_str(row, "id", ""), log);
    uint64_t t0 = clk_now_ns();
    bool intr = false;
    int rc = run_child(cfg, argv, log, &intr);
    free(log);
    json_object_set_new(row, "exit_code", json_integer(rc));
    json_object_set_new(row, "ended_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    jsonx_set_num(row, "wall_s", (double)(clk_now_ns() - t0) / 1e9);
    const char *kind = jsonx_str(row, "kind", "");
    bool search = !strcmp(kind, "sweep") || !strcmp(kind, "slo");
    const char *state = MATRIX_STATE_FAILED;
    if (intr || (cfg->interrupt_flag && *cfg->interrupt_flag))
        state = MATRIX_STATE_INTERRUPTED;
    else if ((rc == 0 || rc == 3) && row_outputs_ok(row, row_dir))
        state = MATRIX_STATE_DONE;
    json_object_set_new(row, "state", json_string(state));
    char *g = search ? NULL : find_group(row_dir);
    if (g)
        json_object_set_new(row, "group_dir", json_string(g));
    if (!strcmp(state, MATRIX_STATE_DONE) && g &&
        json_array_size(json_object_get(row, "modes")) > 1)
        run_compares(cfg, row, g);
    free(g);
    note(cfg, "row %s: %s (exit %d, %.0f s)", jsonx_str(row, "id", ""), state, rc,
         jsonx_num(row, "wall_s", 0));
    save(mpath, doc);
    return strcmp(state, MATRIX_STATE_INTERRUPTED) ? 0 : -EINTR;
}

static json_t *load_prev(const char *mpath)
{
    json_t *prev = NULL;
    struct diag d = { 0 };
    if (access(mpath, R_OK) == 0 && jsonx_load_file(mpath, &prev, &d) < 0)
        prev = NULL;
    return prev;
}

int matrix_run(const struct matrix_config *cfg, json_t *plan, json_t **ret_doc, struct diag *d)
{
    char *rows_dir = fileio_join(cfg->out_dir, "rows");
    char *mpath = fileio_join(cfg->out_dir, "matrix.json");
    int r = fileio_mkdir_p(rows_dir);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot create %s: %s", rows_dir, strerror(-r));
        goto out;
    }
    json_t *prev = load_prev(mpath);
    json_t *doc = json_object();
    json_object_set_new(doc, "schema_version", json_integer(MATRIX_SCHEMA_VERSION));
    json_object_set_new(doc, "kind", json_string("kvtier.matrix"));
    json_object_set_new(doc, "engine", engine_json(plan));
    json_object_set(doc, "plan", plan);
    json_t *rows = json_object_get(plan, "rows");
    json_object_set(doc, "rows", rows);
    size_t ri;
    json_t *rw;
    json_array_foreach (rows, ri, rw)
        json_object_set_new(rw, "state", json_string(MATRIX_STATE_PENDING));
    json_object_set_new(doc, "resumed", json_boolean(prev != NULL));
    if ((r = save(mpath, doc)) < 0) {
        diag_set(d, r, 0, 0, "cannot write %s: %s", mpath, strerror(-r));
        json_decref(prev);
        json_decref(doc);
        goto out;
    }
    size_t i;
    json_t *row;
    json_array_foreach (rows, i, row) {
        const char *id = jsonx_str(row, "id", "");
        char *row_dir = fileio_join(rows_dir, id);
        json_object_set_new(row, "dir", json_string(row_dir));
        json_t *f = json_object_get(row, "feasibility");
        const char *fs = jsonx_str(f, "state", MATRIX_STATE_PENDING);
        json_t *pr = prev_row(prev, id);
        if (!strcmp(jsonx_str(pr, "state", ""), MATRIX_STATE_DONE) &&
            row_outputs_ok(row, row_dir)) {
            const char *keep[] = { "state",           "command",       "exit_code",
                                   "started_unix_ns", "ended_unix_ns", "wall_s",
                                   "group_dir",       "compares",      NULL };
            for (size_t k = 0; keep[k]; k++)
                if (json_object_get(pr, keep[k]))
                    json_object_set(row, keep[k], json_object_get(pr, keep[k]));
            json_object_set_new(row, "kept", json_true());
            note(cfg, "row %s: done before, kept", id);
        } else if (strcmp(fs, MATRIX_STATE_PENDING)) {
            json_object_set_new(row, "state", json_string(fs));
            if (!strcmp(fs, MATRIX_STATE_BLOCKED))
                write_dossier(row, plan, row_dir);
            note(cfg, "row %s: %s: %s", id, fs,
                 json_string_value(json_array_get(json_object_get(f, "reasons"), 0)));
        } else if (!strcmp(jsonx_str(row, "kind", ""), "optional") && !cfg->optional) {
            json_object_set_new(row, "state", json_string(MATRIX_STATE_SKIPPED));
        } else {
            r = run_row(cfg, plan, row, row_dir, doc, mpath);
        }
        free(row_dir);
        save(mpath, doc);
        if (r == -EINTR)
            break;
    }
    json_decref(prev);
    *ret_doc = doc;
out:
    free(rows_dir);
    free(mpath);
    return r;
}
