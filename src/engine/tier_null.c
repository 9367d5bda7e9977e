/* SPDX-License-Identifier: Apache-2.0 */
/* The null tier (see tier_null.h). */
#include "engine/tier_null.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/clk.h"
#include "common/xalloc.h"

#define NULL_EMPTY UINT64_MAX /* a slot never written */

struct tier_null {
    uint64_t *hash; /* owned; per slot */
    uint64_t n_blocks;
    bool inject_verify_fail;
    tier_done_fn *done;
    void *ctx;
    _Atomic uint64_t reads, writes;
};

static int null_open(const struct tier_opts *o, tier_done_fn *done, void *ctx, void **ret,
                     struct diag *d)
{
    (void)d;
    struct tier_null *t = xcalloc(1, sizeof(*t));
    t->n_blocks = o->n_blocks;
    t->hash = xcalloc(o->n_blocks ? o->n_blocks : 1, sizeof(*t->hash));
    for (uint64_t i = 0; i < o->n_blocks; i++)
        t->hash[i] = NULL_EMPTY;
    t->inject_verify_fail = o->inject_verify_fail;
    t->done = done;
    t->ctx = ctx;
    *ret = t;
    return 0;
}

static void null_submit(void *p, struct tier_job *j)
{
    struct tier_null *t = p;
    j->submit_ns = clk_now_ns();
    if (j->slot >= t->n_blocks) {
        j->result = -EIO; /* past the end, as a short read of a real file */
    } else if (j->write) {
        t->hash[j->slot] = j->hash;
        j->result = 0;
    } else {
        bool ok = !t->inject_verify_fail && t->hash[j->slot] == j->hash;
        j->result = ok ? 0 : -EBADMSG;
    }
    atomic_fetch_add_explicit(j->write ? &t->writes : &t->reads, 1, memory_order_relaxed);
    j->done_ns = clk_now_ns();
    t->done(t->ctx, j);
}

static void *null_block(void *t, uint32_t slot)
{
    (void)t;
    (void)slot;
    return NULL;
}

static void null_facts(const void *t, struct tier_facts *ret)
{
    (void)t;
    *ret = (struct tier_facts){ .path = "", .prealloc = "" };
}

static void null_close(void *p)
{
    struct tier_null *t = p;
    if (!t)
        return;
    free(t->hash);
    free(t);
}

const struct tier_ops tier_null_ops = {
    .name = "null",
    .open = null_open,
    .submit = null_submit,
    .block = null_block,
    .facts = null_facts,
    .close = null_close,
};

uint64_t tier_null_reads(const void *t)
{
    return atomic_load_explicit(&((const struct tier_null *)t)->reads, memory_order_relaxed);
}

uint64_t tier_null_writes(const void *t)
{
    return atomic_load_explicit(&((const struct tier_null *)t)->writes, memory_order_relaxed);
}
