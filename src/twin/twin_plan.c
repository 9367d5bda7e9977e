/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a request plan (and optionally a bundle's records) for the twin (see twin.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/hmap.h"
#include "common/jsonx.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "twin/twin.h"

#define LINE_MAX_BYTES (64u << 20)

struct rec {
    char id[48];
    uint64_t t_intended_ns;
    uint32_t prompt, completion;
    bool ok;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

/* Reads one line (any length up to LINE_MAX_BYTES) into *buf; 0 at end of file. */
static ssize_t read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0)
        return 0;
    if ((size_t)n > LINE_MAX_BYTES)
        return -EMSGSIZE;
    return n;
}

static int parse_header(struct twin_plan *p, json_t *h, unsigned line, struct diag *d)
{
    json_t *ph = json_object_get(h, "phases");
    if (!json_is_array(ph) || json_array_size(ph) == 0 || json_array_size(ph) > TWIN_MAX_PHASES)
        return diag_set(d, -EINVAL, line, 0, "header: \"phases\" must be 1..%d objects",
                        TWIN_MAX_PHASES);
    size_t i;
    json_t *v;
    json_array_foreach (ph, i, v) {
        const char *name = jsonx_str(v, "name", NULL);
        if (!name || strlen(name) >= sizeof(p->phase[0]))
            return diag_set(d, -EINVAL, line, 0, "header: phases[%zu].name missing or too long", i);
        snprintf(p->phase[i], sizeof(p->phase[i]), "%s", name);
        const char *arr = jsonx_str(v, "arrival", "");
        uint64_t cap = strcmp(arr, "closed") == 0 ? jsonx_u64(v, "concurrency", 1)
                                                  : jsonx_u64(v, "max_concurrency", 0);
        p->max_inflight[i] = (uint32_t)cap;
    }
    p->n_phase = (uint32_t)json_array_size(ph);
    return 0;
}

static int phase_index(const struct twin_plan *p, const char *name)
{
    for (uint32_t i = 0; i < p->n_phase; i++)
        if (strcmp(p->phase[i], name) == 0)
            return (int)i;
    return -1;
}

static int parse_req(struct twin_plan *p, size_t *cap, json_t *o, unsigned line,
                     struct hmap *sessions, struct diag *d)
{
    const char *id = jsonx_str(o, "id", NULL), *ph = jsonx_str(o, "phase", NULL);
    json_t *hs = json_object_get(o, "hash_ids");
    json_t *in = json_object_get(o, "input_tokens"), *outt = json_object_get(o, "output_tokens");
    if (!id || strlen(id) >= sizeof(p->req[0].id))
        return diag_set(d, -EINVAL, line, 0, "\"id\" missing or longer than 47 bytes");
    if (!ph || phase_index(p, ph) < 0)
        return diag_set(d, -EINVAL, line, 0, "request %s: \"phase\" is not a header phase", id);
    if (!json_is_array(hs) || !json_is_integer(in) || !json_is_integer(outt) ||
        json_integer_value(in) <= 0 || json_integer_value(outt) <= 0 ||
        json_integer_value(in) > TWIN_MAX_TOKENS || json_integer_value(outt) > TWIN_MAX_TOKENS)
        return diag_set(d, -EINVAL, line, 0,
                        "request %s: needs \"hash_ids\" (array) and \"input_tokens\", "
                        "\"output_tokens\" in 1..%u",
                        id, TWIN_MAX_TOKENS);
    xalloc_grow((void **)&p->req, cap, p->n_req + 1, sizeof(*p->req));
    struct twin_req *r = &p->req[p->n_req];
    *r = (struct twin_req){ .prev = -1, .phase = (uint32_t)phase_index(p, ph) };
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->n_prompt = (uint32_t)json_integer_value(in);
    r->n_out = (uint32_t)json_integer_value(outt);
    r->n_hash = (uint32_t)json_array_size(hs);
    r->hash = xmalloc((r->n_hash + 1) * sizeof(*r->hash));
    for (uint32_t k = 0; k < r->n_hash; k++) {
        json_t *e = json_array_get(hs, k);
        if (!json_is_integer(e) || json_integer_value(e) < 0) {
            free(r->hash);
            r->hash = NULL;
            return diag_set(d, -EINVAL, line, 0, "request %s: hash_ids[%u] is not an integer >= 0",
                            id, k);
        }
        r->hash[k] = (uint64_t)json_integer_value(e);
    }
    json_t *off = json_object_get(o, "t_offset_ns");
    r->t_intended_ns = json_is_integer(off) ? (uint64_t)json_integer_value(off) : UINT64_MAX;
    const char *sid = jsonx_str(o, "session_id", NULL);
    if (sid && jsonx_u64(o, "turn", 0) > 0) {
        uint32_t *prev = hmap_get(sessions, str_hash(sid));
        if (prev) {
            r->prev = (int32_t)*prev;
            r->think_ns = jsonx_u64(o, "think_time_ns", 0);
        }
    }
    if (sid)
        hmap_put(sessions, str_hash(sid), (uint32_t)p->n_req);
    p->n_req++;
    return 0;
}

