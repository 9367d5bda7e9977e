/* SPDX-License-Identifier: Apache-2.0 */
/* The evidence pack's five figures (packfig.h), drawn with charts_emit (gnuplot data, script,
 * PNG, SVG). Timelines reuse each representative bundle's own chart data (the charts/ .dat files
 * written by kvtier bundle from its raw/ and os/ files), so the pack draws exactly what the bundle
 * shows. */
#include "report/packfig.h"

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
#include "report/charts.h"
#include "report/packroll.h"

#define DAT_MAX_BYTES (16u << 20) /* a bundle chart's data file read for the timelines */

const char *const packfig_names[5] = { "fig1_ttft_vs_concurrency", "fig2_max_concurrency_slo",
                                       "fig3_kvbm_timeline", "fig4_iostat_timeline",
                                       "fig5_await_vs_ttft" };

struct fig {
    const char *dir, *gnuplot;
    bool *missing;
    json_t *list;
};

static void record(struct fig *f, const char *name, const char *title, const char *caption,
                   int drawn, const char *why_not)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "title", json_string(title));
    json_object_set_new(o, "caption", json_string(caption ? caption : ""));
    json_object_set_new(o, "drawn", json_boolean(drawn >= 0));
    json_object_set_new(o, "rendered", json_boolean(drawn == 1));
    json_object_set_new(o, "why_not", why_not ? json_string(why_not) : json_null());
    json_array_append_new(f->list, o);
}

static void emit(struct fig *f, const char *name, const char *title, const char *caption,
                 const struct buf *dat, const struct buf *gp, const char *plot)
{
    int r = charts_emit(f->dir, name, dat ? buf_str(dat) : NULL, dat ? dat->len : 0, buf_str(gp),
                        plot, f->gnuplot, f->missing);
    record(f, name, title, caption, r < 0 ? -1 : r,
           r < 0 ? "the figure files could not be written" : NULL);
}

static void head(struct buf *gp, const char *title, const char *xl, const char *yl)
{
    buf_printf(gp,
               "set title '%s' noenhanced\nset xlabel '%s' noenhanced\n"
               "set ylabel '%s' noenhanced\nset grid\n"
               "set key below horizontal\nset datafile separator '\\t'\n"
               "set datafile missing 'nan'\nset termoption noenhanced\n",
               title, xl, yl);
}

const json_t *packfig_main_group(const struct packdata *p)
{
    const json_t *best = NULL;
    size_t most = 0;
    size_t i;
    json_t *g;
    json_array_foreach (p->groups, i, g) {
        size_t n = json_object_size(jsonx_path(g, "summary.per_mode"));
        if (n > most) {
            most = n;
            best = g;
        }
    }
    return best;
}

/* Figure 1 from sweep.json documents: one index block per mode and quantile. */
static size_t fig1_sweeps(const struct packdata *p, struct buf *dat, struct buf *plot, double *cmin,
                          double *cmax)
{
    size_t idx = 0;
    size_t i;
    json_t *e;
    json_array_foreach (p->sweeps, i, e) {
        const char *k;
        json_t *pts;
        json_object_foreach (jsonx_path(json_object_get(e, "doc"), "modes"), k, pts) {
            const char *q[] = { "p95", "p99" };
            for (size_t j = 0; j < 2; j++) {
                buf_printf(dat, "# %s %s: value\tttft_ms\tlo\thi\tn\n", k, q[j]);
                size_t t;
                json_t *pt;
                json_array_foreach (pts, t, pt) {
                    json_t *qq = json_object_get(json_object_get(pt, "ttft_ms"), q[j]);
                    double x = jsonx_num(pt, "value", NAN), v = jsonx_num(qq, "value", NAN);
                    double lo = jsonx_num(qq, "lo", NAN), hi = jsonx_num(qq, "hi", NAN);
                    if (isfinite(x)) {
                        *cmin = x < *cmin ? x : *cmin;
                        *cmax = x > *cmax ? x : *cmax;
                    }
                    /* an undersampled quantile has no upper bound: its bar stops at the
                     * point (gnuplot drops a point with a NaN bound) */
                    buf_printf(dat, "%g\t%g\t%g\t%g\t%g\n", x, v, isfinite(lo) ? lo : v,
                               isfinite(hi) ? hi : v, jsonx_num(qq, "n", NAN));
                }
                buf_append_str(dat, "\n\n");
                buf_printf(plot,
                           "%s'fig1_ttft_vs_concurrency.dat' index %zu using 1:2:3:4 with "
                           "yerrorlines lw 2 dt %d title '%s TTFT %s (95%% CI)'",
                           idx ? ", " : "plot ", idx, j ? 2 : 1, k, q[j]);
                idx++;
            }
        }
    }
    return idx;
}

