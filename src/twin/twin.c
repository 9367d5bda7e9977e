/* SPDX-License-Identifier: Apache-2.0 */
/* Discrete-event twin of the engine's scheduler (see twin.h). */
#include "twin/twin.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "engine/blockpool.h"
#include "engine/cost.h"
#include "engine/filter.h"

enum tseq_state { TS_WAIT, TS_ONBOARD, TS_PREFILL, TS_DECODE };

struct tseq {
    uint32_t r; /* request index */
    enum tseq_state st;
    uint32_t *g1; /* slot per prompt+output block */
    size_t n_g1;
    uint64_t computed, n_tok;
    uint32_t n_gen, reserved, evaluated, dev_hit, onboard;
    uint64_t ready_ns;
};

struct pending_write {
    uint64_t done_ns;
    uint32_t slot;
};

struct twin {
    const struct twin_config *c;
    const struct twin_plan *p;
    struct twin_out *out;
    struct twin_stats *st;
    struct cost_model cm;
    struct blockpool g1, g2, g3;
    struct filter filter;
    uint32_t tpb;
    uint64_t bpb, reserved_total, now, disk_read_free, disk_write_free;
    struct tseq **run;
    size_t n_run, cap_run;
    uint32_t *wait; /* FIFO of request indices sent to the engine */
    size_t wait_head, n_wait;
    struct pending_write *pw;
    size_t n_pw, cap_pw;
};

static uint64_t xfer_ns(uint64_t bytes, double rate)
{
    return rate > 0 ? (uint64_t)((double)bytes / rate * 1e9) : 0;
}

/* Modelled (compute, link) time at the engine's speed-up. */
static uint64_t scaled(const struct twin *t, uint64_t ns)
{
    return t->c->speedup > 0 ? (uint64_t)((double)ns / t->c->speedup) : ns;
}

int twin_config_init(struct twin_config *c, const struct model_profile *m,
                     const struct hw_profile *h, struct diag *d)
{
    *c = (struct twin_config){ .model = m, .hw = *h };
    c->g1_blocks = profile_g1_blocks(h, m);
    if (c->g1_blocks == 0)
        return diag_set(d, -EINVAL, 0, 0, "model %s does not fit hardware %s", m->name, h->name);
    c->max_num_seqs = m->max_batch_size ? m->max_batch_size : 64;
    c->max_num_tokens = m->max_num_tokens ? m->max_num_tokens : 8192;
    return 0;
}

/* Full prompt blocks with a known identity: the plan's hashes, at most the served prompt's full
 * blocks (a bundle's served prompt may be shorter than the plan's). */
static uint32_t known_blocks(const struct twin *t, const struct twin_req *r)
{
    uint32_t full = r->n_prompt / t->tpb;
    return r->n_hash < full ? r->n_hash : full;
}

/* ---- tiers ------------------------------------------------------------------------------- */

static void writes_settle(struct twin *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_pw; i++) {
        if (t->pw[i].done_ns <= t->now) {
            t->g3.s[t->pw[i].slot].ready = true;
            blockpool_unref(&t->g3, t->pw[i].slot);
        } else {
            t->pw[k++] = t->pw[i];
        }
    }
    t->n_pw = k;
}

static void disk_write(struct twin *t, uint64_t h)
{
    if (blockpool_lookup(&t->g3, h) != BLOCKPOOL_NONE)
        return;
    uint32_t d = blockpool_alloc(&t->g3, NULL);
    if (d == BLOCKPOOL_NONE)
        return;
    blockpool_register(&t->g3, d, h);
    uint64_t start = t->disk_write_free > t->now ? t->disk_write_free : t->now;
    t->disk_write_free = start + xfer_ns(t->bpb, t->c->hw.ssd_write_bytes_per_s);
    xalloc_grow((void **)&t->pw, &t->cap_pw, t->n_pw + 1, sizeof(*t->pw));
    t->pw[t->n_pw++] = (struct pending_write){ .done_ns = t->disk_write_free, .slot = d };
    t->st->offload_h2d++;
}

