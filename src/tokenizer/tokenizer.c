/* SPDX-License-Identifier: Apache-2.0 */
/* Two tokenizers behind one interface (see tokenizer.h).
 *
 * Exact: byte-level BPE as Hugging Face `tokenizers` runs it for Llama 3 and o200k_harmony.
 * 1. Added tokens (tokenizer.json "added_tokens") split the text first: with parse_special all
 *    of them, otherwise only the non-special ones; the longest match at a position wins.
 * 2. Each remaining segment is cut into pieces by the pre-tokenizer regex (a "Split" with
 *    behaviour Isolated, compiled once with PCRE2 in UTF + UCP mode, JIT when available); text
 *    between matches is a piece of its own.
 * 3. Each piece is looked up whole when the model sets ignore_merges (Llama 3); otherwise, or
 *    when absent, it starts as one symbol per byte and the adjacent pair with the lowest merge
 *    rank (index in "merges") is merged, leftmost first on ties, until no pair has a rank.
 * The vocabulary is stored as raw bytes (the GPT-2 byte-to-unicode mapping of the file is
 * undone at load), so decode is a concatenation.
 *
 * Approximate: pieces are a special token "<|...|>" (when parse_special), a run of whitespace,
 * an optional single space followed by up to six letters/digits/non-ASCII bytes, or one
 * punctuation byte. Each piece is one token whose id is a hash of its bytes, so identical text
 * gives identical ids and a shared prefix that ends at a piece boundary gives a shared id
 * prefix. */
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pcre2.h>
#include <xxhash.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

#define APPROX_SPECIAL_IDS 256u
#define APPROX_WORD_MAX    6u
#define BPE_SHORT_PIECE    96u /* pieces up to this many bytes use the quadratic merge loop */

struct added_token {
    uint32_t id;
    bool special;
    char *content; /* owned */
    size_t len;
};

struct tokenizer {
    bool exact;
    uint32_t vocab;       /* ids are < vocab (model vocabulary and added tokens) */
    uint32_t model_vocab; /* ids < model_vocab have an entry in tok_off */
    /* BPE only */
    uint8_t *bytes;    /* owned; token bytes back to back */
    size_t bytes_len;  /* used bytes of `bytes` */
    uint64_t *tok_off; /* owned; per id: offset << 16 | length; UINT64_MAX = no token */
    uint32_t *vmap;    /* owned; open addressing bytes -> id + 1 (0 = empty) */
    size_t vmap_mask;  /* slots - 1 */
    uint64_t *mkeys;   /* owned; merge table keys (left << 32 | right), UINT64_MAX = empty */
    uint64_t *mvals;   /* owned; rank << 32 | result id */
    size_t mmask;      /* slots - 1 */
    uint32_t byte_id[256];
    bool ignore_merges;
    struct added_token *added; /* owned */
    size_t n_added;
    uint8_t added_first[256];  /* bit 0: some added token starts with this byte; bit 1: special */
    uint32_t added_start[257]; /* added[] sorted by (first byte, length desc): byte b's range */
    int32_t *added_of_id;      /* owned; id -> index into added[], -1 = none; vocab entries */
    size_t added_max_len;
    pcre2_code *re; /* owned; NULL = whole segment is one piece */
    char pattern_kind[16];
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

void tokenizer_free(struct tokenizer *t)
{
    if (!t)
        return;
    free(t->bytes);
    free(t->tok_off);
    free(t->vmap);
    free(t->mkeys);
    free(t->mvals);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    free(t->added_of_id);
    pcre2_code_free(t->re);
    free(t);
}

bool tokenizer_is_exact(const struct tokenizer *t)
{
    return t->exact;
}

const char *tokenizer_kind(const struct tokenizer *t)
{
    return t->exact ? "bpe" : "approx";
}

uint32_t tokenizer_vocab_size(const struct tokenizer *t)
{
    return t->vocab;
}

/* ---- loading -------------------------------------------------------------------------- */

/* GPT-2 byte-level mapping: printable bytes map to themselves, the rest to U+0100.. in order. */
static void byte_level_table(uint32_t cp_of_byte[256])
{
    unsigned n = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
        cp_of_byte[b] = keep ? b : 256 + n++;
    }
}

