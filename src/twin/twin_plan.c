/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a request plan (and optionally a bundle's records) for the twin (see twin.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/hmap.h"
#include "common/jsonx.h"
#include "common/planrow.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "twin/twin.h"

#define RECORD_LINE_MAX_BYTES (64u << 20) /* one line of raw/records.jsonl */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

/* Reads one records line (any length up to RECORD_LINE_MAX_BYTES) into *buf; 0 at end. */
static ssize_t read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0)
        return 0;
    if ((size_t)n > RECORD_LINE_MAX_BYTES)
        return -EMSGSIZE;
    return n;
}

struct plan_read {
    struct twin_plan *p;
    const struct planrow_reader *rd;
    size_t cap;
    struct hmap sessions;
};

/* The header's phases, once: names and the client's cap on requests in flight. */
static void copy_phases(struct twin_plan *p, const struct planrow_reader *rd)
{
    for (size_t i = p->n_phase; i < rd->n_phases && i < TWIN_MAX_PHASES; i++) {
        const struct planrow_phase *ph = &rd->phases[i];
        snprintf(p->phase[i], sizeof(p->phase[i]), "%s", ph->name);
        bool closed = strcmp(ph->arrival, "closed") == 0;
        uint64_t cap = closed ? (ph->concurrency ? ph->concurrency : 1) : ph->max_concurrency;
        p->max_inflight[i] = (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap);
    }
    p->n_phase = (uint32_t)rd->n_phases;
}

static int plan_row(void *arg, struct planrow *row, unsigned line, struct diag *d)
{
    (void)line;
    (void)d;
    struct plan_read *pr = arg;
    struct twin_plan *p = pr->p;
    copy_phases(p, pr->rd);
    xalloc_grow((void **)&p->req, &pr->cap, p->n_req + 1, sizeof(*p->req));
    struct twin_req *r = &p->req[p->n_req];
    *r = (struct twin_req){ .prev = -1, .phase = row->phase };
    snprintf(r->id, sizeof(r->id), "%s", row->id);
    r->n_prompt = (uint32_t)row->input_tokens;
    r->n_out = (uint32_t)row->output_tokens;
    r->n_hash = row->n_hash_ids;
    r->hash = row->hash_ids; /* taken from the row */
    row->hash_ids = NULL;
    r->t_intended_ns = row->t_offset_ns >= 0 ? (uint64_t)row->t_offset_ns : UINT64_MAX;
    if (row->session_id[0]) {
        uint64_t key = str_hash(row->session_id);
        uint32_t *prev = row->turn > 0 ? hmap_get(&pr->sessions, key) : NULL;
        if (prev) {
            r->prev = (int32_t)*prev;
            r->think_ns = row->think_time_ns;
        }
        hmap_put(&pr->sessions, key, (uint32_t)p->n_req);
    }
    p->n_req++;
    return 0;
}

/* The plan through the one plan reader: the twin needs the header's phases, hash ids and
 * lengths; bodies are not read. */
static int load_plan_text(const char *text, size_t len, const char *name, struct twin_plan *p,
                          struct diag *d)
{
    struct planrow_reader rd;
    struct planrow_opts o = { .need_replay = true, .need_header = true };
    planrow_reader_init(&rd, &o);
    struct plan_read pr = { .p = p, .rd = &rd };
    hmap_init(&pr.sessions, 64);
    int rc = planrow_read(&rd, text, len, name, plan_row, &pr, d);
    if (rc == 0)
        copy_phases(p, &rd);
    hmap_fini(&pr.sessions);
    planrow_reader_fini(&rd);
    return rc;
}

/* Replaces intended times and served counts by a bundle's records; requests without a
 * successful record are dropped (they produced no latency to compare with). */
