/* SPDX-License-Identifier: Apache-2.0 */
/* Plan generation (see workload.h and docs/workloads.md).
 *
 * Prompt structure. A request's messages are [class system prompt][group prefix][session
 * history][query]. The system prompt and the group prefix are fitted so that the rendered
 * prompt up to the end of each (chat template and special tokens included) is a whole number of
 * KV blocks: every message ends with a special token (<|eot_id|>, <|end|>) that the tokenizer
 * never merges across, so two requests that share those messages share exactly those blocks
 * and, since the next message differs within the next block, not one block more. Counts come
 * from encoding the rendered prompt with the plan's tokenizer (the engine runs the same code);
 * hash_ids are blockhash chains of those ids.
 *
 * Reuse opportunity. Requests are accounted in plan order against the set of full prompt
 * blocks seen before (an infinite cache): the leading run of known blocks, capped at
 * (input_tokens - 1) / tokens_per_block blocks (KVBM and TRT-LLM always recompute at least one
 * token), times the block size.
 *
 * Phases. warmup runs each primed group (project, document, agent session) once, or the first
 * turns of each session; pressure sends fresh groups until the unique working set reaches the
 * capacity target (capacity.h); replay returns to the primed groups (more queries, or the rest of
 * each session); steady mixes primed and fresh groups at the profile's rate. */
#include "workload/workload.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/quantci.h"
#include "common/rng.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "tokenizer/blockhash.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"
#include "workload/capacity.h"
#include "workload/family.h"
#include "workload/mooncake.h"
#include "workload/textgen.h"

#define PLAN_MAX_BYTES     (4ull << 30) /* requests.jsonl */
#define FIT_MAX_ITERATIONS 64
#define PRESSURE_MAX_RATE  4.0 /* requests/s: a workstation's pressure stays below this */
#define TEMPLATE_OVERHEAD  32  /* tokens of chat framing allowed for in length checks */
#define SEEN_INITIAL_SLOTS 4096u

void workload_options_init(struct workload_options *o)
{
    *o = (struct workload_options){ .endpoint = WORKLOAD_ENDPOINT_CHAT, .tail_quantile = 0.95 };
}

/* ---- the set of block hashes seen so far (common/hmap.h; a hash of 0 is never remembered,
 * as hashes are never 0 in practice; the table is created on the first insert) ---- */

static bool seen_has(const struct hmap *s, uint64_t h)
{
    return h != 0 && s->e && hmap_get(s, h) != NULL;
}

static void seen_add(struct hmap *s, uint64_t h)
{
    if (h == 0)
        return;
    assert(h != HMAP_EMPTY);
    if (!s->e)
        hmap_init(s, SEEN_INITIAL_SLOTS);
    hmap_put(s, h, 0);
}

/* ---- generator state ---- */

struct group {
    json_t *msgs;           /* owned; shared messages (system, prefix) */
    uint64_t shared_tokens; /* rendered tokens of msgs, a multiple of tokens_per_block */
    char prefix_hash[17];
};

struct session {
    unsigned cls;
    char id[48];
    json_t *msgs; /* owned; whole history so far */
    uint64_t turns_total, turns_done;
    char prefix_hash[17];
};

struct phase_acc {
    uint64_t requests, prompt_tokens, reuse_tokens, new_blocks, sessions;
    int64_t last_offset_ns;
};

struct gen {
    const struct model_profile *m;
    const struct family_dataset *ds;
    const struct workload_options *o;
    struct tokenizer *tok;
    struct textgen *tg;
    enum chat_template tpl;
    uint32_t tpb;
    struct rng rng;
    struct hmap seen; /* full prompt blocks seen so far (an infinite cache) */
    struct buf out;   /* request lines */
    uint64_t next_id, next_session, next_fresh;
    uint64_t next_label; /* numbers the labels that start queries and group prefixes */
    json_t *class_sys[FAMILY_MAX_CLASSES]; /* owned; [system] or empty array */
    uint64_t class_sys_tokens[FAMILY_MAX_CLASSES];
    struct group *primed[FAMILY_MAX_CLASSES]; /* owned arrays of groups */
    struct session *sessions[FAMILY_MAX_CLASSES];
    struct phase_acc acc[FAMILY__COUNT];
    uint64_t max_input_seen;
    struct diag *d;
};

static uint64_t round_up(uint64_t v, uint64_t b)
{
    return (v + b - 1) / b * b;
}

/* Renders msgs (borrowed) and encodes; *ret_ids appended. */
static int render_encode(struct gen *g, const json_t *msgs, bool gen_prompt, struct buf *text,
                         struct token_ids *ret_ids)
{
    buf_reset(text);
    int r = chat_render(g->tpl, msgs, gen_prompt, text, g->d);
    if (r < 0)
        return r;
    return tokenizer_encode(g->tok, buf_str(text), text->len, true, ret_ids);
}

static uint64_t count_msgs(struct gen *g, const json_t *msgs, int *ret_err)
{
    struct buf text;
    struct token_ids v = { 0 };
    buf_init(&text, 0);
    *ret_err = render_encode(g, msgs, false, &text, &v);
    uint64_t n = v.len;
    buf_fini(&text);
    tokenizer_ids_fini(&v);
    return n;
}

/* Appends {role, content} to msgs where content is fitted so that the rendered msgs total
 * exactly `target` tokens. */