/* Decodes one UTF-8 code point at s[*i..len); -1 when malformed. */
static int32_t utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i;
    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }
    int n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || left < (size_t)n)
        return -1;
    int32_t cp = p[0] & (0x7f >> n);
    for (int k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    *i += (size_t)n;
    return cp;
}

/* Undoes the byte-level mapping of a vocabulary string into out (cap bytes); returns the byte
 * length or -EINVAL when a character is outside the mapping. */
static int byte_level_decode(const uint8_t byte_of_cp[324], const char *s, size_t len, uint8_t *out,
                             size_t cap)
{
    size_t i = 0, n = 0;
    while (i < len) {
        int32_t cp = utf8_next(s, len, &i);
        if (cp < 0 || cp >= 324 || (byte_of_cp[cp] == 0 && cp != 256) || n >= cap)
            return -EINVAL;
        out[n++] = byte_of_cp[cp];
    }
    return (int)n;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static uint32_t vmap_find(const struct tokenizer *t, const uint8_t *p, size_t n)
{
    size_t h = (size_t)hash_bytes(p, n) & t->vmap_mask;
    for (;;) {
        uint32_t e = t->vmap[h];
        if (e == 0)
            return UINT32_MAX;
        uint64_t o = t->tok_off[e - 1];
        if ((o & 0xffff) == n && memcmp(t->bytes + (o >> 16), p, n) == 0)
            return e - 1;
        h = (h + 1) & t->vmap_mask;
    }
}

static void vmap_insert(struct tokenizer *t, uint32_t id)
{
    uint64_t o = t->tok_off[id];
    size_t h = (size_t)hash_bytes(t->bytes + (o >> 16), o & 0xffff) & t->vmap_mask;
    while (t->vmap[h] != 0)
        h = (h + 1) & t->vmap_mask;
    t->vmap[h] = id + 1;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static bool merge_find(const struct tokenizer *t, uint32_t a, uint32_t b, uint32_t *rank,
                       uint32_t *result)
{
    if (!t->mkeys)
        return false;
    uint64_t key = (uint64_t)a << 32 | b;
    size_t h = (size_t)mix64(key) & t->mmask;
    for (;;) {
        uint64_t k = t->mkeys[h];
        if (k == UINT64_MAX)
            return false;
        if (k == key) {
            *rank = (uint32_t)(t->mvals[h] >> 32);
            *result = (uint32_t)t->mvals[h];
            return true;
        }
        h = (h + 1) & t->mmask;
    }
}

/* Inserts a merge unless the pair has one already (the first, lowest rank, wins). */
static void merge_insert(struct tokenizer *t, uint32_t a, uint32_t b, uint32_t rank,
                         uint32_t result)
{
    uint64_t key = (uint64_t)a << 32 | b;
    size_t h = (size_t)mix64(key) & t->mmask;
    while (t->mkeys[h] != UINT64_MAX) {
        if (t->mkeys[h] == key)
            return;
        h = (h + 1) & t->mmask;
    }
    t->mkeys[h] = key;
    t->mvals[h] = (uint64_t)rank << 32 | result;
}

struct loader {
    uint32_t cp_of_byte[256];
    uint8_t byte_of_cp[324];
    uint8_t tmp[TOKENIZER_MAX_TOKEN_BYTES];
};

/* Looks up a vocabulary string (byte-level form) and returns its id or UINT32_MAX. */
static uint32_t lookup_level(const struct tokenizer *t, struct loader *L, const char *s, size_t len)
{
    int n = byte_level_decode(L->byte_of_cp, s, len, L->tmp, sizeof(L->tmp));
    if (n <= 0)
        return UINT32_MAX;
    return vmap_find(t, L->tmp, (size_t)n);
}

static int load_vocab(struct tokenizer *t, struct loader *L, const json_t *vocab, struct diag *d)
{
    size_t n = json_object_size(vocab);
    if (n == 0 || n > TOKENIZER_MAX_VOCAB)
        return diag_set(d, n ? -EMSGSIZE : -EINVAL, 0, 0,
                        "model.vocab must hold 1..%u entries (has %zu)", TOKENIZER_MAX_VOCAB, n);
    uint32_t max_id = 0;
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= (json_int_t)TOKENIZER_MAX_VOCAB)
            return diag_set(d, -EINVAL, 0, 0, "model.vocab[\"%.40s\"] must be an id in 0..%u", key,
                            TOKENIZER_MAX_VOCAB - 1);
        if ((uint32_t)json_integer_value(v) > max_id)
            max_id = (uint32_t)json_integer_value(v);
    }
    t->vocab = max_id + 1;
    t->model_vocab = t->vocab;
    t->tok_off = xmalloc((size_t)t->vocab * sizeof(*t->tok_off));
    for (uint32_t i = 0; i < t->vocab; i++)
        t->tok_off[i] = UINT64_MAX;
    size_t cap = 0;
    json_object_foreach ((json_t *)vocab, key, v) {
        uint32_t id = (uint32_t)json_integer_value(v);
        int len = byte_level_decode(L->byte_of_cp, key, strlen(key), L->tmp, sizeof(L->tmp));
        if (len <= 0)
            return diag_set(d, -EINVAL, 0, 0,
                            "model.vocab[\"%.40s\"] is not a byte-level token (only byte-level "
                            "BPE is supported)",
                            key);
        if (t->tok_off[id] != UINT64_MAX)
            return diag_set(d, -EINVAL, 0, 0, "model.vocab: id %u appears twice", id);
        xalloc_grow((void **)&t->bytes, &cap, t->bytes_len + (size_t)len, 1);
        memcpy(t->bytes + t->bytes_len, L->tmp, (size_t)len);
        t->tok_off[id] = (uint64_t)t->bytes_len << 16 | (uint64_t)len;
        t->bytes_len += (size_t)len;
    }
    t->vmap_mask = pow2_at_least(2 * n) - 1;
    t->vmap = xcalloc(t->vmap_mask + 1, sizeof(*t->vmap));
    for (uint32_t id = 0; id < t->vocab; id++) {
        if (t->tok_off[id] == UINT64_MAX)
            continue;
        uint64_t o = t->tok_off[id];
        if (vmap_find(t, t->bytes + (o >> 16), o & 0xffff) != UINT32_MAX)
            return diag_set(d, -EINVAL, 0, 0, "model.vocab: two ids for the same bytes (id %u)",
                            id);
        vmap_insert(t, id);
    }
    for (unsigned b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = vmap_find(t, &c, 1);
        if (t->byte_id[b] == UINT32_MAX)
            return diag_set(d, -EINVAL, 0, 0,
                            "model.vocab lacks the single-byte token for byte 0x%02x", b);
    }
    return 0;
}