/* The mean of the finite values of array v with its seeded bootstrap 95% interval. */
static void mean_ci(const json_t *v, double *ret_mean, double *ret_lo, double *ret_hi)
{
    size_t n = json_array_size(v);
    double *x = xcalloc(n ? n : 1, sizeof(*x));
    for (size_t i = 0; i < n; i++)
        x[i] = json_number_value(json_array_get(v, i));
    struct bootstrap_ci ci = { .estimate = NAN, .lo = NAN, .hi = NAN };
    if (n == 0 || bootstrap_ci(BOOTSTRAP_MEAN, x, n, 2000, 0.95, 1, &ci) < 0)
        ci = (struct bootstrap_ci){ .estimate = NAN, .lo = NAN, .hi = NAN };
    *ret_mean = ci.estimate;
    *ret_lo = ci.lo;
    *ret_hi = ci.hi;
    free(x);
}

/* Figure 1 without sweeps: each (model, workload, dataset, mode, concurrency) operating point
 * over every valid bundle of every row, the mean of their replay p95 and p99 with bootstrap
 * intervals; modes side by side at the same concurrency. */
static size_t fig1_points(const json_t *bundles, struct buf *dat, struct buf *plot,
                          struct buf *tics, double *cmin, double *cmax)
{
    json_t *pts = json_object();
    size_t i;
    json_t *b;
    json_array_foreach (bundles, i, b) {
        double c = jsonx_num(b, "concurrency", NAN);
        if (!jsonx_bool(b, "run_valid", false) || !isfinite(c) ||
            !isfinite(jsonx_num(b, "replay_ttft_p95_ms", NAN)))
            continue;
        char key[256];
        snprintf(key, sizeof(key), "%s %s/%s/%s|%g", jsonx_str(b, "mode", ""),
                 jsonx_str(b, "model", ""), jsonx_str(b, "workload", ""),
                 jsonx_str(b, "dataset", ""), c);
        json_t *pt = json_object_get(pts, key);
        if (!pt) {
            pt = json_pack("{s:f, s:[], s:[]}", "c", c, "p95", "p99");
            json_object_set_new(pts, key, pt);
        }
        json_array_append_new(json_object_get(pt, "p95"),
                              json_real(jsonx_num(b, "replay_ttft_p95_ms", NAN)));
        double p99 = jsonx_num(b, "replay_ttft_p99_ms", NAN);
        if (isfinite(p99))
            json_array_append_new(json_object_get(pt, "p99"), json_real(p99));
    }
    size_t idx = 0;
    const char *key;
    json_t *pt;
    json_object_foreach (pts, key, pt) {
        double c = jsonx_num(pt, "c", 0), m95, l95, h95, m99, l99, h99;
        double x = c * (1 + 0.015 * (double)idx);
        *cmin = fmin(*cmin, c);
        *cmax = fmax(*cmax, x);
        char tic[64];
        snprintf(tic, sizeof(tic), "'%g' %g", c, c);
        if (!strstr(buf_str(tics), tic))
            buf_printf(tics, "%s%s", tics->len ? ", " : "", tic);
        mean_ci(json_object_get(pt, "p95"), &m95, &l95, &h95);
        mean_ci(json_object_get(pt, "p99"), &m99, &l99, &h99);
        const char *bar = strchr(key, '|');
        int lab = bar ? (int)(bar - key) : (int)strlen(key);
        buf_printf(dat,
                   "# %.*s: concurrency\tp95_mean\tp95_lo\tp95_hi\tp99_mean\tp99_lo\tp99_hi\tn\n",
                   lab, key);
        buf_printf(dat, "%g\t%g\t%g\t%g\t%g\t%g\t%g\t%zu\n\n\n", x, m95, l95, h95, m99, l99, h99,
                   json_array_size(json_object_get(pt, "p95")));
        buf_printf(plot,
                   "%s'fig1_ttft_vs_concurrency.dat' index %zu using 1:2:3:4 with yerrorbars "
                   "pt 7 ps 1.5 lc %zu title '%.*s p95 (mean of %zu repeats, 95%% CI)', "
                   "'' index %zu using 1:5:6:7 with yerrorbars pt 5 ps 1.5 lc %zu title 'p99'",
                   idx ? ", " : "plot ", idx, idx + 1, lab, key,
                   json_array_size(json_object_get(pt, "p95")), idx, idx + 1);
        idx++;
    }
    json_decref(pts);
    return idx;
}

