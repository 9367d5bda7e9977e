/* SPDX-License-Identifier: Apache-2.0 */
/* TECHBRIEF_EVIDENCE.md and METHOD.md of the evidence pack (packmd.h). Every number is a link
 * to the bundle file it was read from (summary.json, metrics_delta/, os/, compare_*.json,
 * group_summary.json), relative to the pack folder so the pack opens from file://. */
#include "report/packmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "report/packfig.h"
#include "report/packroll.h"

static const char *const phases[] = { "warmup", "pressure", "replay", "steady", NULL };

/* Whether the run planned the phase (packdata's phases_run; records without it: every phase). */
static bool ran_phase(const json_t *b, const char *phase)
{
    const char *ran = jsonx_str(b, "phases_run", NULL);
    if (!ran)
        return true;
    size_t n = strlen(phase);
    for (const char *s = strstr(ran, phase); s; s = strstr(s + 1, phase))
        if ((s == ran || s[-1] == ' ') && (s[n] == ' ' || s[n] == 0))
            return true;
    return false;
}

struct md {
    struct buf b;
    const char *dir; /* the pack folder */
};

static void md_init(struct md *m, const char *dir)
{
    buf_init(&m->b, 0);
    m->dir = dir;
}

/* A link to target (absolute or relative to the cwd), relative to the pack. */
static void md_link(struct md *m, const char *text, const char *target)
{
    char *rel = packdata_relpath(m->dir, target);
    buf_printf(&m->b, "[%s](%s)", text, rel);
    free(rel);
}

/* The number v (printf fmt) linked to file under bundle folder dir; "n/a" when not finite. */
static void md_num(struct md *m, const char *fmt, double v, const char *dir, const char *file)
{
    if (!isfinite(v)) {
        buf_append_str(&m->b, "n/a");
        return;
    }
    char text[64];
    snprintf(text, sizeof(text), fmt, v);
    char *t = file ? fileio_join(dir, file) : xstrdup(dir);
    md_link(m, text, t);
    free(t);
}

/* Text safe inside a table cell. */
static void md_cell(struct md *m, const char *s)
{
    for (; s && *s; s++)
        buf_append_str(&m->b, *s == '|' ? "/" : *s == '\n' ? " " : (char[]){ *s, 0 });
}

char *packmd_engine_sentence(const struct packdata *p)
{
    if (p->emulated && p->real)
        return xstrdup("MIXED ENGINES: some bundles come from kvtier's emulated engine and some "
                       "from a real stack; every row says which, and rows are never compared "
                       "across engines.");
    if (p->real) {
        const json_t *b = json_array_get(p->bundles, 0);
        char *v = jsonx_dump_line(json_object_get(b, "_versions"));
        char *s = xalloc_printf("REAL STACK: every bundle comes from the real serving stack "
                                "'%s' (versions as recorded: %s).",
                                jsonx_str(b, "stack", "?"), v);
        free(v);
        return s;
    }
    return xstrdup("EMULATED ENGINE: every bundle comes from kvtier's emulated engine "
                   "(`kvtier serve`, builtin stack) with real RAM and O_DIRECT SSD tiers and an "
                   "emulated GPU. The numbers demonstrate the method and the mechanism on this "
                   "machine; they are not measurements of a real Dynamo + TensorRT-LLM stack.");
}

/* The primary metric object of a compare document (borrowed) or NULL. */
static const json_t *primary(const json_t *doc)
{
    return json_object_get(json_object_get(doc, "metrics"), jsonx_str(doc, "primary_metric", ""));
}

json_t *packmd_headline(const struct packdata *p)
{
    const json_t *best = NULL, *best_group = NULL;
    int best_score = -1;
    double best_change = 0;
    size_t i, j;
    json_t *g, *c;
    json_array_foreach (p->groups, i, g) {
        json_array_foreach (json_object_get(g, "compares"), j, c) {
            const json_t *doc = json_object_get(c, "doc");
            const json_t *pm = primary(doc);
            int score = jsonx_bool(doc, "decision_grade", false) * 2 +
                        !strcmp(jsonx_str(pm, "verdict", ""), "better");
            double ch = fabs(jsonx_num(pm, "change_pct", 0));
            if (score > best_score || (score == best_score && ch > best_change)) {
                best = c;
                best_group = g;
                best_score = score;
                best_change = ch;
            }
        }
    }
    json_t *h = json_object();
    if (!best) {
        json_object_set_new(h, "text",
                            json_string("No A/B comparison in these results (a row "
                                        "with two or more modes gets one from kvtier "
                                        "matrix or kvtier compare)."));
        json_object_set_new(h, "decision_grade", json_false());
        return h;
    }
    const json_t *doc = json_object_get(best, "doc");
    json_object_set(h, "text", json_object_get(doc, "headline"));
    json_object_set(h, "decision_grade", json_object_get(doc, "decision_grade"));
    json_object_set(h, "reason_codes", json_object_get(doc, "reason_codes"));
    json_object_set(h, "source", json_object_get(best, "path"));
    json_object_set(h, "row", json_object_get(best_group, "row"));
    return h;
}

