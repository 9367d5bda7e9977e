/* SPDX-License-Identifier: Apache-2.0 */
/* Block contents of the emulated KV cache: the bytes of a block are a deterministic function
 * of its block hash (a header with a magic, the hash and the size, then 64-bit words mixing the
 * hash and the word index), so every block read back from a lower tier can be verified and a
 * block stored at the wrong offset, torn or corrupted is detected and never served. */
#ifndef KVTIER_ENGINE_KVDATA_H
#define KVTIER_ENGINE_KVDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVDATA_MAGIC 0x4b56544945524b56ULL /* "VKREITVK" */

/* Fills buf (bytes, a multiple of 8 and >= 24) with the contents of block `hash`. Any thread. */
void kvdata_fill(uint64_t hash, void *buf, size_t bytes);
/* Whether buf holds exactly the contents of block `hash`. Any thread. */
bool kvdata_verify(uint64_t hash, const void *buf, size_t bytes);

#endif
