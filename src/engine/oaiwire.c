/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI response chunks and bodies (see oaiwire.h). */
#include "engine/oaiwire.h"

#include <inttypes.h>
#include <stdio.h>

void oaiwire_quote(const char *in, char *out, size_t len)
{
    size_t o = 0;
    out[o++] = '"';
    for (; *in && o + 8 < len; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
}

static void chunk_prefix(struct buf *b, const struct sreq *r, const char *model)
{
    buf_printf(b,
               "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRIu64
               ",\"model\":%s,\"choices\":[",
               r->id_str, r->ep == SREQ_CHAT ? "chat.completion.chunk" : "text_completion",
               r->created_unix_s, model);
}

static void usage_json(struct buf *b, const struct oaiwire_usage *u)
{
    buf_printf(b,
               "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%u,\"total_tokens\":%zu,"
               "\"prompt_tokens_details\":{\"cached_tokens\":%u}}",
               u->prompt_tokens, u->completion_tokens, u->prompt_tokens + u->completion_tokens,
               u->cached_tokens);
}

void oaiwire_token(struct buf *b, const struct sreq *r, const char *model, bool first,
                   const char *word)
{
    bool chat = r->ep == SREQ_CHAT;
    if (chat && first) {
        chunk_prefix(b, r, model);
        buf_printf(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                      "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    }
    chunk_prefix(b, r, model);
    if (chat)
        buf_printf(b,
                   "{\"index\":0,\"delta\":{\"content\":\" %s\"},\"logprobs\":null,"
                   "\"finish_reason\":null}]}\n\n",
                   word);
    else
        buf_printf(b,
                   "{\"index\":0,\"text\":\" %s\",\"logprobs\":null,\"finish_reason\":null}]}"
                   "\n\n",
                   word);
}

void oaiwire_stream_end(struct buf *b, const struct sreq *r, const char *model,
                        const char *finish_reason, const struct oaiwire_usage *u)
{
    chunk_prefix(b, r, model);
    if (r->ep == SREQ_CHAT)
        buf_printf(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n",
                   finish_reason);
    else
        buf_printf(b,
                   "{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n",
                   finish_reason);
    if (r->include_usage) {
        chunk_prefix(b, r, model);
        buf_printf(b, "],");
        usage_json(b, u);
        buf_printf(b, "}\n\n");
    }
    buf_printf(b, "data: [DONE]\n\n");
}

void oaiwire_full(struct buf *b, const struct sreq *r, const char *model, const char *text,
                  const char *finish_reason, const struct oaiwire_usage *u)
{
    bool chat = r->ep == SREQ_CHAT;
    buf_printf(b,
               "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRIu64 ",\"model\":%s,"
               "\"choices\":[{\"index\":0,",
               r->id_str, chat ? "chat.completion" : "text_completion", r->created_unix_s, model);
    if (chat)
        buf_printf(b, "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},", text);
    else
        buf_printf(b, "\"text\":\"%s\",", text);
    buf_printf(b, "\"logprobs\":null,\"finish_reason\":\"%s\"}],", finish_reason);
    usage_json(b, u);
    buf_printf(b, "}");
}