static void headline_table(struct md *m, const struct packdata *p)
{
    buf_append_str(&m->b, "| row | comparison | metric | baseline mean | treatment mean | change | "
                          "95% CI | p (Mann-Whitney) | repeats | verdict | decision-grade |\n"
                          "|---|---|---|---|---|---|---|---|---|---|---|\n");
    size_t i, j;
    json_t *g, *c;
    json_array_foreach (p->groups, i, g) {
        json_array_foreach (json_object_get(g, "compares"), j, c) {
            const json_t *doc = json_object_get(c, "doc");
            const json_t *pm = primary(doc);
            const char *path = jsonx_str(c, "path", "");
            json_t *ci = json_object_get(pm, "ratio_ci");
            double lo = json_number_value(json_array_get(ci, 0));
            double hi = json_number_value(json_array_get(ci, 1));
            buf_printf(&m->b, "| %s | %s vs %s | ", jsonx_str(g, "row", ""),
                       jsonx_str(json_object_get(doc, "treatment"), "mode", "?"),
                       jsonx_str(json_object_get(doc, "baseline"), "mode", "?"));
            md_cell(m, jsonx_str(pm, "label", jsonx_str(doc, "primary_metric", "")));
            buf_append_str(&m->b, " | ");
            md_num(m, "%.1f", jsonx_num(json_object_get(pm, "baseline"), "mean", NAN), path, NULL);
            buf_append_str(&m->b, " | ");
            md_num(m, "%.1f", jsonx_num(json_object_get(pm, "treatment"), "mean", NAN), path, NULL);
            buf_append_str(&m->b, " | ");
            md_num(m, "%+.1f%%", jsonx_num(pm, "change_pct", NAN), path, NULL);
            if (json_is_number(json_array_get(ci, 0)))
                buf_printf(&m->b, " | %+.1f%% to %+.1f%%", (lo - 1) * 100, (hi - 1) * 100);
            else
                buf_append_str(&m->b, " | no interval");
            buf_printf(&m->b, " | %.3g | %lld vs %lld | %s | %s |\n",
                       jsonx_num(json_object_get(pm, "mann_whitney"), "p", NAN),
                       (long long)jsonx_i64(json_object_get(pm, "baseline"), "n", 0),
                       (long long)jsonx_i64(json_object_get(pm, "treatment"), "n", 0),
                       jsonx_str(pm, "verdict", "?"),
                       jsonx_bool(doc, "decision_grade", false) ? "**yes**" : "no");
        }
    }
}

/* Bundles of group rel, lowest repeat first per mode (borrowed records, in scan order). */
static const json_t *first_of(const struct packdata *p, const char *group, const char *mode)
{
    const json_t *best = NULL;
    size_t i;
    json_t *b;
    json_array_foreach (p->bundles, i, b) {
        if (strcmp(jsonx_str(b, "group", ""), group) || strcmp(jsonx_str(b, "mode", ""), mode))
            continue;
        if (!best || jsonx_i64(b, "repeat", 0) < jsonx_i64(best, "repeat", 0))
            best = b;
    }
    return best;
}

/* One table row per phase the bundle ran: "| mode rNN | phase |" then each column's value
 * (the record's "<phase>_<col>" times scale, printed with fmt) linked to the phase's file
 * (file_fmt with the phase name), then tail (e.g. " yes |") and a newline. */
static void phase_rows(struct md *m, const json_t *b, const char *mode, const char *const *cols,
                       const char *file_fmt, const char *fmt, double scale, const char *tail)
{
    const char *dir = jsonx_str(b, "_dir", "");
    for (size_t k = 0; phases[k]; k++) {
        char file[128], key[96];
        if (!ran_phase(b, phases[k]))
            continue;
        snprintf(file, sizeof(file), file_fmt, phases[k]);
        buf_printf(&m->b, "| %s r%02lld | %s |", mode, (long long)jsonx_i64(b, "repeat", 0),
                   phases[k]);
        for (size_t c = 0; cols[c]; c++) {
            snprintf(key, sizeof(key), "%s_%s", phases[k], cols[c]);
            buf_append_str(&m->b, " ");
            md_num(m, fmt, jsonx_num(b, key, NAN) * scale, dir, file);
            buf_append_str(&m->b, " |");
        }
        buf_printf(&m->b, "%s\n", tail);
    }
}

static void mechanism(struct md *m, const struct packdata *p, const json_t *g)
{
    buf_append_str(&m->b,
                   "### 1. Mechanism: KVBM deltas per phase\n\nPhase deltas of the KVBM counters "
                   "(first repeat of each mode; each number links to that phase's "
                   "`metrics_delta` file).\n\n| mode | phase | offload G1→G2 (blocks) | offload "
                   "G2→G3, SSD writes (blocks) | onboard G3→G1, SSD reads (blocks) | onboard "
                   "G2→G1 (blocks) | matched tokens |\n|---|---|---|---|---|---|---|\n");
    const char *mode;
    json_t *pm;
    json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
        const json_t *b = first_of(p, jsonx_str(g, "rel", ""), mode);
        if (!b)
            continue;
        static const char *const cols[] = { "offload_d2h_blocks", "offload_h2d_blocks",
                                            "onboard_d2d_blocks", "onboard_h2d_blocks",
                                            "matched_tokens",     NULL };
        phase_rows(m, b, mode, cols, "metrics_delta/phase_%s_kvbm_metrics_delta.json", "%.0f", 1,
                   "");
    }
    buf_append_str(&m->b, "\n");
}

