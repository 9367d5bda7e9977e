/* SPDX-License-Identifier: Apache-2.0 */
/* Chained block hashes (see blockhash.h). Tokens are serialized little-endian so the hash is
 * the same on x86-64 and aarch64. */
#include "tokenizer/blockhash.h"

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

uint64_t blockhash_next(uint64_t parent, const uint32_t *tokens, size_t n)
{
    XXH3_state_t st;
    unsigned char b[8];
    XXH3_64bits_reset(&st);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(parent >> (8 * i));
    XXH3_64bits_update(&st, b, 8);
    for (size_t i = 0; i < n; i++) {
        unsigned char t[4] = { (unsigned char)tokens[i], (unsigned char)(tokens[i] >> 8),
                               (unsigned char)(tokens[i] >> 16), (unsigned char)(tokens[i] >> 24) };
        XXH3_64bits_update(&st, t, 4);
    }
    return XXH3_64bits_digest(&st) & BLOCKHASH_MASK;
}

size_t blockhash_chain(const uint32_t *tokens, size_t n, uint32_t tokens_per_block, uint64_t *out,
                       size_t out_cap)
{
    size_t blocks = tokens_per_block ? n / tokens_per_block : 0;
    uint64_t parent = BLOCKHASH_ROOT;
    for (size_t b = 0; b < blocks && b < out_cap; b++) {
        parent = blockhash_next(parent, tokens + b * tokens_per_block, tokens_per_block);
        out[b] = parent;
    }
    return blocks;
}
