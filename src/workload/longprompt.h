/* SPDX-License-Identifier: Apache-2.0 */
/* A long single-message chat prompt of at least a given number of tokens, counted the way the
 * engine counts it: the message rendered with the model's chat template and encoded by the
 * model's tokenizer.json (exact) or, without one, the approximate tokenizer. kvtier doctor's
 * >= 32k context check sends it, so the prompt is sized by the real tokenizer instead of a guess
 * corrected by the server's answer. */
#ifndef KVTIER_WORKLOAD_LONGPROMPT_H
#define KVTIER_WORKLOAD_LONGPROMPT_H

#include <stddef.h>

#include "common/buf.h"
#include "common/diag.h"

#define LONGPROMPT_MAX_TOKENS (1u << 20)

struct longprompt {
    struct buf text;    /* the user message's content (owned; longprompt_fini) */
    size_t tokens;      /* tokens of the rendered chat (template + generation prompt) */
    char tokenizer[16]; /* "bpe" (exact) or "approx" */
    char chat_template[16];
};

/* Builds a user message whose rendered chat (chat_template name as in model profiles, with the
 * generation prompt) has at least min_tokens and at most min_tokens + 1% + 64 tokens with the
 * tokenizer at tokenizer_path (NULL = approximate tokenizer of vocab_size ids). 0 with *ret
 * filled; -ENOENT/-EINVAL with d naming the tokenizer file or the template; -EMSGSIZE above
 * LONGPROMPT_MAX_TOKENS. */
int longprompt_build(const char *tokenizer_path, unsigned vocab_size, const char *chat_template,
                     unsigned min_tokens, struct longprompt *ret, struct diag *d);
void longprompt_fini(struct longprompt *p);

#endif