/* The SSD against its vendor's assertions and its rated endurance (summary.json storage of the
 * first repeat of each mode), as bullets; nothing for bundles that predate it. */
static void ssd_lines(struct md *m, const struct packdata *p, const json_t *g)
{
    const char *mode;
    json_t *pm;
    json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
        const json_t *b = first_of(p, jsonx_str(g, "rel", ""), mode);
        const json_t *st = b ? json_object_get(b, "storage") : NULL;
        if (!st)
            continue;
        const json_t *v = json_object_get(st, "vendor_vs_measured");
        buf_printf(&m->b, "SSD, %s r%02lld (", mode, (long long)jsonx_i64(b, "repeat", 0));
        char *sp = fileio_join(jsonx_str(b, "_dir", ""), "summary.json");
        md_link(m, "summary.json", sp);
        free(sp);
        buf_printf(&m->b, " `storage`):\n\n- %s\n",
                   jsonx_str(json_object_get(st, "endurance"), "text",
                             jsonx_str(json_object_get(st, "endurance"), "reason", "?")));
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get(v, "comparisons"), i, c)
            buf_printf(&m->b, "- %s\n", jsonx_str(c, "text", ""));
        json_array_foreach (json_object_get(v, "conflicts"), i, c)
            buf_printf(&m->b, "- %s\n", jsonx_str(c, "text", ""));
        if (!json_object_get(v, "comparisons"))
            buf_printf(&m->b, "- %s\n", jsonx_str(v, "reason", "no storage profile"));
        buf_append_str(&m->b, "\n");
    }
}

static void os_corroboration(struct md *m, const struct packdata *p, const json_t *g)
{
    buf_append_str(&m->b,
                   "### 2. OS corroboration: device bytes, attribution, page cache\n\nPer phase "
                   "(first repeat of each mode): bytes the disk holding the KV cache moved "
                   "(`/proc/diskstats`) and the server's own KV I/O (attribution: fanotify + "
                   "`/proc/PID/io`); each number links to the phase's OS delta.\n\n| mode | phase "
                   "| device read (MB) | device write (MB) | server KV read (MB) | server KV write "
                   "(MB) | O_DIRECT |\n|---|---|---|---|---|---|---|\n");
    const char *mode;
    json_t *pm;
    json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
        const json_t *b = first_of(p, jsonx_str(g, "rel", ""), mode);
        if (!b)
            continue;
        const char *dir = jsonx_str(b, "_dir", "");
        static const char *const cols[] = { "device_read_bytes", "device_write_bytes",
                                            "server_read_bytes", "server_write_bytes", NULL };
        phase_rows(m, b, mode, cols, "os/phase_%s_os_delta.json", "%.1f", 1e-6,
                   jsonx_bool(b, "o_direct", false) ? " yes |" : " no |");
        buf_printf(&m->b, "| %s | attribution, page cache | ", mode);
        md_num(m, "report", 0, dir, "os/io_attribution_report.json");
        buf_append_str(&m->b, " | | | | |\n");
    }
    buf_append_str(&m->b, "\n");
    ssd_lines(m, p, g);
}

static void slo_capacity(struct md *m, const struct packdata *p, const json_t *g)
{
    const char *model = NULL, *wl = NULL;
    size_t i;
    json_t *b;
    json_array_foreach (p->bundles, i, b)
        if (!strcmp(jsonx_str(b, "group", ""), jsonx_str(g, "rel", ""))) {
            model = jsonx_str(b, "model", "");
            wl = jsonx_str(b, "workload", "");
            break;
        }
    json_t *e;
    bool any = false;
    json_array_foreach (p->slos, i, e) {
        const json_t *doc = json_object_get(e, "doc");
        char *slo = jsonx_dump_line(json_object_get(doc, "slo"));
        buf_printf(&m->b, "Style 2 (largest %s under the SLO %s, ",
                   jsonx_str(doc, "axis", "concurrency"), slo);
        md_link(m, "slo.json", jsonx_str(e, "path", ""));
        buf_append_str(&m->b, "):");
        free(slo);
        const char *k;
        json_t *mm;
        json_object_foreach (json_object_get(doc, "modes"), k, mm) {
            json_t *br = json_object_get(mm, "bracket");
            json_t *pass = json_array_get(br, 0), *fail = json_array_get(br, 1);
            if (json_is_number(pass))
                buf_printf(&m->b, " %s %g (last pass %g, first fail ", k, jsonx_num(mm, "max", NAN),
                           json_number_value(pass));
            else
                buf_printf(&m->b, " %s none (%s, first fail ", k, jsonx_str(mm, "status", "?"));
            if (json_is_number(fail))
                buf_printf(&m->b, "%g);", json_number_value(fail));
            else
                buf_append_str(&m->b, "none up to the search's max);");
        }
        const json_t *lad = json_object_get(doc, "c_ladder");
        if (lad)
            buf_printf(&m->b,
                       " Mode C ladder (capacity against the read limit): Spearman rho %.3f over "
                       "%d levels, one-sided permutation p = %.4f, capacities never fall with "
                       "bandwidth: %s; outcome **%s**.",
                       jsonx_num(lad, "spearman_rho", NAN), (int)jsonx_i64(lad, "n", 0),
                       jsonx_num(lad, "p_value", NAN),
                       jsonx_bool(lad, "monotonic_capacities", false) ? "yes" : "no or unknown",
                       jsonx_str(lad, "outcome", "?"));
        buf_append_str(&m->b, "\n\n");
        any = true;
    }
    if (!any)
        buf_printf(&m->b,
                   "Style 2 capacity: no search for %s / workload %s in these results (see the "
                   "rows that did not run below); the user-visible claim here is Style 1, "
                   "latency at a fixed feature set.\n\n",
                   model ? model : "?", wl ? wl : "?");
}

