/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic prompt text for plans: English-like technical prose from a built-in word list,
 * or slices of a user corpus (--corpus DIR: the regular files under DIR in sorted path order,
 * valid UTF-8 only, each preceded by a "File: <path>" line). Fill words are words that are
 * exactly one token both with and without a leading space under the plan's tokenizer, so text
 * built from them has a token count equal to its word count; they pad shared prefixes to whole
 * KV blocks and build the per-hash-id blocks of imported traces. */
#ifndef KVTIER_WORKLOAD_TEXTGEN_H
#define KVTIER_WORKLOAD_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/diag.h"
#include "common/rng.h"
#include "tokenizer/tokenizer.h"

#define TEXTGEN_MIN_FILL_WORDS 16u

struct textgen;

/* tok is borrowed and must outlive the generator. corpus_dir NULL = built-in text. Errors:
 * -ENOENT/-EINVAL (d names the directory or file), -EMSGSIZE past WORKLOAD_CORPUS_MAX_BYTES,
 * -EINVAL when the tokenizer has fewer than TEXTGEN_MIN_FILL_WORDS one-token words. Owned. */
int textgen_new(const struct tokenizer *tok, const char *corpus_dir, struct textgen **ret,
                struct diag *d);
void textgen_free(struct textgen *g);
/* "builtin" or "corpus DIR (N files, M bytes)"; borrowed. */
const char *textgen_source(const struct textgen *g);
/* Appends roughly `tokens` tokens of text drawn with r (never starting or ending with
 * whitespace, never containing "<|"). Returns 0 or -EMSGSIZE from out. */
int textgen_append(const struct textgen *g, struct rng *r, uint64_t tokens, struct buf *out);
/* Appends n fill words (each one token), the first without a leading space when out is empty
 * or ends in a newline. */
int textgen_fill(const struct textgen *g, struct rng *r, uint64_t n, struct buf *out);
/* Drops the last n words of b (at spaces or newlines) and any trailing whitespace; keeps at
 * least one byte. */
void textgen_drop_words(struct buf *b, uint64_t n);

#endif