static int apply_records(FILE *f, struct twin_plan *p, struct diag *d)
{
    struct hmap ids;
    hmap_init(&ids, p->n_req * 2 + 1);
    for (size_t i = 0; i < p->n_req; i++)
        hmap_put(&ids, str_hash(p->req[i].id), (uint32_t)i);
    bool *seen = xcalloc(p->n_req + 1, sizeof(*seen));
    char *buf = NULL;
    size_t bcap = 0;
    unsigned line = 0;
    int rc = 0;
    uint64_t t0 = UINT64_MAX;
    for (;;) {
        ssize_t n = read_line(f, &buf, &bcap);
        line++;
        if (n <= 0) {
            if (n < 0)
                rc = diag_set(d, (int)n, line, 0, "line longer than %u bytes",
                              RECORD_LINE_MAX_BYTES);
            break;
        }
        json_t *o = NULL;
        if ((rc = jsonx_parse(buf, (size_t)n, &o, d)) < 0) {
            d->line = line;
            break;
        }
        const char *id = jsonx_str(o, "id", NULL);
        uint32_t *ix = id ? hmap_get(&ids, str_hash(id)) : NULL;
        json_t *ti = json_object_get(o, "t_intended_ns");
        bool ok =
            json_is_null(json_object_get(o, "error")) && jsonx_u64(o, "http_status", 0) == 200;
        if (!id || !json_is_integer(ti)) {
            json_decref(o);
            rc = diag_set(d, -EINVAL, line, 0, "record without \"id\" or \"t_intended_ns\"");
            break;
        }
        if (ix && ok && strcmp(p->req[*ix].id, id) == 0) {
            struct twin_req *r = &p->req[*ix];
            r->t_intended_ns = (uint64_t)json_integer_value(ti);
            r->m_first_ns = jsonx_u64(o, "t_first_token_ns", 0);
            r->m_last_ns = jsonx_u64(o, "t_last_token_ns", 0);
            r->prev = -1;
            uint64_t pt = jsonx_u64(o, "prompt_tokens", 0),
                     ct = jsonx_u64(o, "completion_tokens", 0);
            if (pt && pt <= TWIN_MAX_TOKENS)
                r->n_prompt = (uint32_t)pt;
            if (ct && ct <= TWIN_MAX_TOKENS)
                r->n_out = (uint32_t)ct;
            seen[*ix] = true;
            if (r->t_intended_ns < t0)
                t0 = r->t_intended_ns;
        }
        json_decref(o);
    }
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < p->n_req; i++) {
        if (!seen[i] || !p->req[i].m_first_ns) {
            free(p->req[i].hash);
            continue;
        }
        p->req[i].t_intended_ns -= t0;
        p->req[i].m_first_ns -= t0;
        p->req[i].m_last_ns = p->req[i].m_last_ns ? p->req[i].m_last_ns - t0 : 0;
        p->req[k++] = p->req[i];
    }
    if (rc == 0) {
        p->n_req = k;
        p->phase_relative = false;
        if (k == 0)
            rc = diag_set(d, -EINVAL, 0, 0, "no successful record matches a plan request");
    }
    free(seen);
    free(buf);
    hmap_fini(&ids);
    return rc;
}

static int cmp_req(const void *a, const void *b)
{
    const struct twin_req *x = a, *y = b;
    if (x->phase != y->phase)
        return x->phase < y->phase ? -1 : 1;
    return x->t_intended_ns < y->t_intended_ns ? -1 : x->t_intended_ns > y->t_intended_ns;
}

/* Reads the plan text, then the records stream when there is one. */
static int load_streams(const char *plan, size_t plan_len, const char *plan_name, FILE *rec,
                        const char *rec_name, struct twin_plan *p, struct diag *d)
{
    *p = (struct twin_plan){ .phase_relative = true };
    int rc = load_plan_text(plan, plan_len, plan_name, p, d);
    if (rc == 0 && rec) {
        diag_file(d, rec_name);
        rc = apply_records(rec, p, d);
        if (rc == 0)
            qsort(p->req, p->n_req, sizeof(*p->req), cmp_req);
    }
    if (rc < 0)
        twin_plan_free(p);
    return rc;
}

