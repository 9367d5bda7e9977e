/* SPDX-License-Identifier: Apache-2.0 */
/* Host tier memory (see tier_host.h). */
#include "engine/tier_host.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/xalloc.h"
#include "engine/kvdata.h"

int tier_host_init(struct tier_host *t, uint64_t n_blocks, uint64_t block_bytes)
{
    *t = (struct tier_host){ .n_blocks = n_blocks, .block_bytes = block_bytes };
    if (n_blocks == 0)
        return 0;
    if (__builtin_mul_overflow(n_blocks, block_bytes, &t->map_bytes))
        return -EOVERFLOW;
    void *p = mmap(NULL, t->map_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    t->mem = p;
    return 0;
}

void tier_host_fini(struct tier_host *t)
{
    tier_host_stop(t);
    if (t->mem)
        munmap(t->mem, t->map_bytes);
    t->mem = NULL;
}

void *tier_host_block(const struct tier_host *t, uint32_t slot)
{
    return t->mem + (uint64_t)slot * t->block_bytes;
}

void tier_host_write(struct tier_host *t, uint32_t slot, uint64_t hash)
{
    kvdata_fill(hash, tier_host_block(t, slot), t->block_bytes);
}

bool tier_host_verify(const struct tier_host *t, uint32_t slot, uint64_t hash)
{
    return kvdata_verify(hash, tier_host_block(t, slot), t->block_bytes);
}

static void *copy_main(void *arg)
{
    struct tier_host *t = arg;
    struct tier_job *j;
    while ((j = jobq_pop_wait(&t->q))) {
        if (j->write && j->buf) {
            memcpy(tier_host_block(t, j->slot), j->buf, t->block_bytes);
            j->result = 0;
        } else if (j->write) {
            tier_host_write(t, j->slot, j->hash);
            j->result = 0;
        } else {
            bool ok = !t->inject_verify_fail && tier_host_verify(t, j->slot, j->hash);
            j->result = ok ? 0 : -EBADMSG;
        }
        t->done(t->ctx, j);
    }
    return NULL;
}

int tier_host_start(struct tier_host *t, tier_done_fn *done, void *ctx)
{
    t->done = done;
    t->ctx = ctx;
    jobq_init(&t->q, offsetof(struct tier_job, next));
    int r = -pthread_create(&t->thread, NULL, copy_main, t);
    t->running = r == 0;
    if (r < 0)
        jobq_fini(&t->q);
    return r;
}

void tier_host_submit(struct tier_host *t, struct tier_job *job)
{
    jobq_push(&t->q, job);
}

void tier_host_stop(struct tier_host *t)
{
    if (!t->running)
        return;
    jobq_stop(&t->q);
    pthread_join(t->thread, NULL);
    jobq_fini(&t->q);
    t->running = false;
}

/* ---- as a tier_ops plug-in ---------------------------------------------------------------- */

static int plugged_open(const struct tier_opts *o, tier_done_fn *done, void *ctx, void **ret,
                        struct diag *d)
{
    struct tier_host *t = xcalloc(1, sizeof(*t));
    int r = tier_host_init(t, o->n_blocks, o->block_bytes);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot map %llu host blocks of %llu bytes",
                 (unsigned long long)o->n_blocks, (unsigned long long)o->block_bytes);
        goto fail;
    }
    t->inject_verify_fail = o->inject_verify_fail;
    r = tier_host_start(t, done, ctx);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot start the host copy thread");
        goto fail;
    }
    *ret = t;
    return 0;
fail:
    tier_host_fini(t);
    free(t);
    return r;
}

static void plugged_submit(void *t, struct tier_job *j)
{
    tier_host_submit(t, j);
}

static void *plugged_block(void *t, uint32_t slot)
{
    return tier_host_block(t, slot);
}

static void plugged_facts(const void *t, struct tier_facts *ret)
{
    (void)t;
    *ret = (struct tier_facts){ .in_ram = true, .path = "", .prealloc = "" };
}

static void plugged_close(void *t)
{
    if (!t)
        return;
    tier_host_fini(t);
    free(t);
}

const struct tier_ops tier_host_ops = {
    .name = "host",
    .open = plugged_open,
    .submit = plugged_submit,
    .block = plugged_block,
    .facts = plugged_facts,
    .close = plugged_close,
};
