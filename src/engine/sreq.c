/* SPDX-License-Identifier: Apache-2.0 */
/* Shared request objects (see sreq.h). */
#include "engine/sreq.h"

#include <stdlib.h>

#include "common/xalloc.h"

struct sreq *sreq_new(void)
{
    struct sreq *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->refs = 1;
    buf_init(&r->out, SREQ_OUT_MAX_BYTES);
    atomic_init(&r->cancelled, false);
    return r;
}

void sreq_ref(struct sreq *r)
{
    pthread_mutex_lock(&r->mu);
    r->refs++;
    pthread_mutex_unlock(&r->mu);
}

void sreq_unref(struct sreq *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left > 0)
        return;
    pthread_mutex_destroy(&r->mu);
    buf_fini(&r->out);
    free(r->prompt);
    free(r);
}

void sreq_emit(struct sreq *r, const void *data, size_t len, bool done, bool cut)
{
    pthread_mutex_lock(&r->mu);
    if (len && buf_append(&r->out, data, len) < 0)
        cut = done = true; /* over the bound: end the response rather than grow */
    if (done)
        r->done = true;
    if (cut)
        r->cut = true;
    if (r->suspended && r->conn && (len || done)) {
        r->suspended = false;
        r->wake(r->conn);
    }
    pthread_mutex_unlock(&r->mu);
}

void sreq_poke(struct sreq *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->suspended && r->conn && !r->done) {
        r->suspended = false;
        r->wake(r->conn);
    }
    pthread_mutex_unlock(&r->mu);
}