/* One merge entry: "left right" or ["left", "right"]. */
static int merge_parts(const json_t *m, size_t idx, const char **a, size_t *alen, const char **b,
                       size_t *blen, struct diag *d)
{
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        const char *sp = strchr(s, ' ');
        if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' '))
            return diag_set(d, -EINVAL, 0, 0, "model.merges[%zu] must be \"left right\"", idx);
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = strlen(sp + 1);
        return 0;
    }
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *alen = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *blen = json_string_length(json_array_get(m, 1));
        return 0;
    }
    return diag_set(d, -EINVAL, 0, 0, "model.merges[%zu] must be a string or a pair", idx);
}

static int load_merges(struct tokenizer *t, struct loader *L, const json_t *merges, struct diag *d)
{
    size_t n = json_array_size(merges);
    if (n > TOKENIZER_MAX_VOCAB)
        return diag_set(d, -EMSGSIZE, 0, 0, "model.merges has %zu entries (limit %u)", n,
                        TOKENIZER_MAX_VOCAB);
    if (n == 0)
        return 0;
    t->mmask = pow2_at_least(2 * n) - 1;
    t->mkeys = xmalloc((t->mmask + 1) * sizeof(*t->mkeys));
    t->mvals = xmalloc((t->mmask + 1) * sizeof(*t->mvals));
    for (size_t i = 0; i <= t->mmask; i++)
        t->mkeys[i] = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        int r = merge_parts(json_array_get(merges, i), i, &a, &alen, &b, &blen, d);
        if (r < 0)
            return r;
        uint32_t ia = lookup_level(t, L, a, alen), ib = lookup_level(t, L, b, blen);
        if (ia == UINT32_MAX || ib == UINT32_MAX)
            return diag_set(d, -EINVAL, 0, 0, "model.merges[%zu]: a part is not in model.vocab", i);
        uint64_t oa = t->tok_off[ia], ob = t->tok_off[ib];
        size_t la = oa & 0xffff, lb = ob & 0xffff;
        if (la + lb > TOKENIZER_MAX_TOKEN_BYTES)
            return diag_set(d, -EMSGSIZE, 0, 0, "model.merges[%zu] is too long", i);
        memcpy(L->tmp, t->bytes + (oa >> 16), la);
        memcpy(L->tmp + la, t->bytes + (ob >> 16), lb);
        uint32_t res = vmap_find(t, L->tmp, la + lb);
        if (res == UINT32_MAX)
            return diag_set(d, -EINVAL, 0, 0,
                            "model.merges[%zu]: the merged token is not in model.vocab", i);
        merge_insert(t, ia, ib, (uint32_t)i, res);
    }
    return 0;
}