static void impact(struct md *m, const struct packdata *p, const json_t *g, const json_t *rollups)
{
    buf_append_str(&m->b,
                   "### 3. User-visible impact: TTFT tails and capacity\n\nReplay-phase TTFT "
                   "from the intended send time (no coordinated omission), per repeat, each "
                   "number linked to its bundle's `summary.json` with its 95% order-statistic "
                   "interval; then the mean of the repeats with a seeded bootstrap 95% interval "
                   "(RESULTS/rollups).\n\n| mode | repeat "
                   "| requests (n) | TTFT p50 (ms) | TTFT p95 (ms) | TTFT p99 (ms) | verdict |\n"
                   "|---|---|---|---|---|---|---|\n");
    const char *gr = jsonx_str(g, "rel", "");
    const char *mode;
    json_t *pm;
    bool undersampled = false;
    json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
        size_t i;
        json_t *b;
        json_array_foreach (p->bundles, i, b) {
            if (strcmp(jsonx_str(b, "group", ""), gr) || strcmp(jsonx_str(b, "mode", ""), mode))
                continue;
            const char *dir = jsonx_str(b, "_dir", "");
            buf_printf(&m->b, "| %s | r%02lld | %.0f |", mode, (long long)jsonx_i64(b, "repeat", 0),
                       jsonx_num(b, "replay_ttft_n", NAN));
            const char *q[] = { "p50", "p95", "p99" };
            for (size_t k = 0; k < 3; k++) {
                char key[64];
                snprintf(key, sizeof(key), "replay_ttft_%s_ms", q[k]);
                double v = jsonx_num(b, key, NAN);
                buf_append_str(&m->b, " ");
                md_num(m, "%.1f", v, dir, "summary.json");
                snprintf(key, sizeof(key), "replay_ttft_%s_lo", q[k]);
                double lo = jsonx_num(b, key, NAN);
                snprintf(key, sizeof(key), "replay_ttft_%s_hi", q[k]);
                double hi = jsonx_num(b, key, NAN);
                if (isfinite(lo) && isfinite(hi))
                    buf_printf(&m->b, " [%.1f, %.1f]", lo, hi);
                else if (isfinite(v)) {
                    buf_append_str(&m->b, " †");
                    undersampled = true;
                }
                buf_append_str(&m->b, " |");
            }
            buf_append_str(&m->b, " ");
            md_num(m,
                   jsonx_bool(b, "decision_grade", false) ? "decision-grade"
                   : jsonx_bool(b, "run_valid", false)    ? "valid, not decision-grade"
                                                          : "invalid",
                   0, dir, "verdict.json");
            buf_append_str(&m->b, " |\n");
        }
        const json_t *r = packroll_find(rollups, gr, mode);
        char *gs = fileio_join(jsonx_str(g, "dir", ""), "group_summary.json");
        buf_printf(&m->b, "| **%s mean** | %lld valid of %lld | %lld |", mode,
                   (long long)jsonx_i64(r, "run_valid", 0), (long long)jsonx_i64(r, "bundles", 0),
                   (long long)jsonx_i64(r, "replay_ttft_requests", 0));
        const char *q[] = { "replay_ttft_p50_ms", "replay_ttft_p95_ms", "replay_ttft_p99_ms" };
        for (size_t k = 0; k < 3; k++) {
            char key[96];
            snprintf(key, sizeof(key), "%s_mean", q[k]);
            buf_append_str(&m->b, " ");
            md_num(m, "%.1f", jsonx_num(r, key, NAN), gs, NULL);
            snprintf(key, sizeof(key), "%s_lo", q[k]);
            double lo = jsonx_num(r, key, NAN);
            snprintf(key, sizeof(key), "%s_hi", q[k]);
            buf_printf(&m->b, " [%.1f, %.1f] |", lo, jsonx_num(r, key, NAN));
        }
        buf_append_str(&m->b, " |\n");
        free(gs);
    }
    buf_append_str(&m->b, "\n");
    if (undersampled)
        buf_append_str(&m->b,
                       "† undersampled: the repeat's requests give this quantile no 95% "
                       "interval (a p50 needs 6 requests, a p95 72, a p99 368); the value is an "
                       "order statistic near the sample's maximum, not an estimate of the tail, "
                       "and carries no claim. The mean row averages the repeats' values as they "
                       "are.\n\n");
    slo_capacity(m, p, g);
}

