/* SPDX-License-Identifier: Apache-2.0 */
/* A pool of fixed-size KV block slots, as each tier (G1 device, G2 host, G3 disk) keeps them:
 * slots are free, in use (reference count > 0, e.g. held by a running sequence or pinned by an
 * in-flight transfer) or cached (reference count 0, registered under a block hash, evictable in
 * LRU order). A registered slot is found by its hash; only `ready` slots (contents complete) are
 * reported by blockpool_lookup_ready. Allocation takes a free slot or evicts the least recently
 * released cached one; when every slot is in use it fails (the "pool full" case of KVBM).
 * Not thread-safe: the scheduler thread owns every pool. */
#ifndef KVTIER_ENGINE_BLOCKPOOL_H
#define KVTIER_ENGINE_BLOCKPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/hmap.h"

#define BLOCKPOOL_NONE      UINT32_MAX
#define BLOCKPOOL_MAX_SLOTS (1u << 30)

struct blockpool_slot {
    uint64_t hash;       /* valid when registered */
    uint32_t refs;       /* holders; 0 = free or cached */
    uint32_t prev, next; /* LRU (cached) or free-list links */
    bool registered;     /* hash -> slot entry exists */
    bool ready;          /* contents complete (writes done) */
    bool in_lru;
};

struct blockpool {
    struct blockpool_slot *s; /* owned; n slots */
    uint32_t n;
    struct hmap map;             /* hash -> slot */
    uint32_t free_head;          /* singly linked through next */
    uint32_t lru_head, lru_tail; /* head = least recently released */
    uint32_t n_free, n_cached;   /* n_used = n - n_free - n_cached */
    uint64_t evictions;          /* cached blocks dropped to make room */
};

/* Bytes of bookkeeping (slots and hash table) a pool of n slots allocates at init. */
uint64_t blockpool_bytes(uint32_t n);
/* Caller storage; n slots (0 allowed: every allocation fails). -EINVAL above
 * BLOCKPOOL_MAX_SLOTS. */
int blockpool_init(struct blockpool *p, uint32_t n);
void blockpool_fini(struct blockpool *p);
/* Slot registered under hash (ready or not), or BLOCKPOOL_NONE. */
uint32_t blockpool_lookup(const struct blockpool *p, uint64_t hash);
/* Like blockpool_lookup but only a ready slot. */
uint32_t blockpool_lookup_ready(const struct blockpool *p, uint64_t hash);
/* Takes a slot with refs = 1, unregistered, not ready: a free one, else the LRU cached one
 * (its hash is unregistered and *ret_evicted_hash, if not NULL, gets it; else HMAP_EMPTY).
 * Returns the slot, or BLOCKPOOL_NONE when every slot is in use. */
uint32_t blockpool_alloc(struct blockpool *p, uint64_t *ret_evicted_hash);
/* Registers slot under hash. Returns false (nothing changes) if hash is already registered
 * to another slot or the slot is already registered. */
bool blockpool_register(struct blockpool *p, uint32_t slot, uint64_t hash);
/* Adds a holder; a cached slot leaves the LRU. */
void blockpool_ref(struct blockpool *p, uint32_t slot);
/* Drops a holder; at 0 a registered, ready slot becomes cached (most recently used end) and
 * any other slot returns to the free list (unregistered). */
void blockpool_unref(struct blockpool *p, uint32_t slot);
/* Forgets the slot's hash (e.g. failed verification or write). A cached slot becomes free;
 * a slot in use stays with its holders, unregistered. */
void blockpool_invalidate(struct blockpool *p, uint32_t slot);
/* Moves a cached slot to the most recently used end (a hit). No-op for slots in use. */
void blockpool_touch(struct blockpool *p, uint32_t slot);
/* Slots in use (refs > 0). */
uint32_t blockpool_used(const struct blockpool *p);

#endif
