/* SPDX-License-Identifier: Apache-2.0 */
/* A long chat prompt sized by the model's tokenizer (see longprompt.h). */
#include "workload/longprompt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

#define LONGPROMPT_TRIES 24

/* Words of the storage vocabulary: a byte-level BPE gives most of them one token each. */
static const char *const words[] = { "tier", "cache",  "block",  "prefix", "reuse", "disk",
                                     "host", "device", "replay", "phase",  "token", "graph" };

static void fill(struct buf *b, size_t nwords)
{
    buf_reset(b);
    for (size_t i = 0; i < nwords; i++)
        buf_printf(b, "%s ", words[(i * 7 + i / 12) % 12]);
}

/* Tokens of text as one user message rendered with tpl and the generation prompt. */
static int count_chat(const struct tokenizer *t, enum chat_template tpl, const struct buf *text,
                      size_t *ret, struct diag *d)
{
    json_t *msgs = json_pack("[{s:s,s:s%}]", "role", "user", "content", buf_str(text), text->len);
    struct buf r;
    buf_init(&r, text->len + 256);
    int rc = chat_render(tpl, msgs, true, &r, d);
    if (rc == 0)
        *ret = tokenizer_count(t, buf_str(&r), r.len);
    buf_fini(&r);
    json_decref(msgs);
    return rc;
}

int longprompt_build(const char *tokenizer_path, unsigned vocab_size, const char *chat_template,
                     unsigned min_tokens, struct longprompt *ret, struct diag *d)
{
    memset(ret, 0, sizeof(*ret));
    buf_init(&ret->text, 0);
    if (min_tokens == 0 || min_tokens > LONGPROMPT_MAX_TOKENS)
        return diag_set(d, -EMSGSIZE, 0, 0, "a long prompt of %u tokens (1..%u)", min_tokens,
                        LONGPROMPT_MAX_TOKENS);
    enum chat_template tpl;
    if (chat_template_from_name(chat_template, &tpl) < 0)
        return diag_set(d, -EINVAL, 0, 0, "unknown chat template '%s'",
                        chat_template ? chat_template : "(none)");
    struct tokenizer *t = NULL;
    int r = 0;
    if (tokenizer_path)
        r = tokenizer_new_from_file(tokenizer_path, &t, d);
    else
        t = tokenizer_new_approx(vocab_size ? vocab_size : 128256);
    if (r < 0)
        return r;
    snprintf(ret->tokenizer, sizeof(ret->tokenizer), "%s", tokenizer_kind(t));
    snprintf(ret->chat_template, sizeof(ret->chat_template), "%s", chat_template);
    size_t hi = (size_t)min_tokens + min_tokens / 100 + 64;
    size_t nwords = (size_t)min_tokens * 4 / 5, n = 0;
    r = -ERANGE;
    for (int i = 0; i < LONGPROMPT_TRIES; i++) {
        fill(&ret->text, nwords);
        int cr = count_chat(t, tpl, &ret->text, &n, d);
        if (cr < 0) {
            r = cr;
            break;
        }
        if (n >= min_tokens && n <= hi) {
            r = 0;
            break;
        }
        /* aim a little above the target by the measured tokens per word */
        double per_word = nwords ? (double)n / (double)nwords : 1;
        double want = (double)min_tokens + (double)(hi - min_tokens) / 4;
        size_t next = (size_t)(want / (per_word > 0 ? per_word : 1)) + 1;
        nwords = next == nwords ? (n < min_tokens ? nwords + 1 : nwords - 1) : next;
    }
    if (r == -ERANGE)
        diag_set(d, r, 0, 0, "could not size a prompt of %u..%zu tokens (last %zu)", min_tokens, hi,
                 n);
    ret->tokens = n;
    tokenizer_free(t);
    return r;
}

void longprompt_fini(struct longprompt *p)
{
    buf_fini(&p->text);
}
