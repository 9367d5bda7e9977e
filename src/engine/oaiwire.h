/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI wire format of the engine's responses, as Dynamo's frontend writes it: SSE chunks
 * of chat.completion.chunk / text_completion objects (a role-only chunk before a chat's first
 * token, one chunk per token, a finish chunk, an optional usage chunk with "choices":[], then
 * `data: [DONE]`), and the unary chat.completion / text_completion bodies with usage. Output is
 * built with printf into a bounded buffer (the fields are fixed; generated words and the model
 * name are JSON-safe: filler words by construction, the model quoted once by oaiwire_quote).
 * Pure functions; any thread. */
#ifndef KVTIER_ENGINE_OAIWIRE_H
#define KVTIER_ENGINE_OAIWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "engine/sreq.h"

#define OAIWIRE_MODEL_MAX 300 /* a quoted model name, with its quotes and NUL */

/* Token counts of a finished request. */
struct oaiwire_usage {
    size_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t cached_tokens; /* prompt_tokens_details.cached_tokens */
};

/* Writes in as a JSON string literal (quotes included) into out of len bytes (at least 10),
 * escaping quotes, backslashes and control characters; a name too long is cut. */
void oaiwire_quote(const char *in, char *out, size_t len);
/* Appends the SSE events of one generated word of r (borrowed), preceded by the role-only chunk
 * when r is a chat and this is its first token. model is a quoted name. */
void oaiwire_token(struct buf *b, const struct sreq *r, const char *model, bool first,
                   const char *word);
/* Appends the finish chunk, the usage chunk when r asked for it, and `data: [DONE]`. */
void oaiwire_stream_end(struct buf *b, const struct sreq *r, const char *model,
                        const char *finish_reason, const struct oaiwire_usage *u);
/* Appends the unary response body with its text (JSON-safe words) and usage. */
void oaiwire_full(struct buf *b, const struct sreq *r, const char *model, const char *text,
                  const char *finish_reason, const struct oaiwire_usage *u);

#endif