static void fig1(struct fig *f, const struct packdata *p, const json_t *rollups)
{
    const char *name = packfig_names[0];
    const char *title = "Replay TTFT p95 and p99 against concurrency";
    struct buf dat, gp, plot;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    struct buf tics;
    buf_init(&tics, 0);
    double cmin = INFINITY, cmax = -INFINITY;
    bool sweeps = json_array_size(p->sweeps) > 0;
    size_t n = sweeps ? fig1_sweeps(p, &dat, &plot, &cmin, &cmax)
                      : fig1_points(p->bundles, &dat, &plot, &tics, &cmin, &cmax);
    const char *caption =
        sweeps ? "Style 1 sweeps: TTFT from the intended send, each point with its 95% "
                 "order-statistic interval; a bar that stops at its point has no upper bound "
                 "(the sample is too small for that quantile: TAIL_UNDERSAMPLED)."
               : "No Style 1 sweep in these results: each mode's operating point (replay phase, "
                 "its maximum concurrency), mean of the repeats' quantiles with a bootstrap 95% "
                 "interval; modes are drawn side by side at the same concurrency.";
    if (n == 0) {
        record(f, name, title, caption, -1, "no bundle with replay TTFT figures");
    } else {
        head(&gp, title, "concurrency (requests in flight, at most)",
             "TTFT from intended send (ms)");
        buf_append_str(&gp, "set logscale y\nset offsets 0, 0, graph 0.1, graph 0.1\n");
        if (tics.len)
            buf_printf(&gp, "set xtics (%s)\nset xrange [%g:%g]\n", buf_str(&tics), cmin * 0.5,
                       cmax * 1.5);
        else if (isfinite(cmin) && isfinite(cmax)) /* one point needs a range of its own */
            buf_printf(&gp, "set xrange [%g:%g]\n", cmin * 0.5, cmax * 1.5);
        emit(f, name, title, caption, &dat, &gp, buf_str(&plot));
    }
    buf_fini(&dat);
    buf_fini(&gp);
    buf_fini(&plot);
    buf_fini(&tics);
}