static int cmp_added(const void *pa, const void *pb)
{
    const struct added_token *a = pa, *b = pb;
    unsigned char ca = (unsigned char)a->content[0], cb = (unsigned char)b->content[0];
    if (ca != cb)
        return ca < cb ? -1 : 1;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int load_added(struct tokenizer *t, const json_t *added, struct diag *d)
{
    if (!added || json_is_null(added))
        return 0;
    if (!json_is_array(added))
        return diag_set(d, -EINVAL, 0, 0, "added_tokens must be an array");
    size_t n = json_array_size(added);
    if (n > TOKENIZER_MAX_VOCAB)
        return diag_set(d, -EMSGSIZE, 0, 0, "added_tokens has %zu entries", n);
    t->added = xcalloc(n ? n : 1, sizeof(*t->added));
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *id = json_object_get(a, "id");
        const json_t *content = json_object_get(a, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= (json_int_t)TOKENIZER_MAX_VOCAB)
            return diag_set(d, -EINVAL, 0, 0, "added_tokens[%zu].id must be an id", i);
        if (!json_is_string(content) || json_string_length(content) == 0 ||
            json_string_length(content) > TOKENIZER_MAX_TOKEN_BYTES)
            return diag_set(d, -EINVAL, 0, 0,
                            "added_tokens[%zu].content must be a non-empty string", i);
        struct added_token *at = &t->added[t->n_added++];
        at->id = (uint32_t)json_integer_value(id);
        at->special = jsonx_bool(a, "special", true);
        at->len = json_string_length(content);
        at->content = xalloc_strndup(json_string_value(content), at->len);
        unsigned char c0 = (unsigned char)at->content[0];
        t->added_first[c0] |= at->special ? 2 : 1;
        if (at->len > t->added_max_len)
            t->added_max_len = at->len;
        if (at->id >= t->vocab)
            t->vocab = at->id + 1;
    }
    qsort(t->added, t->n_added, sizeof(*t->added), cmp_added);
    for (unsigned b = 0, i = 0; b <= 256; b++) {
        while (i < t->n_added && (unsigned char)t->added[i].content[0] < b)
            i++;
        t->added_start[b] = i;
    }
    t->added_of_id = xmalloc((size_t)t->vocab * sizeof(*t->added_of_id));
    for (uint32_t i = 0; i < t->vocab; i++)
        t->added_of_id[i] = -1;
    for (size_t i = 0; i < t->n_added; i++)
        t->added_of_id[t->added[i].id] = (int32_t)i;
    return 0;
}

