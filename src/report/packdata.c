/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a results tree for the evidence pack (packdata.h): the folder walk, one flat record
 * per bundle from its JSON files, and the streamed pairing of request records with device
 * samples for the disk-await / TTFT statistics. */
#include "report/packdata.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "report/csvread.h"

static const char *const phase_names[] = { "warmup", "pressure", "replay", "steady", NULL };

static bool has_file(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static int load_json(const char *dir, const char *name, bool required, json_t **ret, struct diag *d)
{
    char *p = fileio_join(dir, name);
    int r = 0;
    *ret = NULL;
    if (!required && access(p, F_OK) != 0)
        goto out;
    r = jsonx_load_file(p, ret, d);
    if (r == 0 && !json_is_object(*ret)) {
        json_decref(*ret);
        *ret = NULL;
        diag_file(d, p);
        r = diag_set(d, -EINVAL, 0, 0, "not a JSON object");
    }
    if (r < 0 && !d->file[0])
        diag_file(d, p);
out:
    free(p);
    return r;
}

/* The matrix row id of a path under root (the folder after "rows/"), else the group folder. */
static char *row_of(const char *rel, const char *group_rel)
{
    const char *r = strstr(rel, "rows/");
    if (r == rel || (r && r[-1] == '/')) {
        r += 5;
        const char *e = strchr(r, '/');
        return e ? xalloc_strndup(r, (size_t)(e - r)) : xstrdup(r);
    }
    const char *base = strrchr(group_rel, '/');
    return xstrdup(base ? base + 1 : group_rel);
}

static void set_phase_figures(json_t *rec, const json_t *summary)
{
    static const char *const kv[][2] = {
        { "offload_blocks_d2h", "offload_d2h_blocks" },
        { "offload_blocks_h2d", "offload_h2d_blocks" },
        { "onboard_blocks_d2d", "onboard_d2d_blocks" },
        { "onboard_blocks_h2d", "onboard_h2d_blocks" },
        { "matched_tokens", "matched_tokens" },
    };
    static const char *const os[] = { "device_read_bytes", "device_write_bytes",
                                      "server_read_bytes", "server_write_bytes", NULL };
    struct buf ran;
    buf_init(&ran, 64);
    for (size_t p = 0; phase_names[p]; p++) {
        json_t *ph = json_object_get(json_object_get(summary, "phases"), phase_names[p]);
        /* the phases the run planned (kvtier bundle --steady no leaves steady out) */
        if (ph)
            buf_printf(&ran, "%s%s", ran.len ? " " : "", phase_names[p]);
        json_t *k = json_object_get(ph, "kvbm");
        json_t *e = json_object_get(ph, "os_evidence");
        char key[96];
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
            snprintf(key, sizeof(key), "%s_%s", phase_names[p], kv[i][1]);
            jsonx_set_num(rec, key, jsonx_num(k, kv[i][0], NAN));
        }
        for (size_t i = 0; os[i]; i++) {
            snprintf(key, sizeof(key), "%s_%s", phase_names[p], os[i]);
            jsonx_set_num(rec, key, jsonx_num(e, os[i], NAN));
        }
    }
    json_object_set_new(rec, "phases_run", json_string(buf_str(&ran)));
    buf_fini(&ran);
}