static void repeatability(struct md *m, const json_t *g)
{
    json_t *s = json_object_get(g, "summary");
    char *order = jsonx_dump_line(json_object_get(s, "block_order"));
    buf_printf(&m->b,
               "### 4. Repeatability: repeats, A/B statistics, interleaving\n\n%lld repeat(s) per "
               "mode, modes interleaved in seeded random blocks (seed %lld, block order %s, from ",
               (long long)jsonx_i64(s, "repeats", 0), (long long)jsonx_i64(s, "seed", 0), order);
    free(order);
    char *gs = fileio_join(jsonx_str(g, "dir", ""), "group_summary.json");
    md_link(m, "group_summary.json", gs);
    free(gs);
    buf_append_str(&m->b, ").\n\n");
    size_t j;
    json_t *c;
    json_array_foreach (json_object_get(g, "compares"), j, c) {
        const json_t *doc = json_object_get(c, "doc");
        const char *path = jsonx_str(c, "path", "");
        buf_printf(&m->b, "%s vs %s (", jsonx_str(json_object_get(doc, "treatment"), "mode", "?"),
                   jsonx_str(json_object_get(doc, "baseline"), "mode", "?"));
        md_link(m, "compare document", path);
        buf_append_str(&m->b, "):\n\n| metric | change | 95% CI | p | P(better) | verdict |\n"
                              "|---|---|---|---|---|---|\n");
        const char *k;
        json_t *mt;
        json_object_foreach (json_object_get(doc, "metrics"), k, mt) {
            json_t *ci = json_object_get(mt, "ratio_ci");
            buf_printf(&m->b, "| %s | ", jsonx_str(mt, "label", k));
            md_num(m, "%+.1f%%", jsonx_num(mt, "change_pct", NAN), path, NULL);
            if (json_is_number(json_array_get(ci, 0)))
                buf_printf(&m->b, " | %+.1f%% to %+.1f%%",
                           (json_number_value(json_array_get(ci, 0)) - 1) * 100,
                           (json_number_value(json_array_get(ci, 1)) - 1) * 100);
            else
                buf_append_str(&m->b, " | no interval");
            json_t *mw = json_object_get(mt, "mann_whitney");
            buf_printf(&m->b, " | %.3g | %.2f | %s |\n", jsonx_num(mw, "p", NAN),
                       jsonx_num(mw, "p_superiority", NAN), jsonx_str(mt, "verdict", "?"));
        }
        buf_printf(&m->b, "\nCompare's decision: **%s**",
                   jsonx_bool(doc, "decision_grade", false) ? "decision-grade"
                                                            : "not decision-grade");
        char *codes = jsonx_dump_line(json_object_get(doc, "reason_codes"));
        buf_printf(&m->b, " (reason codes %s).\n\n", codes);
        free(codes);
    }
}

static void regimes(struct md *m, const json_t *g)
{
    buf_append_str(&m->b, "### Regimes: where the SSD tier helps and where it hurts\n\n");
    size_t j, n = 0;
    json_t *c;
    json_array_foreach (json_object_get(g, "compares"), j, c) {
        const json_t *doc = json_object_get(c, "doc");
        const char *t = jsonx_str(json_object_get(doc, "treatment"), "mode", "?");
        const char *b = jsonx_str(json_object_get(doc, "baseline"), "mode", "?");
        const char *k;
        json_t *mt;
        json_object_foreach (json_object_get(doc, "metrics"), k, mt) {
            const char *v = jsonx_str(mt, "verdict", "");
            bool helps = !strncmp(v, "better", 6), hurts = !strncmp(v, "worse", 5);
            if (!helps && !hurts)
                continue;
            buf_printf(&m->b, "- %s **%s** against %s on %s: %+.1f%% (%s).\n", t,
                       helps ? "helps" : "hurts", b, jsonx_str(mt, "label", k),
                       jsonx_num(mt, "change_pct", NAN), v);
            n++;
        }
    }
    if (n == 0)
        buf_append_str(&m->b, "- No metric reached a verdict of better or worse at these repeat "
                              "counts: no regime can be claimed from this row.\n");
    buf_append_str(&m->b, "\n");
}

static void not_decision_grade(struct md *m, const struct packdata *p, const json_t *g)
{
    buf_append_str(&m->b, "### Not decision-grade, and why\n\n");
    size_t i, n = 0;
    json_t *b;
    json_array_foreach (p->bundles, i, b) {
        if (strcmp(jsonx_str(b, "group", ""), jsonx_str(g, "rel", "")) ||
            jsonx_bool(b, "decision_grade", false))
            continue;
        buf_printf(&m->b, "- %s r%02lld (", jsonx_str(b, "mode", ""),
                   (long long)jsonx_i64(b, "repeat", 0));
        char *v = fileio_join(jsonx_str(b, "_dir", ""), "verdict.json");
        md_link(m, "verdict", v);
        free(v);
        buf_printf(&m->b, ")%s:", jsonx_bool(b, "run_valid", false) ? "" : " **invalid run**");
        const char *code;
        json_t *why;
        json_object_foreach (json_object_get(b, "_why"), code, why) {
            buf_printf(&m->b, " `%s`", code);
            size_t k;
            json_t *w;
            json_array_foreach (why, k, w)
                buf_printf(&m->b, "%s %s", k ? ";" : ":", json_string_value(w));
            buf_append_str(&m->b, ".");
        }
        buf_append_str(&m->b, "\n");
        n++;
    }
    if (n == 0)
        buf_append_str(&m->b, "- Every bundle of this row is decision-grade.\n");
    buf_append_str(&m->b, "\n");
}

