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
#define TOKENIZER_MAX_FILE_BYTES  (128u << 20) /* largest tokenizer.json accepted */
#define TOKENIZER_MAX_VOCAB       (1u << 22)   /* ids, merges and added tokens per file */
#define TOKENIZER_MAX_TOKEN_BYTES 1024u        /* bytes of one vocabulary entry */

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
/* Exact byte-level BPE from a Hugging Face tokenizer.json (model BPE with vocab, merges and
 * ignore_merges; added_tokens; pre_tokenizer Split(Regex, Isolated) and/or ByteLevel; no
 * normalizer). *ret owned. Errors, with d naming the file and the field: -ENOENT no file,
 * -EINVAL malformed or unsupported, -EMSGSIZE past a TOKENIZER_MAX_* limit. */
int tokenizer_new_from_file(const char *path, struct tokenizer **ret, struct diag *d);
/* The same from the text of a tokenizer.json (len bytes, borrowed); d names the field. */
int tokenizer_new_from_json(const char *text, size_t len, struct tokenizer **ret, struct diag *d);
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
/* Id of one token given by its text (an added token such as "<|eot_id|>", or a vocabulary
 * entry of the exact tokenizer), or UINT32_MAX when there is none. */
uint32_t tokenizer_token_id(const struct tokenizer *t, const char *text);

#endif