static int load_plan_lines(FILE *f, struct twin_plan *p, struct diag *d)
{
    char *buf = NULL;
    size_t bcap = 0, cap = 0;
    unsigned line = 0;
    int rc = 0;
    bool header = false;
    struct hmap sessions;
    hmap_init(&sessions, 64);
    for (;;) {
        ssize_t n = read_line(f, &buf, &bcap);
        line++;
        if (n < 0) {
            rc = diag_set(d, (int)n, line, 0, "line longer than %u bytes", LINE_MAX_BYTES);
            break;
        }
        if (n == 0)
            break;
        if (n == 1 && buf[0] == '\n')
            continue;
        json_t *o = NULL;
        rc = jsonx_parse(buf, (size_t)n, &o, d);
        if (rc < 0) {
            d->line = line;
            break;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            rc = diag_set(d, -EINVAL, line, 0, "not a JSON object");
            break;
        }
        if (json_object_get(o, "kind")) {
            if (!header && strcmp(jsonx_str(o, "kind", ""), "kvtier.plan") == 0) {
                rc = parse_header(p, o, line, d);
                header = true;
            }
        } else if (!header) {
            rc = diag_set(d, -EINVAL, line, 0, "request before the kvtier.plan header");
        } else {
            rc = parse_req(p, &cap, o, line, &sessions, d);
        }
        json_decref(o);
        if (rc < 0)
            break;
    }
    if (rc == 0 && p->n_req == 0)
        rc = diag_set(d, -EINVAL, line, 0, "no requests (a kvtier.plan header and request lines)");
    free(buf);
    hmap_fini(&sessions);
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
                rc = diag_set(d, (int)n, line, 0, "line longer than %u bytes", LINE_MAX_BYTES);
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

/* Reads the plan stream, then the records stream when there is one. */
static int load_streams(FILE *plan, const char *plan_name, FILE *rec, const char *rec_name,
                        struct twin_plan *p, struct diag *d)
{
    *p = (struct twin_plan){ .phase_relative = true };
    diag_file(d, plan_name);
    int rc = load_plan_lines(plan, p, d);
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
    FILE *f = fopen(requests_path, "re"), *g = NULL;
    int rc = 0;
    if (!f) {
        diag_file(d, requests_path);
        return diag_set(d, -errno, 0, 0, "cannot open: %s", strerror(errno));
    }
    if (records_path && !(g = fopen(records_path, "re"))) {
        diag_file(d, records_path);
        rc = diag_set(d, -errno, 0, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    rc = load_streams(f, requests_path, g, records_path, p, d);
out:
    fclose(f);
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
    FILE *f = fmemopen((void *)plan, plan_len, "r"), *g = NULL;
    if (!f)
        return diag_set(d, -errno, 0, 0, "cannot read the plan text");
    if (records && !(g = fmemopen((void *)records, records_len, "r"))) {
        fclose(f);
        return diag_set(d, -errno, 0, 0, "cannot read the records text");
    }
    int rc = load_streams(f, "plan", g, "records", p, d);
    fclose(f);
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