static void rows_not_run(struct md *m, const struct packdata *p)
{
    if (!p->matrix && json_array_size(p->blockers) == 0)
        return;
    buf_append_str(&m->b, "## Plan rows and their state\n\n");
    if (p->matrix) {
        char *mp = fileio_join(p->root_real, "matrix.json");
        buf_printf(&m->b, "From ");
        md_link(m, "matrix.json", mp);
        free(mp);
        buf_printf(&m->b,
                   " (plan `%s`). Rows that could not be decision-grade are listed with "
                   "the arithmetic, not skipped.\n\n| row | kind | state | why |\n"
                   "|---|---|---|---|\n",
                   jsonx_str(jsonx_path(p->matrix, "plan"), "name", "?"));
        size_t i;
        json_t *r;
        json_array_foreach (json_object_get(p->matrix, "rows"), i, r) {
            json_t *why = json_array_get(jsonx_path(r, "feasibility.reasons"), 0);
            buf_printf(&m->b, "| %s | %s | %s | ", jsonx_str(r, "id", ""), jsonx_str(r, "kind", ""),
                       jsonx_str(r, "state", "?"));
            md_cell(m, json_is_string(why) ? json_string_value(why) : "");
            buf_append_str(&m->b, " |\n");
        }
        buf_append_str(&m->b, "\n");
    }
    size_t i;
    json_t *e;
    json_array_foreach (p->blockers, i, e) {
        buf_append_str(&m->b, "- Blocker dossier: ");
        const char *md = jsonx_str(e, "md", NULL);
        char *bj = fileio_join(jsonx_str(e, "path", ""), "blocker.json");
        md_link(m, md ? "BLOCKER.md" : "blocker.json", md ? md : bj);
        free(bj);
        buf_printf(&m->b, " (%s)\n", jsonx_str(json_object_get(e, "doc"), "row", ""));
    }
    buf_append_str(&m->b, "\n");
}

static void figures(struct md *m, const json_t *figs)
{
    buf_append_str(&m->b, "## Figures\n\n");
    size_t i;
    json_t *f;
    json_array_foreach (figs, i, f) {
        const char *name = jsonx_str(f, "name", "");
        buf_printf(&m->b, "### Figure %zu. %s\n\n", i + 1, jsonx_str(f, "title", ""));
        if (!jsonx_bool(f, "drawn", false)) {
            buf_printf(&m->b, "Not drawn: %s.\n\n", jsonx_str(f, "why_not", "no data"));
            continue;
        }
        if (jsonx_bool(f, "rendered", false))
            buf_printf(&m->b, "![%s](FIGURES/%s.png)\n\n", jsonx_str(f, "title", ""), name);
        else
            buf_append_str(&m->b, "(gnuplot did not render this figure; the script and data "
                                  "are here.)\n\n");
        buf_printf(&m->b, "%s ", jsonx_str(f, "caption", ""));
        if (jsonx_bool(f, "rendered", false))
            buf_printf(&m->b, "[SVG](FIGURES/%s.svg) · ", name);
        buf_printf(&m->b, "[gnuplot script](FIGURES/%s.gp) · [data](FIGURES/%s.dat)\n\n", name,
                   name);
    }
}

static void row_section(struct md *m, const struct packmd_input *in, const json_t *g)
{
    const json_t *s = json_object_get(g, "summary");
    buf_printf(&m->b, "## Row %s: model %s, workload %s, dataset %s\n\n", jsonx_str(g, "row", ""),
               jsonx_str(s, "model", "?"), jsonx_str(s, "workload", "?"),
               jsonx_str(s, "dataset", "?"));
    const json_t *b = NULL;
    size_t i;
    json_t *x;
    json_array_foreach (in->data->bundles, i, x)
        if (!strcmp(jsonx_str(x, "group", ""), jsonx_str(g, "rel", ""))) {
            b = x;
            break;
        }
    buf_printf(&m->b, "Engine: **%s** (stack `%s`). Bundles: ", jsonx_str(b, "engine", "?"),
               jsonx_str(s, "stack", "?"));
    md_link(m, jsonx_str(g, "rel", "group"), jsonx_str(g, "dir", ""));
    buf_append_str(&m->b, ".\n\n");
    mechanism(m, in->data, g);
    os_corroboration(m, in->data, g);
    impact(m, in->data, g, in->rollups);
    repeatability(m, g);
    regimes(m, g);
    not_decision_grade(m, in->data, g);
}