static int fit_message(struct gen *g, json_t *msgs, const char *role, uint64_t target,
                       const char *label, struct rng *r)
{
    int err = 0;
    json_t *m = json_pack("{s:s,s:s}", "role", role, "content", "");
    json_array_append_new(msgs, m);
    uint64_t base = count_msgs(g, msgs, &err);
    if (err < 0)
        return err;
    if (target <= base)
        return diag_set(g->d, -EINVAL, 0, 0,
                        "a shared %s message of %llu tokens cannot be fitted (framing alone is "
                        "%llu tokens)",
                        role, (unsigned long long)target, (unsigned long long)base);
    struct buf c;
    buf_init(&c, 0);
    if (label)
        buf_append_str(&c, label);
    textgen_append(g->tg, r, target - base, &c);
    int rc = -EINVAL;
    for (int it = 0; it < FIT_MAX_ITERATIONS; it++) {
        json_object_set_new(m, "content", json_stringn((const char *)c.data, c.len));
        uint64_t n = count_msgs(g, msgs, &err);
        if (err < 0) {
            rc = err;
            break;
        }
        if (n == target) {
            rc = 0;
            break;
        }
        if (n < target)
            textgen_fill(g->tg, r, target - n, &c);
        else
            textgen_drop_words(&c, n - target);
    }
    buf_fini(&c);
    if (rc == -EINVAL)
        diag_set(g->d, rc, 0, 0, "could not fit a %s message to %llu tokens", role,
                 (unsigned long long)target);
    return rc;
}

static uint64_t uniform(struct rng *r, const struct family_range *x)
{
    return rng_range(r, x->lo, x->hi);
}

/* Builds a group: the class system prompt then (when prefix_tokens, or the override) a fitted
 * prefix message. */
static int make_group(struct gen *g, unsigned cls, uint64_t prefix_override, struct rng *r,
                      struct group *ret)
{
    const struct family_class *k = &g->ds->classes[cls];
    struct group grp = { .msgs = json_deep_copy(g->class_sys[cls]),
                         .shared_tokens = g->class_sys_tokens[cls] };
    uint64_t prefix = prefix_override ? prefix_override : k->prefix_tokens;
    if (prefix) {
        uint64_t target = grp.shared_tokens + round_up(prefix, g->tpb);
        /* a numbered label: two groups never share more than the system prompt, even when a
         * corpus repeats itself */
        char label[48];
        snprintf(label, sizeof(label), "Context %llu:\n", (unsigned long long)g->next_label++);
        int rc = fit_message(g, grp.msgs, "user", target, label, r);
        if (rc < 0) {
            json_decref(grp.msgs);
            return rc;
        }
        grp.shared_tokens = target;
    }
    grp.prefix_hash[0] = 0;
    if (grp.shared_tokens) {
        struct buf text;
        struct token_ids v = { 0 };
        buf_init(&text, 0);
        int rc = render_encode(g, grp.msgs, false, &text, &v);
        uint64_t last = 0;
        if (rc == 0 && v.len >= g->tpb)
            for (size_t b = 0; b < v.len / g->tpb; b++)
                last = blockhash_next(last, v.ids + b * g->tpb, g->tpb);
        snprintf(grp.prefix_hash, sizeof(grp.prefix_hash), "%016llx", (unsigned long long)last);
        buf_fini(&text);
        tokenizer_ids_fini(&v);
        if (rc < 0) {
            json_decref(grp.msgs);
            return rc;
        }
    }
    *ret = grp;
    return 0;
}

/* A message of about `tokens` tokens. User messages start with a numbered label, so a query
 * diverges from every other request within its first block even when a corpus repeats. */
static json_t *text_message(struct gen *g, const char *role, uint64_t tokens, struct rng *r)
{
    struct buf c;
    buf_init(&c, 0);
    if (!strcmp(role, "user"))
        buf_printf(&c, "Query %llu: ", (unsigned long long)g->next_label++);
    textgen_append(g->tg, r, tokens, &c);
    json_t *m = json_pack("{s:s,s:s%}", "role", role, "content", (const char *)c.data, c.len);
    buf_fini(&c);
    return m;
}

/* Emits one request line for msgs (borrowed) and accounts it. */
static int emit(struct gen *g, enum family_phase ph, const char *session_id, uint64_t turn,
                const char *prefix_hash, const json_t *msgs, uint64_t output_tokens,
                int64_t t_offset_ns, uint64_t think_ns, const char *cls, const char *tag)
{
    struct buf text;
    struct token_ids v = { 0 };
    buf_init(&text, 0);
    int rc = render_encode(g, msgs, true, &text, &v);
    if (rc < 0)
        goto out;
    if (v.len > WORKLOAD_MAX_PROMPT_TOKENS || v.len + output_tokens > g->m->max_sequence_length) {
        rc = diag_set(g->d, -EINVAL, 0, 0,
                      "a %s request of %zu + %llu tokens exceeds model %s's max_sequence_length "
                      "%u",
                      cls, v.len, (unsigned long long)output_tokens, g->m->name,
                      g->m->max_sequence_length);
        goto out;
    }
    if (g->next_id >= WORKLOAD_MAX_REQUESTS) {
        rc = diag_set(g->d, -EMSGSIZE, 0, 0, "more than %u requests", WORKLOAD_MAX_REQUESTS);
        goto out;
    }
    size_t nb = v.len / g->tpb;
    uint64_t *h = xcalloc(nb ? nb : 1, sizeof(*h));
    blockhash_chain(v.ids, v.len, g->tpb, h, nb);
    size_t hit = 0;
    while (hit < nb && seen_has(&g->seen, h[hit]))
        hit++;
    size_t cap = (v.len - 1) / g->tpb;
    uint64_t reuse = (uint64_t)(hit < cap ? hit : cap) * g->tpb;
    uint64_t before = g->seen.len;
    json_t *ha = json_array();
    for (size_t i = 0; i < nb; i++) {
        seen_add(&g->seen, h[i]);
        json_array_append_new(ha, json_integer((json_int_t)h[i]));
    }
    free(h);
    struct phase_acc *a = &g->acc[ph];
    a->requests++;
    a->prompt_tokens += v.len;
    a->reuse_tokens += reuse;
    a->new_blocks += g->seen.len - before;
    if (t_offset_ns >= 0 && t_offset_ns > a->last_offset_ns)
        a->last_offset_ns = t_offset_ns;
    if (v.len > g->max_input_seen)
        g->max_input_seen = v.len;
    char id[32];
    snprintf(id, sizeof(id), "r%06llu", (unsigned long long)g->next_id++);
    json_t *o = json_pack(
        "{s:s,s:s,s:o,s:I,s:s,s:o,s:I,s:I,s:o,s:I,s:b,s:I,s:s,s:s}", "id", id, "phase",
        family_phase_name(ph), "session_id", session_id ? json_string(session_id) : json_null(),
        "turn", (json_int_t)turn, "prefix_hash", prefix_hash ? prefix_hash : "", "hash_ids", ha,
        "input_tokens", (json_int_t)v.len, "output_tokens", (json_int_t)output_tokens,
        "t_offset_ns", t_offset_ns >= 0 ? json_integer(t_offset_ns) : json_null(), "think_time_ns",
        (json_int_t)think_ns, "carry_history", 0, "reuse_opportunity_tokens", (json_int_t)reuse,
        "class", cls, "group", tag);
    if (g->o->endpoint == WORKLOAD_ENDPOINT_CHAT) {
        json_object_set(o, "messages", (json_t *)msgs);
    } else if (tokenizer_is_exact(g->tok)) {
        json_t *ids = json_array();
        for (size_t i = 0; i < v.len; i++)
            json_array_append_new(ids, json_integer(v.ids[i]));
        json_object_set_new(o, "prompt_token_ids", ids);
    } else {
        json_object_set_new(o, "prompt", json_stringn((const char *)text.data, text.len));
    }
    char *line = jsonx_dump_line(o);
    json_decref(o);
    rc = buf_append_str(&g->out, line);
    if (rc == 0)
        rc = buf_append_str(&g->out, "\n");
    free(line);
    if (rc < 0)
        rc = diag_set(g->d, rc, 0, 0, "plan larger than %llu bytes",
                      (unsigned long long)PLAN_MAX_BYTES);
out:
    buf_fini(&text);
    tokenizer_ids_fini(&v);
    return rc;
}