static int compile_pattern(struct tokenizer *t, const char *pattern, struct diag *d)
{
    int err = 0;
    PCRE2_SIZE off = 0;
    t->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!t->re) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer pattern does not compile at %zu: %s",
                        (size_t)off, (const char *)msg);
    }
    (void)pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* interpreter when JIT is absent */
    return 0;
}

/* GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_pretok(struct tokenizer *t, const json_t *p, int depth, bool *byte_level,
                       struct diag *d)
{
    if (!p || json_is_null(p))
        return 0;
    const char *type = jsonx_str(p, "type", "");
    if (depth > 4)
        return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer is nested too deeply");
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list))
            return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer.pretokenizers must be an array");
        size_t i;
        json_t *e;
        json_array_foreach (list, i, e) {
            int r = load_pretok(t, e, depth + 1, byte_level, d);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const char *re = jsonx_str(json_object_get(p, "pattern"), "Regex", NULL);
        const char *behavior = jsonx_str(p, "behavior", "Isolated");
        if (!re)
            return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer Split needs pattern.Regex");
        if (strcmp(behavior, "Isolated") != 0 || jsonx_bool(p, "invert", false))
            return diag_set(d, -EINVAL, 0, 0,
                            "pre_tokenizer Split behavior %s is not supported (Isolated only)",
                            behavior);
        if (t->re)
            return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer has more than one split regex");
        snprintf(t->pattern_kind, sizeof(t->pattern_kind), "split");
        return compile_pattern(t, re, d);
    }
    if (!strcmp(type, "ByteLevel")) {
        *byte_level = true;
        if (jsonx_bool(p, "add_prefix_space", false))
            return diag_set(d, -EINVAL, 0, 0,
                            "pre_tokenizer ByteLevel.add_prefix_space is not supported");
        if (jsonx_bool(p, "use_regex", true)) {
            if (t->re)
                return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer has more than one regex");
            snprintf(t->pattern_kind, sizeof(t->pattern_kind), "gpt2");
            return compile_pattern(t, gpt2_pattern, d);
        }
        return 0;
    }
    return diag_set(d, -EINVAL, 0, 0, "pre_tokenizer type \"%.40s\" is not supported", type);
}

int tokenizer_new_from_json(const char *text, size_t len, struct tokenizer **ret, struct diag *d)
{
    json_t *root = NULL;
    struct tokenizer *t = NULL;
    struct loader *L = NULL;
    int r;
    if (len > TOKENIZER_MAX_FILE_BYTES) {
        r = diag_set(d, -EMSGSIZE, 0, 0, "tokenizer.json is larger than %u bytes",
                     TOKENIZER_MAX_FILE_BYTES);
        goto out;
    }
    r = jsonx_parse(text, len, &root, d);
    if (r < 0)
        goto out;
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) {
        r = diag_set(d, -EINVAL, 0, 0, "model must be an object");
        goto out;
    }
    const char *type = jsonx_str(model, "type", "BPE");
    if (strcmp(type, "BPE") != 0) {
        r = diag_set(d, -EINVAL, 0, 0, "model.type \"%.40s\" is not supported (BPE only)", type);
        goto out;
    }
    const json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        r = diag_set(d, -EINVAL, 0, 0, "normalizer \"%.40s\" is not supported (none only)",
                     jsonx_str(norm, "type", "?"));
        goto out;
    }
    if (!json_is_object(json_object_get(model, "vocab")) ||
        !json_is_array(json_object_get(model, "merges"))) {
        r = diag_set(d, -EINVAL, 0, 0, "model.vocab must be an object and model.merges an array");
        goto out;
    }
    L = xcalloc(1, sizeof(*L));
    byte_level_table(L->cp_of_byte);
    for (unsigned b = 0; b < 256; b++)
        L->byte_of_cp[L->cp_of_byte[b]] = (uint8_t)b;
    t = xcalloc(1, sizeof(*t));
    t->exact = true;
    t->ignore_merges = jsonx_bool(model, "ignore_merges", false);
    r = load_vocab(t, L, json_object_get(model, "vocab"), d);
    if (r == 0)
        r = load_merges(t, L, json_object_get(model, "merges"), d);
    if (r == 0)
        r = load_added(t, json_object_get(root, "added_tokens"), d);
    bool byte_level = false;
    if (r == 0)
        r = load_pretok(t, json_object_get(root, "pre_tokenizer"), 0, &byte_level, d);
    if (r == 0 && !byte_level)
        r = diag_set(d, -EINVAL, 0, 0,
                     "pre_tokenizer has no ByteLevel step (only byte-level BPE is supported)");
    if (r < 0)
        goto out;
    *ret = t;
    t = NULL;
out:
    free(L);
    tokenizer_free(t);
    json_decref(root);
    return r;
}

int tokenizer_new_from_file(const char *path, struct tokenizer **ret, struct diag *d)
{
    struct buf b;
    buf_init(&b, TOKENIZER_MAX_FILE_BYTES);
    diag_file(d, path);
    int r = fileio_read_all(path, TOKENIZER_MAX_FILE_BYTES, &b);
    if (r == -ENOENT)
        r = diag_set(d, r, 0, 0, "no such tokenizer file");
    else if (r == -EMSGSIZE)
        r = diag_set(d, r, 0, 0, "tokenizer file is larger than %u bytes",
                     TOKENIZER_MAX_FILE_BYTES);
    else if (r < 0)
        r = diag_set(d, r, 0, 0, "cannot read tokenizer file: %s", strerror(-r));
    else
        r = tokenizer_new_from_json((const char *)b.data, b.len, ret, d);
    buf_fini(&b);
    return r;
}

/* ---- BPE encoding --------------------------------------------------------------------- */

