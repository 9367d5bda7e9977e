/* SPDX-License-Identifier: Apache-2.0 */
/* Slot pool with hash index and LRU eviction (see blockpool.h). The LRU is a doubly linked
 * list through prev/next; the free list reuses next. Every operation is O(1) expected. */
#include "engine/blockpool.h"

#include <errno.h>
#include <stdlib.h>

#include "common/xalloc.h"

uint64_t blockpool_bytes(uint32_t n)
{
    return (uint64_t)(n ? n : 1) * sizeof(struct blockpool_slot) + hmap_bytes(n < 1024 ? 1024 : n);
}

int blockpool_init(struct blockpool *p, uint32_t n)
{
    if (n > BLOCKPOOL_MAX_SLOTS)
        return -EINVAL;
    *p = (struct blockpool){
        .n = n, .free_head = BLOCKPOOL_NONE, .lru_head = BLOCKPOOL_NONE, .lru_tail = BLOCKPOOL_NONE
    };
    p->s = xcalloc(n ? n : 1, sizeof(*p->s));
    hmap_init(&p->map, n < 1024 ? 1024 : n);
    for (uint32_t i = n; i-- > 0;) {
        p->s[i].next = p->free_head;
        p->free_head = i;
    }
    p->n_free = n;
    return 0;
}

void blockpool_fini(struct blockpool *p)
{
    free(p->s);
    p->s = NULL;
    hmap_fini(&p->map);
}

uint32_t blockpool_lookup(const struct blockpool *p, uint64_t hash)
{
    uint32_t *v = hmap_get(&p->map, hash);
    return v ? *v : BLOCKPOOL_NONE;
}

uint32_t blockpool_lookup_ready(const struct blockpool *p, uint64_t hash)
{
    uint32_t s = blockpool_lookup(p, hash);
    return s != BLOCKPOOL_NONE && p->s[s].ready ? s : BLOCKPOOL_NONE;
}

static void lru_unlink(struct blockpool *p, uint32_t i)
{
    struct blockpool_slot *s = &p->s[i];
    if (s->prev != BLOCKPOOL_NONE)
        p->s[s->prev].next = s->next;
    else
        p->lru_head = s->next;
    if (s->next != BLOCKPOOL_NONE)
        p->s[s->next].prev = s->prev;
    else
        p->lru_tail = s->prev;
    s->in_lru = false;
    p->n_cached--;
}

static void lru_push_tail(struct blockpool *p, uint32_t i)
{
    struct blockpool_slot *s = &p->s[i];
    s->prev = p->lru_tail;
    s->next = BLOCKPOOL_NONE;
    if (p->lru_tail != BLOCKPOOL_NONE)
        p->s[p->lru_tail].next = i;
    else
        p->lru_head = i;
    p->lru_tail = i;
    s->in_lru = true;
    p->n_cached++;
}

static void unregister(struct blockpool *p, uint32_t i)
{
    if (p->s[i].registered)
        hmap_del(&p->map, p->s[i].hash);
    p->s[i].registered = false;
    p->s[i].ready = false;
}

static void push_free(struct blockpool *p, uint32_t i)
{
    p->s[i].next = p->free_head;
    p->free_head = i;
    p->n_free++;
}

uint32_t blockpool_alloc(struct blockpool *p, uint64_t *ret_evicted_hash)
{
    uint32_t i;
    uint64_t evicted = HMAP_EMPTY;
    if (p->free_head != BLOCKPOOL_NONE) {
        i = p->free_head;
        p->free_head = p->s[i].next;
        p->n_free--;
    } else if (p->lru_head != BLOCKPOOL_NONE) {
        i = p->lru_head;
        lru_unlink(p, i);
        evicted = p->s[i].hash;
        unregister(p, i);
        p->evictions++;
    } else {
        return BLOCKPOOL_NONE;
    }
    p->s[i] = (struct blockpool_slot){ .refs = 1, .prev = BLOCKPOOL_NONE, .next = BLOCKPOOL_NONE };
    if (ret_evicted_hash)
        *ret_evicted_hash = evicted;
    return i;
}

bool blockpool_register(struct blockpool *p, uint32_t slot, uint64_t hash)
{
    if (p->s[slot].registered || hmap_get(&p->map, hash))
        return false;
    hmap_put(&p->map, hash, slot);
    p->s[slot].hash = hash;
    p->s[slot].registered = true;
    return true;
}

void blockpool_ref(struct blockpool *p, uint32_t slot)
{
    if (p->s[slot].in_lru)
        lru_unlink(p, slot);
    p->s[slot].refs++;
}

void blockpool_unref(struct blockpool *p, uint32_t slot)
{
    struct blockpool_slot *s = &p->s[slot];
    if (s->refs == 0 || --s->refs > 0)
        return;
    if (s->registered && s->ready) {
        lru_push_tail(p, slot);
    } else {
        unregister(p, slot);
        push_free(p, slot);
    }
}

void blockpool_invalidate(struct blockpool *p, uint32_t slot)
{
    unregister(p, slot);
    if (p->s[slot].in_lru) {
        lru_unlink(p, slot);
        push_free(p, slot);
    }
}

void blockpool_touch(struct blockpool *p, uint32_t slot)
{
    if (!p->s[slot].in_lru)
        return;
    lru_unlink(p, slot);
    lru_push_tail(p, slot);
}

uint32_t blockpool_used(const struct blockpool *p)
{
    return p->n - p->n_free - p->n_cached;
}
