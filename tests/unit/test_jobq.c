/* SPDX-License-Identifier: Apache-2.0 */
/* The hand-off queue (common/jobq.c): FIFO order, non-blocking pop, stop drains what was
 * queued before consumers see NULL, and several producers against two blocking consumers lose
 * and duplicate nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/jobq.h"

struct job {
    unsigned id;
    struct job *next;
};

static void test_fifo_stop(void **state)
{
    (void)state;
    struct jobq q;
    jobq_init(&q, offsetof(struct job, next));
    struct job j[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
    assert_null(jobq_trypop(&q));
    for (unsigned i = 0; i < 3; i++)
        jobq_push(&q, &j[i]);
    assert_int_equal(jobq_len(&q), 3);
    struct job *a = jobq_trypop(&q);
    assert_ptr_equal(a, &j[0]);
    assert_null(a->next);
    jobq_stop(&q);
    assert_true(jobq_stopped(&q));
    assert_ptr_equal(jobq_pop_wait(&q), &j[1]);
    assert_ptr_equal(jobq_pop_wait(&q), &j[2]);
    assert_null(jobq_pop_wait(&q));
    assert_int_equal(jobq_len(&q), 0);
    jobq_fini(&q);
}

#define PRODUCERS 3
#define PER       2000

struct shared {
    struct jobq q;
    struct job jobs[PRODUCERS * PER];
    unsigned char seen[PRODUCERS * PER];
    unsigned producer;
    pthread_mutex_t mu;
};

static void *produce(void *arg)
{
    struct shared *s = arg;
    pthread_mutex_lock(&s->mu);
    unsigned p = s->producer++;
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < PER; i++)
        jobq_push(&s->q, &s->jobs[p * PER + i]);
    return NULL;
}

static void *consume(void *arg)
{
    struct shared *s = arg;
    struct job *j;
    while ((j = jobq_pop_wait(&s->q)))
        s->seen[j->id]++; /* distinct ids: no two consumers write one byte */
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    static struct shared s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    jobq_init(&s.q, offsetof(struct job, next));
    for (unsigned i = 0; i < PRODUCERS * PER; i++)
        s.jobs[i].id = i;
    pthread_t c[2], p[PRODUCERS];
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&c[i], NULL, consume, &s), 0);
    for (unsigned i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&p[i], NULL, produce, &s), 0);
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    jobq_stop(&s.q);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    for (unsigned i = 0; i < PRODUCERS * PER; i++)
        assert_int_equal(s.seen[i], 1);
    jobq_fini(&s.q);
    pthread_mutex_destroy(&s.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_stop),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
