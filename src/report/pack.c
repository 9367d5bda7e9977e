/* SPDX-License-Identifier: Apache-2.0 */
/* The evidence pack (pack.h): scan, stream, roll up, draw, write Markdown and HTML into a
 * temporary sibling folder, then rename it into place so a pack is never left half written. */
#include "report/pack.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "report/packdata.h"
#include "report/packfig.h"
#include "report/packhtml.h"
#include "report/packmd.h"
#include "report/packroll.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool is_pack(const char *dir)
{
    char *a = fileio_join(dir, "TECHBRIEF_EVIDENCE.md");
    char *b = fileio_join(dir, "pack.json");
    bool yes = access(a, F_OK) == 0 || access(b, F_OK) == 0;
    free(a);
    free(b);
    return yes;
}

static bool is_empty_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    return rmdir(dir) == 0; /* removed when empty; recreated by the rename */
}

static int write_text(const char *dir, const char *name, const char *text, struct diag *d)
{
    char *p = fileio_join(dir, name);
    int r = fileio_write_atomic(p, text, strlen(text));
    if (r < 0) {
        diag_file(d, p);
        diag_set(d, -EIO, 0, 0, "cannot write: %s", strerror(-r));
        r = -EIO;
    }
    free(p);
    return r;
}

static int write_json_file(const char *dir, const char *name, json_t *v, struct diag *d)
{
    char *p = fileio_join(dir, name);
    int r = jsonx_write_file(p, v);
    if (r < 0) {
        diag_file(d, p);
        diag_set(d, -EIO, 0, 0, "cannot write: %s", strerror(-r));
        r = -EIO;
    }
    free(p);
    return r;
}

/* RESULTS/: bundles and rollups as CSV and JSON, and a relative link to the results tree. */
static int write_results(const char *tmp, const char *out, const struct packdata *p,
                         const json_t *rollups, struct diag *d)
{
    char *rd = fileio_join(tmp, "RESULTS");
    char *bc = fileio_join(rd, "bundles.csv");
    char *rc = fileio_join(rd, "rollups.csv");
    int r = 0;
    if (packroll_write_csv(bc, p->bundles) < 0 || packroll_write_csv(rc, rollups) < 0) {
        diag_file(d, rd);
        r = diag_set(d, -EIO, 0, 0, "cannot write the rollups");
        goto out;
    }
    json_t *bj = json_object();
    json_object_set_new(bj, "kind", json_string("kvtier.pack_bundles"));
    json_object_set(bj, "bundles", p->bundles);
    json_t *rj = json_object();
    json_object_set_new(rj, "kind", json_string("kvtier.pack_rollups"));
    json_object_set(rj, "rollups", (json_t *)rollups);
    r = write_json_file(rd, "bundles.json", bj, d);
    if (r == 0)
        r = write_json_file(rd, "rollups.json", rj, d);
    json_decref(bj);
    json_decref(rj);
    if (r < 0)
        goto out;
    /* RESULTS/results -> the results tree, relative to where RESULTS/ will be */
    char *parent = xstrdup(out);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = 0;
    char *rel = packdata_relpath(slash ? (parent[0] ? parent : "/") : ".", p->root_real);
    char *target = rel[0] == '/' ? xstrdup(rel) : xalloc_printf("../../%s", rel);
    char *link = fileio_join(rd, "results");
    if (symlink(target, link) < 0) {
        diag_file(d, link);
        r = diag_set(d, -EIO, 0, 0, "cannot link to the results: %s", strerror(errno));
    }
    free(link);
    free(target);
    free(rel);
    free(parent);
out:
    free(bc);
    free(rc);
    free(rd);
    return r;
}

static int stream_records(const char *tmp, struct packdata *p, struct diag *d)
{
    char *path = xalloc_printf("%s/FIGURES/%s.dat", tmp, packfig_names[4]);
    FILE *f = fopen(path, "w");
    long r;
    if (!f) {
        diag_file(d, path);
        r = diag_set(d, -EIO, 0, 0, "cannot write: %s", strerror(errno));
        goto out;
    }
    fprintf(f, "# await_ms\tttft_ms\tmode_index\ttail (1 = TTFT above the bundle's p95)\n");
    r = packdata_stream_records(p, f, PACK_RECORD_MAX, d);
    if (fclose(f) != 0 && r >= 0) {
        diag_file(d, path);
        r = diag_set(d, -EIO, 0, 0, "cannot write: %s", strerror(errno));
    }
out:
    free(path);
    return r < 0 ? (int)r : 0;
}

static json_t *pack_summary(const struct packdata *p, const json_t *headline, const json_t *figs)
{
    json_t *s = json_object();
    json_object_set_new(s, "schema_version", json_integer(1));
    json_object_set_new(s, "kind", json_string("kvtier.pack"));
    json_t *e = json_object();
    json_object_set_new(e, "kind",
                        json_string(p->emulated && p->real ? "mixed"
                                    : p->real              ? "real"
                                                           : "emulated"));
    char *sentence = packmd_engine_sentence(p);
    json_object_set_new(e, "sentence", json_string(sentence));
    free(sentence);
    json_object_set_new(s, "engine", e);
    json_object_set_new(s, "results", json_string(p->root_real));
    json_object_set_new(s, "bundles", json_integer((json_int_t)json_array_size(p->bundles)));
    json_object_set_new(s, "records", json_integer((json_int_t)p->records));
    json_object_set(s, "headline", (json_t *)headline);
    json_object_set(s, "figures", (json_t *)figs);
    return s;
}

