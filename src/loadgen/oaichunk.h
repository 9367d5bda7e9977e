/* SPDX-License-Identifier: Apache-2.0 */
/* What one SSE event of an OpenAI-compatible streaming response means for measurement:
 * "[DONE]", an error (an "error" event or an {"error": ...} object mid-stream), a token-bearing
 * chunk (non-empty delta.content, delta.reasoning_content / delta.reasoning, or text), a
 * role-only or empty chunk (no token), and usage (prompt, completion and cached tokens; either
 * the final usage chunk or per-chunk continuous usage). Chat and completions chunks both. */
#ifndef KVTIER_LOADGEN_OAICHUNK_H
#define KVTIER_LOADGEN_OAICHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define OAICHUNK_MSG_MAX 160

struct oaichunk {
    bool done;                  /* data was "[DONE]" */
    bool error;                 /* an error event or object */
    bool content;               /* non-empty content (chat delta.content or completions text) */
    bool reasoning;             /* non-empty reasoning_content / reasoning */
    bool role_only;             /* choices present but neither content nor reasoning */
    bool usage;                 /* a usage object was present */
    int64_t prompt_tokens;      /* from usage, -1 if absent */
    int64_t completion_tokens;  /* from usage, -1 if absent */
    int64_t cached_tokens;      /* usage.prompt_tokens_details.cached_tokens, -1 if absent */
    char finish_reason[24];     /* "" if none */
    char msg[OAICHUNK_MSG_MAX]; /* error message or what was malformed */
};

/* Interprets one event (type and data as sse.h delivers them). When text_out is non-NULL the
 * content text is appended to it (for carrying conversation history). Returns 0, -EPROTO when
 * the data is not JSON or not an object (ret->msg says why), -EMSGSIZE when text_out is full.
 * Any thread; no state. */
int oaichunk_parse(const char *type, const char *data, size_t len, struct oaichunk *ret,
                   struct buf *text_out);

#endif