struct sym {
    uint32_t id;
    int32_t prev, next; /* -1 = none */
};

struct heap_ent {
    uint32_t rank;
    uint32_t pos;  /* index of the left symbol */
    uint32_t left; /* ids at push time, to detect stale entries */
    uint32_t right;
};

struct work {
    struct sym *syms;
    size_t syms_cap;
    struct heap_ent *heap;
    size_t heap_len, heap_cap;
};

static bool heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct work *w, struct heap_ent e)
{
    if (w->heap_len == w->heap_cap)
        xalloc_grow((void **)&w->heap, &w->heap_cap, w->heap_len + 1, sizeof(*w->heap));
    size_t i = w->heap_len++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &w->heap[p]))
            break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = e;
}

static struct heap_ent heap_pop(struct work *w)
{
    struct heap_ent top = w->heap[0], last = w->heap[--w->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->heap_len)
            break;
        if (c + 1 < w->heap_len && heap_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!heap_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_len)
        w->heap[i] = last;
    return top;
}

static void push_pair(const struct tokenizer *t, struct work *w, int32_t pos)
{
    struct sym *s = w->syms;
    if (pos < 0 || s[pos].next < 0)
        return;
    uint32_t rank, res;
    if (merge_find(t, s[pos].id, s[s[pos].next].id, &rank, &res))
        heap_push(w, (struct heap_ent){ .rank = rank,
                                        .pos = (uint32_t)pos,
                                        .left = s[pos].id,
                                        .right = s[s[pos].next].id });
}

