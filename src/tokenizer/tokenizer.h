/* SPDX-License-Identifier: Apache-2.0 */
/* Tokenizers behind one interface: an exact byte-level BPE loaded from a Hugging Face
 * tokenizer.json, or a clearly labelled approximate tokenizer when no file is given. Both are
 * prefix-stable at piece boundaries (whitespace, punctuation, special tokens), so identical
 * system prompts give identical token prefixes. Immutable after creation: encode/decode may
 * be called from any thread. */
#ifndef KVTIER_TOKENIZER_TOKENIZER_H
#define KVTIER_TOKENIZER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/diag.h"

#define TOKENIZER_MAX_INPUT_BYTES (64u << 20)

struct token_ids {
    uint32_t *ids; /* owned */
    size_t len, cap;
};

void tokenizer_ids_push(struct token_ids *v, uint32_t id);
void tokenizer_ids_fini(struct token_ids *v);

struct tokenizer;

/* Approximate tokenizer over a vocabulary of `vocab` ids (about one token per word or
 * 6 letters; special tokens <|...|> are single ids near the top of the vocabulary). Owned. */
struct tokenizer *tokenizer_new_approx(uint32_t vocab);
/* Exact BPE from a tokenizer.json; -EINVAL/-ENOENT with d naming the file and field.
 * Returns -EOPNOTSUPP while the BPE loader is not built. */
int tokenizer_new_from_file(const char *path, struct tokenizer **ret, struct diag *d);
void tokenizer_free(struct tokenizer *t);
/* Whether counts are exact for the model ("bpe") or approximate ("approx"). */
bool tokenizer_is_exact(const struct tokenizer *t);
const char *tokenizer_kind(const struct tokenizer *t);
uint32_t tokenizer_vocab_size(const struct tokenizer *t);
/* Appends the ids of text[0..len) to out. parse_special: "<|...|>" special tokens are
 * recognised as single tokens (chat templates); otherwise they are ordinary text.
 * -EMSGSIZE past TOKENIZER_MAX_INPUT_BYTES. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool parse_special,
                     struct token_ids *out);
/* Appends the text of ids to out; -EOPNOTSUPP for the approximate tokenizer (not invertible),
 * -EINVAL for an id outside the vocabulary. */
int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct buf *out);
/* Token count of text (parse_special true). */
size_t tokenizer_count(const struct tokenizer *t, const char *text, size_t len);

#endif