/* Write-through offload of a newly completed device block (engine offload_block). */
static void offload(struct twin *t, uint64_t h)
{
    if (!t->c->kvbm)
        return;
    if (t->c->disk_only) {
        if (t->g3.n)
            disk_write(t, h);
        return;
    }
    if (!t->g2.n)
        return;
    t->st->offload_d2h++;
    uint32_t slot = blockpool_lookup(&t->g2, h);
    bool to_disk = false;
    if (slot != BLOCKPOOL_NONE) {
        if (t->g2.s[slot].refs == 0 && t->g2.s[slot].ready) {
            blockpool_touch(&t->g2, slot);
            to_disk = true;
        }
    } else {
        slot = blockpool_alloc(&t->g2, NULL);
        if (slot == BLOCKPOOL_NONE)
            return;
        blockpool_register(&t->g2, slot, h);
        t->g2.s[slot].ready = true;
        blockpool_unref(&t->g2, slot);
        to_disk = true;
    }
    if (!to_disk || !t->g3.n || blockpool_lookup(&t->g3, h) != BLOCKPOOL_NONE)
        return;
    if (t->c->filter && !filter_should_offload(&t->filter, h, t->now)) {
        t->st->filter_rejected++;
        return;
    }
    disk_write(t, h);
}

static void complete_blocks(struct twin *t, struct tseq *q)
{
    const struct twin_req *r = &t->p->req[q->r];
    uint64_t full = q->computed / t->tpb;
    if (full > known_blocks(t, r))
        full = known_blocks(t, r);
    for (uint32_t b = q->evaluated; b < full; b++) {
        uint32_t slot = q->g1[b];
        if (slot != BLOCKPOOL_NONE && !t->g1.s[slot].registered &&
            blockpool_register(&t->g1, slot, r->hash[b]))
            t->g1.s[slot].ready = true;
        offload(t, r->hash[b]);
    }
    if (full > q->evaluated)
        q->evaluated = (uint32_t)full;
}

/* ---- admission --------------------------------------------------------------------------- */

/* KVBM lookup of a just-admitted sequence: host run then disk run; parks it when any. */
static void kvbm_match(struct twin *t, struct tseq *q, size_t k, size_t prompt_blocks)
{
    const struct twin_req *r = &t->p->req[q->r];
    size_t h = 0, d = 0, n_full = known_blocks(t, r);
    while (t->g2.n && k + h < n_full &&
           blockpool_lookup_ready(&t->g2, r->hash[k + h]) != BLOCKPOOL_NONE)
        h++;
    while (t->g3.n && k + h + d < n_full &&
           blockpool_lookup_ready(&t->g3, r->hash[k + h + d]) != BLOCKPOOL_NONE)
        d++;
    if ((k + h + d) * t->tpb >= r->n_prompt && h + d > 0) {
        if (d)
            d--;
        else
            h--;
    }
    (void)prompt_blocks;
    q->onboard = (uint32_t)(h + d);
    if (h + d == 0)
        return;
    for (size_t b = k; b < k + h; b++)
        blockpool_touch(&t->g2, blockpool_lookup_ready(&t->g2, r->hash[b]));
    for (size_t b = k + h; b < k + h + d; b++)
        blockpool_touch(&t->g3, blockpool_lookup_ready(&t->g3, r->hash[b]));
    uint64_t ready = t->now + scaled(t, xfer_ns(h * t->bpb, t->c->hw.g1_g2_bytes_per_s));
    if (d) {
        uint64_t start = t->disk_read_free > t->now ? t->disk_read_free : t->now;
        t->disk_read_free = start + xfer_ns(d * t->bpb, t->c->hw.ssd_read_bytes_per_s);
        if (t->disk_read_free > ready)
            ready = t->disk_read_free;
    }
    t->st->onboard_h_blocks += h;
    t->st->onboard_d_blocks += d;
    q->st = TS_ONBOARD;
    q->ready_ns = ready;
}