/* Merges a long piece with a heap: O(n log n). */
static void bpe_long(const struct tokenizer *t, struct work *w, size_t n, struct token_ids *out)
{
    struct sym *s = w->syms;
    w->heap_len = 0;
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(t, w, (int32_t)i);
    while (w->heap_len) {
        struct heap_ent e = heap_pop(w);
        int32_t p = (int32_t)e.pos;
        if (s[p].id == UINT32_MAX || s[p].id != e.left || s[p].next < 0 ||
            s[s[p].next].id != e.right)
            continue; /* stale */
        uint32_t rank, res;
        merge_find(t, e.left, e.right, &rank, &res);
        int32_t q = s[p].next;
        s[p].id = res;
        s[p].next = s[q].next;
        if (s[q].next >= 0)
            s[s[q].next].prev = p;
        s[q].id = UINT32_MAX;
        push_pair(t, w, s[p].prev);
        push_pair(t, w, p);
    }
    for (int32_t i = 0; i >= 0; i = s[i].next)
        tokenizer_ids_push(out, s[i].id);
}

/* Merges a short piece by repeated scans: fast for the common few-byte case. */
static void bpe_short(const struct tokenizer *t, uint32_t *ids, size_t n, struct token_ids *out)
{
    for (;;) {
        uint32_t best = UINT32_MAX, best_res = 0;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            uint32_t rank, res;
            if (merge_find(t, ids[i], ids[i + 1], &rank, &res) && rank < best) {
                best = rank;
                best_res = res;
                at = i;
            }
        }
        if (best == UINT32_MAX)
            break;
        ids[at] = best_res;
        memmove(ids + at + 1, ids + at + 2, (n - at - 2) * sizeof(*ids));
        n--;
    }
    for (size_t i = 0; i < n; i++)
        tokenizer_ids_push(out, ids[i]);
}

static void bpe_piece(const struct tokenizer *t, struct work *w, const uint8_t *p, size_t n,
                      struct token_ids *out)
{
    if (n == 0)
        return;
    if (t->ignore_merges || n == 1) {
        uint32_t id = n <= TOKENIZER_MAX_TOKEN_BYTES ? vmap_find(t, p, n) : UINT32_MAX;
        if (id != UINT32_MAX) {
            tokenizer_ids_push(out, id);
            return;
        }
    }
    if (n <= BPE_SHORT_PIECE) {
        uint32_t ids[BPE_SHORT_PIECE];
        for (size_t i = 0; i < n; i++)
            ids[i] = t->byte_id[p[i]];
        bpe_short(t, ids, n, out);
        return;
    }
    if (n > w->syms_cap)
        xalloc_grow((void **)&w->syms, &w->syms_cap, n, sizeof(*w->syms));
    for (size_t i = 0; i < n; i++)
        w->syms[i] = (struct sym){ .id = t->byte_id[p[i]],
                                   .prev = (int32_t)i - 1,
                                   .next = i + 1 < n ? (int32_t)i + 1 : -1 };
    bpe_long(t, w, n, out);
}

/* Pre-tokenizes one segment (no added tokens inside) and encodes every piece. */
static int encode_segment(const struct tokenizer *t, struct work *w, pcre2_match_data *md,
                          const char *s, size_t len, struct token_ids *out)
{
    const uint8_t *u = (const uint8_t *)s;
    if (!t->re) {
        bpe_piece(t, w, u, len, out);
        return 0;
    }
    size_t pos = 0;
    while (pos < len) {
        int rc = pcre2_match(t->re, (PCRE2_SPTR)s, len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            bpe_piece(t, w, u + pos, len - pos, out);
            return 0;
        }
        if (rc < 0)
            return -EINVAL;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a > pos)
            bpe_piece(t, w, u + pos, a - pos, out); /* text between matches (Isolated) */
        if (b == a) {                               /* empty match: step one character */
            size_t nx = a + 1;
            while (nx < len && (u[nx] & 0xc0) == 0x80)
                nx++;
            bpe_piece(t, w, u + a, nx - a, out);
            pos = nx;
            continue;
        }
        bpe_piece(t, w, u + a, b - a, out);
        pos = b;
    }
    return 0;
}

