/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI stream chunk interpretation (see oaichunk.h). */
#include "loadgen/oaichunk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

static bool nonempty_str(const json_t *o, const char *key, const char **ret, size_t *ret_len)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return false;
    *ret = json_string_value(v);
    *ret_len = json_string_length(v);
    return true;
}

static int64_t int_or(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void error_msg(const json_t *err, struct oaichunk *c)
{
    const char *m = NULL;
    if (json_is_string(err))
        m = json_string_value(err);
    else if (json_is_object(err))
        m = json_string_value(json_object_get(err, "message"));
    snprintf(c->msg, sizeof(c->msg), "%s", m ? m : "error event");
}

int oaichunk_parse(const char *type, const char *data, size_t len, struct oaichunk *ret,
                   struct buf *text_out)
{
    struct oaichunk c = { .prompt_tokens = -1, .completion_tokens = -1, .cached_tokens = -1 };
    json_t *root = NULL;
    int rc = 0;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        c.done = true;
        goto out;
    }
    bool error_event = type && !strcmp(type, "error");
    json_error_t jerr;
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        if (error_event) {
            c.error = true;
            snprintf(c.msg, sizeof(c.msg), "error event: %.*s", (int)(len < 120 ? len : 120), data);
            goto out;
        }
        snprintf(c.msg, sizeof(c.msg), "malformed chunk JSON: %.100s",
                 root ? "not an object" : jerr.text);
        rc = -EPROTO;
        goto out;
    }
    json_t *err = json_object_get(root, "error");
    if (error_event || (err && !json_is_null(err))) {
        c.error = true;
        error_msg(err ? err : root, &c);
        goto out;
    }
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        c.usage = true;
        c.prompt_tokens = int_or(usage, "prompt_tokens");
        c.completion_tokens = int_or(usage, "completion_tokens");
        json_t *det = json_object_get(usage, "prompt_tokens_details");
        if (json_is_object(det))
            c.cached_tokens = int_or(det, "cached_tokens");
    }
    json_t *choices = json_object_get(root, "choices");
    if (json_is_array(choices) && json_array_size(choices) > 0) {
        json_t *ch = json_array_get(choices, 0);
        const char *s;
        size_t n;
        if (json_is_object(ch)) {
            json_t *fr = json_object_get(ch, "finish_reason");
            if (json_is_string(fr))
                snprintf(c.finish_reason, sizeof(c.finish_reason), "%s", json_string_value(fr));
            json_t *delta = json_object_get(ch, "delta");
            if (json_is_object(delta)) {
                if (nonempty_str(delta, "reasoning_content", &s, &n) ||
                    nonempty_str(delta, "reasoning", &s, &n))
                    c.reasoning = true;
                if (nonempty_str(delta, "content", &s, &n)) {
                    c.content = true;
                    if (text_out && buf_append(text_out, s, n) < 0) {
                        rc = -EMSGSIZE;
                        goto out;
                    }
                }
            } else if (nonempty_str(ch, "text", &s, &n)) {
                c.content = true;
                if (text_out && buf_append(text_out, s, n) < 0) {
                    rc = -EMSGSIZE;
                    goto out;
                }
            }
        }
        c.role_only = !c.content && !c.reasoning;
    }
out:
    json_decref(root);
    *ret = c;
    return rc;
}
