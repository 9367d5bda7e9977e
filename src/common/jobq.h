/* SPDX-License-Identifier: Apache-2.0 */
/* A hand-off queue between threads: a FIFO of caller-owned items linked through a pointer field
 * inside each item (so a job needs no allocation to be queued), guarded by a mutex, with a
 * condition variable for a consumer that blocks and a stop flag that lets it drain and end.
 * Any number of producers; one or more consumers. */
#ifndef KVTIER_COMMON_JOBQ_H
#define KVTIER_COMMON_JOBQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct jobq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *head, *tail; /* items, linked through the pointer at link_off */
    size_t link_off;   /* offsetof(item type, its "next" pointer) */
    size_t len;
    bool stop;
};

/* Caller storage; link_off = offsetof(struct my_job, next) where next is a pointer field. */
void jobq_init(struct jobq *q, size_t link_off);
/* The queue must be empty or its items are simply forgotten (they are the caller's). */
void jobq_fini(struct jobq *q);
/* Appends item (borrowed: it stays the caller's, linked until popped) and wakes a consumer. */
void jobq_push(struct jobq *q, void *item);
/* The oldest item, blocking until there is one; NULL once the queue is stopped and empty. */
void *jobq_pop_wait(struct jobq *q);
/* The oldest item or NULL, never blocking. */
void *jobq_trypop(struct jobq *q);
/* Items queued now (a snapshot). */
size_t jobq_len(struct jobq *q);
/* Whether jobq_stop was called. */
bool jobq_stopped(struct jobq *q);
/* Refuses nothing already queued: consumers drain the queue, then pop NULL. Wakes them all. */
void jobq_stop(struct jobq *q);

#endif
