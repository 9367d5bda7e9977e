/* SPDX-License-Identifier: Apache-2.0 */
/* The approximate tokenizer and the common entry points. Pieces: a special token "<|...|>"
 * (when parse_special), a run of whitespace, an optional single space followed by up to six
 * letters/digits/non-ASCII bytes, or one punctuation byte. Each piece is one token whose id is
 * a hash of its bytes, so identical text gives identical ids and a shared prefix that ends at a
 * piece boundary gives a shared id prefix. */
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/xalloc.h"

#define APPROX_SPECIAL_IDS 256u
#define APPROX_WORD_MAX    6u

struct tokenizer {
    uint32_t vocab;
};

void tokenizer_ids_push(struct token_ids *v, uint32_t id)
{
    if (v->len == v->cap)
        xalloc_grow((void **)&v->ids, &v->cap, v->len + 1, sizeof(*v->ids));
    v->ids[v->len++] = id;
}

void tokenizer_ids_fini(struct token_ids *v)
{
    free(v->ids);
    *v = (struct token_ids){ 0 };
}

struct tokenizer *tokenizer_new_approx(uint32_t vocab)
{
    struct tokenizer *t = xcalloc(1, sizeof(*t));
    t->vocab = vocab > 2 * APPROX_SPECIAL_IDS ? vocab : 2 * APPROX_SPECIAL_IDS;
    return t;
}

int tokenizer_new_from_file(const char *path, struct tokenizer **ret, struct diag *d)
{
    (void)ret;
    diag_file(d, path);
    return diag_set(d, -EOPNOTSUPP, 0, 0, "the BPE tokenizer.json loader is not built yet");
}

void tokenizer_free(struct tokenizer *t)
{
    free(t);
}

bool tokenizer_is_exact(const struct tokenizer *t)
{
    (void)t;
    return false;
}

const char *tokenizer_kind(const struct tokenizer *t)
{
    (void)t;
    return "approx";
}

uint32_t tokenizer_vocab_size(const struct tokenizer *t)
{
    return t->vocab;
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Length of a special token "<|...|>" at p, or 0. */
static size_t special_len(const char *p, size_t left)
{
    if (left < 4 || p[0] != '<' || p[1] != '|')
        return 0;
    for (size_t i = 2; i + 1 < left && i < 64; i++) {
        if (p[i] == '|' && p[i + 1] == '>')
            return i + 2;
        if (is_space((unsigned char)p[i]) || p[i] == '<')
            return 0;
    }
    return 0;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool parse_special,
                     struct token_ids *out)
{
    if (len > TOKENIZER_MAX_INPUT_BYTES)
        return -EMSGSIZE;
    uint32_t regular = t->vocab - APPROX_SPECIAL_IDS;
    size_t i = 0;
    while (i < len) {
        const unsigned char *p = (const unsigned char *)text + i;
        size_t left = len - i, n = 0;
        size_t sl = parse_special ? special_len(text + i, left) : 0;
        if (sl) {
            uint64_t h = XXH3_64bits(p, sl);
            tokenizer_ids_push(out, regular + (uint32_t)(h % APPROX_SPECIAL_IDS));
            i += sl;
            continue;
        }
        if (p[0] == ' ' && left > 1 && is_word(p[1])) {
            n = 1;
            while (n < left && n < APPROX_WORD_MAX + 1 && is_word(p[n]))
                n++;
        } else if (is_word(p[0])) {
            while (n < left && n < APPROX_WORD_MAX && is_word(p[n]))
                n++;
        } else if (is_space(p[0])) {
            while (n < left && is_space(p[n]) &&
                   !(p[n] == ' ' && n + 1 < left && is_word(p[n + 1])))
                n++;
            if (n == 0)
                n = 1;
        } else {
            n = 1;
        }
        uint64_t h = XXH3_64bits(p, n);
        tokenizer_ids_push(out, (uint32_t)(h % regular));
        i += n;
    }
    return 0;
}

int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct buf *out)
{
    (void)out;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= t->vocab)
            return -EINVAL;
    return -EOPNOTSUPP;
}

size_t tokenizer_count(const struct tokenizer *t, const char *text, size_t len)
{
    struct token_ids v = { 0 };
    tokenizer_encode(t, text, len, true, &v);
    size_t n = v.len;
    tokenizer_ids_fini(&v);
    return n;
}
