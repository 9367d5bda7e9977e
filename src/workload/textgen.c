/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic prompt text (see textgen.h). The built-in prose draws sentences of 6-18 words
 * from a fixed technical vocabulary (capitalised first word, a full stop, a paragraph break
 * every few sentences); the corpus mode copies consecutive lines starting at a seeded offset. */
#include "workload/textgen.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/xalloc.h"
#include "workload/workload.h"

#define TEXTGEN_MAX_FILES 100000u
#define TEXTGEN_MAX_DEPTH 16

static const char *const words[] = {
    "the",     "of",      "and",      "to",      "in",      "is",       "that",     "for",
    "it",      "as",      "with",     "be",      "on",      "not",      "this",     "are",
    "or",      "from",    "at",       "which",   "but",     "have",     "an",       "they",
    "you",     "we",      "can",      "has",     "there",   "if",       "more",     "when",
    "will",    "would",   "so",       "no",      "time",    "data",     "model",    "cache",
    "block",   "memory",  "system",   "user",    "file",    "code",     "test",     "value",
    "table",   "line",    "page",     "query",   "request", "server",   "client",   "storage",
    "latency", "through", "between",  "each",    "every",   "other",    "first",    "after",
    "before",  "under",   "over",     "into",    "only",    "also",     "new",      "old",
    "large",   "small",   "long",     "short",   "fast",    "slow",     "high",     "low",
    "read",    "write",   "load",     "store",   "build",   "run",      "check",    "change",
    "return",  "call",    "use",      "make",    "need",    "keep",     "show",     "find",
    "work",    "state",   "function", "module",  "project", "team",     "review",   "design",
    "error",   "result",  "report",   "number",  "size",    "count",    "rate",     "level",
    "layer",   "token",   "prefix",   "context", "session", "document", "summary",  "question",
    "answer",  "section", "version",  "config",  "option",  "default",  "network",  "device",
    "disk",    "thread",  "process",  "queue",   "buffer",  "index",    "key",      "list",
    "map",     "set",     "string",   "type",    "struct",  "pointer",  "standard", "interface",
    "library", "package", "source",   "target",  "output",  "input",    "format",   "schema",
    "record",  "event",   "metric",   "signal",  "policy",  "rule",     "limit",    "budget",
    "window",  "careful", "simple",   "clear",   "stable",  "correct",  "explicit", "measured",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

struct textgen {
    const struct tokenizer *tok;
    const char **fill; /* owned array of borrowed strings */
    size_t n_fill;
    uint8_t cnt[4][sizeof(words) / sizeof(words[0])]; /* tokens of w, " w", W, " W" */
    char *corpus;                                     /* owned; NULL = built-in */
    size_t corpus_len;
    char source[300];
};

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (k == 0 || i + k > n || (k == 2 && c < 0xc2))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        if (c == 0)
            return false;
        i += k;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the files under dir (sorted, recursive) to out. */
static int walk(const char *root, const char *rel, int depth, struct buf *out, unsigned *files,
                struct diag *d)
{
    char *dir = rel[0] ? fileio_join(root, rel) : xstrdup(root);
    DIR *dh = opendir(dir);
    int r = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!dh) {
        r = diag_set(d, errno == ENOENT ? -ENOENT : -EINVAL, 0, 0,
                     "cannot open corpus "
                     "directory %s: %s",
                     dir, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        xalloc_grow((void **)&names, &cap, n + 1, sizeof(*names));
        names[n++] = xstrdup(e->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && r == 0; i++) {
        char *sub = rel[0] ? fileio_join(rel, names[i]) : xstrdup(names[i]);
        char *full = fileio_join(root, sub);
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode) && depth < TEXTGEN_MAX_DEPTH) {
            r = walk(root, sub, depth + 1, out, files, d);
        } else if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
                   *files < TEXTGEN_MAX_FILES) {
            struct buf f;
            buf_init(&f, WORKLOAD_CORPUS_MAX_BYTES);
            if (fileio_read_all(full, WORKLOAD_CORPUS_MAX_BYTES, &f) == 0 &&
                utf8_valid(f.data, f.len)) {
                if (buf_printf(out, "File: %s\n", sub) < 0 || buf_append(out, f.data, f.len) < 0 ||
                    buf_append_str(out, "\n\n") < 0)
                    r = diag_set(d, -EMSGSIZE, 0, 0, "corpus is larger than %u bytes",
                                 WORKLOAD_CORPUS_MAX_BYTES);
                (*files)++;
            }
            buf_fini(&f);
        }
        free(full);
        free(sub);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(dir);
    return r;
}

