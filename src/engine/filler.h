/* SPDX-License-Identifier: Apache-2.0 */
/* Generated text of the emulated engine: plausible filler words, each chosen so that it is
 * exactly one token of the engine's tokenizer when preceded by a space. Re-tokenizing the
 * generated text therefore gives back the generated ids, so a multi-turn client that sends the
 * reply back shares KV blocks with it, as with a real model. Immutable after creation. */
#ifndef KVTIER_ENGINE_FILLER_H
#define KVTIER_ENGINE_FILLER_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"

struct filler {
    size_t n;
    const char *words[256]; /* static strings, each used with a leading space */
    uint32_t ids[256];
};

/* Keeps the words that are one token with t (borrowed). -EINVAL if fewer than 8 qualify. */
int filler_init(struct filler *f, const struct tokenizer *t);

#endif