char *packmd_techbrief(const struct packmd_input *in, const json_t *headline)
{
    struct md m;
    md_init(&m, in->pack_dir);
    const struct packdata *p = in->data;
    const char *name =
        p->matrix ? jsonx_str(jsonx_path(p->matrix, "plan"), "name", "results") : "results";
    char *eng = packmd_engine_sentence(p);
    buf_printf(&m.b, "# Evidence pack: %s\n\n> **%s**\n\n## Headline\n\n**", name, eng);
    free(eng);
    md_cell(&m, jsonx_str(headline, "text", ""));
    buf_printf(&m.b, "**\n\nDecision-grade: **%s**",
               jsonx_bool(headline, "decision_grade", false) ? "yes" : "no");
    if (jsonx_str(headline, "source", NULL)) {
        char *codes = jsonx_dump_line(json_object_get(headline, "reason_codes"));
        buf_printf(&m.b, " (reason codes %s; ", codes);
        free(codes);
        md_link(&m, "source", jsonx_str(headline, "source", ""));
        buf_append_str(&m.b, ")");
    }
    buf_printf(&m.b,
               ". %zu run bundles, %zu request records read. The method, environment and "
               "commands are in [METHOD.md](METHOD.md); rollups in "
               "[RESULTS/](RESULTS/rollups.csv).\n\n",
               json_array_size(p->bundles), (size_t)p->records);
    headline_table(&m, p);
    buf_append_str(&m.b, "\nEach row below lays its claim out as the four-link chain of the test "
                         "plan (§2 B): mechanism, OS corroboration, user-visible impact, "
                         "repeatability.\n\n");
    size_t i;
    json_t *g;
    json_array_foreach (p->groups, i, g)
        row_section(&m, in, g);
    rows_not_run(&m, p);
    figures(&m, in->figures);
    return buf_take_str(&m.b);
}

static json_t *manifest_of(const json_t *b)
{
    char *p = fileio_join(jsonx_str(b, "_dir", ""), "manifest.json");
    json_t *m = NULL;
    struct diag d = { 0 };
    if (jsonx_load_file(p, &m, &d) < 0)
        m = json_object();
    free(p);
    return m;
}

static void shell_words(struct buf *o, const json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach (argv, i, a) {
        const char *s = json_string_value(a);
        bool plain = s && s[0] && !strpbrk(s, " \t'\"$`\\;&|<>()*?[]{}!#~");
        if (plain)
            buf_printf(o, "%s%s", i ? " " : "", s);
        else {
            buf_printf(o, "%s'", i ? " " : "");
            for (; s && *s; s++)
                buf_append_str(o, *s == '\'' ? "'\\''" : (char[]){ *s, 0 });
            buf_append_str(o, "'");
        }
    }
    buf_append_str(o, "\n");
}

static void method_environment(struct md *m, const struct packdata *p)
{
    buf_append_str(&m->b, "## Environment and provenance, as observed\n\n| row | host | kernel | "
                          "CPUs | memory (GB) | kvtier | stack | engine | engine provenance |\n"
                          "|---|---|---|---|---|---|---|---|---|\n");
    size_t i;
    json_t *g;
    json_array_foreach (p->groups, i, g) {
        const json_t *b = NULL;
        size_t k;
        json_t *x;
        json_array_foreach (p->bundles, k, x)
            if (!strcmp(jsonx_str(x, "group", ""), jsonx_str(g, "rel", ""))) {
                b = x;
                break;
            }
        if (!b)
            continue;
        json_t *man = manifest_of(b);
        json_t *h = json_object_get(man, "host");
        char *prov = jsonx_dump_line(jsonx_path(man, "model.engine_provenance"));
        buf_printf(&m->b, "| %s | %s | %s | %lld | %.1f | %s | %s | %s | ", jsonx_str(g, "row", ""),
                   jsonx_str(h, "hostname", "?"), jsonx_str(h, "kernel", "?"),
                   (long long)jsonx_i64(h, "cpus_online", 0), jsonx_num(h, "memory_bytes", 0) / 1e9,
                   jsonx_str(json_object_get(man, "tool"), "version", "?"),
                   jsonx_str(b, "stack", "?"), jsonx_str(b, "engine", "?"));
        md_cell(m, prov);
        buf_append_str(&m->b, " |\n");
        free(prov);
        json_decref(man);
    }
    buf_append_str(&m->b, "\n");
}

