/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI request body validation (see reqparse.h). */
#include "engine/reqparse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/xalloc.h"

static const char *const known_fields[] = {
    "model",
    "messages",
    "prompt",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "min_tokens",
    "ignore_eos",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "n",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "echo",
    "suffix",
    "best_of",
    "logit_bias",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "nvext",
    "skip_special_tokens",
    "include_stop_str_in_output",
    "chat_template_kwargs",
    "reasoning_effort",
    "metadata",
    "store",
    "service_tier",
    "stop_token_ids",
    NULL,
};

int reqparse_fail(struct reqparse_error *err, int status, const char *type, const char *param,
                  const char *fmt, ...)
{
    err->status = status;
    err->type = type;
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

char *reqparse_error_body(const struct reqparse_error *err)
{
    json_t *e =
        json_pack("{s:s, s:s, s:o, s:i}", "message", err->message, "type",
                  err->type ? err->type : "invalid_request_error", "param",
                  err->param[0] ? json_string(err->param) : json_null(), "code", err->status);
    json_t *o = json_pack("{s:o}", "error", e);
    char *s = jsonx_dump_line(o);
    json_decref(o);
    return s;
}

static bool known(const char *k)
{
    for (size_t i = 0; known_fields[i]; i++)
        if (!strcmp(known_fields[i], k))
            return true;
    return false;
}

#define BAD(param, ...) reqparse_fail(err, 400, "invalid_request_error", param, __VA_ARGS__)

static int int_field(const json_t *root, const char *key, int64_t min, int64_t *ret,
                     struct reqparse_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return BAD(key, "'%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min)
        return BAD(key, "'%s' must be at least %lld, got %lld", key, (long long)min, (long long)x);
    *ret = x;
    return 1;
}

static int bool_field(const json_t *root, const char *key, bool *ret, struct reqparse_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return BAD(key, "'%s' must be a boolean", key);
    *ret = json_is_true(v);
    return 1;
}

static int token_array(const json_t *a, uint32_t vocab, struct reqparse_req *r,
                       struct reqparse_error *err)
{
    size_t n = json_array_size(a);
    if (n == 0)
        return BAD("prompt", "'prompt' must not be empty");
    if (n > REQPARSE_MAX_PROMPT_IDS)
        return BAD("prompt", "'prompt' has %zu token ids, more than %u", n,
                   REQPARSE_MAX_PROMPT_IDS);
    r->prompt_ids = xmalloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= (json_int_t)vocab)
            return BAD("prompt", "'prompt[%zu]' is not a token id of this model (0..%u)", i,
                       vocab - 1);
        r->prompt_ids[i] = (uint32_t)json_integer_value(v);
    }
    r->n_prompt_ids = n;
    return 0;
}

static int parse_prompt(json_t *p, uint32_t vocab, struct reqparse_req *r,
                        struct reqparse_error *err)
{
    if (!p)
        return BAD("prompt", "'prompt' is required");
    if (json_is_array(p) && json_array_size(p) > 0 && !json_is_integer(json_array_get(p, 0))) {
        if (json_array_size(p) != 1)
            return BAD("prompt", "batched prompts are not supported: send one prompt per request");
        p = json_array_get(p, 0);
    }
    if (json_is_string(p)) {
        if (json_string_length(p) == 0)
            return BAD("prompt", "'prompt' must not be empty");
        r->prompt_text = json_string_value(p);
        r->prompt_text_len = json_string_length(p);
        return 0;
    }
    if (json_is_array(p))
        return token_array(p, vocab, r, err);
    return BAD("prompt", "'prompt' must be a string or an array of token ids");
}

/* Content parts: objects of type "text" with a string "text"; this text-only model refuses
 * every other type (image_url, input_audio, file, ...) rather than reading it as text. */
static int parse_parts(const json_t *c, size_t i, struct reqparse_error *err)
{
    size_t j;
    json_t *part;
    json_array_foreach (c, j, part) {
        if (!json_is_object(part))
            return BAD("messages", "'messages[%zu].content[%zu]' must be an object", i, j);
        json_t *type = json_object_get(part, "type");
        if (!json_is_string(type))
            return BAD("messages", "'messages[%zu].content[%zu].type' must be a string", i, j);
        if (strcmp(json_string_value(type), "text") != 0)
            return BAD("messages",
                       "'messages[%zu].content[%zu]' has type '%.40s', which this model does not "
                       "support: only 'text' content parts are accepted",
                       i, j, json_string_value(type));
        if (!json_is_string(json_object_get(part, "text")))
            return BAD("messages", "'messages[%zu].content[%zu].text' must be a string", i, j);
    }
    return 0;
}