/* ---- arrivals ---- */

struct arrivals {
    struct rng rng;
    const struct family_phase_cfg *cfg;
    double rate;
    double t_s;
    uint64_t n;
};

static void arrivals_init(struct arrivals *a, struct gen *g, enum family_phase ph)
{
    a->cfg = &g->ds->phases[ph];
    a->rate = a->cfg->rate_per_s * (g->o->rate_scale > 0 ? g->o->rate_scale : 1.0);
    if (ph == FAMILY_PRESSURE && a->rate > PRESSURE_MAX_RATE)
        a->rate = PRESSURE_MAX_RATE;
    rng_seed(&a->rng, rng_derive(rng_next_u64(&g->rng), family_phase_name(ph)));
    a->t_s = 0;
    a->n = 0;
}

/* Offset of the next arrival; -1 for closed loop. The first arrival is at 0. */
static int64_t arrivals_next(struct arrivals *a)
{
    if (!strcmp(a->cfg->arrival, "closed"))
        return -1;
    if (a->n++ > 0) {
        if (!strcmp(a->cfg->arrival, "constant"))
            a->t_s += 1.0 / a->rate;
        else if (!strcmp(a->cfg->arrival, "gamma"))
            a->t_s += rng_gamma(&a->rng, a->cfg->burstiness, 1.0 / (a->rate * a->cfg->burstiness));
        else
            a->t_s += rng_exponential(&a->rng, 1.0 / a->rate);
    }
    return (int64_t)llround(a->t_s * 1e9);
}

/* ---- phases ---- */

static bool is_session_class(const struct family_class *k)
{
    return k->turns.hi > 1;
}

/* Runs up to n turns of session s; the first gets offset t0 (may be -1). */
static int run_turns(struct gen *g, enum family_phase ph, struct session *s, uint64_t n, int64_t t0)
{
    const struct family_class *k = &g->ds->classes[s->cls];
    struct rng *r = &g->rng;
    for (uint64_t i = 0; i < n && s->turns_done < s->turns_total; i++) {
        json_t *q = text_message(g, "user", uniform(r, &k->query_tokens), r);
        json_array_append_new(s->msgs, q);
        uint64_t out = uniform(r, &k->output_tokens);
        int err = 0;
        uint64_t need = count_msgs(g, s->msgs, &err) + TEMPLATE_OVERHEAD + out;
        if (err < 0)
            return err;
        uint64_t max_in = g->ds->max_input_tokens ? g->ds->max_input_tokens : UINT64_MAX;
        if (need > g->m->max_sequence_length || need - out > max_in) {
            /* the history is full: the session ends here (a real agent would summarise) */
            json_array_remove(s->msgs, json_array_size(s->msgs) - 1);
            s->turns_total = s->turns_done;
            break;
        }
        uint64_t think = s->turns_done ? uniform(r, &k->think_time_ms) * 1000000ull : 0;
        char tag[64];
        snprintf(tag, sizeof(tag), "%s", s->id);
        int rc = emit(g, ph, s->id, s->turns_done, s->prefix_hash, s->msgs, out, i == 0 ? t0 : -1,
                      i == 0 ? 0 : think, k->name, tag);
        if (rc < 0)
            return rc;
        json_array_append_new(s->msgs, text_message(g, "assistant", out, r));
        s->turns_done++;
    }
    return 0;
}

static int single(struct gen *g, enum family_phase ph, unsigned cls, const struct group *grp,
                  int64_t t0, const char *tag)
{
    const struct family_class *k = &g->ds->classes[cls];
    json_t *msgs = json_deep_copy(grp->msgs);
    json_array_append_new(msgs,
                          text_message(g, "user", uniform(&g->rng, &k->query_tokens), &g->rng));
    int rc = emit(g, ph, NULL, 0, grp->prefix_hash, msgs, uniform(&g->rng, &k->output_tokens), t0,
                  0, k->name, tag);
    json_decref(msgs);
    return rc;
}

static void new_session(struct gen *g, unsigned cls, const struct group *grp, struct session *s)
{
    const struct family_class *k = &g->ds->classes[cls];
    *s = (struct session){ .cls = cls, .msgs = json_deep_copy(grp->msgs) };
    s->turns_total = uniform(&g->rng, &k->turns);
    snprintf(s->id, sizeof(s->id), "s%04llu-%s", (unsigned long long)g->next_session++, k->name);
    snprintf(s->prefix_hash, sizeof(s->prefix_hash), "%s", grp->prefix_hash);
}