static void fig2(struct fig *f, const struct packdata *p)
{
    const char *name = packfig_names[1];
    const char *title = "Largest concurrency under the SLO, per mode";
    json_t *doc = json_object_get(json_array_get(p->slos, 0), "doc");
    if (!doc) {
        record(f, name, title, NULL, -1,
               "no Style 2 search (slo.json) in these results; see the rows' states in "
               "matrix.json");
        return;
    }
    struct buf dat, gp;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_append_str(&dat, "# mode\tmax\tlast_pass\tfirst_fail\n");
    size_t n = 0;
    const char *k;
    json_t *m;
    json_object_foreach (json_object_get(doc, "modes"), k, m) {
        json_t *br = json_object_get(m, "bracket");
        double pass = json_number_value(json_array_get(br, 0));
        double fail = json_number_value(json_array_get(br, 1));
        buf_printf(&dat, "%s\t%g\t%g\t%g\n", k, jsonx_num(m, "max", NAN), pass,
                   json_is_number(json_array_get(br, 1)) ? fail : NAN);
        n++;
    }
    struct buf slo;
    buf_init(&slo, 0);
    const char *sk;
    json_t *sv;
    json_object_foreach (json_object_get(doc, "slo"), sk, sv) {
        if (json_is_number(sv))
            buf_printf(&slo, "%s%s <= %g", slo.len ? ", " : "", sk, json_number_value(sv));
    }
    buf_printf(&gp,
               "set title '%s (SLO: %s)' noenhanced\nset xlabel 'mode'\n"
               "set ylabel '%s (largest passing)' noenhanced\nset grid ytics\nset key below\n"
               "set datafile separator '\\t'\nset datafile missing 'nan'\n"
               "set style fill solid 0.5\nset boxwidth 0.5\nset yrange [0:*]\n"
               "set offsets 0, 0, graph 0.15, 0\n",
               title, buf_str(&slo), jsonx_str(doc, "axis", "concurrency"));
    buf_fini(&slo);
    emit(f, name, title,
         "Style 2: each bar is the largest value whose probes passed with the SLO's upper "
         "confidence bounds; the error bar spans the bracket [last pass, first fail].",
         &dat, &gp,
         "plot 'fig2_max_concurrency_slo.dat' using 0:2:xtic(1) with boxes title 'largest "
         "passing value', '' using 0:3:3:4 with yerrorbars pt 0 lw 2 title 'bracket [last pass, "
         "first fail]'");
    (void)n;
    buf_fini(&dat);
    buf_fini(&gp);
}

/* Representative bundles of the main group: the lowest repeat of each mode (borrowed). */
static size_t representatives(const struct packdata *p, const json_t **out, size_t max)
{
    const json_t *g = packfig_main_group(p);
    size_t n = 0;
    const char *mode;
    json_t *pm;
    json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
        const json_t *best = NULL;
        size_t i;
        json_t *b;
        json_array_foreach (p->bundles, i, b) {
            if (strcmp(jsonx_str(b, "group", ""), jsonx_str(g, "rel", "")) ||
                strcmp(jsonx_str(b, "mode", ""), mode))
                continue;
            if (!best || jsonx_i64(b, "repeat", 0) < jsonx_i64(best, "repeat", 0))
                best = b;
        }
        if (best && n < max)
            out[n++] = best;
    }
    return n;
}

/* Phase bands and labels of bundle b's raw/phases.json, on the time axis of its charts. */
static void phase_bands(struct buf *gp, const json_t *b)
{
    char *p = fileio_join(jsonx_str(b, "_dir", ""), "raw/phases.json");
    json_t *ph = NULL;
    struct diag d = { 0 };
    if (jsonx_load_file(p, &ph, &d) == 0) {
        json_t *arr = json_object_get(ph, "phases");
        double t0 = (double)jsonx_i64(json_array_get(arr, 0), "t_start_ns", 0);
        static const char *const fill[] = { "#dde8f7", "#f7e6d5", "#dcf0dc", "#eeeeee" };
        size_t i;
        json_t *x;
        json_array_foreach (arr, i, x) {
            double a = ((double)jsonx_i64(x, "t_start_ns", 0) - t0) / 1e9;
            double e = ((double)jsonx_i64(x, "t_end_ns", 0) - t0) / 1e9;
            buf_printf(gp,
                       "set object %zu rect from %.3f, graph 0 to %.3f, graph 1 behind fc rgb "
                       "'%s' fs solid 1.0 noborder\nset label %zu '%s' at %.3f, graph 0.96 "
                       "font ',10'\n",
                       i + 1, a, e, fill[i % 4], i + 1, jsonx_str(x, "name", "?"), a + 0.3);
        }
    }
    json_decref(ph);
    free(p);
}

