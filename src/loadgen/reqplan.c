/* SPDX-License-Identifier: Apache-2.0 */
/* Request plans: JSONL plan parsing, Mooncake trace import, synthetic plans, request bodies
 * (see reqplan.h). */
#include "loadgen/reqplan.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/mooncake_row.h"
#include "common/planrow.h"
#include "common/rng.h"
#include "common/xalloc.h"
#include "loadgen/arrival.h"

/* Words that are one token each (with their leading space) in common BPE vocabularies. */
static const char *const words[64] = {
    "the",   "of",    "and",   "to",    "in",    "is",   "that",  "for",   "it",    "as",
    "was",   "with",  "be",    "by",    "on",    "not",  "he",    "this",  "are",   "or",
    "his",   "from",  "at",    "which", "but",   "have", "an",    "had",   "they",  "you",
    "were",  "their", "one",   "all",   "we",    "can",  "her",   "has",   "there", "been",
    "if",    "more",  "when",  "will",  "would", "who",  "so",    "no",    "time",  "new",
    "water", "light", "house", "river", "stone", "road", "field", "music", "paper", "table",
    "green", "small", "story", "world",
};

void reqplan_free(struct reqplan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_reqs; i++) {
        struct reqplan_request *r = &p->reqs[i];
        free(r->id);
        free(r->session_id);
        json_decref(r->messages);
        free(r->prompt);
        json_decref(r->prompt_token_ids);
        free(r->hash_ids);
    }
    for (size_t i = 0; i < p->n_phases; i++)
        free(p->phases[i].reqs);
    free(p->phases);
    free(p->reqs);
    json_decref(p->header);
    free(p);
}

int reqplan_phase_index(const struct reqplan *p, const char *name)
{
    for (size_t i = 0; i < p->n_phases; i++)
        if (!strcmp(p->phases[i].name, name))
            return (int)i;
    return -1;
}

/* builder state shared by the parsers */
struct builder {
    struct reqplan *p;
    size_t cap_reqs, cap_phases;
    size_t *cap_phase_reqs; /* per phase */
    json_t *sessions;       /* "phase\x1fsession" -> index of the last turn seen */
};

static void builder_init(struct builder *b)
{
    *b = (struct builder){ .p = xcalloc(1, sizeof(struct reqplan)), .sessions = json_object() };
}

static void builder_fini(struct builder *b)
{
    free(b->cap_phase_reqs);
    json_decref(b->sessions);
    reqplan_free(b->p);
}

static int add_phase(struct builder *b, const char *name)
{
    struct reqplan *p = b->p;
    if (p->n_phases >= REQPLAN_MAX_PHASES)
        return -EMSGSIZE;
    if (strlen(name) >= REQPLAN_PHASE_NAME_MAX || !name[0])
        return -EINVAL;
    size_t old = b->cap_phases;
    xalloc_grow((void **)&p->phases, &b->cap_phases, p->n_phases + 1, sizeof(*p->phases));
    b->cap_phase_reqs = xrealloc(b->cap_phase_reqs, b->cap_phases * sizeof(size_t));
    for (size_t i = old; i < b->cap_phases; i++)
        b->cap_phase_reqs[i] = 0;
    struct reqplan_phase *ph = &p->phases[p->n_phases];
    *ph = (struct reqplan_phase){ .arrival = LOADGEN_ARRIVAL_PLAN };
    snprintf(ph->name, sizeof(ph->name), "%s", name);
    return (int)p->n_phases++;
}

static struct reqplan_request *add_request(struct builder *b, uint32_t phase)
{
    struct reqplan *p = b->p;
    xalloc_grow((void **)&p->reqs, &b->cap_reqs, p->n_reqs + 1, sizeof(*p->reqs));
    struct reqplan_phase *ph = &p->phases[phase];
    xalloc_grow((void **)&ph->reqs, &b->cap_phase_reqs[phase], ph->n_reqs + 1, sizeof(size_t));
    ph->reqs[ph->n_reqs++] = p->n_reqs;
    struct reqplan_request *r = &p->reqs[p->n_reqs++];
    *r = (struct reqplan_request){
        .phase = phase, .t_offset_ns = -1, .prev_turn = -1, .next_turn = -1
    };
    return r;
}

