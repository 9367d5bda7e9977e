/* SPDX-License-Identifier: Apache-2.0 */
/* Filler vocabulary (see filler.h). */
#include "engine/filler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const words[] = {
    "the",    "of",    "and",   "to",   "in",     "is",     "that",   "for",    "it",    "as",
    "with",   "was",   "on",    "be",   "by",     "this",   "are",    "or",     "from",  "at",
    "an",     "which", "we",    "can",  "has",    "not",    "have",   "more",   "data",  "cache",
    "block",  "model", "token", "disk", "host",   "layer",  "value",  "key",    "time",  "first",
    "next",   "each",  "also",  "when", "then",   "some",   "other",  "into",   "these", "used",
    "only",   "such",  "most",  "same", "both",   "three",  "over",   "under",  "while", "where",
    "point",  "level", "state", "rate", "load",   "read",   "write",  "store",  "reuse", "query",
    "prefix", "reply", "turn",  "user", "system", "answer", "result", "memory", "speed", "page",
};

int filler_init(struct filler *f, const struct tokenizer *t)
{
    f->n = 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && f->n < 256; i++) {
        char text[32];
        snprintf(text, sizeof(text), " %s", words[i]);
        struct token_ids ids = { 0 };
        if (tokenizer_encode(t, text, strlen(text), false, &ids) == 0 && ids.len == 1) {
            f->words[f->n] = words[i];
            f->ids[f->n] = ids.ids[0];
            f->n++;
        }
        tokenizer_ids_fini(&ids);
    }
    return f->n >= 8 ? 0 : -EINVAL;
}
