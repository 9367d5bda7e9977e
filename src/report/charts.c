/* SPDX-License-Identifier: Apache-2.0 */
/* Bundle charts (see charts.h). Design: every chart is data + script, so a reviewer can
 * re-draw or restyle it without kvtier; times are seconds since the first phase start on the
 * monotonic clock shared by records, phases and samplers; phase starts are drawn as dashed
 * vertical lines labelled with the phase name. */
#include "report/charts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "report/csvread.h"

#define CHARTS_MAX_PHASES    16
#define CHARTS_RECORDS_BYTES (512u << 20)

extern char **environ;

struct phase_span {
    char name[32];
    double start_s, end_s; /* seconds since t0 */
    uint64_t start_ns, end_ns;
};

struct chart_ctx {
    const char *dir;
    char *charts_dir;
    const char *gnuplot;
    struct phase_span phases[CHARTS_MAX_PHASES];
    size_t nphases;
    uint64_t t0_ns;
    uint64_t t0_unix_ns; /* wall-clock time of t0, from the phases' anchors */
    bool have_wall;
    int64_t wall_minus_mono_ns;
    struct charts_result *res;
    /* per request: phase index, t_first_token (s since t0), ttft ms */
    double *req_t, *req_ttft;
    int *req_phase;
    size_t nreq, capreq;
};

static void note(struct chart_ctx *c, const char *fmt, const char *arg)
{
    char *s = xalloc_printf(fmt, arg);
    json_array_append_new(c->res->notes, json_string(s));
    free(s);
}

static int phase_index(struct chart_ctx *c, const char *name, bool create)
{
    for (size_t i = 0; i < c->nphases; i++)
        if (!strcmp(c->phases[i].name, name))
            return (int)i;
    if (!create || c->nphases == CHARTS_MAX_PHASES)
        return -1;
    struct phase_span *p = &c->phases[c->nphases];
    *p = (struct phase_span){ .start_ns = UINT64_MAX };
    snprintf(p->name, sizeof(p->name), "%s", name);
    return (int)c->nphases++;
}

/* raw/phases.json: [{name, t_start_ns, t_end_ns}, ...] written by the bundle runner. */
static void load_phases_file(struct chart_ctx *c)
{
    char *path = fileio_join(c->dir, "raw/phases.json");
    json_t *j = NULL;
    if (jsonx_load_file(path, &j, NULL) == 0) {
        json_t *arr = json_is_array(j) ? j : json_object_get(j, "phases");
        size_t i;
        json_t *p;
        json_array_foreach (arr, i, p) {
            const char *name = jsonx_str(p, "name", NULL);
            int k = name ? phase_index(c, name, true) : -1;
            if (k < 0)
                continue;
            c->phases[k].start_ns = jsonx_u64(p, "t_start_ns", UINT64_MAX);
            c->phases[k].end_ns = jsonx_u64(p, "t_end_ns", 0);
            uint64_t w = jsonx_u64(p, "t_start_unix_ns", 0);
            if (w && c->phases[k].start_ns != UINT64_MAX && !c->have_wall) {
                c->wall_minus_mono_ns = (int64_t)(w - c->phases[k].start_ns);
                c->have_wall = true;
            }
        }
    }
    json_decref(j);
    free(path);
}

