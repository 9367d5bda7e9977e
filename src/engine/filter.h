/* SPDX-License-Identifier: Apache-2.0 */
/* KVBM's disk offload frequency filter (bm/offload/filter.rs FrequencyFilter), which admits a
 * host block to the disk tier: a hash seen for the first time gets count 1, each later call
 * doubles it (saturating); the block is admitted when the count is >= min_frequency (2). Every
 * decay period (600 s, first tick at creation) all counts drop by one and zeros are removed;
 * past max_entries counts are decremented until the table fits. The filter is called once per
 * host registration, never on a host hit. Not thread-safe: the scheduler thread owns it. */
#ifndef KVTIER_ENGINE_FILTER_H
#define KVTIER_ENGINE_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/hmap.h"

#define FILTER_MIN_FREQUENCY 2u
#define FILTER_DECAY_NS      (600ULL * 1000000000ULL)
#define FILTER_MAX_ENTRIES   1000000u

struct filter {
    struct hmap counts;     /* hash -> count */
    uint64_t next_decay_ns; /* monotonic time of the next decay tick */
    uint64_t decay_ns;
    uint32_t max_entries;
    uint32_t min_frequency;
};

/* Caller storage; now_ns is the creation time (the first decay tick happens then). */
void filter_init(struct filter *f, uint64_t now_ns);
void filter_fini(struct filter *f);
/* Applies any decay ticks due at now_ns, then counts hash; returns whether to offload it. */
bool filter_should_offload(struct filter *f, uint64_t hash, uint64_t now_ns);
/* Applies the decay ticks due at now_ns (also done by filter_should_offload). */
void filter_tick(struct filter *f, uint64_t now_ns);
/* Current count of hash (0 if absent). */
uint32_t filter_count(const struct filter *f, uint64_t hash);

#endif