/* Links r (the last request added) into its session's turn chain. */
static void link_session(struct builder *b, struct reqplan_request *r)
{
    if (!r->session_id)
        return;
    char key[REQPLAN_PHASE_NAME_MAX + REQPLAN_ID_MAX + 2];
    snprintf(key, sizeof(key), "%s\x1f%s", b->p->phases[r->phase].name, r->session_id);
    size_t idx = (size_t)(r - b->p->reqs);
    json_t *prev = json_object_get(b->sessions, key);
    if (prev) {
        size_t pi = (size_t)json_integer_value(prev);
        b->p->reqs[pi].next_turn = (int64_t)idx;
        r->prev_turn = (int64_t)pi;
    }
    json_object_set_new(b->sessions, key, json_integer((json_int_t)idx));
}

/* Mirrors the reader's phases (from the header, or named by requests) into the plan. */
static int sync_phases(struct builder *b, const struct planrow_reader *rd)
{
    while (b->p->n_phases < rd->n_phases) {
        const struct planrow_phase *src = &rd->phases[b->p->n_phases];
        int idx = add_phase(b, src->name);
        if (idx < 0)
            return idx;
        struct reqplan_phase *q = &b->p->phases[idx];
        if (src->arrival[0] && arrival_from_name(src->arrival, &q->arrival) < 0)
            return -EINVAL;
        q->rate_per_s = src->rate_per_s;
        q->burstiness = src->burstiness;
        q->concurrency = src->concurrency;
        q->max_concurrency = src->max_concurrency;
        q->duration_ns = src->duration_ns;
        q->requests = src->requests;
    }
    return 0;
}

struct plan_read {
    struct builder *b;
    const struct planrow_reader *rd;
};

static int plan_row(void *arg, struct planrow *row, unsigned line, struct diag *d)
{
    struct plan_read *pr = arg;
    int rc = sync_phases(pr->b, pr->rd);
    if (rc < 0)
        return diag_set(d, rc, line, 0, "field \"phase\": bad name or too many phases");
    struct reqplan_request *r = add_request(pr->b, row->phase);
    r->id = xstrdup(row->id);
    r->session_id = row->session_id[0] ? xstrdup(row->session_id) : NULL;
    r->turn = row->turn;
    r->t_offset_ns = row->t_offset_ns;
    r->think_time_ns = row->think_time_ns;
    r->carry_history = row->carry_history;
    r->input_tokens = row->input_tokens;
    r->output_tokens = row->output_tokens;
    /* a plan line's prompt is its body; its hash_ids are for the twin */
    r->messages = json_incref(row->messages);
    r->prompt = row->prompt ? xstrdup(json_string_value(row->prompt)) : NULL;
    r->prompt_token_ids = json_incref(row->prompt_token_ids);
    link_session(pr->b, r);
    return 0;
}

static int finish(struct builder *b, struct reqplan **ret, struct diag *d)
{
    if (b->p->n_reqs == 0)
        return diag_set(d, -EINVAL, 0, 0, "no requests");
    *ret = b->p;
    b->p = NULL;
    return 0;
}

int reqplan_parse(const char *text, size_t len, const char *name, struct reqplan **ret,
                  struct diag *d)
{
    struct builder b;
    struct planrow_reader rd;
    struct planrow_opts o = { .need_body = true };
    builder_init(&b);
    planrow_reader_init(&rd, &o);
    struct plan_read pr = { .b = &b, .rd = &rd };
    int rc = planrow_read(&rd, text, len, name, plan_row, &pr, d);
    if (rc >= 0 && (rc = sync_phases(&b, &rd)) < 0)
        rc = diag_set(d, rc, 0, 0, "bad phase name or too many phases");
    if (rc >= 0) {
        b.p->endpoint = rd.endpoint == PLANROW_ENDPOINT_CHAT          ? LOADGEN_ENDPOINT_CHAT
                        : rd.endpoint == PLANROW_ENDPOINT_COMPLETIONS ? LOADGEN_ENDPOINT_COMPLETIONS
                                                                      : b.p->endpoint;
        b.p->header = json_incref(rd.header);
        rc = finish(&b, ret, d);
    }
    planrow_reader_fini(&rd);
    builder_fini(&b);
    return rc;
}