/* Copies the data block of bundle chart file `file` whose header starts with "# <series>"
 * (NULL = the first block) into dat; returns whether it was found. */
static bool copy_block(struct buf *dat, const json_t *b, const char *file, const char *series)
{
    char *p = xalloc_printf("%s/charts/%s", jsonx_str(b, "_dir", ""), file);
    struct buf in;
    buf_init(&in, DAT_MAX_BYTES);
    bool found = false;
    if (fileio_read_all(p, DAT_MAX_BYTES, &in) == 0) {
        const char *s = buf_str(&in);
        const char *start = s;
        if (series) {
            char *hdr = xalloc_printf("# %s:", series);
            start = strstr(s, hdr);
            free(hdr);
        }
        if (start) {
            const char *end = strstr(start, "\n\n");
            size_t len = end ? (size_t)(end - start) + 1 : strlen(start);
            buf_append(dat, start, len);
            buf_append_str(dat, "\n\n");
            found = true;
        }
    }
    buf_fini(&in);
    free(p);
    return found;
}

/* A figure over time from each mode's representative bundle (figures 3 and 4): add appends a
 * mode's data blocks to dat and its clauses to plot, numbering blocks from idx, and returns the
 * next index; the phase bands are those of the first mode's bundle. */
struct timeline {
    const char *name, *title, *ylabel, *caption, *none;
    size_t (*add)(struct buf *dat, struct buf *plot, const json_t *rep, size_t m, size_t idx,
                  const char *name);
};

static void timeline_fig(struct fig *f, const struct packdata *p, const struct timeline *t)
{
    const json_t *rep[8];
    size_t nrep = representatives(p, rep, 8);
    struct buf dat, gp, plot;
    buf_init(&dat, 0);
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    size_t idx = 0;
    for (size_t m = 0; m < nrep; m++)
        idx = t->add(&dat, &plot, rep[m], m, idx, t->name);
    if (idx == 0) {
        record(f, t->name, t->title, NULL, -1, t->none);
    } else {
        head(&gp, t->title, "seconds since the first phase started", t->ylabel);
        phase_bands(&gp, rep[0]);
        emit(f, t->name, t->title, t->caption, &dat, &gp, buf_str(&plot));
    }
    buf_fini(&dat);
    buf_fini(&gp);
    buf_fini(&plot);
}

static size_t kvbm_series(struct buf *dat, struct buf *plot, const json_t *rep, size_t m,
                          size_t idx, const char *name)
{
    static const char *const series[][2] = {
        { "kvbm_offload_blocks_d2h", "offload G1->G2" },
        { "kvbm_offload_blocks_h2d", "offload G2->G3 (SSD writes)" },
        { "kvbm_onboard_blocks_d2d", "onboard G3->G1 (SSD reads)" },
    };
    for (size_t s = 0; s < 3; s++) {
        if (!copy_block(dat, rep, "kvbm_timeline.dat", series[s][0]))
            continue;
        buf_printf(plot,
                   "%s'%s.dat' index %zu using 1:2 with steps lw 2 lc %zu dt %zu title '%s %s'",
                   idx ? ", " : "plot ", name, idx, m + 1, s + 1, jsonx_str(rep, "mode", ""),
                   series[s][1]);
        idx++;
    }
    return idx;
}

static size_t iostat_series(struct buf *dat, struct buf *plot, const json_t *rep, size_t m,
                            size_t idx, const char *name)
{
    if (!copy_block(dat, rep, "iostat_timeline.dat", NULL))
        return idx;
    buf_printf(plot,
               "%s'%s.dat' index %zu using 1:2 with fsteps lw 2 lc %zu title '%s read MB/s', "
               "'' index %zu using 1:3 with fsteps lw 1 dt 2 lc %zu title '%s write MB/s'",
               idx ? ", " : "plot ", name, idx, m + 1, jsonx_str(rep, "mode", ""), idx, m + 1,
               jsonx_str(rep, "mode", ""));
    return idx + 1;
}

