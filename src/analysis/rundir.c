/* SPDX-License-Identifier: Apache-2.0 */
/* Reading run bundles through their files (see rundir.h). */
#include "analysis/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

static const struct rundir_metric metrics[] = {
    { "ttft_p50_ms", "ttft_ms.p50", "TTFT p50 (ms, from intended send)", RUNDIR_LOWER, 0.5 },
    { "ttft_p95_ms", "ttft_ms.p95", "TTFT p95 (ms, from intended send)", RUNDIR_LOWER, 0.95 },
    { "ttft_p99_ms", "ttft_ms.p99", "TTFT p99 (ms, from intended send)", RUNDIR_LOWER, 0.99 },
    { "e2e_p50_ms", "e2e_ms.p50", "end-to-end p50 (ms)", RUNDIR_LOWER, 0.5 },
    { "e2e_p95_ms", "e2e_ms.p95", "end-to-end p95 (ms)", RUNDIR_LOWER, 0.95 },
    { "e2e_p99_ms", "e2e_ms.p99", "end-to-end p99 (ms)", RUNDIR_LOWER, 0.99 },
    { "itl_p50_ms", "itl_ms.p50", "inter-token latency p50 (ms)", RUNDIR_LOWER, 0.5 },
    { "itl_p95_ms", "itl_ms.p95", "inter-token latency p95 (ms)", RUNDIR_LOWER, 0.95 },
    { "itl_p99_ms", "itl_ms.p99", "inter-token latency p99 (ms)", RUNDIR_LOWER, 0.99 },
    { "throughput_rps", "throughput_rps", "requests/s", RUNDIR_HIGHER, 0 },
    { "output_tps", "output_tps", "output tokens/s", RUNDIR_HIGHER, 0 },
    { "error_rate", "error_rate", "error rate", RUNDIR_LOWER, 0 },
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

const struct rundir_metric *rundir_metrics(size_t *ret_n)
{
    *ret_n = NMETRICS;
    return metrics;
}

const struct rundir_metric *rundir_metric_find(const char *key)
{
    for (size_t i = 0; i < NMETRICS; i++)
        if (strcmp(metrics[i].key, key) == 0)
            return &metrics[i];
    return NULL;
}

const char *rundir_metric_names(void)
{
    return "ttft_p50_ms, ttft_p95_ms, ttft_p99_ms, e2e_p50_ms, e2e_p95_ms, e2e_p99_ms, "
           "itl_p50_ms, itl_p95_ms, itl_p99_ms, throughput_rps, output_tps, error_rate";
}

double rundir_metric_value(const json_t *summary, const char *phase, const struct rundir_metric *m)
{
    json_t *ph = json_object_get(jsonx_path(summary, "phases"), phase);
    json_t *v = ph ? jsonx_path(ph, m->path) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const json_t *rundir_metric_ci(const json_t *summary, const char *phase,
                               const struct rundir_metric *m)
{
    if (m->q <= 0)
        return NULL;
    char path[64];
    snprintf(path, sizeof(path), "%s_ci", m->path);
    json_t *ph = json_object_get(jsonx_path(summary, "phases"), phase);
    json_t *ci = ph ? jsonx_path(ph, path) : NULL;
    return json_is_object(ci) ? ci : NULL;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_file(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rundir_list(const char *dir, char ***ret, size_t *ret_n, struct diag *d)
{
    char **out = NULL;
    size_t n = 0, cap = 0;
    if (!is_dir(dir)) {
        diag_file(d, dir);
        return diag_set(d, -ENOENT, 0, 0, "not a directory");
    }
    if (has_file(dir, "verdict.json")) {
        xalloc_grow((void **)&out, &cap, 1, sizeof(char *));
        out[n++] = xstrdup(dir);
        *ret = out;
        *ret_n = n;
        return 0;
    }
    DIR *dp = opendir(dir);
    if (!dp) {
        diag_file(d, dir);
        return diag_set(d, -errno, 0, 0, "cannot list: %s", strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] != 'r' || n >= RUNDIR_MAX_BUNDLES)
            continue;
        char *p = fileio_join(dir, e->d_name);
        if (is_dir(p) && has_file(p, "verdict.json")) {
            xalloc_grow((void **)&out, &cap, n + 1, sizeof(char *));
            out[n++] = p;
        } else {
            free(p);
        }
    }
    closedir(dp);
    if (n == 0) {
        diag_file(d, dir);
        return diag_set(d, -ENOENT, 0, 0,
                        "no run bundle here: expected verdict.json or rNN/verdict.json (a mode "
                        "directory of a bundle group)");
    }
    qsort(out, n, sizeof(char *), cmp_str);
    *ret = out;
    *ret_n = n;
    return 0;
}

static int load_json(const char *dir, const char *name, json_t **out, struct diag *d)
{
    char *p = fileio_join(dir, name);
    int r = jsonx_load_file(p, out, d);
    if (r < 0)
        diag_file(d, p);
    free(p);
    return r;
}

/* The record's TTFT from the intended send when it belongs to phase and succeeded, else NaN. */
static double record_ttft(const json_t *rec, const char *phase)
{
    const json_t *err = json_object_get(rec, "error");
    uint64_t ti = jsonx_u64(rec, "t_intended_ns", 0), tf = jsonx_u64(rec, "t_first_token_ns", 0);
    if (strcmp(jsonx_str(rec, "phase", ""), phase) == 0 && (!err || json_is_null(err)) && ti &&
        tf >= ti)
        return (double)(tf - ti) / 1e6;
    return NAN;
}

/* TTFT from intended send of the phase's successful requests, from raw/records.jsonl. */
static int load_ttft(struct rundir_bundle *b, const char *phase, struct diag *d)
{
    char *p = fileio_join(b->dir, "raw/records.jsonl");
    FILE *f = fopen(p, "r");
    if (!f) {
        int e = errno;
        diag_file(d, p);
        free(p);
        return diag_set(d, -e, 0, 0, "cannot read records: %s", strerror(e));
    }
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (len <= 1)
            continue;
        json_error_t je;
        json_t *rec = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(rec)) {
            json_decref(rec);
            diag_file(d, p);
            rc = diag_set(d, -EINVAL, lineno, (unsigned)je.column,
                          "record is not a JSON object: %s", je.text);
            break;
        }
        double v = record_ttft(rec, phase);
        if (!isnan(v)) {
            xalloc_grow((void **)&b->ttft, &cap, b->n_ttft + 1, sizeof(double));
            b->ttft[b->n_ttft++] = v;
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    free(p);
    return rc;
}

int rundir_load(struct rundir_bundle *b, const char *phase, struct diag *d)
{
    int r;
    if ((r = load_json(b->dir, "verdict.json", &b->verdict, d)) < 0)
        return r;
    b->valid = jsonx_bool(b->verdict, "run_valid", false);
    b->decision_grade = b->valid && jsonx_bool(b->verdict, "decision_grade", false);
    if (!b->valid) {
        /* a stack that never started may have left no summary or records */
        if (has_file(b->dir, "manifest.json"))
            load_json(b->dir, "manifest.json", &b->manifest, NULL);
        if (has_file(b->dir, "summary.json"))
            load_json(b->dir, "summary.json", &b->summary, NULL);
        return 0;
    }
    if ((r = load_json(b->dir, "manifest.json", &b->manifest, d)) < 0 ||
        (r = load_json(b->dir, "summary.json", &b->summary, d)) < 0)
        return r;
    return load_ttft(b, phase, d);
}

void rundir_bundle_fini(struct rundir_bundle *b)
{
    free(b->dir);
    json_decref(b->manifest);
    json_decref(b->verdict);
    json_decref(b->summary);
    free(b->ttft);
    *b = (struct rundir_bundle){ 0 };
}

const char *rundir_engine(const json_t *manifest)
{
    const char *kind = jsonx_str(jsonx_path(manifest, "stack"), "kind", NULL);
    if (!kind || !*kind)
        return NULL;
    return strcmp(kind, "builtin") == 0 ? "builtin" : "real";
}