static bool try_admit(struct twin *t, struct tseq *q)
{
    const struct twin_req *r = &t->p->req[q->r];
    uint32_t tpb = t->tpb;
    size_t prompt_blocks = (r->n_prompt + tpb - 1) / tpb;
    size_t total_blocks = ((size_t)r->n_prompt + r->n_out + tpb - 1) / tpb;
    size_t gen_blocks = total_blocks - prompt_blocks;
    size_t max_hit = (r->n_prompt - 1) / tpb, k = 0, cached_hits = 0;
    while (k < max_hit && k < known_blocks(t, r)) {
        uint32_t slot = blockpool_lookup_ready(&t->g1, r->hash[k]);
        if (slot == BLOCKPOOL_NONE)
            break;
        cached_hits += t->g1.s[slot].refs == 0;
        k++;
    }
    uint64_t avail = t->g1.n - blockpool_used(&t->g1);
    avail = avail > t->reserved_total ? avail - t->reserved_total : 0;
    if (cached_hits + (prompt_blocks - k) + gen_blocks > avail)
        return false;
    q->g1 = xmalloc((total_blocks + 1) * sizeof(*q->g1));
    for (size_t b = 0; b < k; b++) {
        uint32_t slot = blockpool_lookup_ready(&t->g1, r->hash[b]);
        blockpool_ref(&t->g1, slot);
        q->g1[q->n_g1++] = slot;
    }
    q->dev_hit = (uint32_t)k;
    q->st = TS_PREFILL;
    if (t->c->kvbm)
        kvbm_match(t, q, k, prompt_blocks);
    for (size_t b = k; b < prompt_blocks; b++)
        q->g1[q->n_g1++] = blockpool_alloc(&t->g1, NULL);
    q->reserved = (uint32_t)gen_blocks;
    t->reserved_total += gen_blocks;
    q->computed = k * tpb;
    q->evaluated = (uint32_t)(k + q->onboard);
    t->st->device_hit_tokens += k * tpb;
    t->out[q->r].cached_tokens = (uint32_t)((k + q->onboard) * tpb);
    t->out[q->r].onboard_blocks = q->onboard;
    return true;
}

static void finish_onboard(struct twin *t, struct tseq *q)
{
    const struct twin_req *r = &t->p->req[q->r];
    size_t end = q->dev_hit + q->onboard;
    for (size_t b = q->dev_hit; b < end; b++) {
        uint32_t slot = q->g1[b];
        if (slot != BLOCKPOOL_NONE && !t->g1.s[slot].registered &&
            blockpool_register(&t->g1, slot, r->hash[b]))
            t->g1.s[slot].ready = true;
    }
    q->computed = end * t->tpb;
    q->st = TS_PREFILL;
}

static void release(struct twin *t, struct tseq *q)
{
    for (size_t i = q->n_g1; i-- > 0;)
        if (q->g1[i] != BLOCKPOOL_NONE)
            blockpool_unref(&t->g1, q->g1[i]);
    q->n_g1 = 0;
    t->reserved_total -= q->reserved;
    q->reserved = 0;
}

/* ---- the iteration ----------------------------------------------------------------------- */

/* Appends one generated token to q (a new output block comes from its reservation). */
static void gen_token(struct twin *t, struct tseq *q)
{
    uint64_t pos = q->n_tok;
    if (pos % t->tpb == 0) {
        uint32_t slot = blockpool_alloc(&t->g1, NULL);
        if (slot != BLOCKPOOL_NONE && q->reserved) {
            q->reserved--;
            t->reserved_total--;
        }
        q->g1[q->n_g1++] = slot;
    }
    q->n_tok++;
    q->n_gen++;
}

/* Builds and "runs" one step; returns false when nothing could run. */
static bool step(struct twin *t)
{
    struct cost_step cs = { 0 };
    uint64_t budget = t->c->max_num_tokens, offl = t->st->offload_d2h;
    for (size_t i = 0; i < t->n_run && budget > 0; i++)
        if (t->run[i]->st == TS_DECODE) {
            cost_step_add_decode(&t->cm, &cs, t->run[i]->n_tok);
            budget--;
        }
    size_t first_pf = cs.seqs;
    struct tseq *pf[64];
    uint64_t chunk[64];
    size_t n_pf = 0;
    for (size_t i = 0; i < t->n_run && budget > 0 && n_pf < 64; i++) {
        struct tseq *q = t->run[i];
        if (q->st != TS_PREFILL)
            continue;
        uint64_t left = t->p->req[q->r].n_prompt - q->computed;
        uint64_t c = left < budget ? left : budget;
        cost_step_add_prefill(&t->cm, &cs, q->computed, c);
        budget -= c;
        pf[n_pf] = q;
        chunk[n_pf++] = c;
    }
    (void)first_pf;
    if (cs.seqs == 0)
        return false;
    uint64_t step_ns = scaled(t, cost_step_ns(&t->cm, &cs));
    struct tseq **emit = xmalloc((t->n_run + 1) * sizeof(*emit));
    size_t n_emit = 0;
    for (size_t i = 0; i < t->n_run; i++) {
        struct tseq *q = t->run[i];
        if (q->st != TS_DECODE || q->n_gen >= t->p->req[q->r].n_out)
            continue;
        gen_token(t, q);
        q->computed = q->n_tok;
        complete_blocks(t, q);
        emit[n_emit++] = q;
    }
    for (size_t i = 0; i < n_pf; i++) {
        struct tseq *q = pf[i];
        q->computed += chunk[i];
        t->st->prefill_tokens += chunk[i];
        complete_blocks(t, q);
        if (q->computed < t->p->req[q->r].n_prompt)
            continue;
        q->n_tok = q->computed;
        gen_token(t, q);
        q->computed = q->n_tok;
        complete_blocks(t, q);
        q->st = TS_DECODE;
        emit[n_emit++] = q;
    }
    step_ns += scaled(t, xfer_ns((t->st->offload_d2h - offl) * t->bpb, t->c->hw.g1_g2_bytes_per_s));
    t->now += step_ns;
    t->st->iterations++;
    t->st->modelled_ns += step_ns;
    for (size_t i = 0; i < n_emit; i++) {
        struct twin_out *o = &t->out[emit[i]->r];
        if (emit[i]->n_gen == 1)
            o->t_first_ns = t->now;
        o->t_last_ns = t->now;
        o->n_out = emit[i]->n_gen;
    }
    free(emit);
    return true;
}

