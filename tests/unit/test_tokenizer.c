/* SPDX-License-Identifier: Apache-2.0 */
/* Exact BPE on a small byte-level tokenizer.json built here (all 256 bytes, a few merges, added
 * tokens, a Split regex): merges by rank, ignore_merges, added/special tokens, decode, and the
 * loader's errors naming the field. Also the approximate tokenizer's prefix stability. Parity
 * with real Llama 3 / o200k vocabularies is tests/e2e/tokenize_parity.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonx.h"
#include "tokenizer/tokenizer.h"

/* GPT-2 byte-level string of one byte. */
static void level(unsigned b, char out[4])
{
    unsigned n = 0, cp = 0;
    for (unsigned x = 0; x < 256; x++) {
        bool keep = (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae;
        if (x == b) {
            cp = keep ? x : 256 + n;
            break;
        }
        if (!keep)
            n++;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    }
}

/* vocab: bytes 0..255 = ids 0..255, then "ab"=256, "abc"=257, "Ġa"=258, "bc"=259, "cc"=260;
 * merges in rank order: "b c", "a b", "a bc", "ab c", "Ġ a", "c c". */
static json_t *tiny_json(bool ignore_merges)
{
    json_t *vocab = json_object();
    for (unsigned b = 0; b < 256; b++) {
        char s[4];
        level(b, s);
        json_object_set_new(vocab, s, json_integer(b));
    }
    json_object_set_new(vocab, "ab", json_integer(256));
    json_object_set_new(vocab, "abc", json_integer(257));
    json_object_set_new(vocab,
                        "\xc4\xa0"
                        "a",
                        json_integer(258));
    json_object_set_new(vocab, "bc", json_integer(259));
    json_object_set_new(vocab, "cc", json_integer(260));
    json_t *merges = json_pack("[s,s,s,s,s,s]", "b c", "a b", "a bc", "ab c", "\xc4\xa0 a", "c c");
    return json_pack("{s:o,s:n,s:{s:s,s:[{s:s,s:{s:s},s:s},{s:s,s:b}]},s:{s:s,s:o,s:o,s:b}}",
                     "added_tokens",
                     json_pack("[{s:i,s:s,s:b},{s:i,s:s,s:b}]", "id", 300, "content", "<|eot|>",
                               "special", 1, "id", 301, "content", "<x>", "special", 0),
                     "normalizer", "pre_tokenizer", "type", "Sequence", "pretokenizers", "type",
                     "Split", "pattern", "Regex", " ?[a-z]+| ?[^a-z ]+|\\s+", "behavior",
                     "Isolated", "type", "ByteLevel", "use_regex", 0, "model", "type", "BPE",
                     "vocab", vocab, "merges", merges, "ignore_merges", ignore_merges);
}

static struct tokenizer *load(json_t *j, struct diag *d, int *ret_rc)
{
    char *s = json_dumps(j, JSON_COMPACT);
    struct tokenizer *t = NULL;
    *ret_rc = tokenizer_new_from_json(s, strlen(s), &t, d);
    free(s);
    json_decref(j);
    return t;
}

struct enc_case {
    const char *text;
    bool special;
    bool ignore_merges;
    uint32_t ids[12];
    size_t n;
};

static const struct enc_case enc_cases[] = {
    /* "b c" (rank 0) beats "a b" (rank 1): a|bc then "a bc" (rank 2) -> abc */
    { "abc", true, false, { 257 }, 1 },
    { "ab", true, false, { 256 }, 1 },
    { "ccc", true, false, { 260, 'c' }, 2 },       /* leftmost pair merges first on ties */
    { "x ab", true, false, { 'x', ' ', 256 }, 3 }, /* " ab": a b (rank 1) before Ġ a (4) */
    { "ab<|eot|>abc", true, false, { 256, 300, 257 }, 3 },
    { "ab<|eot|>", false, false, { 256, '<', '|', 'e', 'o', 't', '|', '>' }, 8 },
    { "<x>ab", false, false, { 301, 256 }, 2 }, /* non-special added tokens always split */
    { "abc", true, true, { 257 }, 1 },          /* whole piece in vocab */
    { "\xe4\xb8\xad", true, false, { 0xe4, 0xb8, 0xad }, 3 },
};

static void test_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
        const struct enc_case *c = &enc_cases[i];
        struct diag d = { 0 };
        int rc;
        struct tokenizer *t = load(tiny_json(c->ignore_merges), &d, &rc);
        assert_int_equal(rc, 0);
        assert_true(tokenizer_is_exact(t));
        assert_string_equal(tokenizer_kind(t), "bpe");
        assert_int_equal(tokenizer_vocab_size(t), 302);
        struct token_ids v = { 0 };
        assert_int_equal(tokenizer_encode(t, c->text, strlen(c->text), c->special, &v), 0);
        if (v.len != c->n)
            fail_msg("case %zu (%s): %zu ids, want %zu", i, c->text, v.len, c->n);
        for (size_t k = 0; k < c->n; k++)
            if (v.ids[k] != c->ids[k])
                fail_msg("case %zu id %zu: %u want %u", i, k, v.ids[k], c->ids[k]);
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(tokenizer_decode(t, v.ids, v.len, &b), 0);
        assert_int_equal(b.len, strlen(c->text));
        assert_memory_equal(b.data, c->text, b.len);
        uint32_t bad = 5000;
        assert_int_equal(tokenizer_decode(t, &bad, 1, &b), -EINVAL);
        assert_int_equal(tokenizer_token_id(t, "<|eot|>"), 300);
        assert_int_equal(tokenizer_token_id(t, "abc"), 257);
        assert_int_equal(tokenizer_token_id(t, "zzz"), UINT32_MAX);
        buf_fini(&b);
        tokenizer_ids_fini(&v);
        tokenizer_free(t);
    }
}

