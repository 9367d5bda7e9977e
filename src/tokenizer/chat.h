/* SPDX-License-Identifier: Apache-2.0 */
/* Chat templates: render an OpenAI-style messages array into the prompt text the model sees
 * (Llama 3 header/eot format, GPT-OSS harmony format), so the engine and the workload planner
 * tokenize the same bytes. */
#ifndef KVTIER_TOKENIZER_CHAT_H
#define KVTIER_TOKENIZER_CHAT_H

#include <stdbool.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/diag.h"

enum chat_template {
    CHAT_TEMPLATE_LLAMA3,
    CHAT_TEMPLATE_HARMONY,
    CHAT_TEMPLATE_NONE,    /* contents joined by newlines */
    CHAT_TEMPLATE_LLAMA31, /* Hugging Face's Llama 3.1/3.3 Instruct template without tools: the
                              system header always present with "Cutting Knowledge Date:
                              December 2023" and "Today Date: 26 Jul 2024", contents trimmed */
    CHAT_TEMPLATE__COUNT,
};

/* Template by profile name ("llama3", "harmony", "none", "llama31"); -EINVAL if unknown. */
int chat_template_from_name(const char *name, enum chat_template *ret);
/* Renders messages (borrowed JSON array of {role, content}) into out. content may be a string
 * or an array of {type: "text", text}. add_generation_prompt appends the assistant header.
 * -EINVAL with d naming the message index and field on malformed input. */
int chat_render(enum chat_template tpl, const json_t *messages, bool add_generation_prompt,
                struct buf *out, struct diag *d);

#endif
