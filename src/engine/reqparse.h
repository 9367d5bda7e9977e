/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and validation of OpenAI request bodies for POST /v1/chat/completions and
 * /v1/completions, as Dynamo's frontend accepts them: a JSON object (duplicate keys rejected),
 * known fields only (an unknown field such as `session_id` is a 400, as on the real frontend),
 * `model` a string, `messages` a non-empty array (chat) or `prompt` a string, a token-id array
 * or a one-element array of either (completions), `max_tokens` / `max_completion_tokens` >= 1,
 * `min_tokens` >= 0 and <= the maximum, `ignore_eos` / `stream` booleans, `stream_options` only
 * with streaming, `n` = 1. Every failure gives an HTTP status and an OpenAI-style message naming
 * the parameter. Pure functions; any thread. */
#ifndef KVTIER_ENGINE_REQPARSE_H
#define KVTIER_ENGINE_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define REQPARSE_BODY_MAX_BYTES (32u << 20) /* larger bodies: 413 */
#define REQPARSE_MAX_PROMPT_IDS (1u << 22)  /* token-id prompts longer than this: 400 */

enum reqparse_endpoint { REQPARSE_CHAT, REQPARSE_COMPLETIONS };

struct reqparse_req {
    enum reqparse_endpoint ep;
    char model[256];
    bool stream, include_usage;
    int64_t max_tokens; /* -1 when absent */
    int64_t min_tokens;
    bool ignore_eos;
    json_t *messages;        /* chat: borrowed from root */
    const char *prompt_text; /* completions text: borrowed from root, NULL otherwise */
    size_t prompt_text_len;
    uint32_t *prompt_ids; /* completions token ids: owned, NULL otherwise */
    size_t n_prompt_ids;
    json_t *root; /* owned parsed body */
};

struct reqparse_error {
    int status;       /* HTTP status */
    const char *type; /* OpenAI error type */
    char param[64];   /* offending parameter or "" */
    char message[400];
};

/* Counts the JSON values of body without parsing it: one plus every '[', '{' and ',' outside
 * strings (an upper bound for a valid document). Linear, no allocation, any input. Lets the
 * caller refuse a body that would build a huge document tree (`[{},{},...]`) before parsing. */
size_t reqparse_count_values(const char *body, size_t len);
/* Parses body (len bytes). On success fills ret (free with reqparse_req_fini) and returns 0;
 * on failure returns -EINVAL (or -EMSGSIZE) and fills err. vocab bounds token ids. */
int reqparse_body(enum reqparse_endpoint ep, const char *body, size_t len, uint32_t vocab,
                  struct reqparse_req *ret, struct reqparse_error *err);
void reqparse_req_fini(struct reqparse_req *r);
/* Sets err to the given status, type, param and printf message; returns -EINVAL. */
int reqparse_fail(struct reqparse_error *err, int status, const char *type, const char *param,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The OpenAI error body {"error": {message, type, param, code}} as an owned string. */
char *reqparse_error_body(const struct reqparse_error *err);

#endif