static int load_records(struct chart_ctx *c, struct diag *d)
{
    char *path = fileio_join(c->dir, "raw/records.jsonl");
    struct buf b;
    buf_init(&b, CHARTS_RECORDS_BYTES);
    int r = fileio_read_all(path, CHARTS_RECORDS_BYTES, &b);
    if (r < 0) {
        diag_file(d, path);
        diag_set(d, r, 0, 0, "cannot read records: %s", strerror(-r));
        goto out;
    }
    bool have_phases = c->nphases > 0;
    const char *s = buf_str(&b);
    uint64_t *tft = NULL;
    size_t cap_tft = 0;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        json_t *rec = NULL;
        if (len && jsonx_parse(s, len, &rec, NULL) == 0 && json_is_object(rec)) {
            const char *ph = jsonx_str(rec, "phase", "all");
            int k = phase_index(c, ph, !have_phases);
            uint64_t ti = jsonx_u64(rec, "t_intended_ns", 0);
            uint64_t tf = jsonx_u64(rec, "t_first_token_ns", 0);
            uint64_t te = jsonx_u64(rec, "t_end_ns", 0);
            if (k >= 0 && !have_phases && ti) {
                if (ti < c->phases[k].start_ns)
                    c->phases[k].start_ns = ti;
                if (te > c->phases[k].end_ns)
                    c->phases[k].end_ns = te;
            }
            if (k >= 0 && ti && tf >= ti) {
                if (c->nreq == c->capreq) {
                    size_t c1 = c->capreq, c2 = c->capreq, c3 = c->capreq;
                    xalloc_grow((void **)&c->req_t, &c1, c->nreq + 1, sizeof(double));
                    xalloc_grow((void **)&c->req_ttft, &c2, c->nreq + 1, sizeof(double));
                    xalloc_grow((void **)&c->req_phase, &c3, c->nreq + 1, sizeof(int));
                    c->capreq = c1;
                }
                if (c->nreq >= cap_tft)
                    xalloc_grow((void **)&tft, &cap_tft, c->nreq + 1, sizeof(uint64_t));
                tft[c->nreq] = tf;
                c->req_ttft[c->nreq] = (double)(tf - ti) / 1e6;
                c->req_phase[c->nreq] = k;
                c->nreq++;
            }
        }
        json_decref(rec);
        s += len + (nl ? 1 : 0);
    }
    c->t0_ns = UINT64_MAX;
    for (size_t i = 0; i < c->nphases; i++)
        if (c->phases[i].start_ns < c->t0_ns)
            c->t0_ns = c->phases[i].start_ns;
    if (c->t0_ns == UINT64_MAX)
        c->t0_ns = 0;
    c->t0_unix_ns = (uint64_t)((int64_t)c->t0_ns + c->wall_minus_mono_ns);
    for (size_t i = 0; i < c->nphases; i++) {
        c->phases[i].start_s = (double)(c->phases[i].start_ns - c->t0_ns) / 1e9;
        c->phases[i].end_s = (double)(c->phases[i].end_ns - c->t0_ns) / 1e9;
    }
    for (size_t i = 0; i < c->nreq; i++)
        c->req_t[i] = (double)((int64_t)(tft[i] - c->t0_ns)) / 1e9;
    free(tft);
out:
    buf_fini(&b);
    free(path);
    return r;
}

/* Common gnuplot preamble: terminal placeholder, phase lines and labels. */
static void preamble(struct chart_ctx *c, struct buf *gp, const char *title, const char *ylabel)
{
    buf_printf(
        gp,
        "set title '%s'\nset xlabel 'seconds since the first phase started'\n"
        "set ylabel '%s'\nset grid\nset key below\nset offsets 0, 0, graph 0.08, 0\n"
        "set datafile separator '\\t'\nset datafile missing 'nan'\nset termoption noenhanced\n",
        title, ylabel);
    for (size_t i = 0; i < c->nphases; i++) {
        buf_printf(gp,
                   "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb '#888888'\n",
                   c->phases[i].start_s, c->phases[i].start_s);
        buf_printf(gp, "set label '%s' at %.3f, graph 0.97 offset 0.5,0 font ',9'\n",
                   c->phases[i].name, c->phases[i].start_s);
    }
}

static int run_gnuplot(const char *charts_dir, const char *gnuplot, const char *name, bool *missing)
{
    char *log = xalloc_printf("%s/gnuplot.log", charts_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, charts_dir);
    char *script = xalloc_printf("%s.gp", name);
    char *argv[] = { (char *)gnuplot, script, NULL };
    pid_t pid;
    int r = posix_spawnp(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
        *missing = true;
        r = -r;
        goto out;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st))
        r = -EIO;
    else if (WEXITSTATUS(st) == 127) {
        *missing = true;
        r = -ENOENT;
    } else if (WEXITSTATUS(st) != 0)
        r = -EIO;
out:
    free(script);
    free(log);
    return r;
}

int charts_emit(const char *dir, const char *name, const char *data, size_t len, const char *gp,
                const char *plot, const char *gnuplot, bool *ret_missing)
{
    char *datp = xalloc_printf("%s/%s.dat", dir, name);
    char *gpp = xalloc_printf("%s/%s.gp", dir, name);
    struct buf full;
    buf_init(&full, 0);
    buf_printf(&full, "# kvtier chart %s: data in %s.dat; run 'gnuplot %s.gp' here to redraw\n",
               name, name, name);
    buf_append_str(&full, gp);
    buf_printf(
        &full,
        "set terminal pngcairo size 1280,640 font ',10' noenhanced\nset output '%s.png'\n%s\n"
        "set terminal svg size 1280,640 dynamic font ',10' noenhanced\nset output '%s.svg'\n%s\n",
        name, plot, name, plot);
    int r = data ? fileio_write_atomic(datp, data, len) : 0;
    if (r == 0)
        r = fileio_write_atomic(gpp, full.data, full.len);
    if (r == 0 && !*ret_missing)
        r = run_gnuplot(dir, gnuplot ? gnuplot : "gnuplot", name, ret_missing) == 0 ? 1 : 0;
    buf_fini(&full);
    free(datp);
    free(gpp);
    return r;
}