/* Everything of the pack into tmp (exists), links made for the final folder out. */
static int fill(const struct pack_config *cfg, struct packdata *p, const char *tmp,
                struct pack_result *res, struct diag *d)
{
    int r = stream_records(tmp, p, d);
    if (r < 0)
        return r;
    json_t *rollups = packroll_modes(p->bundles);
    json_t *figs = NULL, *headline = NULL, *summary = NULL;
    char *tb = NULL, *me = NULL, *html = NULL, *banner = NULL;
    if ((r = write_results(tmp, cfg->out_dir, p, rollups, d)) < 0)
        goto out;
    char *fd = fileio_join(tmp, "FIGURES");
    bool missing = false;
    figs = packfig_draw(p, rollups, fd, cfg->gnuplot, &missing);
    free(fd);
    headline = packmd_headline(p);
    struct packmd_input in = {
        .data = p, .rollups = rollups, .figures = figs, .pack_dir = cfg->out_dir
    };
    tb = packmd_techbrief(&in, headline);
    me = packmd_method(&in);
    banner = packmd_engine_sentence(p);
    html = packhtml_page("kvtier evidence pack", banner, p->emulated, p->real, tb, me);
    summary = pack_summary(p, headline, figs);
    if ((r = write_text(tmp, "TECHBRIEF_EVIDENCE.md", tb, d)) < 0 ||
        (r = write_text(tmp, "METHOD.md", me, d)) < 0 ||
        (r = write_text(tmp, "index.html", html, d)) < 0 ||
        (r = write_json_file(tmp, "pack.json", summary, d)) < 0)
        goto out;
    res->bundles = (unsigned)json_array_size(p->bundles);
    res->mode_rows = (unsigned)json_array_size(rollups);
    res->records = (unsigned)p->records;
    size_t i;
    json_t *f;
    json_array_foreach (figs, i, f) {
        res->figures += jsonx_bool(f, "drawn", false);
        res->rendered += jsonx_bool(f, "rendered", false);
        if (!jsonx_bool(f, "drawn", false) && cfg->note) {
            char line[600];
            snprintf(line, sizeof(line), "%s not drawn: %s", jsonx_str(f, "name", ""),
                     jsonx_str(f, "why_not", ""));
            cfg->note(cfg->note_ctx, line);
        }
    }
    res->emulated = p->emulated;
    res->real = p->real;
    res->headline_decision_grade = jsonx_bool(headline, "decision_grade", false);
    snprintf(res->headline, sizeof(res->headline), "%s", jsonx_str(headline, "text", ""));
out:
    json_decref(rollups);
    json_decref(figs);
    json_decref(headline);
    json_decref(summary);
    free(tb);
    free(me);
    free(html);
    free(banner);
    return r;
}

static int prepare_out(const char *out, char **ret_tmp, struct diag *d)
{
    struct stat st;
    if (stat(out, &st) == 0 && !is_pack(out) && !is_empty_dir(out)) {
        diag_file(d, out);
        return diag_set(d, -EEXIST, 0, 0,
                        "exists and is not an evidence pack: give a new folder (a previous pack "
                        "there is replaced)");
    }
    char *parent = xstrdup(out);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        fileio_mkdir_p(parent);
    }
    free(parent);
    char *tmp = xalloc_printf("%s.tmp-%d", out, (int)getpid());
    rm_tree(tmp);
    char *rd = fileio_join(tmp, "RESULTS");
    char *fd = fileio_join(tmp, "FIGURES");
    int r = fileio_mkdir_p(rd);
    if (r == 0)
        r = fileio_mkdir_p(fd);
    free(rd);
    free(fd);
    if (r < 0) {
        diag_file(d, tmp);
        diag_set(d, -EIO, 0, 0, "cannot create: %s", strerror(-r));
        rm_tree(tmp);
        free(tmp);
        return -EIO;
    }
    *ret_tmp = tmp;
    return 0;
}

static int swap_in(const char *tmp, const char *out, struct diag *d)
{
    char *old = NULL;
    if (access(out, F_OK) == 0) {
        old = xalloc_printf("%s.old-%d", out, (int)getpid());
        if (rename(out, old) < 0) {
            diag_file(d, out);
            free(old);
            return diag_set(d, -EIO, 0, 0, "cannot move the previous pack aside: %s",
                            strerror(errno));
        }
    }
    int r = 0;
    if (rename(tmp, out) < 0) {
        diag_file(d, out);
        r = diag_set(d, -EIO, 0, 0, "cannot rename %s into place: %s", tmp, strerror(errno));
        if (old)
            rename(old, out);
    } else if (old) {
        rm_tree(old);
    }
    free(old);
    return r;
}

int pack_write(const struct pack_config *cfg, struct pack_result *ret, struct diag *d)
{
    struct packdata p;
    struct pack_result res = { 0 };
    char *tmp = NULL;
    int r = packdata_scan(cfg->results_dir, PACK_MAX_DEPTH, PACK_MAX_BUNDLES, &p, d);
    if (r < 0)
        return r;
    if (p.emulated && p.real && !cfg->allow_mixed_engines) {
        diag_file(d, cfg->results_dir);
        r = diag_set(d, -EINVAL, 0, 0,
                     "holds bundles of the emulated engine and of a real stack: pack them "
                     "separately, or pass --allow-mixed-engines to pack them side by side");
        goto out;
    }
    if ((r = prepare_out(cfg->out_dir, &tmp, d)) < 0)
        goto out;
    if ((r = fill(cfg, &p, tmp, &res, d)) < 0 || (r = swap_in(tmp, cfg->out_dir, d)) < 0) {
        rm_tree(tmp);
        goto out;
    }
    snprintf(res.index_html, sizeof(res.index_html), "%s/index.html", cfg->out_dir);
    *ret = res;
out:
    free(tmp);
    packdata_fini(&p);
    return r;
}