static int parse_messages(json_t *m, struct reqparse_error *err)
{
    static const char *const roles[] = { "system", "user", "assistant", "tool", "developer", NULL };
    if (!m)
        return BAD("messages", "'messages' is required");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return BAD("messages", "'messages' must be a non-empty array");
    size_t i;
    json_t *msg;
    json_array_foreach (m, i, msg) {
        if (!json_is_object(msg))
            return BAD("messages", "'messages[%zu]' must be an object", i);
        json_t *role = json_object_get(msg, "role");
        if (!json_is_string(role))
            return BAD("messages", "'messages[%zu].role' must be a string", i);
        bool ok = false;
        for (size_t k = 0; roles[k]; k++)
            ok |= !strcmp(roles[k], json_string_value(role));
        if (!ok)
            return BAD("messages", "'messages[%zu].role' '%.40s' is not a known role", i,
                       json_string_value(role));
        json_t *c = json_object_get(msg, "content");
        if (c && !json_is_string(c) && !json_is_array(c) && !json_is_null(c))
            return BAD("messages", "'messages[%zu].content' must be a string or an array", i);
        if (json_is_array(c) && parse_parts(c, i, err) < 0)
            return -EINVAL;
        if (!c && strcmp(json_string_value(role), "assistant") != 0)
            return BAD("messages", "'messages[%zu].content' is required", i);
    }
    return 0;
}

size_t reqparse_count_values(const char *body, size_t len)
{
    size_t n = 1;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{' || c == ',') {
            n++;
        }
    }
    return n;
}

int reqparse_body(enum reqparse_endpoint ep, const char *body, size_t len, uint32_t vocab,
                  struct reqparse_req *ret, struct reqparse_error *err)
{
    struct reqparse_req r = { .ep = ep, .max_tokens = -1 };
    int rc = -EINVAL;
    if (len > REQPARSE_BODY_MAX_BYTES) {
        reqparse_fail(err, 413, "invalid_request_error", NULL,
                      "request body of %zu bytes exceeds the limit of %u bytes", len,
                      REQPARSE_BODY_MAX_BYTES);
        return -EMSGSIZE;
    }
    json_error_t je;
    r.root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!r.root) {
        BAD(NULL, "invalid JSON body at line %d, column %d: %s", je.line, je.column, je.text);
        goto out;
    }
    if (!json_is_object(r.root)) {
        BAD(NULL, "the request body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach (r.root, key, val) {
        if (!known(key)) {
            BAD(key, "unknown field '%.60s'", key);
            goto out;
        }
    }
    json_t *model = json_object_get(r.root, "model");
    if (!json_is_string(model) || json_string_length(model) == 0) {
        BAD("model", "'model' is required and must be a non-empty string");
        goto out;
    }
    if (json_string_length(model) >= sizeof(r.model)) {
        BAD("model", "'model' is too long");
        goto out;
    }
    snprintf(r.model, sizeof(r.model), "%s", json_string_value(model));
    int64_t tmp = 1;
    if (bool_field(r.root, "stream", &r.stream, err) < 0 ||
        bool_field(r.root, "ignore_eos", &r.ignore_eos, err) < 0 ||
        int_field(r.root, "max_tokens", 1, &r.max_tokens, err) < 0 ||
        int_field(r.root, "min_tokens", 0, &r.min_tokens, err) < 0 ||
        int_field(r.root, "n", 1, &tmp, err) < 0)
        goto out;
    if (ep == REQPARSE_CHAT &&
        int_field(r.root, "max_completion_tokens", 1, &r.max_tokens, err) < 0)
        goto out;
    if (tmp != 1) {
        BAD("n", "only n = 1 is supported");
        goto out;
    }
    if (r.max_tokens > 0 && r.min_tokens > r.max_tokens) {
        BAD("min_tokens", "'min_tokens' (%lld) must not exceed the maximum (%lld)",
            (long long)r.min_tokens, (long long)r.max_tokens);
        goto out;
    }
    json_t *so = json_object_get(r.root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!r.stream) {
            BAD("stream_options", "'stream_options' is only allowed when 'stream' is true");
            goto out;
        }
        if (!json_is_object(so)) {
            BAD("stream_options", "'stream_options' must be an object");
            goto out;
        }
        if (bool_field(so, "include_usage", &r.include_usage, err) < 0)
            goto out;
    }
    json_t *t = json_object_get(r.root, "temperature");
    if (t && !json_is_null(t) && !json_is_number(t)) {
        BAD("temperature", "'temperature' must be a number");
        goto out;
    }
    if (ep == REQPARSE_CHAT) {
        if (json_object_get(r.root, "prompt")) {
            BAD("prompt", "'prompt' is not a chat completions field; use 'messages'");
            goto out;
        }
        r.messages = json_object_get(r.root, "messages");
        if (parse_messages(r.messages, err) < 0)
            goto out;
    } else {
        if (json_object_get(r.root, "messages")) {
            BAD("messages", "'messages' is not a completions field; use 'prompt'");
            goto out;
        }
        if (parse_prompt(json_object_get(r.root, "prompt"), vocab, &r, err) < 0)
            goto out;
    }
    *ret = r;
    return 0;
out:
    reqparse_req_fini(&r);
    return rc;
}

void reqparse_req_fini(struct reqparse_req *r)
{
    free(r->prompt_ids);
    json_decref(r->root);
    r->prompt_ids = NULL;
    r->root = NULL;
}