static void set_ttft(json_t *rec, const json_t *summary, const char *phase, const char *prefix)
{
    json_t *ph = json_object_get(json_object_get(summary, "phases"), phase);
    json_t *t = json_object_get(ph, "ttft_ms");
    const char *q[] = { "p50", "p95", "p99", NULL };
    char key[64];
    snprintf(key, sizeof(key), "%s_requests", prefix);
    jsonx_set_num(rec, key, jsonx_num(ph, "requests", NAN));
    snprintf(key, sizeof(key), "%s_error_rate", prefix);
    jsonx_set_num(rec, key, jsonx_num(ph, "error_rate", NAN));
    snprintf(key, sizeof(key), "%s_ttft_n", prefix);
    jsonx_set_num(rec, key, jsonx_num(t, "n", NAN));
    for (size_t i = 0; q[i]; i++) {
        snprintf(key, sizeof(key), "%s_ttft_%s_ms", prefix, q[i]);
        jsonx_set_num(rec, key, jsonx_num(t, q[i], NAN));
        /* its 95% order-statistic interval; null bounds = undersampled (common/quantci.h) */
        char ck[16];
        snprintf(ck, sizeof(ck), "%s_ci", q[i]);
        const json_t *ci = json_object_get(t, ck);
        snprintf(key, sizeof(key), "%s_ttft_%s_lo", prefix, q[i]);
        jsonx_set_num(rec, key, jsonx_num(ci, "lo", NAN));
        snprintf(key, sizeof(key), "%s_ttft_%s_hi", prefix, q[i]);
        jsonx_set_num(rec, key, jsonx_num(ci, "hi", NAN));
    }
}

/* The engine that produced a bundle: manifest.engine when written, else the stack kind. */
static void set_engine(json_t *rec, const json_t *man)
{
    json_t *e = json_object_get(man, "engine");
    const char *kind = jsonx_str(e, "kind", NULL);
    json_t *sk = jsonx_path(man, "stack.kind");
    if (!kind)
        kind =
            json_is_string(sk) && !strcmp(json_string_value(sk), "builtin") ? "emulated" : "real";
    json_object_set_new(rec, "engine", json_string(kind));
    json_t *sn = jsonx_path(man, "stack.name");
    json_object_set_new(rec, "stack", json_string(json_is_string(sn) ? json_string_value(sn) : ""));
    json_t *prov = jsonx_path(man, "model.engine_provenance");
    json_t *v = json_object();
    const char *keys[] = { "engine",
                           "engine_version",
                           "dynamo_version",
                           "trtllm_version",
                           "container_image",
                           "build_id",
                           NULL };
    for (size_t i = 0; keys[i]; i++)
        if (json_is_string(json_object_get(prov, keys[i])))
            json_object_set(v, keys[i], json_object_get(prov, keys[i]));
    json_object_set_new(rec, "_versions", v);
}

static double replay_concurrency(const json_t *man)
{
    size_t i;
    json_t *ph;
    json_array_foreach (json_object_get(man, "phase_plan"), i, ph) {
        if (!strcmp(jsonx_str(ph, "name", ""), "replay"))
            return jsonx_num(ph, "max_concurrency", NAN);
    }
    return NAN;
}

static void set_identity(json_t *rec, const json_t *man, const json_t *verdict)
{
    json_object_set_new(rec, "model",
                        json_string(jsonx_str(json_object_get(man, "model"), "name", "")));
    json_t *wl = json_object_get(man, "workload");
    json_object_set_new(rec, "workload", json_string(jsonx_str(wl, "workload", "")));
    json_object_set_new(rec, "dataset", json_string(jsonx_str(wl, "dataset", "")));
    json_object_set_new(rec, "mode",
                        json_string(jsonx_str(json_object_get(man, "mode"), "mode", "")));
    json_object_set_new(rec, "repeat",
                        json_integer(jsonx_i64(json_object_get(man, "repeat"), "index", 0)));
    json_object_set_new(rec, "seed", json_integer(jsonx_i64(wl, "seed", 0)));
    json_object_set_new(rec, "run_valid", json_boolean(jsonx_bool(verdict, "run_valid", false)));
    json_object_set_new(rec, "decision_grade",
                        json_boolean(jsonx_bool(verdict, "decision_grade", false)));
    struct buf codes;
    buf_init(&codes, 4096);
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(verdict, "reason_codes"), i, c)
        buf_printf(&codes, "%s%s", i ? " " : "", json_string_value(c));
    json_object_set_new(rec, "reason_codes", json_string(buf_str(&codes)));
    buf_fini(&codes);
    jsonx_set_num(rec, "concurrency", replay_concurrency(man));
    json_t *ch = json_object_get(verdict, "chain");
    const char *links[] = { "mechanism", "os_corroboration", "request_plane", NULL };
    for (size_t k = 0; links[k]; k++) {
        char key[48];
        snprintf(key, sizeof(key), "chain_%s", links[k]);
        json_object_set_new(rec, key, json_boolean(jsonx_bool(ch, links[k], false)));
    }
    json_t *md = json_object_get(man, "mode");
    json_object_set_new(rec, "o_direct", json_boolean(jsonx_bool(md, "o_direct", false)));
    json_object_set_new(rec, "disk_offload_filter",
                        json_boolean(jsonx_bool(md, "disk_offload_filter", false)));
}

