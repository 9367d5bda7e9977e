/* SPDX-License-Identifier: Apache-2.0 */
/* Frequency filter for host->disk offload (see filter.h). Decay rebuilds the table, which is
 * O(entries) once per 600 s. */
#include "engine/filter.h"

#include <stdlib.h>

#include "common/xalloc.h"

void filter_init(struct filter *f, uint64_t now_ns)
{
    hmap_init(&f->counts, 1024);
    f->decay_ns = FILTER_DECAY_NS;
    f->max_entries = FILTER_MAX_ENTRIES;
    f->min_frequency = FILTER_MIN_FREQUENCY;
    f->next_decay_ns = now_ns; /* the first tick happens at creation */
    filter_tick(f, now_ns);
}

void filter_fini(struct filter *f)
{
    hmap_fini(&f->counts);
}

/* Subtracts one from every count and drops zeros. */
static void decrement_all(struct filter *f)
{
    struct hmap old = f->counts;
    hmap_init(&f->counts, old.len);
    for (size_t i = 0; i < old.cap; i++)
        if (old.e[i].key != HMAP_EMPTY && old.e[i].val > 1)
            hmap_put(&f->counts, old.e[i].key, old.e[i].val - 1);
    hmap_fini(&old);
}

void filter_tick(struct filter *f, uint64_t now_ns)
{
    while (now_ns >= f->next_decay_ns) {
        if (f->counts.len)
            decrement_all(f);
        f->next_decay_ns += f->decay_ns;
    }
}

bool filter_should_offload(struct filter *f, uint64_t hash, uint64_t now_ns)
{
    filter_tick(f, now_ns);
    uint32_t *c = hmap_get(&f->counts, hash);
    uint32_t v;
    if (!c) {
        v = 1;
        hmap_put(&f->counts, hash, v);
        while (f->counts.len > f->max_entries)
            decrement_all(f);
    } else {
        v = *c > UINT32_MAX / 2 ? UINT32_MAX : *c * 2;
        *c = v;
    }
    return v >= f->min_frequency;
}

uint32_t filter_count(const struct filter *f, uint64_t hash)
{
    uint32_t *c = hmap_get(&f->counts, hash);
    return c ? *c : 0;
}
