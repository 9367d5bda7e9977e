/* SPDX-License-Identifier: Apache-2.0 */
/* Chat template rendering (see chat.h). */
#include "tokenizer/chat.h"

#include <errno.h>
#include <string.h>

int chat_template_from_name(const char *name, enum chat_template *ret)
{
    static const char *names[] = { "llama3", "harmony", "none", "llama31" };
    for (int i = 0; i < CHAT_TEMPLATE__COUNT; i++)
        if (name && !strcmp(name, names[i])) {
            *ret = (enum chat_template)i;
            return 0;
        }
    return -EINVAL;
}

/* Appends the text of a content value (string or array of text parts). */
static int content_text(const json_t *c, size_t idx, struct buf *out, struct diag *d);

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Appends content with leading and trailing whitespace removed (Jinja's trim). */
static int content_trimmed(const json_t *c, size_t idx, struct buf *out, struct diag *d)
{
    size_t start = out->len;
    int r = content_text(c, idx, out, d);
    if (r < 0)
        return r;
    size_t s = start, e = out->len;
    while (s < e && is_ws((char)out->data[s]))
        s++;
    while (e > s && is_ws((char)out->data[e - 1]))
        e--;
    if (out->data) {
        memmove(out->data + start, out->data + s, e - s);
        out->len = start + (e - s);
        out->data[out->len] = 0;
    }
    return 0;
}

static int content_text(const json_t *c, size_t idx, struct buf *out, struct diag *d)
{
    if (json_is_string(c))
        return buf_append(out, json_string_value(c), json_string_length(c));
    if (json_is_null(c))
        return 0;
    if (!json_is_array(c))
        return diag_set(d, -EINVAL, 0, 0, "messages[%zu].content must be a string or an array",
                        idx);
    size_t i;
    json_t *part;
    json_array_foreach (c, i, part) {
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(text))
            return diag_set(d, -EINVAL, 0, 0, "messages[%zu].content[%zu].text must be a string",
                            idx, i);
        int r = buf_append(out, json_string_value(text), json_string_length(text));
        if (r < 0)
            return r;
    }
    return 0;
}

int chat_render(enum chat_template tpl, const json_t *messages, bool add_generation_prompt,
                struct buf *out, struct diag *d)
{
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return diag_set(d, -EINVAL, 0, 0, "messages must be a non-empty array");
    int r = 0;
    if (tpl == CHAT_TEMPLATE_LLAMA3)
        r = buf_append_str(out, "<|begin_of_text|>");
    size_t i;
    json_t *m;
    if (tpl == CHAT_TEMPLATE_LLAMA31) {
        const json_t *m0 = json_array_get(messages, 0);
        const char *role0 = json_string_value(json_object_get(m0, "role"));
        r = buf_append_str(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                                "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul "
                                "2024\n\n");
        if (r == 0 && role0 && !strcmp(role0, "system"))
            r = content_trimmed(json_object_get(m0, "content"), 0, out, d);
        if (r == 0)
            r = buf_append_str(out, "<|eot_id|>");
        if (r < 0)
            return r;
    }
    json_array_foreach (messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role)
            return diag_set(d, -EINVAL, 0, 0, "messages[%zu].role must be a string", i);
        if (!json_object_get(m, "content") && strcmp(role, "assistant") != 0)
            return diag_set(d, -EINVAL, 0, 0, "messages[%zu].content is missing", i);
        if (tpl == CHAT_TEMPLATE_LLAMA31 && i == 0 && !strcmp(role, "system"))
            continue; /* already in the system header */
        switch (tpl) {
        case CHAT_TEMPLATE_LLAMA31:
        case CHAT_TEMPLATE_LLAMA3:
            r = buf_printf(out, "<|start_header_id|>%s<|end_header_id|>\n\n",
                           !strcmp(role, "tool") ? "ipython" : role);
            break;
        case CHAT_TEMPLATE_HARMONY:
            r = buf_printf(out, "<|start|>%s<|message|>",
                           !strcmp(role, "system") ? "developer" : role);
            break;
        default:
            r = i ? buf_append_str(out, "\n") : 0;
            break;
        }
        if (r == 0 && tpl == CHAT_TEMPLATE_LLAMA31)
            r = content_trimmed(json_object_get(m, "content"), i, out, d);
        else if (r == 0)
            r = content_text(json_object_get(m, "content"), i, out, d);
        if (r == 0 && (tpl == CHAT_TEMPLATE_LLAMA3 || tpl == CHAT_TEMPLATE_LLAMA31))
            r = buf_append_str(out, "<|eot_id|>");
        if (r == 0 && tpl == CHAT_TEMPLATE_HARMONY)
            r = buf_append_str(out, "<|end|>");
        if (r < 0)
            return r;
    }
    if (add_generation_prompt) {
        if (tpl == CHAT_TEMPLATE_LLAMA3 || tpl == CHAT_TEMPLATE_LLAMA31)
            r = buf_append_str(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        else if (tpl == CHAT_TEMPLATE_HARMONY)
            r = buf_append_str(out, "<|start|>assistant");
    }
    return r;
}