int charts_write(const char *charts_dir, const char *name, const char *dat, size_t dat_len,
                 const char *gp, const char *plot, const char *gnuplot, struct charts_result *res)
{
    int r = charts_emit(charts_dir, name, dat ? dat : "", dat_len, gp, plot, gnuplot,
                        &res->gnuplot_missing);
    if (r < 0)
        return r;
    res->written++;
    if (r == 1) {
        res->rendered++;
        return 0;
    }
    return res->gnuplot_missing ? 0 : -EIO;
}

/* Writes name.dat and name.gp (the plot command given, drawn once as PNG and once as SVG),
 * then renders. */
static void emit_chart(struct chart_ctx *c, const char *name, const struct buf *dat,
                       const struct buf *gp, const char *plot)
{
    int r = charts_emit(c->charts_dir, name, buf_str(dat), dat->len, buf_str(gp), plot, c->gnuplot,
                        &c->res->gnuplot_missing);
    if (r < 0)
        return;
    c->res->written++;
    if (r == 1)
        c->res->rendered++;
    else if (!c->res->gnuplot_missing)
        note(c, "gnuplot failed on %s (see charts/gnuplot.log)", name);
}

static void chart_ttft(struct chart_ctx *c)
{
    if (c->nreq == 0) {
        note(c, "%s: no request reached a first token", "ttft_timeline");
        return;
    }
    struct buf dat, gp, plot;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    buf_append_str(&plot, "plot ");
    for (size_t k = 0; k < c->nphases; k++) {
        buf_printf(&dat, "# phase %s: t_first_token_s\tttft_ms\n", c->phases[k].name);
        for (size_t i = 0; i < c->nreq; i++)
            if (c->req_phase[i] == (int)k)
                buf_printf(&dat, "%.6f\t%.3f\n", c->req_t[i], c->req_ttft[i]);
        buf_append_str(&dat, "nan\tnan\n\n\n");
        buf_printf(&plot,
                   "%s'ttft_timeline.dat' index %zu using 1:2 with points pt 7 ps 0.5 title '%s'",
                   k ? ", " : "", k, c->phases[k].name);
    }
    preamble(c, &gp, "TTFT measured from the intended send time", "TTFT (ms, log scale)");
    buf_append_str(&gp, "set logscale y\n");
    emit_chart(c, "ttft_timeline", &dat, &gp, buf_str(&plot));
    buf_fini(&dat);
    buf_fini(&gp);
    buf_fini(&plot);
}

/* One extracted time series: x = seconds since t0 on the monotonic clock, y = value. */
struct series {
    double *x, *y;
    size_t n, cap;
};