int reqplan_load(const char *path, struct reqplan **ret, struct diag *d)
{
    struct buf t;
    int rc = planrow_load_text(path, &t, d);
    if (rc == 0)
        rc = reqplan_parse(buf_str(&t), t.len, path, ret, d);
    buf_fini(&t);
    return rc;
}

/* Adds one trace row as an open-loop request of phase 0. */
static void trace_request(struct builder *b, struct mooncake_row *row,
                          const struct reqplan_trace_opts *opt)
{
    struct reqplan *p = b->p;
    double sp = opt->speedup > 0 ? opt->speedup : 1.0;
    struct reqplan_request *r = add_request(b, 0);
    r->id = xalloc_printf("trace-%zu", p->n_reqs - 1);
    r->t_offset_ns = (int64_t)llround(row->timestamp_ms * 1e6 / sp);
    r->input_tokens = row->input_length;
    r->output_tokens = row->output_length;
    r->hash_ids = row->hash_ids; /* moves into the request */
    r->n_hash_ids = (uint32_t)row->n_hash;
    r->tokens_per_hash_id =
        opt->tokens_per_hash_id ? opt->tokens_per_hash_id : MOONCAKE_ROW_TPH_DEFAULT;
    row->hash_ids = NULL;
}

int reqplan_parse_trace(const char *text, size_t len, const char *name,
                        const struct reqplan_trace_opts *o, struct reqplan **ret, struct diag *d)
{
    struct builder b;
    builder_init(&b);
    int rc = add_phase(&b, o->phase ? o->phase : "main");
    if (rc < 0) {
        rc = diag_set(d, -EINVAL, 0, 0, "bad phase name");
        goto out;
    }
    b.p->phases[0].arrival = LOADGEN_ARRIVAL_PLAN;
    b.p->prompt_ids = o->prompt_ids;
    diag_file(d, name);
    unsigned line = 0;
    size_t pos = 0;
    while (pos < len && !(o->max_requests && b.p->n_reqs >= o->max_requests)) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (mooncake_row_blank(s, n))
            continue;
        if (d)
            d->line = line;
        struct mooncake_row row;
        rc = mooncake_row_parse(s, n, o->tokens_per_hash_id, &row, d);
        if (rc < 0)
            goto out;
        trace_request(&b, &row, o);
        mooncake_row_fini(&row);
    }
    rc = finish(&b, ret, d);
out:
    builder_fini(&b);
    return rc;
}

int reqplan_load_trace(const char *path, const struct reqplan_trace_opts *o, struct reqplan **ret,
                       struct diag *d)
{
    struct buf t;
    int rc = planrow_load_text(path, &t, d);
    if (rc == 0)
        rc = reqplan_parse_trace(buf_str(&t), t.len, path, o, ret, d);
    buf_fini(&t);
    return rc;
}

int reqplan_synthetic(const struct reqplan_synth_opts *o, struct reqplan **ret)
{
    if (o->requests == 0 || o->isl == 0 || o->isl > REQPLAN_TOKENS_MAX ||
        o->osl > REQPLAN_TOKENS_MAX || o->requests + o->warmup > REQPLAN_MAX_REQUESTS)
        return -EINVAL;
    struct builder b;
    builder_init(&b);
    int wp = -1;
    if (o->warmup > 0)
        wp = add_phase(&b, "warmup");
    int mp = add_phase(&b, o->phase ? o->phase : "main");
    if (mp < 0 || (o->warmup > 0 && wp < 0)) {
        builder_fini(&b);
        return -EINVAL;
    }
    b.p->prompt_ids = o->prompt_ids;
    for (uint64_t i = 0; i < o->warmup + o->requests; i++) {
        bool warm = i < o->warmup;
        struct reqplan_request *r = add_request(&b, (uint32_t)(warm ? wp : mp));
        r->id = xalloc_printf("%s-%" PRIu64, warm ? "warmup" : "req", warm ? i : i - o->warmup);
        r->input_tokens = o->isl;
        r->output_tokens = o->osl;
        r->hash_ids = xmalloc(sizeof(uint64_t));
        /* one unique block per request: no prefix is shared, warm-up included */
        r->hash_ids[0] = rng_derive(o->seed, "synthetic") ^ (i * 0x9E3779B97F4A7C15ull);
        r->n_hash_ids = 1;
        r->tokens_per_hash_id = (uint32_t)o->isl;
    }
    int rc = finish(&b, ret, NULL);
    builder_fini(&b);
    return rc;
}