/* A piece longer than the short-path limit goes through the heap merge: same result. */
static void test_long_piece(void **state)
{
    (void)state;
    struct diag d = { 0 };
    int rc;
    struct tokenizer *t = load(tiny_json(false), &d, &rc);
    assert_int_equal(rc, 0);
    char text[601];
    for (int i = 0; i < 600; i++)
        text[i] = "abc"[i % 3];
    text[600] = 0;
    struct token_ids v = { 0 };
    assert_int_equal(tokenizer_encode(t, text, 600, true, &v), 0);
    assert_int_equal(v.len, 200);
    for (size_t i = 0; i < v.len; i++)
        assert_int_equal(v.ids[i], 257);
    tokenizer_ids_fini(&v);
    memset(text, 'c', 600);
    assert_int_equal(tokenizer_encode(t, text, 600, true, &v), 0);
    assert_int_equal(v.len, 300);
    tokenizer_ids_fini(&v);
    tokenizer_free(t);
}

struct err_case {
    const char *path; /* dotted key to replace */
    const char *json; /* replacement value */
    int err;
    const char *msg; /* substring of the diagnostic */
};

static const struct err_case err_cases[] = {
    { "model", "5", -EINVAL, "model must be an object" },
    { "model.type", "\"WordPiece\"", -EINVAL, "BPE only" },
    { "model.vocab", "{}", -EINVAL, "model.vocab" },
    { "model.merges", "[\"a\"]", -EINVAL, "model.merges[0]" },
    { "model.merges", "[\"a zz\"]", -EINVAL, "model.merges[0]" },
    { "model.merges", "[\"c a\"]", -EINVAL, "merged token is not in model.vocab" },
    { "normalizer", "{\"type\":\"NFC\"}", -EINVAL, "normalizer" },
    { "pre_tokenizer", "{\"type\":\"Whitespace\"}", -EINVAL, "Whitespace" },
    { "pre_tokenizer", "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"}}", -EINVAL,
      "does not compile" },
    { "pre_tokenizer", "null", -EINVAL, "ByteLevel" },
    { "added_tokens", "[{\"id\":-1,\"content\":\"x\"}]", -EINVAL, "added_tokens[0].id" },
    { "added_tokens", "[{\"id\":1,\"content\":\"\"}]", -EINVAL, "added_tokens[0].content" },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *c = &err_cases[i];
        json_t *j = tiny_json(false);
        char key[64];
        snprintf(key, sizeof(key), "%s", c->path);
        char *dot = strrchr(key, '.');
        json_t *parent = j;
        if (dot) {
            *dot = 0;
            parent = json_object_get(j, key);
        }
        json_object_set_new(parent, dot ? dot + 1 : key,
                            json_loads(c->json, JSON_DECODE_ANY, NULL));
        struct diag d = { 0 };
        int rc;
        struct tokenizer *t = load(j, &d, &rc);
        if (rc != c->err || !strstr(d.msg, c->msg))
            fail_msg("case %zu (%s): rc %d msg '%s'", i, c->path, rc, d.msg);
        assert_null(t);
    }
    struct diag d = { 0 };
    struct tokenizer *t = NULL;
    assert_int_equal(tokenizer_new_from_file("/nonexistent/tokenizer.json", &t, &d), -ENOENT);
    assert_string_equal(d.file, "/nonexistent/tokenizer.json");
    assert_int_equal(tokenizer_new_from_json("{", 1, &t, &d), -EINVAL);
    assert_int_equal(tokenizer_new_from_json("{}", TOKENIZER_MAX_FILE_BYTES + 1u, &t, &d),
                     -EMSGSIZE);
}

static void test_approx(void **state)
{
    (void)state;
    struct tokenizer *t = tokenizer_new_approx(32000);
    assert_false(tokenizer_is_exact(t));
    assert_string_equal(tokenizer_kind(t), "approx");
    const char *a = "<|eot_id|>shared system prompt. First question";
    const char *b = "<|eot_id|>shared system prompt. Second one";
    struct token_ids va = { 0 }, vb = { 0 };
    assert_int_equal(tokenizer_encode(t, a, strlen(a), true, &va), 0);
    assert_int_equal(tokenizer_encode(t, b, strlen(b), true, &vb), 0);
    assert_true(va.len >= 6 && vb.len >= 6);
    assert_memory_equal(va.ids, vb.ids, 5 * sizeof(uint32_t));
    assert_int_not_equal(va.ids[5], vb.ids[5]);
    for (size_t i = 0; i < va.len; i++)
        assert_true(va.ids[i] < 32000);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(tokenizer_decode(t, va.ids, va.len, &out), -EOPNOTSUPP);
    buf_fini(&out);
    assert_int_equal(tokenizer_count(t, a, strlen(a)), va.len);
    assert_int_equal(tokenizer_encode(t, a, TOKENIZER_MAX_INPUT_BYTES + 1u, true, &va), -EMSGSIZE);
    tokenizer_ids_fini(&va);
    tokenizer_ids_fini(&vb);
    tokenizer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_long_piece),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_approx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
