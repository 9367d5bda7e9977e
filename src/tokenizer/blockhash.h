/* SPDX-License-Identifier: Apache-2.0 */
/* KV block identity, shared by workload plans and the emulated engine: a chain of XXH3-64
 * hashes over (parent hash, token ids of one full block). Only full blocks have an identity
 * (partial blocks are never reusable, as in TRT-LLM). The value is masked to 63 bits so it
 * fits a JSON integer exactly. The first block's parent is BLOCKHASH_ROOT. */
#ifndef KVTIER_TOKENIZER_BLOCKHASH_H
#define KVTIER_TOKENIZER_BLOCKHASH_H

#include <stddef.h>
#include <stdint.h>

#define BLOCKHASH_ROOT 0ULL
#define BLOCKHASH_MASK 0x7fffffffffffffffULL

/* Hash of one block: parent (8 bytes little-endian) followed by n token ids (4 bytes LE each). */
uint64_t blockhash_next(uint64_t parent, const uint32_t *tokens, size_t n);
/* Hashes every full block of tokens[0..n) into out (up to out_cap); returns the number of
 * full blocks (n / tokens_per_block), which may exceed out_cap (then only out_cap written). */
size_t blockhash_chain(const uint32_t *tokens, size_t n, uint32_t tokens_per_block, uint64_t *out,
                       size_t out_cap);

#endif