static unsigned pick_class(struct gen *g, bool need_prefix)
{
    double sum = 0;
    for (unsigned c = 0; c < g->ds->n_classes; c++)
        if (!need_prefix || g->ds->classes[c].prefix_tokens)
            sum += g->ds->classes[c].weight;
    double x = rng_uniform(&g->rng) * sum;
    unsigned last = 0;
    for (unsigned c = 0; c < g->ds->n_classes; c++) {
        if (need_prefix && !g->ds->classes[c].prefix_tokens)
            continue;
        last = c;
        if (x < g->ds->classes[c].weight)
            return c;
        x -= g->ds->classes[c].weight;
    }
    return last;
}

static int fresh_single(struct gen *g, enum family_phase ph, unsigned cls, int64_t t0)
{
    struct group grp;
    uint64_t ctx = ph == FAMILY_PRESSURE ? g->ds->phases[ph].context_tokens : 0;
    int rc = make_group(g, cls, ctx, &g->rng, &grp);
    if (rc < 0)
        return rc;
    char tag[32];
    snprintf(tag, sizeof(tag), "fresh%llu", (unsigned long long)g->next_fresh++);
    if (is_session_class(&g->ds->classes[cls]) && ph != FAMILY_PRESSURE) {
        struct session s;
        new_session(g, cls, &grp, &s);
        rc = run_turns(g, ph, &s, s.turns_total, t0);
        json_decref(s.msgs);
    } else {
        rc = single(g, ph, cls, &grp, t0, tag);
    }
    json_decref(grp.msgs);
    return rc;
}

/* Requests a measured phase needs for the headline quantile's interval (0 = no sizing). */
static uint64_t tail_requests(const struct gen *g)
{
    double q = g->o->tail_quantile;
    return q > 0 && q < 1 ? quantci_min_n(q, QUANTCI_LEVEL) : 0;
}

static uint64_t cap_requests(const struct gen *g, uint64_t n)
{
    return g->o->max_requests && n > g->o->max_requests ? g->o->max_requests : n;
}