/* Appends the generated words (or ids) of block i of r. */
static void gen_block(const struct reqplan_request *r, uint32_t i, bool ids, json_t *id_arr,
                      struct buf *text)
{
    uint64_t n = r->tokens_per_hash_id;
    if (i + 1 == r->n_hash_ids && r->input_tokens > (uint64_t)i * n) {
        uint64_t rest = r->input_tokens - (uint64_t)i * n;
        if (rest < n)
            n = rest;
    }
    struct rng g;
    rng_seed(&g, r->hash_ids[i] * 0xD1B54A32D192ED03ull + 0x5851F42D4C957F2Dull);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t x = rng_next_u64(&g);
        if (ids) {
            json_array_append_new(id_arr, json_integer((json_int_t)(1000 + x % 30000)));
        } else {
            const char *w = words[x % 64];
            if (text->len > 0)
                buf_append(text, " ", 1);
            buf_append_str(text, w);
        }
    }
}

json_t *reqplan_prompt_json(const struct reqplan_request *r, bool chat, bool prompt_ids)
{
    if (chat) {
        if (r->messages)
            return json_deep_copy(r->messages);
    } else {
        if (r->prompt_token_ids)
            return json_incref(r->prompt_token_ids);
        if (r->prompt)
            return json_string(r->prompt);
    }
    /* convert between forms, or generate */
    struct buf text;
    buf_init(&text, 0);
    json_t *out = NULL;
    if (r->hash_ids) {
        bool ids = prompt_ids && !chat;
        json_t *arr = ids ? json_array() : NULL;
        for (uint32_t i = 0; i < r->n_hash_ids; i++)
            gen_block(r, i, ids, arr, &text);
        if (ids) {
            buf_fini(&text);
            return arr;
        }
    } else if (chat && r->prompt) {
        buf_append_str(&text, r->prompt);
    } else if (chat && r->prompt_token_ids) {
        /* no tokenizer here: token ids cannot become chat text */
        buf_append_str(&text, "");
    } else if (!chat && r->messages) {
        size_t i;
        json_t *m;
        json_array_foreach (r->messages, i, m) {
            const char *c = json_string_value(json_object_get(m, "content"));
            if (!c)
                continue;
            if (text.len)
                buf_append(&text, "\n", 1);
            buf_append_str(&text, c);
        }
    }
    if (chat) {
        out = json_array();
        json_array_append_new(out,
                              json_pack("{s:s, s:s}", "role", "user", "content", buf_str(&text)));
    } else {
        out = json_string(buf_str(&text));
    }
    buf_fini(&text);
    return out;
}

int reqplan_body(const struct reqplan_request *r, const struct reqplan_body_opts *o,
                 const json_t *history, struct buf *out)
{
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(o->model ? o->model : ""));
    json_t *prompt = reqplan_prompt_json(r, o->chat, o->prompt_ids);
    if (o->chat) {
        if (json_is_array(history) && json_array_size(history) > 0) {
            json_t *all = json_deep_copy(history);
            json_array_extend(all, prompt);
            json_decref(prompt);
            prompt = all;
        }
        json_object_set_new(body, "messages", prompt);
    } else {
        const char *h = json_string_value(json_object_get(history, "prompt"));
        if (h && h[0] && json_is_string(prompt)) {
            char *joined = xalloc_printf("%s%s", h, json_string_value(prompt));
            json_decref(prompt);
            prompt = json_string(joined);
            free(joined);
        }
        json_object_set_new(body, "prompt", prompt);
    }
    if (r->output_tokens > 0) {
        json_object_set_new(body, "max_tokens", json_integer((json_int_t)r->output_tokens));
        if (o->exact_output) {
            json_object_set_new(body, "min_tokens", json_integer((json_int_t)r->output_tokens));
            json_object_set_new(body, "ignore_eos", json_true());
        }
    }
    json_object_set_new(body, "stream", json_true());
    if (o->include_usage)
        json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (json_is_object(o->extra_body))
        json_object_update(body, (json_t *)o->extra_body);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = s ? buf_append_str(out, s) : -ENOMEM;
    free(s);
    return rc;
}