static void fig3(struct fig *f, const struct packdata *p)
{
    const struct timeline t = {
        .name = packfig_names[2],
        .title = "KVBM block transfers over time, per mode",
        .ylabel = "blocks per second",
        .caption = "Counter rates from each mode's first repeat of the main row (colour = mode, "
                   "dash = transfer); shaded bands are the phases of the first mode's bundle "
                   "(every mode replays the same plan).",
        .none = "no bundle of the main group has KVBM chart data (charts/kvbm_timeline.dat)",
        .add = kvbm_series,
    };
    timeline_fig(f, p, &t);
}

static void fig4(struct fig *f, const struct packdata *p)
{
    const struct timeline t = {
        .name = packfig_names[3],
        .title = "KV device I/O over time (iostat -x), per mode",
        .ylabel = "MB/s (device, all processes)",
        .caption = "Device throughput of the disk holding the KV cache (iostat -x formulas over "
                   "/proc/diskstats), first repeat of each mode; shaded bands are the phases.",
        .none = "no bundle of the main group has device chart data (charts/iostat_timeline.dat)",
        .add = iostat_series,
    };
    timeline_fig(f, p, &t);
}

static void fig5(struct fig *f, const struct packdata *p)
{
    const char *name = packfig_names[4];
    const char *title = "Disk read await against TTFT, every request";
    struct buf gp, plot, cap;
    buf_init(&gp, 0);
    buf_init(&plot, 0);
    buf_init(&cap, 0);
    double pairs = 0;
    buf_append_str(&cap, "Each request's TTFT (from the intended send) against the device's read "
                         "await in the sample covering its first token; filled triangles are "
                         "tail events (TTFT above its bundle's p95).");
    buf_printf(&cap,
               " The figure draws %lu of the requests, an even sample with every tail "
               "event; the statistics use all %lu. Pearson r of await against ln TTFT "
               "per mode:",
               p->scatter_points, p->records);
    for (size_t m = 0; m < p->ncorr; m++) {
        const struct packdata_corr *c = &p->corr[m];
        pairs += c->n;
        buf_printf(&cap,
                   " %s r = %.2f (n = %.0f; mean await %.2f ms in tail events vs %.2f ms "
                   "otherwise);",
                   c->mode, packdata_corr_r(c), c->n,
                   c->tail_n ? c->tail_await_sum / c->tail_n : NAN,
                   c->body_n ? c->body_await_sum / c->body_n : NAN);
        buf_printf(&plot,
                   "%s'%s.dat' using 1:($3==%zu && $4==0 ? $2 : 1/0) with points pt 6 ps 0.6 lc "
                   "%zu title '%s', '' using 1:($3==%zu && $4==1 ? $2 : 1/0) with points pt 9 ps "
                   "1.2 lc %zu title '%s tail events'",
                   m ? ", " : "plot ", name, m, m + 1, c->mode, m, m + 1, c->mode);
    }
    if (pairs == 0) {
        record(f, name, title, buf_str(&cap), -1,
               "no request could be paired with a device sample (os/os_iostat.csv with r_await)");
    } else {
        head(&gp, title, "device read await in the sample of the first token (ms)",
             "TTFT from intended send (ms)");
        buf_append_str(&gp, "set logscale y\n");
        emit(f, name, title, buf_str(&cap), NULL, &gp, buf_str(&plot));
    }
    buf_fini(&gp);
    buf_fini(&plot);
    buf_fini(&cap);
}

json_t *packfig_draw(struct packdata *p, const json_t *rollups, const char *fig_dir,
                     const char *gnuplot, bool *ret_gnuplot_missing)
{
    struct fig f = {
        .dir = fig_dir, .gnuplot = gnuplot, .missing = ret_gnuplot_missing, .list = json_array()
    };
    fig1(&f, p, rollups);
    fig2(&f, p);
    fig3(&f, p);
    fig4(&f, p);
    fig5(&f, p);
    return f.list;
}