/* The added token starting at s (longest first), or NULL. */
static const struct added_token *added_at(const struct tokenizer *t, const char *s, size_t left,
                                          bool parse_special)
{
    unsigned char c = (unsigned char)s[0];
    if (!(t->added_first[c] & (parse_special ? 3 : 1)))
        return NULL;
    for (uint32_t i = t->added_start[c]; i < t->added_start[c + 1]; i++) {
        const struct added_token *a = &t->added[i]; /* longest first */
        if (a->len <= left && (parse_special || !a->special) && memcmp(a->content, s, a->len) == 0)
            return a;
    }
    return NULL;
}

static int encode_bpe(const struct tokenizer *t, const char *text, size_t len, bool parse_special,
                      struct token_ids *out)
{
    struct work w = { 0 };
    pcre2_match_data *md = t->re ? pcre2_match_data_create_from_pattern(t->re, NULL) : NULL;
    int r = 0;
    size_t seg = 0, i = 0;
    while (i < len) {
        const struct added_token *a =
            t->n_added ? added_at(t, text + i, len - i, parse_special) : NULL;
        if (!a) {
            i++;
            continue;
        }
        r = encode_segment(t, &w, md, text + seg, i - seg, out);
        if (r < 0)
            goto out;
        tokenizer_ids_push(out, a->id);
        i += a->len;
        seg = i;
    }
    r = encode_segment(t, &w, md, text + seg, len - seg, out);
out:
    pcre2_match_data_free(md);
    free(w.syms);
    free(w.heap);
    return r;
}

/* ---- approximate ---------------------------------------------------------------------- */

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

static void encode_approx(const struct tokenizer *t, const char *text, size_t len,
                          bool parse_special, struct token_ids *out)
{
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
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool parse_special,
                     struct token_ids *out)
{
    if (len > TOKENIZER_MAX_INPUT_BYTES)
        return -EMSGSIZE;
    if (t->exact)
        return encode_bpe(t, text, len, parse_special, out);
    encode_approx(t, text, len, parse_special, out);
    return 0;
}

int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= t->vocab)
            return -EINVAL;
    if (!t->exact)
        return -EOPNOTSUPP;
    for (size_t i = 0; i < n; i++) {
        int r;
        uint64_t o = ids[i] < t->model_vocab ? t->tok_off[ids[i]] : UINT64_MAX;
        if (o != UINT64_MAX) {
            r = buf_append(out, t->bytes + (o >> 16), o & 0xffff);
        } else {
            int32_t k = t->added_of_id ? t->added_of_id[ids[i]] : -1;
            if (k < 0)
                return -EINVAL;
            const struct added_token *a = &t->added[k];
            r = buf_append(out, a->content, a->len);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

size_t tokenizer_count(const struct tokenizer *t, const char *text, size_t len)
{
    struct token_ids v = { 0 };
    tokenizer_encode(t, text, len, true, &v);
    size_t n = v.len;
    tokenizer_ids_fini(&v);
    return n;
}

uint32_t tokenizer_token_id(const struct tokenizer *t, const char *text)
{
    size_t len = strlen(text);
    const struct added_token *a = len ? added_at(t, text, len, true) : NULL;
    if (a && a->len == len)
        return a->id;
    if (!t->exact || len == 0 || len > TOKENIZER_MAX_TOKEN_BYTES)
        return UINT32_MAX;
    return vmap_find(t, (const uint8_t *)text, len);
}