static void series_push(struct series *s, double x, double y)
{
    if (s->n == s->cap) {
        size_t c2 = s->cap;
        xalloc_grow((void **)&s->x, &s->cap, s->n + 1, sizeof(double));
        xalloc_grow((void **)&s->y, &c2, s->n + 1, sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

static void series_fini(struct series *s)
{
    free(s->x);
    free(s->y);
    *s = (struct series){ 0 };
}

/* Seconds since t0 of row i: a monotonic ns column (t_ns) is used as is; a wall-clock column
 * (t_unix_ns) is mapped through the phases' wall-clock anchors. NaN when neither works. */
static double row_time_s(const struct chart_ctx *c, const struct csvread_table *t, size_t i)
{
    int k = csvread_col(t, "t_ns");
    if (k >= 0)
        return (csvread_at(t, i, k) - (double)c->t0_ns) / 1e9;
    k = csvread_col(t, "t_unix_ns");
    if (k >= 0 && c->have_wall)
        return (csvread_at(t, i, k) - (double)c->t0_unix_ns) / 1e9;
    return NAN;
}

/* Column index by exact name, else by a name ending with the given suffix (prefixed names). */
static int col_like(const struct csvread_table *t, const char *name)
{
    int k = csvread_col(t, name);
    if (k >= 0)
        return k;
    size_t nl = strlen(name);
    for (size_t i = 0; i < t->ncols; i++) {
        size_t l = strlen(t->names[i]);
        if (l > nl && !strcmp(t->names[i] + l - nl, name))
            return (int)i;
    }
    return -1;
}

/* Extracts series `name` from a sampler CSV, wide (a column per series) or long (columns
 * `series` and `value`, one row per series and sample). Returns the point count. */
static size_t extract(const struct chart_ctx *c, const struct csvread_table *t, const char *name,
                      struct series *out)
{
    int ks = csvread_col(t, "series"), kv = csvread_col(t, "value");
    int kw = col_like(t, name);
    for (size_t i = 0; i < t->nrows; i++) {
        double x = row_time_s(c, t, i);
        if (isnan(x))
            continue;
        if (kw >= 0)
            series_push(out, x, csvread_at(t, i, kw));
        else if (ks >= 0 && kv >= 0 && !strcmp(t->text[i * t->ncols + (size_t)ks], name))
            series_push(out, x, csvread_at(t, i, kv));
    }
    return out->n;
}

static bool has_time(const struct chart_ctx *c, const struct csvread_table *t)
{
    return csvread_col(t, "t_ns") >= 0 || (csvread_col(t, "t_unix_ns") >= 0 && c->have_wall);
}

static void chart_kvbm(struct chart_ctx *c)
{
    static const struct {
        const char *col, *title;
    } series_names[] = {
        { "kvbm_offload_blocks_d2h", "offload device->host (G1->G2)" },
        { "kvbm_offload_blocks_h2d", "offload host->disk (G2->G3, SSD writes)" },
        { "kvbm_offload_blocks_d2d", "offload device->disk (disk-only mode)" },
        { "kvbm_onboard_blocks_h2d", "onboard host->device (G2->G1)" },
        { "kvbm_onboard_blocks_d2d", "onboard disk->device (G3->G1, SSD reads)" },
    };
    char *path = fileio_join(c->dir, "raw/kvbm_timeseries.csv");
    struct csvread_table *t = NULL;
    if (csvread_load(path, &t, NULL) < 0 || !has_time(c, t) || t->nrows < 2) {
        note(c, "kvbm_timeline: %s missing, without a usable time column, or too short", path);
        goto out;
    }
    struct buf dat, gp, plot;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    buf_append_str(&plot, "plot ");
    size_t idx = 0;
    for (size_t s = 0; s < sizeof(series_names) / sizeof(series_names[0]); s++) {
        struct series sr = { 0 };
        if (extract(c, t, series_names[s].col, &sr) < 2) {
            series_fini(&sr);
            continue;
        }
        buf_printf(&dat, "# %s: t_s\tblocks_per_s\n", series_names[s].col);
        /* the rate over [t(i-1), t(i)] is drawn from t(i-1), held until t(i) */
        double rate = NAN;
        for (size_t i = 1; i < sr.n; i++) {
            double dt = sr.x[i] - sr.x[i - 1];
            rate = dt > 0 && sr.y[i] >= sr.y[i - 1] ? (sr.y[i] - sr.y[i - 1]) / dt : NAN;
            buf_printf(&dat, "%.6f\t%.3f\n", sr.x[i - 1], rate);
        }
        buf_printf(&dat, "%.6f\t%.3f\n\n\n", sr.x[sr.n - 1], rate);
        buf_printf(&plot, "%s'kvbm_timeline.dat' index %zu using 1:2 with steps lw 2 title '%s'",
                   idx ? ", " : "", idx, series_names[s].title);
        idx++;
        series_fini(&sr);
    }
    if (idx == 0) {
        note(c, "kvbm_timeline: no kvbm_* counter series in %s", path);
    } else {
        preamble(c, &gp, "KVBM block transfers (counter rates)", "blocks per second");
        emit_chart(c, "kvbm_timeline", &dat, &gp, buf_str(&plot));
    }
    buf_fini(&dat);
    buf_fini(&gp);
    buf_fini(&plot);
out:
    csvread_free(t);
    free(path);
}

static void chart_iostat(struct chart_ctx *c)
{
    char *path = fileio_join(c->dir, "os/os_iostat.csv");
    struct csvread_table *t = NULL;
    struct series rd = { 0 }, wr = { 0 }, aw = { 0 };
    if (csvread_load(path, &t, NULL) < 0 || !has_time(c, t) || t->nrows < 1) {
        note(c, "iostat_timeline and await_vs_ttft: %s missing or without a usable time column",
             path);
        goto out;
    }
    if (extract(c, t, "rkB/s", &rd) == 0 || extract(c, t, "wkB/s", &wr) != rd.n) {
        note(c, "iostat_timeline: %s lacks rkB/s and wkB/s", path);
        goto out;
    }
    bool have_await = extract(c, t, "r_await", &aw) == rd.n;
    struct buf dat, gp;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_append_str(&dat, "# t_s\tread_MBps\twrite_MBps\tr_await_ms\n");
    for (size_t i = 0; i < rd.n; i++)
        buf_printf(&dat, "%.6f\t%.3f\t%.3f\t%.3f\n", rd.x[i], rd.y[i] / 1000.0, wr.y[i] / 1000.0,
                   have_await ? aw.y[i] : NAN);
    preamble(c, &gp, "KV device I/O (iostat -x formulas over /proc/diskstats)", "MB/s");
    buf_append_str(&gp, "set y2label 'read await (ms)'\nset y2tics\nset ytics nomirror\n");
    emit_chart(c, "iostat_timeline", &dat, &gp,
               "plot 'iostat_timeline.dat' using 1:2 with fsteps lw 2 title 'read MB/s', "
               "'' using 1:3 with fsteps lw 2 title 'write MB/s', "
               "'' using 1:4 axes x1y2 with lines dt 3 title 'read await (ms)'");
    buf_fini(&dat);
    buf_fini(&gp);

    /* await vs TTFT: each request against the device sample covering its first token. */
    if (have_await && c->nreq > 0) {
        buf_init(&dat, 0);
        buf_init(&gp, 0);
        buf_append_str(&dat, "# r_await_ms\tttft_ms\tphase\n");
        size_t n = 0;
        for (size_t i = 0; i < c->nreq; i++) {
            size_t k = 0;
            while (k < aw.n && aw.x[k] < c->req_t[i])
                k++;
            if (k == aw.n || isnan(aw.y[k]))
                continue;
            buf_printf(&dat, "%.3f\t%.3f\t%s\n", aw.y[k], c->req_ttft[i],
                       c->phases[c->req_phase[i]].name);
            n++;
        }
        if (n) {
            buf_append_str(&gp,
                           "set title 'Disk read await vs TTFT (per request)'\n"
                           "set xlabel 'device r_await in the sample of the first token (ms)'\n"
                           "set ylabel 'TTFT from intended (ms)'\nset grid\n"
                           "set datafile separator '\\t'\nset logscale y\n"
                           "set termoption noenhanced\n");
            emit_chart(c, "await_vs_ttft", &dat, &gp,
                       "plot 'await_vs_ttft.dat' using 1:2 with points pt 7 ps 0.5 notitle");
        } else {
            note(c, "%s: no request fell inside the device samples", "await_vs_ttft");
        }
        buf_fini(&dat);
        buf_fini(&gp);
    }
out:
    series_fini(&rd);
    series_fini(&wr);
    series_fini(&aw);
    csvread_free(t);
    free(path);
}

int charts_render_bundle(const char *dir, const char *gnuplot, struct charts_result *ret,
                         struct diag *d)
{
    struct charts_result res = { .notes = json_array() };
    struct chart_ctx c = { .dir = dir, .gnuplot = gnuplot ? gnuplot : "gnuplot", .res = &res };
    int r;
    c.charts_dir = fileio_join(dir, "charts");
    char *records = fileio_join(dir, "raw/records.jsonl");
    r = access(records, R_OK) == 0 ? 0 : -ENOENT;
    if (r < 0) {
        diag_file(d, records);
        diag_set(d, r, 0, 0, "no request records in this bundle");
    }
    free(records);
    if (r < 0)
        goto out;
    r = fileio_mkdir_p(c.charts_dir);
    if (r < 0) {
        diag_file(d, c.charts_dir);
        diag_set(d, -EIO, 0, 0, "cannot create: %s", strerror(-r));
        r = -EIO;
        goto out;
    }
    load_phases_file(&c);
    r = load_records(&c, d);
    if (r < 0)
        goto out;
    chart_ttft(&c);
    chart_kvbm(&c);
    chart_iostat(&c);
    if (res.gnuplot_missing)
        note(&c, "%s not found: chart scripts written, nothing rendered", c.gnuplot);
out:
    free(c.charts_dir);
    free(c.req_t);
    free(c.req_ttft);
    free(c.req_phase);
    if (r < 0) {
        json_decref(res.notes);
        return r;
    }
    *ret = res;
    return 0;
}