int twin_plan_load(const char *requests_path, const char *records_path, struct twin_plan *p,
                   struct diag *d)
{
    *p = (struct twin_plan){ 0 };
    struct buf text;
    FILE *g = NULL;
    int rc = planrow_load_text(requests_path, &text, d);
    if (rc < 0)
        goto out;
    if (records_path && !(g = fopen(records_path, "re"))) {
        diag_file(d, records_path);
        rc = diag_set(d, -errno, 0, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    rc = load_streams(buf_str(&text), text.len, requests_path, g, records_path, p, d);
out:
    buf_fini(&text);
    if (g)
        fclose(g);
    return rc;
}

int twin_plan_parse(const char *plan, size_t plan_len, const char *records, size_t records_len,
                    struct twin_plan *p, struct diag *d)
{
    *p = (struct twin_plan){ 0 };
    if (plan_len == 0 || (records && records_len == 0))
        return diag_set(d, -EINVAL, 0, 0, "empty %s", plan_len ? "records" : "plan");
    FILE *g = NULL;
    if (records && !(g = fmemopen((void *)records, records_len, "r")))
        return diag_set(d, -errno, 0, 0, "cannot read the records text");
    int rc = load_streams(plan, plan_len, "plan", g, "records", p, d);
    if (g)
        fclose(g);
    return rc;
}

void twin_plan_free(struct twin_plan *p)
{
    for (size_t i = 0; i < p->n_req; i++)
        free(p->req[i].hash);
    free(p->req);
    p->req = NULL;
    p->n_req = 0;
}

static void figures(double *ttft, double *itl, size_t n, size_t n_itl, struct twin_metrics *m)
{
    *m = (struct twin_metrics){ .ttft_p50_ms = NAN, .ttft_p95_ms = NAN, .itl_p50_ms = NAN, .n = n };
    if (n) {
        qsort(ttft, n, sizeof(*ttft), stats_cmp_double);
        m->ttft_p50_ms = stats_quantile_sorted(ttft, n, 0.50);
        m->ttft_p95_ms = stats_quantile_sorted(ttft, n, 0.95);
    }
    if (n_itl) {
        qsort(itl, n_itl, sizeof(*itl), stats_cmp_double);
        m->itl_p50_ms = stats_quantile_sorted(itl, n_itl, 0.50);
    }
}

static bool in_phase(const struct twin_plan *p, const struct twin_req *r, const char *phase)
{
    return !phase || strcmp(p->phase[r->phase], phase) == 0;
}

void twin_metrics_predicted(const struct twin_plan *p, const struct twin_out *out,
                            const char *phase, struct twin_metrics *m)
{
    double *ttft = xmalloc((p->n_req + 1) * sizeof(double));
    double *itl = xmalloc((p->n_req + 1) * sizeof(double));
    size_t n = 0, ni = 0;
    for (size_t i = 0; i < p->n_req; i++) {
        const struct twin_out *o = &out[i];
        if (!o->done || !in_phase(p, &p->req[i], phase))
            continue;
        ttft[n++] = (double)(o->t_first_ns - o->t_intended_ns) / 1e6;
        if (o->n_out > 1)
            itl[ni++] = (double)(o->t_last_ns - o->t_first_ns) / 1e6 / (o->n_out - 1);
    }
    figures(ttft, itl, n, ni, m);
    free(ttft);
    free(itl);
}

void twin_metrics_measured(const struct twin_plan *p, const char *phase, struct twin_metrics *m)
{
    double *ttft = xmalloc((p->n_req + 1) * sizeof(double));
    double *itl = xmalloc((p->n_req + 1) * sizeof(double));
    size_t n = 0, ni = 0;
    for (size_t i = 0; i < p->n_req; i++) {
        const struct twin_req *r = &p->req[i];
        if (!r->m_first_ns || !in_phase(p, r, phase))
            continue;
        ttft[n++] = (double)(r->m_first_ns - r->t_intended_ns) / 1e6;
        if (r->n_out > 1 && r->m_last_ns > r->m_first_ns)
            itl[ni++] = (double)(r->m_last_ns - r->m_first_ns) / 1e6 / (r->n_out - 1);
    }
    figures(ttft, itl, n, ni, m);
    free(ttft);
    free(itl);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* One request: `shared` leading blocks from stream `ctx_id` (a user's context), the rest from
 * a fresh stream `fresh_id`; hashes chained like the engine's. */
static void synth_req(struct twin_plan *p, uint32_t phase, uint32_t n_prompt, uint32_t n_out,
                      uint32_t tpb, uint64_t ctx_id, uint32_t shared, uint64_t fresh_id)
{
    struct twin_req *r = &p->req[p->n_req];
    *r = (struct twin_req){ .prev = -1,
                            .phase = phase,
                            .n_prompt = n_prompt,
                            .n_out = n_out,
                            .t_intended_ns = UINT64_MAX };
    snprintf(r->id, sizeof(r->id), "s%zu", p->n_req);
    r->n_hash = n_prompt / tpb;
    r->hash = xmalloc((r->n_hash + 1) * sizeof(*r->hash));
    uint64_t h = 0;
    for (uint32_t b = 0; b < r->n_hash; b++) {
        uint64_t src = b < shared ? mix64(ctx_id) ^ b : mix64(fresh_id ^ 0x5bd1e995ULL) ^ b;
        h = mix64(h ^ mix64(src));
        r->hash[b] = h;
    }
    p->n_req++;
}

void twin_plan_synthetic(const struct twin_synth *s, struct twin_plan *p)
{
    uint32_t tpb = s->tokens_per_block ? s->tokens_per_block : 32;
    uint32_t n_prompt = s->context + s->query, shared = s->context / tpb;
    uint64_t per_req = n_prompt / tpb ? n_prompt / tpb : 1;
    uint64_t pressure = (s->g1_g2_blocks * 5 / 4 + per_req - 1) / per_req;
    if (pressure > s->max_pressure)
        pressure = s->max_pressure;
    *p = (struct twin_plan){ .n_phase = 3 };
    const char *names[3] = { "warmup", "pressure", "replay" };
    for (int i = 0; i < 3; i++) {
        snprintf(p->phase[i], sizeof(p->phase[i]), "%s", names[i]);
        p->max_inflight[i] = s->concurrency ? s->concurrency : 1;
    }
    p->req = xcalloc(2 * (size_t)s->users + pressure + 1, sizeof(*p->req));
    uint64_t fresh = s->seed * 1000003ULL;
    for (uint32_t u = 0; u < s->users; u++)
        synth_req(p, 0, n_prompt, s->output, tpb, s->seed ^ (u + 1), shared, fresh++);
    for (uint64_t i = 0; i < pressure; i++)
        synth_req(p, 1, n_prompt, s->output, tpb, fresh, 0, fresh + 1), fresh += 2;
    for (uint32_t u = 0; u < s->users; u++)
        synth_req(p, 2, n_prompt, s->output, tpb, s->seed ^ (u + 1), shared, fresh++);
}