static void method_controls(struct md *m, const struct packdata *p, json_t **ret_thresholds)
{
    buf_append_str(&m->b, "## Controls per mode (from each mode's first manifest)\n\n| row | mode "
                          "| meaning | G2 blocks | G3 blocks | disk offload filter | O_DIRECT | "
                          "page cache before the run | KVBM variables |\n"
                          "|---|---|---|---|---|---|---|---|---|\n");
    size_t i;
    json_t *g;
    json_array_foreach (p->groups, i, g) {
        const char *mode;
        json_t *pm;
        json_object_foreach (jsonx_path(g, "summary.per_mode"), mode, pm) {
            const json_t *b = first_of(p, jsonx_str(g, "rel", ""), mode);
            if (!b)
                continue;
            json_t *man = manifest_of(b);
            json_t *md = json_object_get(man, "mode");
            json_t *pc = jsonx_path(man, "preparation.page_cache");
            char *env = jsonx_dump_line(json_object_get(md, "kvbm_env"));
            buf_printf(
                &m->b, "| %s | %s | %s | %lld | %lld | %s | %s | %s | ", jsonx_str(g, "row", ""),
                mode, jsonx_str(md, "meaning", ""), (long long)jsonx_i64(md, "cpu_cache_blocks", 0),
                (long long)jsonx_i64(md, "disk_cache_blocks", 0),
                jsonx_bool(md, "disk_offload_filter", false) ? "on" : "off",
                jsonx_bool(md, "o_direct", false) ? "on" : "off",
                jsonx_bool(pc, "dropped", false) ? "dropped" : jsonx_str(pc, "reason", "kept"));
            md_cell(m, env);
            buf_append_str(&m->b, " |\n");
            free(env);
            if (!*ret_thresholds && json_object_get(man, "thresholds"))
                *ret_thresholds = json_incref(json_object_get(man, "thresholds"));
            json_decref(man);
        }
    }
    buf_append_str(&m->b, "\n");
}

static void method_commands(struct md *m, const struct packdata *p)
{
    buf_append_str(&m->b, "## Plan, seeds and the commands that reproduce each row\n\n");
    if (p->matrix) {
        json_t *plan = json_object_get(p->matrix, "plan");
        buf_printf(&m->b,
                   "Plan `%s` (%s), stack `%s`, run with `kvtier matrix --plan %s --out "
                   "DIR`.\n\n",
                   jsonx_str(plan, "name", "?"), jsonx_str(plan, "path", "?"),
                   jsonx_str(plan, "stack", "?"), jsonx_str(plan, "path", "?"));
        size_t i;
        json_t *r;
        json_array_foreach (json_object_get(p->matrix, "rows"), i, r) {
            buf_printf(&m->b, "- `%s` (%s): seed %lld, %lld repeat(s), state %s\n",
                       jsonx_str(r, "id", ""), jsonx_str(r, "kind", ""),
                       (long long)jsonx_i64(r, "seed", 1), (long long)jsonx_i64(r, "repeats", 1),
                       jsonx_str(r, "state", "?"));
            if (json_object_get(r, "command")) {
                buf_append_str(&m->b, "\n  ```sh\n  ");
                shell_words(&m->b, json_object_get(r, "command"));
                size_t k;
                json_t *c;
                json_array_foreach (json_object_get(r, "compares"), k, c) {
                    buf_append_str(&m->b, "  ");
                    shell_words(&m->b, json_object_get(c, "command"));
                }
                buf_append_str(&m->b, "  ```\n\n");
            }
        }
        buf_append_str(&m->b, "\n");
        return;
    }
    size_t i;
    json_t *g;
    json_array_foreach (p->groups, i, g) {
        const json_t *b = first_of(p, jsonx_str(g, "rel", ""),
                                   jsonx_str(json_array_get(p->bundles, 0), "mode", ""));
        if (!b)
            continue;
        json_t *man = manifest_of(b);
        buf_printf(&m->b, "- `%s`: seed %lld\n\n  ```sh\n  ", jsonx_str(g, "row", ""),
                   (long long)jsonx_i64(json_object_get(g, "summary"), "seed", 0));
        shell_words(&m->b, json_object_get(man, "command_line"));
        buf_append_str(&m->b, "  ```\n\n");
        json_decref(man);
    }
}

char *packmd_method(const struct packmd_input *in)
{
    struct md m;
    md_init(&m, in->pack_dir);
    const struct packdata *p = in->data;
    char *eng = packmd_engine_sentence(p);
    buf_printf(&m.b, "# Method\n\n> **%s**\n\n", eng);
    free(eng);
    method_environment(&m, p);
    json_t *th = NULL;
    method_controls(&m, p, &th);
    buf_append_str(&m.b, "## Gate thresholds (one table, recorded in every manifest)\n\n| key | "
                         "value |\n|---|---|\n");
    const char *k;
    json_t *v;
    json_object_foreach (th, k, v)
        buf_printf(&m.b, "| `%s` | %g |\n", k, json_number_value(v));
    json_decref(th);
    buf_append_str(&m.b, "\n");
    method_commands(&m, p);
    buf_printf(&m.b,
               "## Statistics\n\n- Latency is measured from the intended send time; every "
               "quantile is reported with its request count n.\n- Per-mode rollups "
               "(RESULTS/rollups.*): the mean of the per-repeat quantiles with a seeded "
               "percentile bootstrap 95%% interval (2000 resamples, seed 1), over valid bundles "
               "only.\n- A/B statistics come from `kvtier compare` (docs/compare.md): one value "
               "per valid repeat, Welch interval of the ratio of geometric means, exact two-sided "
               "Mann-Whitney test, and a request-pooled bootstrap for the tails.\n- The "
               "disk-await / TTFT statistic pairs each request's first token with the device "
               "sample covering it (Pearson r of await against ln TTFT; tail events are "
               "requests above their bundle's all-phase TTFT p95).\n\n## Regenerate this "
               "pack\n\n```sh\nkvtier report --results %s --out %s\n```\n",
               p->root, in->pack_dir);
    return buf_take_str(&m.b);
}
