/* SPDX-License-Identifier: Apache-2.0 */
/* Open-addressing hash map for 64-bit keys (see hmap.h). Load factor kept below 1/2. */
#include "common/hmap.h"

#include <stdlib.h>

#include "common/xalloc.h"

static size_t slot_of(const struct hmap *m, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (m->cap - 1);
}

static void alloc_table(struct hmap *m, size_t cap)
{
    m->cap = cap;
    m->len = 0;
    m->e = xmalloc(cap * sizeof(*m->e));
    for (size_t i = 0; i < cap; i++)
        m->e[i].key = HMAP_EMPTY;
}

static size_t cap_for(size_t hint)
{
    size_t cap = 16;
    while (cap < hint * 2)
        cap *= 2;
    return cap;
}

void hmap_init(struct hmap *m, size_t hint)
{
    alloc_table(m, cap_for(hint));
}

size_t hmap_bytes(size_t hint)
{
    return cap_for(hint) * sizeof(struct hmap_entry);
}

void hmap_fini(struct hmap *m)
{
    free(m->e);
    m->e = NULL;
    m->cap = m->len = 0;
}

uint32_t *hmap_get(const struct hmap *m, uint64_t key)
{
    for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].key == key)
            return &m->e[i].val;
        if (m->e[i].key == HMAP_EMPTY)
            return NULL;
    }
}

static void grow(struct hmap *m)
{
    struct hmap_entry *old = m->e;
    size_t old_cap = m->cap;
    alloc_table(m, old_cap * 2);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != HMAP_EMPTY)
            hmap_put(m, old[i].key, old[i].val);
    free(old);
}

void hmap_put(struct hmap *m, uint64_t key, uint32_t val)
{
    if ((m->len + 1) * 2 > m->cap)
        grow(m);
    size_t i = slot_of(m, key);
    while (m->e[i].key != HMAP_EMPTY && m->e[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (m->e[i].key == HMAP_EMPTY)
        m->len++;
    m->e[i].key = key;
    m->e[i].val = val;
}

bool hmap_del(struct hmap *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = slot_of(m, key);
    while (m->e[i].key != key) {
        if (m->e[i].key == HMAP_EMPTY)
            return false;
        i = (i + 1) & mask;
    }
    /* backward-shift: pull later members of the probe run into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->e[j].key != HMAP_EMPTY; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->e[j].key);
        /* j may move to hole only if home is not cyclically in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        m->e[hole] = m->e[j];
        hole = j;
    }
    m->e[hole].key = HMAP_EMPTY;
    m->len--;
    return true;
}

void hmap_clear(struct hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->e[i].key = HMAP_EMPTY;
    m->len = 0;
}
