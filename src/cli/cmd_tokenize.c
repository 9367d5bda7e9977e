/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier tokenize: encode text from stdin to token ids (or a count), decode ids back to text,
 * or render chat messages through a template first. The tokenizer is an exact byte-level BPE
 * from --tokenizer FILE, or the labelled approximate tokenizer when none is given. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "tokenizer/blockhash.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

enum tok_mode {
    TOK_MODE_IDS,
    TOK_MODE_COUNT,
    TOK_MODE_DECODE,
    TOK_MODE_JSONL,
    TOK_MODE_CHAT,
    TOK_MODE_CHAT_JSONL
};

struct tok_cfg {
    const char *tokenizer;
    int mode;
    bool no_special;
    int template_idx;
    uint64_t vocab;
    uint64_t tokens_per_block;
};

static const struct opt_choice modes[] = {
    { "ids", "stdin is text; print its ids as one JSON array" },
    { "count", "stdin is text; print the number of tokens" },
    { "decode", "stdin is a JSON array of ids; print the text" },
    { "jsonl", "each stdin line is a JSON string; print one JSON array of ids per line" },
    { "chat", "stdin is a JSON messages array; render with --template, print text, ids, "
              "hash_ids" },
    { "chat-jsonl", "each stdin line is a JSON messages array; print {tokens, hash_ids} per line" },
    { NULL, NULL },
};

static const struct opt_choice templates[] = {
    { "llama3", "Llama 3 header/eot framing" },
    { "harmony", "GPT-OSS harmony framing" },
    { "none", "contents joined by newlines" },
    { "llama31", "Hugging Face Llama 3.1/3.3 Instruct template (dated system header, trimmed)" },
    { NULL, NULL },
};

static const struct opt_def tok_opts[] = {
    { "tokenizer", 't', OPT_STR, offsetof(struct tok_cfg, tokenizer), NULL, OPT_UNBOUNDED, NULL,
      "Tokenizer", "Hugging Face tokenizer.json (exact BPE); absent = approximate tokenizer" },
    { "vocab", 0, OPT_U64, offsetof(struct tok_cfg, vocab), "128256", 512, 4194304, NULL,
      "Tokenizer", "vocabulary size of the approximate tokenizer (ids)" },
    { "mode", 'm', OPT_ENUM, offsetof(struct tok_cfg, mode), "ids", OPT_UNBOUNDED, modes,
      "Tokenizer", "what to read from stdin and print" },
    { "no-special", 0, OPT_BOOL, offsetof(struct tok_cfg, no_special), "false", OPT_UNBOUNDED, NULL,
      "Tokenizer", "treat special-token text such as <|eot_id|> as ordinary text" },
    { "template", 0, OPT_ENUM, offsetof(struct tok_cfg, template_idx), "llama3", OPT_UNBOUNDED,
      templates, "Chat", "chat template for --mode chat" },
    { "tokens-per-block", 0, OPT_U64, offsetof(struct tok_cfg, tokens_per_block), "32", 1, 65536,
      NULL, "Chat", "KV block size for the hash_ids printed by --mode chat (tokens)" },
    OPT_END,
};

static int read_stdin(struct buf *in)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        int r = buf_append(in, chunk, (size_t)n);
        if (r < 0)
            return r;
    }
}

static json_t *ids_json(const struct token_ids *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->len; i++)
        json_array_append_new(a, json_integer(v->ids[i]));
    return a;
}

static void print_line(const json_t *j)
{
    char *s = jsonx_dump_line(j);
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
}

static int do_jsonl(const struct tokenizer *t, const struct buf *in, bool special)
{
    const char *p = buf_str(in), *end = p + in->len;
    unsigned line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (len > 0) {
            json_error_t e;
            json_t *s = json_loadb(p, len, JSON_DECODE_ANY, &e);
            if (!json_is_string(s)) {
                log_error("stdin:%u: each line must be a JSON string", line);
                json_decref(s);
                return CLIOPT_EXIT_USAGE;
            }
            struct token_ids v = { 0 };
            int r = tokenizer_encode(t, json_string_value(s), json_string_length(s), special, &v);
            json_decref(s);
            if (r < 0) {
                log_error("stdin:%u: %s", line, strerror(-r));
                tokenizer_ids_fini(&v);
                return CLIOPT_EXIT_USAGE;
            }
            json_t *a = ids_json(&v);
            print_line(a);
            json_decref(a);
            tokenizer_ids_fini(&v);
        }
        p += len + 1;
    }
    return 0;
}

static int do_decode(const struct tokenizer *t, const struct buf *in)
{
    json_error_t e;
    json_t *a = json_loadb(buf_str(in), in->len, 0, &e);
    if (!json_is_array(a)) {
        log_error("stdin:%d:%d: expected a JSON array of token ids: %s", e.line, e.column, e.text);
        json_decref(a);
        return CLIOPT_EXIT_USAGE;
    }
    size_t n = json_array_size(a);
    uint32_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > UINT32_MAX) {
            log_error("stdin: element %zu is not a token id", i);
            rc = CLIOPT_EXIT_USAGE;
            goto out;
        }
        ids[i] = (uint32_t)json_integer_value(v);
    }
    struct buf text;
    buf_init(&text, 0);
    int r = tokenizer_decode(t, ids, n, &text);
    if (r == -EOPNOTSUPP) {
        log_error("the approximate tokenizer cannot decode; give --tokenizer FILE");
        rc = CLIOPT_EXIT_USAGE;
    } else if (r < 0) {
        log_error("cannot decode: %s (an id outside the vocabulary of %u?)", strerror(-r),
                  tokenizer_vocab_size(t));
        rc = CLIOPT_EXIT_USAGE;
    } else {
        fwrite(text.data, 1, text.len, stdout);
    }
    buf_fini(&text);
