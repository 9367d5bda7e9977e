/* SPDX-License-Identifier: Apache-2.0 */
/* Mutex + condition variable hand-off queue (see jobq.h). */
#include "common/jobq.h"

#include <assert.h>

static void **link_of(const struct jobq *q, void *item)
{
    return (void **)((char *)item + q->link_off);
}

void jobq_init(struct jobq *q, size_t link_off)
{
    *q = (struct jobq){ .link_off = link_off };
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
}

void jobq_fini(struct jobq *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

void jobq_push(struct jobq *q, void *item)
{
    assert(item);
    *link_of(q, item) = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        *link_of(q, q->tail) = item;
    else
        q->head = item;
    q->tail = item;
    q->len++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* With mu held. */
static void *pop_locked(struct jobq *q)
{
    void *item = q->head;
    if (!item)
        return NULL;
    assert(q->len > 0);
    q->head = *link_of(q, item);
    if (!q->head)
        q->tail = NULL;
    *link_of(q, item) = NULL;
    q->len--;
    return item;
}

void *jobq_pop_wait(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stop)
        pthread_cond_wait(&q->cv, &q->mu);
    void *item = pop_locked(q);
    pthread_mutex_unlock(&q->mu);
    return item;
}

void *jobq_trypop(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    void *item = pop_locked(q);
    pthread_mutex_unlock(&q->mu);
    return item;
}

size_t jobq_len(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

bool jobq_stopped(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    bool s = q->stop;
    pthread_mutex_unlock(&q->mu);
    return s;
}

void jobq_stop(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}