static json_t *why_of(const json_t *verdict)
{
    json_t *w = json_object();
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(verdict, "details"), k, v) {
        json_t *why = json_object_get(v, "why");
        if (why)
            json_object_set(w, k, why);
    }
    return w;
}

static int read_bundle(struct packdata *p, const char *dir, const char *rel, const char *group_rel,
                       struct diag *d)
{
    json_t *v = NULL, *s = NULL, *m = NULL;
    int r;
    if ((r = load_json(dir, "verdict.json", true, &v, d)) < 0 ||
        (r = load_json(dir, "summary.json", true, &s, d)) < 0 ||
        (r = load_json(dir, "manifest.json", true, &m, d)) < 0)
        goto out;
    json_t *rec = json_object();
    json_object_set_new(rec, "bundle", json_string(rel));
    char *row = row_of(rel, group_rel);
    json_object_set_new(rec, "row", json_string(row));
    free(row);
    json_object_set_new(rec, "group", json_string(group_rel));
    set_engine(rec, m);
    set_identity(rec, m, v);
    set_ttft(rec, s, "replay", "replay");
    set_ttft(rec, s, "all", "all");
    set_phase_figures(rec, s);
    if (json_is_object(json_object_get(s, "storage"))) /* vendor assertions, endurance */
        json_object_set(rec, "storage", json_object_get(s, "storage"));
    json_object_set_new(rec, "_dir", json_string(dir));
    json_object_set_new(rec, "_why", why_of(v));
    if (!strcmp(jsonx_str(rec, "engine", ""), "emulated"))
        p->emulated = true;
    else
        p->real = true;
    json_array_append_new(p->bundles, rec);
out:
    json_decref(v);
    json_decref(s);
    json_decref(m);
    return r;
}

static json_t *doc_entry(const char *path, json_t *doc)
{
    json_t *e = json_object();
    json_object_set_new(e, "path", json_string(path));
    json_object_set_new(e, "doc", doc);
    return e;
}