/* ---- the client side and the event loop -------------------------------------------------- */

struct client {
    size_t next;                 /* next request of the current phase not yet sent */
    uint32_t phase;              /* current phase */
    uint64_t phase_start;        /* run time at which the phase began */
    size_t inflight, phase_left; /* sent not done; not done in the phase */
};

static uint64_t req_time(const struct twin *t, const struct client *cl, size_t i)
{
    const struct twin_req *r = &t->p->req[i];
    if (r->prev >= 0) {
        const struct twin_out *po = &t->out[r->prev];
        return po->done ? po->t_last_ns + r->think_ns : UINT64_MAX;
    }
    if (r->t_intended_ns == UINT64_MAX) /* closed loop: sent when a slot is free */
        return t->now;
    return t->p->phase_relative ? cl->phase_start + r->t_intended_ns : r->t_intended_ns;
}

/* Sends every request whose time has come (FIFO per phase, capped in flight); returns the
 * next time something may be sent (UINT64_MAX if it depends on a completion). */
static uint64_t client_send(struct twin *t, struct client *cl)
{
    const struct twin_plan *p = t->p;
    uint64_t next = UINT64_MAX;
    for (;;) {
        if (cl->phase_left == 0 && cl->next < p->n_req && p->req[cl->next].phase != cl->phase) {
            cl->phase = p->req[cl->next].phase;
            cl->phase_start = t->now;
            for (size_t i = cl->next; i < p->n_req && p->req[i].phase == cl->phase; i++)
                cl->phase_left++;
        }
        uint32_t cap = p->max_inflight[cl->phase];
        size_t i = cl->next;
        if (i >= p->n_req || p->req[i].phase != cl->phase)
            return next;
        if (cap && cl->inflight >= cap)
            return next;
        uint64_t at = req_time(t, cl, i);
        if (at > t->now)
            return at;
        t->out[i].t_intended_ns = at;
        t->out[i].t_sent_ns = t->now;
        assert(t->n_wait < p->n_req);
        t->wait[t->n_wait++] = (uint32_t)i;
        cl->inflight++;
        cl->next++;
    }
}

static void finish_done(struct twin *t, struct client *cl)
{
    for (size_t i = 0; i < t->n_run;) {
        struct tseq *q = t->run[i];
        if (q->st == TS_DECODE && q->n_gen >= t->p->req[q->r].n_out) {
            release(t, q);
            t->out[q->r].done = true;
            cl->inflight--;
            cl->phase_left--;
            free(q->g1);
            free(q);
            memmove(&t->run[i], &t->run[i + 1], (t->n_run - i - 1) * sizeof(*t->run));
            t->n_run--;
            continue;
        }
        i++;
    }
}

static void admit(struct twin *t)
{
    while (t->wait_head < t->n_wait && t->n_run < t->c->max_num_seqs) {
        struct tseq *q = xcalloc(1, sizeof(*q));
        q->r = t->wait[t->wait_head];
        if (!try_admit(t, q)) {
            free(q);
            break;
        }
        t->wait_head++;
        xalloc_grow((void **)&t->run, &t->cap_run, t->n_run + 1, sizeof(*t->run));
        t->run[t->n_run++] = q;
    }
}

/* Requests that can never fit G1 are refused at send time, as the engine answers 400. */
static bool fits(const struct twin *t, const struct twin_req *r)
{
    uint64_t blocks = ((uint64_t)r->n_prompt + r->n_out + t->tpb - 1) / t->tpb;
    return r->n_prompt > 0 && blocks <= t->g1.n;
}

