/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic block contents (see kvdata.h). The word pattern is cheap enough to generate at
 * memory bandwidth, so writing and verifying blocks costs about what copying them costs. */
#include "engine/kvdata.h"

#include <string.h>

#define KVDATA_K1 0x9e3779b97f4a7c15ULL
#define KVDATA_K2 0xbf58476d1ce4e5b9ULL

static uint64_t seed_of(uint64_t hash)
{
    return (hash ^ KVDATA_K2) * KVDATA_K1;
}

void kvdata_fill(uint64_t hash, void *buf, size_t bytes)
{
    uint64_t *w = buf;
    size_t n = bytes / 8;
    uint64_t s = seed_of(hash);
    w[0] = KVDATA_MAGIC;
    w[1] = hash;
    w[2] = bytes;
    for (size_t i = 3; i < n; i++)
        w[i] = s ^ (i * KVDATA_K2);
}

bool kvdata_verify(uint64_t hash, const void *buf, size_t bytes)
{
    const uint64_t *w = buf;
    size_t n = bytes / 8;
    uint64_t s = seed_of(hash);
    if (n < 3 || w[0] != KVDATA_MAGIC || w[1] != hash || w[2] != bytes)
        return false;
    uint64_t diff = 0;
    for (size_t i = 3; i < n; i++)
        diff |= w[i] ^ (s ^ (i * KVDATA_K2));
    return diff == 0;
}