static int phase_warmup(struct gen *g)
{
    const struct family_phase_cfg *pc = &g->ds->phases[FAMILY_WARMUP];
    struct arrivals a;
    arrivals_init(&a, g, FAMILY_WARMUP);
    uint64_t maxg = 0;
    for (unsigned c = 0; c < g->ds->n_classes; c++)
        if (g->ds->classes[c].groups > maxg)
            maxg = g->ds->classes[c].groups;
    uint64_t jobs = 0;
    for (uint64_t gi = 0; gi < maxg; gi++) {
        for (unsigned c = 0; c < g->ds->n_classes; c++) {
            const struct family_class *k = &g->ds->classes[c];
            if (gi >= k->groups)
                continue;
            int rc = 0;
            if (is_session_class(k)) {
                if (jobs++ < cap_requests(g, UINT64_MAX))
                    rc = run_turns(g, FAMILY_WARMUP, &g->sessions[c][gi], k->warmup_turns,
                                   arrivals_next(&a));
            } else {
                char tag[32];
                snprintf(tag, sizeof(tag), "%s-g%llu", k->name, (unsigned long long)gi);
                for (uint64_t i = 0; i < pc->per_group && rc == 0; i++)
                    if (jobs++ < cap_requests(g, UINT64_MAX))
                        rc = single(g, FAMILY_WARMUP, c, &g->primed[c][gi], arrivals_next(&a), tag);
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int phase_pressure(struct gen *g, const struct capacity_target *t, uint64_t *ret_requests,
                          bool *ret_capped)
{
    const struct family_phase_cfg *pc = &g->ds->phases[FAMILY_PRESSURE];
    struct arrivals a;
    arrivals_init(&a, g, FAMILY_PRESSURE);
    bool any_prefix = false;
    for (unsigned c = 0; c < g->ds->n_classes; c++)
        any_prefix |= g->ds->classes[c].prefix_tokens > 0;
    any_prefix &= pc->context_tokens == 0;
    uint64_t n = 0, limit = cap_requests(g, WORKLOAD_MAX_REQUESTS / 2);
    *ret_capped = false;
    while (n < pc->requests || g->seen.len < t->target_blocks) {
        if (n >= limit) {
            *ret_capped = true;
            break;
        }
        int rc = fresh_single(g, FAMILY_PRESSURE, pick_class(g, any_prefix), arrivals_next(&a));
        if (rc < 0)
            return rc;
        n++;
    }
    *ret_requests = n;
    return 0;
}

static int phase_replay(struct gen *g)
{
    const struct family_phase_cfg *pc = &g->ds->phases[FAMILY_REPLAY];
    struct arrivals a;
    arrivals_init(&a, g, FAMILY_REPLAY);
    uint64_t jobs = 0, limit = cap_requests(g, UINT64_MAX);
    for (unsigned c = 0; c < g->ds->n_classes; c++) {
        const struct family_class *k = &g->ds->classes[c];
        if (!is_session_class(k))
            continue;
        for (uint64_t gi = 0; gi < k->groups && jobs < limit; gi++, jobs++) {
            struct session *s = &g->sessions[c][gi];
            int rc = run_turns(g, FAMILY_REPLAY, s, s->turns_total, arrivals_next(&a));
            if (rc < 0)
                return rc;
        }
    }
    /* enough rounds over the primed groups for the headline quantile (tail_requests) */
    uint64_t groups = 0, rounds = pc->per_group;
    for (unsigned c = 0; c < g->ds->n_classes; c++)
        groups += is_session_class(&g->ds->classes[c]) ? 0 : g->ds->classes[c].groups;
    if (groups && rounds && rounds * groups < tail_requests(g))
        rounds = (tail_requests(g) + groups - 1) / groups;
    for (uint64_t i = 0; i < rounds; i++) {
        uint64_t maxg = 0;
        for (unsigned c = 0; c < g->ds->n_classes; c++)
            if (g->ds->classes[c].groups > maxg)
                maxg = g->ds->classes[c].groups;
        for (uint64_t gi = 0; gi < maxg; gi++)
            for (unsigned c = 0; c < g->ds->n_classes; c++) {
                const struct family_class *k = &g->ds->classes[c];
                if (gi >= k->groups || is_session_class(k) || jobs >= limit)
                    continue;
                char tag[32];
                snprintf(tag, sizeof(tag), "%s-g%llu", k->name, (unsigned long long)gi);
                jobs++;
                int rc = single(g, FAMILY_REPLAY, c, &g->primed[c][gi], arrivals_next(&a), tag);
                if (rc < 0)
                    return rc;
            }
    }
    return 0;
}

static int phase_steady(struct gen *g)
{
    const struct family_phase_cfg *pc = &g->ds->phases[FAMILY_STEADY];
    struct arrivals a;
    arrivals_init(&a, g, FAMILY_STEADY);
    uint64_t n = pc->requests;
    if (n && n < tail_requests(g))
        n = tail_requests(g);
    n = cap_requests(g, n);
    for (uint64_t i = 0; i < n; i++) {
        unsigned c = pick_class(g, false);
        const struct family_class *k = &g->ds->classes[c];
        int64_t t0 = arrivals_next(&a);
        int rc;
        if (rng_uniform(&g->rng) < pc->reuse_fraction) {
            uint64_t gi = rng_range(&g->rng, 0, k->groups - 1);
            char tag[32];
            snprintf(tag, sizeof(tag), "%s-g%llu", k->name, (unsigned long long)gi);
            if (is_session_class(k)) {
                struct group grp = { .msgs = json_deep_copy(g->class_sys[c]) };
                snprintf(grp.prefix_hash, sizeof(grp.prefix_hash), "%s",
                         g->sessions[c][gi].prefix_hash);
                /* a new session on the same task: shares system prompt and task prefix */
                json_t *task =
                    json_array_get(g->sessions[c][gi].msgs, json_array_size(g->class_sys[c]));
                if (k->prefix_tokens && task)
                    json_array_append(grp.msgs, task);
                struct session s;
                new_session(g, c, &grp, &s);
                rc = run_turns(g, FAMILY_STEADY, &s, s.turns_total, t0);
                json_decref(s.msgs);
                json_decref(grp.msgs);
            } else {
                rc = single(g, FAMILY_STEADY, c, &g->primed[c][gi], t0, tag);
            }
        } else {
            rc = fresh_single(g, FAMILY_STEADY, c, t0);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- setup and header ---- */

static int check_dataset(const struct gen *g, const char *dataset, const char *wl)
{
    const struct model_profile *m = g->m;
    if (!strcmp(dataset, "L") && m->max_sequence_length < WORKLOAD_L_MIN_SEQ_TOKENS)
        return diag_set(g->d, -EINVAL, 0, 0,
                        "Dataset L needs an engine with max_sequence_length >= %u tokens; model "
                        "%s has %u (build %s): rebuild the engine for long context (test plan "
                        "P2.1) or use a *_ctx32k model profile",
                        WORKLOAD_L_MIN_SEQ_TOKENS, m->name, m->max_sequence_length, m->build_id);
    if (g->ds->min_model_seq && m->max_sequence_length < g->ds->min_model_seq)
        return diag_set(g->d, -EINVAL, 0, 0,
                        "workload %s dataset %s needs max_sequence_length >= %llu; model %s has %u",
                        wl, dataset, (unsigned long long)g->ds->min_model_seq, m->name,
                        m->max_sequence_length);
    for (unsigned c = 0; c < g->ds->n_classes; c++) {
        const struct family_class *k = &g->ds->classes[c];
        uint64_t shared = round_up(k->system_tokens, g->tpb) + round_up(k->prefix_tokens, g->tpb);
        uint64_t worst_in = shared + k->query_tokens.hi + TEMPLATE_OVERHEAD;
        uint64_t min_in = shared + k->query_tokens.lo;
        if (worst_in + k->output_tokens.hi > m->max_sequence_length)
            return diag_set(g->d, -EINVAL, 0, 0,
                            "workload %s dataset %s class %s: up to %llu input + %llu output "
                            "tokens exceed model %s's max_sequence_length %u",
                            wl, dataset, k->name, (unsigned long long)worst_in,
                            (unsigned long long)k->output_tokens.hi, m->name,
                            m->max_sequence_length);
        if (g->ds->max_input_tokens && worst_in > g->ds->max_input_tokens)
            return diag_set(g->d, -EINVAL, 0, 0,
                            "workload %s dataset %s class %s: up to %llu input tokens exceed the "
                            "dataset's max_input_tokens %llu",
                            wl, dataset, k->name, (unsigned long long)worst_in,
                            (unsigned long long)g->ds->max_input_tokens);
        if (g->ds->min_input_tokens && min_in < g->ds->min_input_tokens)
            return diag_set(g->d, -EINVAL, 0, 0,
                            "workload %s dataset %s class %s: requests of %llu tokens are below "
                            "the dataset's min_input_tokens %llu",
                            wl, dataset, k->name, (unsigned long long)min_in,
                            (unsigned long long)g->ds->min_input_tokens);
    }
    return 0;
}

static int setup_classes(struct gen *g)
{
    for (unsigned c = 0; c < g->ds->n_classes; c++) {
        const struct family_class *k = &g->ds->classes[c];
        struct rng r;
        rng_seed(&r, rng_derive(rng_next_u64(&g->rng), k->name));
        g->class_sys[c] = json_array();
        if (k->system_tokens) {
            uint64_t target = round_up(k->system_tokens, g->tpb);
            int rc = fit_message(g, g->class_sys[c], "system", target, NULL, &r);
            if (rc < 0)
                return rc;
            g->class_sys_tokens[c] = target;
        }
        g->primed[c] = xcalloc(k->groups, sizeof(struct group));
        g->sessions[c] = xcalloc(k->groups, sizeof(struct session));
        for (uint64_t gi = 0; gi < k->groups; gi++) {
            int rc = make_group(g, c, 0, &r, &g->primed[c][gi]);
            if (rc < 0)
                return rc;
            if (is_session_class(k))
                new_session(g, c, &g->primed[c][gi], &g->sessions[c][gi]);
        }
    }
    return 0;
}

static void gen_fini(struct gen *g)
{
    for (unsigned c = 0; g->ds && c < g->ds->n_classes; c++) {
        json_decref(g->class_sys[c]);
        for (uint64_t gi = 0; g->primed[c] && gi < g->ds->classes[c].groups; gi++)
            json_decref(g->primed[c][gi].msgs);
        for (uint64_t gi = 0; g->sessions[c] && gi < g->ds->classes[c].groups; gi++)
            json_decref(g->sessions[c][gi].msgs);
        free(g->primed[c]);
        free(g->sessions[c]);
    }
    hmap_fini(&g->seen);
    buf_fini(&g->out);
    textgen_free(g->tg);
    tokenizer_free(g->tok);
}

static json_t *phase_json(const struct gen *g, enum family_phase p, const char *arrival,
                          double rate)
{
    const struct family_phase_cfg *pc = g->ds ? &g->ds->phases[p] : NULL;
    /* duration_ns 0: the phase lasts until its planned requests are done (a load generator
     * that stops dispatching at duration_ns would drop queued requests); the span of the
     * intended send times is schedule_span_ns */
    return json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:I,s:I,s:I}", "name", family_phase_name(p),
                     "arrival", arrival, "rate_per_s", rate, "burstiness",
                     pc ? pc->burstiness : 1.0, "concurrency",
                     (json_int_t)(pc ? pc->concurrency : 1), "max_concurrency",
                     (json_int_t)(pc ? pc->max_concurrency : 16), "duration_ns", (json_int_t)0,
                     "schedule_span_ns",
                     (json_int_t)(g->acc[p].last_offset_ns > 0 ? g->acc[p].last_offset_ns : 0),
                     "requests", (json_int_t)g->acc[p].requests);
}

/* Whether the measured phases support the headline quantile: the plan says so in its header. */
static json_t *tail_json(const struct gen *g)
{
    uint64_t need = tail_requests(g);
    json_t *ph = json_object();
    static const enum family_phase measured[] = { FAMILY_REPLAY, FAMILY_STEADY };
    for (size_t i = 0; i < 2; i++) {
        uint64_t n = g->acc[measured[i]].requests;
        json_object_set_new(
            ph, family_phase_name(measured[i]),
            json_pack("{s:I, s:b}", "requests", (json_int_t)n, "supported", need > 0 && n >= need));
    }
    json_t *o = json_pack("{s:f, s:f, s:I, s:o}", "quantile", g->o->tail_quantile, "level",
                          QUANTCI_LEVEL, "requests_needed", (json_int_t)need, "phases", ph);
    return o;
}

static json_t *capacity_json(const struct gen *g, const struct workload_capacity *cap, uint64_t bpb)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "g1_blocks",
                     (json_int_t)cap->g1_blocks, "g2_blocks", (json_int_t)cap->g2_blocks,
                     "g3_blocks", (json_int_t)cap->g3_blocks, "bytes_per_block", (json_int_t)bpb,
                     "kv_bytes_per_token", (json_int_t)profile_kv_bytes_per_token(g->m),
                     "g1_g2_blocks", (json_int_t)(cap->g1_blocks + cap->g2_blocks), "g1_g2_bytes",
                     (json_int_t)((cap->g1_blocks + cap->g2_blocks) * bpb), "g3_bytes",
                     (json_int_t)(cap->g3_blocks * bpb), "source",
                     cap->source ? cap->source : "cli");
}

static json_t *base_header(const struct gen *g, const char *wl, const char *title,
                           const char *dataset, uint64_t seed, const char *tok_file)
{
    static const char *const ep[] = { "chat", "completions" };
    static const char *const tpl[CHAT_TEMPLATE__COUNT] = { "llama3", "harmony", "none", "llama31" };
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:o,s:s,s:s,s:I,s:s}", "kind",
                     "kvtier.plan", "schema_version", WORKLOAD_SCHEMA_VERSION, "workload", wl,
                     "title", title, "dataset", dataset, "model", g->m->name, "seed",
                     (json_int_t)seed, "tokens_per_block", (json_int_t)g->tpb, "tokenizer",
                     tokenizer_kind(g->tok), "tokenizer_file",
                     tok_file ? json_string(tok_file) : json_null(), "chat_template", tpl[g->tpl],
                     "endpoint", ep[g->o->endpoint], "max_sequence_length",
                     (json_int_t)g->m->max_sequence_length, "text_source", textgen_source(g->tg));
}

static int write_plan(const char *out_path, json_t *header, const struct buf *body, struct diag *d)
{
    char *h = jsonx_dump_line(header);
    struct buf all;
    buf_init(&all, 0);
    int r = buf_append_str(&all, h);
    if (r == 0)
        r = buf_append_str(&all, "\n");
    if (r == 0)
        r = buf_append(&all, body->data, body->len);
    free(h);
    if (r == 0)
        r = fileio_write_atomic(out_path, all.data, all.len);
    buf_fini(&all);
    if (r < 0) {
        diag_file(d, out_path);
        return diag_set(d, r, 0, 0, "cannot write the plan: %s", strerror(-r));
    }
    return 0;
}

static int open_common(struct gen *g, const char *profiles_dir, const char *model,
                       const struct workload_options *opts, uint64_t seed, struct diag *d,
                       struct model_profile *m)
{
    int r = profile_load_model(profiles_dir, model, m, d);
    if (r < 0)
        return r;
    g->m = m;
    g->o = opts;
    g->d = d;
    g->tpb = m->tokens_per_block ? m->tokens_per_block : 32;
    buf_init(&g->out, PLAN_MAX_BYTES);
    rng_seed(&g->rng, seed);
    if (chat_template_from_name(m->chat_template, &g->tpl) < 0)
        g->tpl = CHAT_TEMPLATE_NONE;
    if (opts->tokenizer_path) {
        r = tokenizer_new_from_file(opts->tokenizer_path, &g->tok, d);
        if (r < 0)
            return r;
    } else {
        g->tok = tokenizer_new_approx(m->vocab ? m->vocab : 128256);
    }
    struct diag td = { 0 };
    r = textgen_new(g->tok, opts->corpus_dir, &g->tg, &td);
    if (r < 0) {
        *d = td;
        return r;
    }
    return 0;
}

/* ---- Mooncake import ---- */

/* Appends the text of hash id h (tokens_per_hash fill words, the first `take` of them). */
static int hash_block_text(struct gen *g, uint64_t h, uint64_t take, struct buf *out)
{
    struct rng r;
    char label[32];
    snprintf(label, sizeof(label), "hash%llu", (unsigned long long)h);
    rng_seed(&r, rng_derive(0x6d6f6f6e63616b65ULL, label));
    return textgen_fill(g->tg, &r, take, out);
}

/* One trace row becomes one steady-phase request: its hash ids become text blocks (equal ids,
 * equal text), cut to input_length. */
static int trace_turn(void *ctx, const struct mooncake_turn *t, struct diag *d)
{
    struct gen *g = ctx;
    const struct mooncake_row *row = t->row;
    uint32_t tph = g->o->trace_tokens_per_hash ? g->o->trace_tokens_per_hash : 512;
    struct buf c;
    buf_init(&c, 0);
    int rc = 0;
    for (size_t i = 0; i < row->n_hash && rc == 0; i++) {
        uint64_t take = i + 1 < row->n_hash ? tph : row->input_length - (uint64_t)i * tph;
        rc = hash_block_text(g, row->hash_ids[i], take, &c);
    }
    json_t *msgs =
        json_pack("[{s:s,s:s%}]", "role", "user", "content", (const char *)c.data, c.len);
    buf_fini(&c);
    char tag[32];
    snprintf(tag, sizeof(tag), "trace%u", t->line);
    if (rc == 0) {
        struct diag ed = { 0 };
        struct diag *saved = g->d;
        g->d = &ed;
        rc = emit(g, FAMILY_STEADY, row->session_id[0] ? row->session_id : NULL, 0, "", msgs,
                  row->output_length, t->t_offset_ns, t->think_time_ns, "trace", tag);
        g->d = saved;
        if (rc < 0)
            diag_set(d, rc, t->line, 0, "%s", ed.msg);
    }
    json_decref(msgs);
    return rc;
}

static int plan_from_trace(struct gen *g, uint64_t seed, const struct workload_capacity *cap,
                           const char *out_path, json_t **ret_header, struct diag *d)
{
    uint32_t tph = g->o->trace_tokens_per_hash ? g->o->trace_tokens_per_hash : 512;
    uint64_t rows = 0;
    if (g->o->endpoint == WORKLOAD_ENDPOINT_COMPLETIONS)
        g->tpl = CHAT_TEMPLATE_NONE; /* raw prompts: input_tokens = input_length exactly */
    int rc = mooncake_import(g->o->trace_path, tph, trace_turn, g, &rows, d);
    if (rc < 0)
        return rc;
    uint64_t bpb = cap->bytes_per_block ? cap->bytes_per_block : profile_bytes_per_block(g->m);
    json_t *h =
        base_header(g, "trace", "Mooncake trace import", "trace", seed, g->o->tokenizer_path);
    json_t *phases = json_array();
    json_array_append_new(phases, phase_json(g, FAMILY_STEADY, "plan", 0.0));
    json_object_set_new(h, "phases", phases);
    json_object_set_new(h, "capacity", capacity_json(g, cap, bpb));
    json_object_set_new(h, "trace",
                        json_pack("{s:s,s:I,s:I,s:s}", "file", g->o->trace_path,
                                  "tokens_per_hash_id", (json_int_t)tph, "rows", (json_int_t)rows,
                                  "prompts",
                                  "each hash id is a fixed run of one-token words; the last id "
                                  "of a row is cut to input_length (chat adds template tokens)"));
    json_object_set_new(
        h, "reuse_opportunity_tokens",
        json_pack("{s:I}", "steady", (json_int_t)g->acc[FAMILY_STEADY].reuse_tokens));
    json_object_set_new(
        h, "prompt_tokens",
        json_pack("{s:I}", "steady", (json_int_t)g->acc[FAMILY_STEADY].prompt_tokens));
    json_object_set_new(h, "unique_blocks", json_integer((json_int_t)g->seen.len));
    json_object_set_new(h, "requests", json_integer((json_int_t)g->next_id));
    rc = write_plan(out_path, h, &g->out, d);
    if (rc < 0) {
        json_decref(h);
        return rc;
    }
    *ret_header = h;
    return 0;
}

/* ---- entry point ---- */

int workload_plan_write(const char *profiles_dir, const char *workload, const char *dataset,
                        const char *model, uint64_t seed, const struct workload_capacity *cap,
                        const struct workload_options *opts, const char *out_path,
                        json_t **ret_header, struct diag *d)
{
    struct gen g = { 0 };
    struct model_profile m;
    struct family fam;
    struct family_dataset ds;
    json_t *doc = NULL, *h = NULL;
    struct buf text;
    buf_init(&text, YAMLX_MAX_BYTES);
    int rc = open_common(&g, profiles_dir, model, opts, seed, d, &m);
    if (rc < 0)
        goto out;
    if (opts->trace_path) {
        rc = plan_from_trace(&g, seed, cap, out_path, &h, d);
        if (rc == 0) {
            *ret_header = h;
            h = NULL;
        }
        goto out;
    }
    if (strcmp(dataset, "S") != 0 && strcmp(dataset, "L") != 0) {
        rc = diag_set(d, -EINVAL, 0, 0, "dataset \"%s\" is not S or L", dataset);
        goto out;
    }
    char *path = xalloc_printf("%s/workloads/%s.yaml", profiles_dir, workload);
    diag_file(d, path);
    rc = fileio_read_all(path, YAMLX_MAX_BYTES, &text);
    free(path);
    if (rc == -ENOENT) {
        rc = diag_set(d, -ENOENT, 0, 0, "no workload %s (A, B, C or D)", workload);
        goto out;
    }
    if (rc < 0 || (rc = yamlx_parse(buf_str(&text), text.len, &doc, d)) < 0 ||
        (rc = family_parse(doc, dataset, buf_str(&text), text.len, &fam, &ds, d)) < 0)
        goto out;
    if (opts->skip_steady)
        ds.phases[FAMILY_STEADY].enabled = false;
    g.ds = &ds;
    rc = check_dataset(&g, dataset, workload);
    if (rc < 0)
        goto out;
    diag_file(d, "");
    if ((rc = setup_classes(&g)) < 0)
        goto out;
    uint64_t bpb = cap->bytes_per_block ? cap->bytes_per_block : profile_bytes_per_block(&m);
    struct capacity_target t;
    capacity_target(cap, &t);
    uint64_t after_warmup = 0, pressure_requests = 0;
    bool capped = false;
    if (ds.phases[FAMILY_WARMUP].enabled && (rc = phase_warmup(&g)) < 0)
        goto out;
    after_warmup = g.seen.len;
    if (ds.phases[FAMILY_PRESSURE].enabled &&
        (rc = phase_pressure(&g, &t, &pressure_requests, &capped)) < 0)
        goto out;
    uint64_t after_pressure = g.seen.len;
    if (ds.phases[FAMILY_REPLAY].enabled && (rc = phase_replay(&g)) < 0)
        goto out;
    if (ds.phases[FAMILY_STEADY].enabled && (rc = phase_steady(&g)) < 0)
        goto out;

    h = base_header(&g, fam.name, fam.title, dataset, seed, opts->tokenizer_path);
    json_t *phases = json_array(), *reuse = json_object(), *prompt = json_object(),
           *newb = json_object();
    for (int p = 0; p < FAMILY__COUNT; p++) {
        if (!ds.phases[p].enabled)
            continue;
        struct arrivals a;
        arrivals_init(&a, &g, (enum family_phase)p);
        json_array_append_new(phases,
                              phase_json(&g, (enum family_phase)p, ds.phases[p].arrival, a.rate));
        json_object_set_new(reuse, family_phase_name((enum family_phase)p),
                            json_integer((json_int_t)g.acc[p].reuse_tokens));
        json_object_set_new(prompt, family_phase_name((enum family_phase)p),
                            json_integer((json_int_t)g.acc[p].prompt_tokens));
        json_object_set_new(newb, family_phase_name((enum family_phase)p),
                            json_integer((json_int_t)g.acc[p].new_blocks));
    }
    json_object_set_new(h, "phases", phases);
    json_object_set_new(h, "tail", tail_json(&g));
    json_object_set_new(h, "capacity", capacity_json(&g, cap, bpb));
    bool exceeds = after_pressure > t.g12_blocks;
    bool fits = t.g3_present && after_pressure <= cap->g3_blocks;
    char arith[400];
    snprintf(arith, sizeof(arith),
             "target = %s = %llu blocks; warmup primed %llu unique blocks, pressure added %llu "
             "in %llu requests -> %llu blocks x %llu B = %.4g GB vs G1+G2 %llu blocks (%.4g GB) "
             "and G3 %llu blocks (%.4g GB)",
             t.note, (unsigned long long)t.target_blocks, (unsigned long long)after_warmup,
             (unsigned long long)(after_pressure - after_warmup),
             (unsigned long long)pressure_requests, (unsigned long long)after_pressure,
             (unsigned long long)bpb, (double)(after_pressure * bpb) / 1e9,
             (unsigned long long)t.g12_blocks, (double)(t.g12_blocks * bpb) / 1e9,
             (unsigned long long)cap->g3_blocks, (double)(cap->g3_blocks * bpb) / 1e9);
    json_object_set_new(
        h, "pressure",
        json_pack("{s:I,s:I,s:I,s:I,s:b,s:o,s:b,s:b,s:I,s:s,s:s}", "target_unique_blocks",
                  (json_int_t)t.target_blocks, "unique_blocks_after_warmup",
                  (json_int_t)after_warmup, "unique_blocks", (json_int_t)after_pressure,
                  "unique_bytes", (json_int_t)(after_pressure * bpb), "exceeds_g1_g2", exceeds,
                  "fits_g3", t.g3_present ? json_boolean(fits) : json_null(), "feasible",
                  t.feasible && exceeds && !capped, "capped", capped, "requests",
                  (json_int_t)pressure_requests, "note", t.note, "arithmetic", arith));
    json_object_set_new(h, "reuse_opportunity_tokens", reuse);
    json_object_set_new(h, "prompt_tokens", prompt);
    json_object_set_new(h, "new_unique_blocks", newb);
    json_object_set_new(h, "max_input_tokens", json_integer((json_int_t)g.max_input_seen));
    json_object_set_new(h, "requests", json_integer((json_int_t)g.next_id));
    rc = write_plan(out_path, h, &g.out, d);
    if (rc < 0)
        goto out;
    *ret_header = h;
    h = NULL;
out:
    json_decref(h);
    json_decref(doc);
    buf_fini(&text);
    gen_fini(&g);
    return rc;
}

int workload_plan_read_header(const char *plan_path, json_t **ret, struct diag *d)
{
    diag_file(d, plan_path);
    FILE *f = fopen(plan_path, "r");
    if (!f)
        return diag_set(d, -errno, 0, 0, "cannot open plan: %s", strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    json_t *h = NULL;
    int rc = n > 0 ? jsonx_parse(line, (size_t)n, &h, d) : -EINVAL;
    free(line);
    if (rc == 0 && strcmp(jsonx_str(h, "kind", ""), "kvtier.plan") != 0)
        rc = -EINVAL;
    if (rc < 0) {
        json_decref(h);
        return diag_set(d, -EINVAL, 1, 0, "line 1 is not a kvtier.plan header");
    }
    *ret = h;
    return 0;
}