static uint64_t next_event(struct twin *t, uint64_t next_send)
{
    uint64_t next = next_send;
    for (size_t i = 0; i < t->n_run; i++)
        if (t->run[i]->st == TS_ONBOARD && t->run[i]->ready_ns < next)
            next = t->run[i]->ready_ns;
    for (size_t i = 0; i < t->n_pw; i++)
        if (t->pw[i].done_ns < next)
            next = t->pw[i].done_ns;
    return next;
}

static int twin_init(struct twin *t, const struct twin_config *c, struct diag *d)
{
    int rc = cost_model_init(&t->cm, c->model, &c->hw);
    if (rc < 0)
        return diag_set(d, rc, 0, 0, "hardware %s lacks a rate the cost model needs", c->hw.name);
    if (c->g1_blocks == 0 || c->g1_blocks > BLOCKPOOL_MAX_SLOTS ||
        c->g2_blocks > BLOCKPOOL_MAX_SLOTS || c->g3_blocks > BLOCKPOOL_MAX_SLOTS)
        return diag_set(d, -EINVAL, 0, 0, "tier sizes out of range (g1 %llu blocks)",
                        (unsigned long long)c->g1_blocks);
    t->tpb = c->model->tokens_per_block ? c->model->tokens_per_block : 32;
    t->bpb = profile_bytes_per_block(c->model);
    blockpool_init(&t->g1, (uint32_t)c->g1_blocks);
    blockpool_init(&t->g2, (uint32_t)(c->kvbm && !c->disk_only ? c->g2_blocks : 0));
    blockpool_init(&t->g3, (uint32_t)(c->kvbm ? c->g3_blocks : 0));
    filter_init(&t->filter, 0);
    return 0;
}

static void twin_fini(struct twin *t)
{
    for (size_t i = 0; i < t->n_run; i++) {
        free(t->run[i]->g1);
        free(t->run[i]);
    }
    free(t->run);
    free(t->wait);
    free(t->pw);
    blockpool_fini(&t->g1);
    blockpool_fini(&t->g2);
    blockpool_fini(&t->g3);
    filter_fini(&t->filter);
}

int twin_run(const struct twin_config *c, const struct twin_plan *p, struct twin_out *out,
             struct twin_stats *st, struct diag *d)
{
    struct twin t = { .c = c, .p = p, .out = out, .st = st };
    *st = (struct twin_stats){ 0 };
    memset(out, 0, p->n_req * sizeof(*out));
    int rc = twin_init(&t, c, d);
    if (rc < 0)
        return rc;
    t.wait = xmalloc((p->n_req + 1) * sizeof(*t.wait));
    struct client cl = { .phase = UINT32_MAX };
    size_t refused = 0;
    for (;;) {
        writes_settle(&t);
        uint64_t next_send = client_send(&t, &cl);
        /* refuse what can never run, as the engine does at submit */
        while (t.wait_head < t.n_wait && !fits(&t, &p->req[t.wait[t.wait_head]])) {
            t.wait_head++;
            cl.inflight--;
            cl.phase_left--;
            refused++;
        }
        for (size_t i = 0; i < t.n_run; i++)
            if (t.run[i]->st == TS_ONBOARD && t.run[i]->ready_ns <= t.now)
                finish_onboard(&t, t.run[i]);
        admit(&t);
        for (size_t i = 0; i < t.n_run; i++)
            if (t.run[i]->st == TS_ONBOARD && t.run[i]->ready_ns <= t.now)
                finish_onboard(&t, t.run[i]);
        if (step(&t)) {
            finish_done(&t, &cl);
            continue;
        }
        if (cl.next >= p->n_req && t.n_run == 0 && t.wait_head >= t.n_wait)
            break;
        uint64_t next = next_event(&t, next_send);
        if (next == UINT64_MAX || next <= t.now) {
            rc = diag_set(d, -EINVAL, 0, 0,
                          "the twin stalled at %.3f s with %zu waiting and %zu running (G1 %u "
                          "blocks too small for the load?)",
                          (double)t.now / 1e9, t.n_wait - t.wait_head, t.n_run, t.g1.n);
            goto out;
        }
        t.now = next;
    }
    st->elapsed_ns = t.now;
    if (refused)
        rc = diag_set(d, -EINVAL, 0, 0, "%zu requests need more KV blocks than G1 holds (%u)",
                      refused, t.g1.n);
out:
    twin_fini(&t);
    return rc;
}