/* compare_*.json of a group folder, in name order. */
static int read_compares(const char *dir, json_t *group, struct diag *d)
{
    json_t *list = json_array();
    json_object_set_new(group, "compares", list);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int r = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        size_t len = strlen(nm);
        if (r == 0 && !strncmp(nm, "compare_", 8) && len > 5 && !strcmp(nm + len - 5, ".json")) {
            json_t *doc = NULL;
            char *p = fileio_join(dir, nm);
            r = load_json(dir, nm, true, &doc, d);
            if (r == 0)
                json_array_append_new(list, doc_entry(p, doc));
            free(p);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

static int read_doc(const char *dir, const char *name, json_t *list, struct diag *d)
{
    json_t *doc = NULL;
    int r = load_json(dir, name, true, &doc, d);
    if (r == 0) {
        char *p = fileio_join(dir, name);
        json_array_append_new(list, doc_entry(p, doc));
        free(p);
    }
    return r;
}

static int read_blocker(struct packdata *p, const char *dir, struct diag *d)
{
    json_t *doc = NULL;
    int r = load_json(dir, "blocker.json", true, &doc, d);
    if (r < 0)
        return r;
    json_t *e = doc_entry(dir, doc);
    if (has_file(dir, "BLOCKER.md")) {
        char *md = fileio_join(dir, "BLOCKER.md");
        json_object_set_new(e, "md", json_string(md));
        free(md);
    }
    json_array_append_new(p->blockers, e);
    return 0;
}

struct walk {
    struct packdata *p;
    size_t max_bundles;
    unsigned max_depth;
    struct diag *d;
};

static int walk_dir(struct walk *w, const char *dir, const char *rel, const char *group_rel,
                    unsigned depth);

static int walk_children(struct walk *w, const char *dir, const char *rel, const char *group_rel,
                         unsigned depth)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int r = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (r == 0 && nm[0] != '.' && !strstr(nm, ".partial-") && names[i]->d_type == DT_DIR) {
            char *sub = fileio_join(dir, nm);
            char *srel = rel[0] ? xalloc_printf("%s/%s", rel, nm) : xstrdup(nm);
            r = walk_dir(w, sub, srel, group_rel, depth + 1);
            free(sub);
            free(srel);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

static int walk_dir(struct walk *w, const char *dir, const char *rel, const char *group_rel,
                    unsigned depth)
{
    struct packdata *p = w->p;
    if (has_file(dir, "TECHBRIEF_EVIDENCE.md"))
        return 0; /* an evidence pack inside the results: not results */
    if (has_file(dir, "verdict.json") && has_file(dir, "manifest.json") &&
        has_file(dir, "summary.json")) {
        if (json_array_size(p->bundles) >= w->max_bundles) {
            diag_file(w->d, dir);
            return diag_set(w->d, -EMSGSIZE, 0, 0, "more than %zu bundles", w->max_bundles);
        }
        return read_bundle(p, dir, rel, group_rel, w->d);
    }
    int r = 0;
    if (has_file(dir, "group_summary.json")) {
        json_t *g = json_object();
        json_object_set_new(g, "dir", json_string(dir));
        json_object_set_new(g, "rel", json_string(rel));
        char *row = row_of(rel, rel);
        json_object_set_new(g, "row", json_string(row));
        free(row);
        json_t *gs = NULL;
        json_array_append_new(p->groups, g);
        if ((r = load_json(dir, "group_summary.json", true, &gs, w->d)) < 0)
            return r;
        json_object_set_new(g, "summary", gs);
        if ((r = read_compares(dir, g, w->d)) < 0)
            return r;
        group_rel = rel;
    }
    if (has_file(dir, "sweep.json") && (r = read_doc(dir, "sweep.json", p->sweeps, w->d)) < 0)
        return r;
    if (has_file(dir, "slo.json") && (r = read_doc(dir, "slo.json", p->slos, w->d)) < 0)
        return r;
    if (has_file(dir, "blocker.json") && (r = read_blocker(p, dir, w->d)) < 0)
        return r;
    if (depth >= w->max_depth)
        return 0;
    return walk_children(w, dir, rel, group_rel, depth);
}

int packdata_scan(const char *root, unsigned max_depth, size_t max_bundles, struct packdata *ret,
                  struct diag *d)
{
    struct packdata p = { 0 };
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        diag_file(d, root);
        return diag_set(d, -ENOENT, 0, 0, "results folder not found (or not a folder)");
    }
    p.root = xstrdup(root);
    char real[PATH_MAX];
    p.root_real = xstrdup(realpath(root, real) ? real : root);
    p.bundles = json_array();
    p.groups = json_array();
    p.sweeps = json_array();
    p.slos = json_array();
    p.blockers = json_array();
    int r = 0;
    if (has_file(root, "matrix.json") &&
        (r = load_json(root, "matrix.json", true, &p.matrix, d)) < 0)
        goto out;
    struct walk w = { .p = &p, .max_bundles = max_bundles, .max_depth = max_depth, .d = d };
    if ((r = walk_dir(&w, p.root_real, "", "", 0)) < 0)
        goto out;
    if (json_array_size(p.bundles) == 0) {
        diag_file(d, root);
        r = diag_set(d, -ENOENT, 0, 0,
                     "no run bundle (a folder with verdict.json, manifest.json and summary.json) "
                     "under this folder");
    }
out:
    if (r < 0)
        packdata_fini(&p);
    else
        *ret = p;
    return r;
}

void packdata_fini(struct packdata *p)
{
    free(p->root);
    free(p->root_real);
    json_decref(p->bundles);
    json_decref(p->groups);
    json_decref(p->matrix);
    json_decref(p->sweeps);
    json_decref(p->slos);
    json_decref(p->blockers);
    *p = (struct packdata){ 0 };
}

int packdata_mode_index(struct packdata *p, const char *mode)
{
    for (size_t i = 0; i < p->ncorr; i++)
        if (!strcmp(p->corr[i].mode, mode))
            return (int)i;
    if (p->ncorr >= PACKDATA_MAX_MODES)
        return -1;
    struct packdata_corr *c = &p->corr[p->ncorr];
    *c = (struct packdata_corr){ 0 };
    snprintf(c->mode, sizeof(c->mode), "%s", mode);
    return (int)p->ncorr++;
}

double packdata_corr_r(const struct packdata_corr *c)
{
    if (c->n < 3)
        return NAN;
    double cov = c->sxy - c->sx * c->sy / c->n;
    double vx = c->sxx - c->sx * c->sx / c->n;
    double vy = c->syy - c->sy * c->sy / c->n;
    return vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN;
}

/* Offset from the bundle's monotonic clock to Unix time, from raw/phases.json. */
static int clock_offset(const char *dir, int64_t *ret)
{
    json_t *ph = NULL;
    struct diag d = { 0 };
    if (load_json(dir, "raw/phases.json", true, &ph, &d) < 0)
        return -ENOENT;
    json_t *first = json_array_get(json_object_get(ph, "phases"), 0);
    int r = -ENOENT;
    if (json_is_integer(json_object_get(first, "t_start_ns")) &&
        json_is_integer(json_object_get(first, "t_start_unix_ns"))) {
        *ret = jsonx_i64(first, "t_start_unix_ns", 0) - jsonx_i64(first, "t_start_ns", 0);
        r = 0;
    }
    json_decref(ph);
    return r;
}

struct samples {
    struct csvread_table *t;
    int tcol, acol;
};

/* r_await of the first device sample at or after unix time t_ns (NaN if none). */
static double await_at(const struct samples *s, double t_ns)
{
    size_t lo = 0, hi = s->t->nrows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (csvread_at(s->t, mid, s->tcol) < t_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->t->nrows ? csvread_at(s->t, lo, s->acol) : NAN;
}

static int stream_one(struct packdata *p, const json_t *rec, FILE *dat, size_t line_max,
                      long *paired, struct diag *d)
{
    /* the scatter file gets a bounded, evenly thinned sample (tail events always); the
     * statistics use every request */
    size_t nb = json_array_size(p->bundles);
    double per = fmax(8.0, (double)PACKDATA_SCATTER_MAX / (double)(nb ? nb : 1));
    double reqs = jsonx_num(rec, "all_requests", 0);
    unsigned long stride = isfinite(reqs) && reqs > per ? (unsigned long)ceil(reqs / per) : 1;
    unsigned long seen = 0;
    const char *dir = jsonx_str(rec, "_dir", "");
    int64_t off = 0;
    struct samples s = { 0 };
    char *ip = fileio_join(dir, "os/os_iostat.csv");
    char *rp = fileio_join(dir, "raw/records.jsonl");
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    int r = 0;
    int mi = packdata_mode_index(p, jsonx_str(rec, "mode", "?"));
    double p95 = jsonx_num(rec, "all_ttft_p95_ms", NAN);
    if (mi < 0 || clock_offset(dir, &off) < 0 || csvread_load(ip, &s.t, NULL) < 0 ||
        (s.tcol = csvread_col(s.t, "t_unix_ns")) < 0 ||
        (s.acol = csvread_col(s.t, "r_await")) < 0 || !(f = fopen(rp, "r")))
        goto out;
    struct packdata_corr *c = &p->corr[mi];
    unsigned long lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if ((size_t)n > line_max) {
            diag_file(d, rp);
            r = diag_set(d, -EMSGSIZE, (unsigned)lineno, 0, "record longer than %zu bytes",
                         line_max);
            goto out;
        }
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            diag_file(d, rp);
            r = diag_set(d, -EINVAL, (unsigned)lineno, 0, "malformed record: %s", je.text);
            goto out;
        }
        p->records++;
        json_t *tf = json_object_get(o, "t_first_token_ns");
        json_t *ti = json_object_get(o, "t_intended_ns");
        if (json_is_integer(tf) && json_is_integer(ti) &&
            json_is_null(json_object_get(o, "error"))) {
            double ttft = (double)(json_integer_value(tf) - json_integer_value(ti)) / 1e6;
            double aw = await_at(&s, (double)(json_integer_value(tf) + off));
            if (ttft > 0 && isfinite(aw)) {
                double y = log(ttft);
                c->n++, c->sx += aw, c->sy += y, c->sxx += aw * aw, c->syy += y * y,
                    c->sxy += aw * y;
                bool tail = isfinite(p95) && ttft > p95;
                if (tail)
                    c->tail_n++, c->tail_await_sum += aw;
                else
                    c->body_n++, c->body_await_sum += aw;
                if (dat && (tail || seen % stride == 0)) {
                    fprintf(dat, "%.3f\t%.3f\t%d\t%d\n", aw, ttft, mi, tail);
                    p->scatter_points++;
                }
                seen++;
                (*paired)++;
            }
        }
        json_decref(o);
    }
out:
    if (f)
        fclose(f);
    free(line);
    csvread_free(s.t);
    free(ip);
    free(rp);
    return r;
}

long packdata_stream_records(struct packdata *p, FILE *dat, size_t line_max, struct diag *d)
{
    long paired = 0;
    size_t i;
    json_t *rec;
    json_array_foreach (p->bundles, i, rec) {
        int r = stream_one(p, rec, dat, line_max, &paired, d);
        if (r < 0)
            return r;
    }
    return paired;
}

/* Absolute form of path: realpath, else realpath of its parent plus the last name. */
static void absolute(const char *path, char *out, size_t len)
{
    char tmp[PATH_MAX];
    if (realpath(path, tmp)) {
        snprintf(out, len, "%s", tmp);
        return;
    }
    char *parent = xstrdup(path);
    char *slash = strrchr(parent, '/');
    const char *leaf = slash ? path + (slash - parent) + 1 : path;
    if (slash)
        *slash = 0;
    const char *pdir = slash ? (parent[0] ? parent : "/") : ".";
    if (!realpath(pdir, tmp))
        snprintf(tmp, sizeof(tmp), "%s", pdir);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s/%s", strcmp(tmp, "/") ? tmp : "", leaf);
    snprintf(out, len, "%s", buf_str(&b));
    buf_fini(&b);
    free(parent);
}

char *packdata_relpath(const char *from_dir, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    absolute(from_dir, a, sizeof(a));
    absolute(to, b, sizeof(b));
    /* the longest common prefix ending at a component boundary */
    size_t common = 0;
    for (size_t i = 0;; i++) {
        bool end_a = a[i] == 0 || a[i] == '/';
        bool end_b = b[i] == 0 || b[i] == '/';
        if (end_a && end_b)
            common = i;
        if (!a[i] || !b[i] || a[i] != b[i])
            break;
    }
    struct buf out;
    buf_init(&out, 0);
    for (const char *s = a + common; *s; s++)
        if (*s == '/')
            buf_append_str(&out, "../");
    const char *rest = b + common;
    if (*rest == '/')
        rest++;
    if (rest[0])
        buf_append_str(&out, rest);
    else if (out.len == 0)
        buf_append_str(&out, ".");
    else
        out.data[--out.len] = 0;
    return buf_take_str(&out);
}
