/* SPDX-License-Identifier: Apache-2.0 */
/* A growable open-addressing hash map from 64-bit keys (block hashes, or any other 64-bit hash)
 * to 32-bit values (linear probing, backward-shift deletion, no tombstones). Keys must not be
 * HMAP_EMPTY. The one hash table of the tree (shared floor, free of component state): callers
 * that key by strings hash them to 64 bits and keep their own collision check. Not
 * thread-safe: one owner thread. */
#ifndef KVTIER_COMMON_HMAP_H
#define KVTIER_COMMON_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMAP_EMPTY UINT64_MAX

struct hmap_entry {
    uint64_t key;
    uint32_t val;
};

struct hmap {
    struct hmap_entry *e; /* owned; cap entries */
    size_t cap;           /* power of two */
    size_t len;
};

/* Caller storage; room for at least `hint` keys before the first growth. */
void hmap_init(struct hmap *m, size_t hint);
void hmap_fini(struct hmap *m);
/* Bytes hmap_init allocates for `hint` keys. */
size_t hmap_bytes(size_t hint);
/* Pointer to the value of key (borrowed until the next insert or delete), or NULL. */
uint32_t *hmap_get(const struct hmap *m, uint64_t key);
/* Inserts or overwrites key -> val. */
void hmap_put(struct hmap *m, uint64_t key, uint32_t val);
/* Removes key; returns whether it was present. */
bool hmap_del(struct hmap *m, uint64_t key);
/* Removes every key. */
void hmap_clear(struct hmap *m);

#endif