out:
    free(ids);
    json_decref(a);
    return rc;
}

/* Renders one messages array (text, len bytes) and prints {tokenizer, [text, ids,] tokens,
 * hash_ids}. */
static int chat_one(const struct tokenizer *t, const char *src, unsigned line, const char *text,
                    size_t len, const struct tok_cfg *cfg, bool full)
{
    json_t *msgs = NULL, *out = NULL;
    struct diag d = { 0 };
    struct buf rendered;
    struct token_ids v = { 0 };
    int rc = CLIOPT_EXIT_USAGE;
    buf_init(&rendered, TOKENIZER_MAX_INPUT_BYTES);
    diag_file(&d, src);
    if (jsonx_parse(text, len, &msgs, &d) < 0 ||
        chat_render((enum chat_template)cfg->template_idx, msgs, true, &rendered, &d) < 0) {
        if (line)
            d.line = line;
        log_diag(&d);
        goto out;
    }
    if (tokenizer_encode(t, buf_str(&rendered), rendered.len, true, &v) < 0) {
        log_error("%s: rendered prompt is too long", src);
        goto out;
    }
    size_t nb = v.len / cfg->tokens_per_block;
    uint64_t *h = xcalloc(nb ? nb : 1, sizeof(*h));
    blockhash_chain(v.ids, v.len, (uint32_t)cfg->tokens_per_block, h, nb);
    json_t *ha = json_array();
    for (size_t i = 0; i < nb; i++)
        json_array_append_new(ha, json_integer((json_int_t)h[i]));
    free(h);
    out = json_pack("{s:s,s:I,s:o}", "tokenizer", tokenizer_kind(t), "tokens", (json_int_t)v.len,
                    "hash_ids", ha);
    if (full) {
        json_object_set_new(out, "text", json_string(buf_str(&rendered)));
        json_object_set_new(out, "ids", ids_json(&v));
    }
    print_line(out);
    rc = 0;
out:
    json_decref(out);
    json_decref(msgs);
    buf_fini(&rendered);
    tokenizer_ids_fini(&v);
    return rc;
}

static int do_chat(const struct tokenizer *t, const struct buf *in, const struct tok_cfg *cfg)
{
    if (cfg->mode == TOK_MODE_CHAT)
        return chat_one(t, "stdin", 0, buf_str(in), in->len, cfg, true);
    const char *p = buf_str(in), *end = p + in->len;
    unsigned line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (len > 0) {
            int rc = chat_one(t, "stdin", line, p, len, cfg, false);
            if (rc)
                return rc;
        }
        p += len + 1;
    }
    return 0;
}

int cmd_tokenize_main(int argc, char **argv)
{
    struct tok_cfg cfg = { 0 };
    int optind_ = 0;
    int rc = cliopt_parse("tokenize", tok_opts, argc, argv, &cfg,
                          "kvtier tokenize [--tokenizer FILE] [--mode MODE] < input",
                          "Encode or decode text with the exact BPE of a tokenizer.json (Llama 3, "
                          "o200k_harmony) or the approximate tokenizer.",
                          &optind_);
    if (rc >= 0)
        return rc;
    if (optind_ < argc) {
        log_error("unexpected argument '%s' (input comes from stdin)", argv[optind_]);
        return CLIOPT_EXIT_USAGE;
    }
    struct tokenizer *t = NULL;
    if (cfg.tokenizer) {
        struct diag d = { 0 };
        int r = tokenizer_new_from_file(cfg.tokenizer, &t, &d);
        if (r < 0) {
            log_diag(&d);
            return CLIOPT_EXIT_USAGE;
        }
    } else {
        t = tokenizer_new_approx((uint32_t)cfg.vocab);
        log_warn("no --tokenizer given: tokenizer: approx (counts are estimates, not the "
                 "model's)");
    }
    struct buf in;
    buf_init(&in, TOKENIZER_MAX_INPUT_BYTES);
    int r = read_stdin(&in);
    if (r < 0) {
        log_error("cannot read stdin: %s", r == -EMSGSIZE ? "input over 64 MiB" : strerror(-r));
        rc = CLIOPT_EXIT_USAGE;
        goto out;
    }
    bool special = !cfg.no_special;
    switch (cfg.mode) {
    case TOK_MODE_IDS:
    case TOK_MODE_COUNT: {
        struct token_ids v = { 0 };
        r = tokenizer_encode(t, buf_str(&in), in.len, special, &v);
        if (cfg.mode == TOK_MODE_COUNT) {
            printf("%zu\n", v.len);
        } else {
            json_t *a = ids_json(&v);
            print_line(a);
            json_decref(a);
        }
        tokenizer_ids_fini(&v);
        rc = r < 0 ? CLIOPT_EXIT_FAIL : 0;
        break;
    }
    case TOK_MODE_DECODE:
        rc = do_decode(t, &in);
        break;
    case TOK_MODE_JSONL:
        rc = do_jsonl(t, &in, special);
        break;
    default:
        rc = do_chat(t, &in, &cfg);
        break;
    }
out:
    buf_fini(&in);
    tokenizer_free(t);
    return rc;
}