int textgen_new(const struct tokenizer *tok, const char *corpus_dir, struct textgen **ret,
                struct diag *d)
{
    struct textgen *g = xcalloc(1, sizeof(*g));
    int r = 0;
    g->tok = tok;
    g->fill = xcalloc(N_WORDS, sizeof(*g->fill));
    for (size_t i = 0; i < N_WORDS; i++) {
        char sp[32];
        for (int v = 0; v < 4; v++) {
            snprintf(sp, sizeof(sp), "%s%s", v & 1 ? " " : "", words[i]);
            if (v & 2)
                sp[v & 1] = (char)(sp[v & 1] - 32);
            size_t n = tokenizer_count(tok, sp, strlen(sp));
            g->cnt[v][i] = (uint8_t)(n > 255 ? 255 : n);
        }
        snprintf(sp, sizeof(sp), " %s", words[i]);
        if (tokenizer_count(tok, words[i], strlen(words[i])) == 1 &&
            tokenizer_count(tok, sp, strlen(sp)) == 1)
            g->fill[g->n_fill++] = words[i];
    }
    if (g->n_fill < TEXTGEN_MIN_FILL_WORDS) {
        r = diag_set(d, -EINVAL, 0, 0,
                     "the tokenizer has only %zu one-token words of the built-in list (need %u)",
                     g->n_fill, TEXTGEN_MIN_FILL_WORDS);
        goto out;
    }
    snprintf(g->source, sizeof(g->source), "builtin");
    if (corpus_dir) {
        struct buf b;
        unsigned files = 0;
        buf_init(&b, WORKLOAD_CORPUS_MAX_BYTES);
        r = walk(corpus_dir, "", 0, &b, &files, d);
        if (r == 0 && b.len < 256)
            r = diag_set(d, -EINVAL, 0, 0,
                         "corpus directory %s holds no usable text (regular UTF-8 files)",
                         corpus_dir);
        if (r < 0) {
            buf_fini(&b);
            goto out;
        }
        /* never let corpus text spell a special token */
        for (size_t i = 0; i + 1 < b.len; i++)
            if (b.data[i] == '<' && b.data[i + 1] == '|')
                b.data[i + 1] = '!';
        g->corpus_len = b.len;
        g->corpus = buf_take_str(&b);
        snprintf(g->source, sizeof(g->source), "corpus %.200s (%u files, %zu bytes)", corpus_dir,
                 files, g->corpus_len);
    }
    *ret = g;
    g = NULL;
out:
    textgen_free(g);
    return r;
}

void textgen_free(struct textgen *g)
{
    if (!g)
        return;
    free(g->fill);
    free(g->corpus);
    free(g);
}

const char *textgen_source(const struct textgen *g)
{
    return g->source;
}

static bool ends_newline(const struct buf *b)
{
    return b->len == 0 || b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' ';
}

static int append_prose(const struct textgen *g, struct rng *r, uint64_t tokens, struct buf *out)
{
    uint64_t have = 0;
    int rc = 0;
    while (have < tokens && rc == 0) {
        uint64_t n = rng_range(r, 6, 18);
        for (uint64_t i = 0; i < n && rc == 0; i++) {
            size_t wi = (size_t)rng_range(r, 0, N_WORDS - 1);
            int sp = ends_newline(out) ? 0 : 1;
            char tmp[40];
            snprintf(tmp, sizeof(tmp), "%s%s", sp ? " " : "", words[wi]);
            if (i == 0)
                tmp[sp] = (char)(tmp[sp] - 32);
            rc = buf_append_str(out, tmp);
            have += g->cnt[(i == 0 ? 2 : 0) | sp][wi];
        }
        if (rc == 0)
            rc = buf_append_str(out, ".");
        have++;
        if (rc == 0 && have < tokens && rng_range(r, 0, 4) == 0) {
            rc = buf_append_str(out, "\n\n");
            have++;
        }
    }
    return rc;
}

/* Copies whole corpus lines from a seeded offset until their token counts (each line encoded
 * alone) reach `tokens`; the caller trims to the exact count. */
static int append_corpus(const struct textgen *g, struct rng *r, uint64_t tokens, struct buf *out)
{
    size_t at = (size_t)rng_range(r, 0, g->corpus_len - 1);
    while (at > 0 && g->corpus[at - 1] != '\n')
        at--;
    size_t start_len = out->len;
    uint64_t have = 0;
    size_t guard = 0;
    while (have < tokens && guard++ < 4 * g->corpus_len) {
        const char *nl = memchr(g->corpus + at, '\n', g->corpus_len - at);
        size_t n = nl ? (size_t)(nl - (g->corpus + at)) + 1 : g->corpus_len - at;
        int rc = buf_append(out, g->corpus + at, n);
        if (rc < 0)
            return rc;
        have += tokenizer_count(g->tok, g->corpus + at, n);
        at = (at + n) % g->corpus_len;
    }
    /* no leading/trailing whitespace */
    size_t s = start_len;
    while (s < out->len && (out->data[s] == ' ' || out->data[s] == '\n' || out->data[s] == '\t' ||
                            out->data[s] == '\r'))
        s++;
    memmove(out->data + start_len, out->data + s, out->len - s);
    out->len -= s - start_len;
    out->data[out->len] = 0;
    textgen_drop_words(out, 0);
    return 0;
}

int textgen_append(const struct textgen *g, struct rng *r, uint64_t tokens, struct buf *out)
{
    if (tokens == 0)
        return 0;
    if (g->corpus)
        return append_corpus(g, r, tokens, out);
    return append_prose(g, r, tokens, out);
}

int textgen_fill(const struct textgen *g, struct rng *r, uint64_t n, struct buf *out)
{
    for (uint64_t i = 0; i < n; i++) {
        const char *w = g->fill[rng_range(r, 0, g->n_fill - 1)];
        int rc = ends_newline(out) ? buf_append_str(out, w) : buf_printf(out, " %s", w);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

void textgen_drop_words(struct buf *b, uint64_t n)
{
    for (uint64_t k = 0; k <= n && b->len > 1; k++) {
        while (b->len > 1 && is_ws(b->data[b->len - 1]))
            b->len--;
        if (k == n)
            break;
        size_t i = b->len;
        while (i > 1 && !is_ws(b->data[i - 1]))
            i--;
        if (i <= 1) { /* one word left: drop one character */
            i = b->len - 1;
            while (i > 1 && (b->data[i] & 0xc0) == 0x80)
                i--;
        }
        b->len = i;
    }
    if (b->data)
        b->data[b->len] = 0;
}
