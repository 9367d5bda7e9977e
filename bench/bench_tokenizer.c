/* SPDX-License-Identifier: Apache-2.0 */
/* Tokenizer encode throughput on one core: a deterministic 8 MiB mixed corpus (English-like
 * prose, C code, numbers, whitespace runs, some Cyrillic, CJK and emoji) encoded in 64 KiB
 * requests, as the planner and the engine do. Prints MB/s for the approximate tokenizer and for
 * each exact BPE given by $KVTIER_TOKENIZER_JSON (a tokenizer.json, or a directory holding
 * llama3.json and o200k_harmony.json as tests/npm/export.mjs writes them), with the ratio to
 * the approximate tokenizer measured in the same run. MB/s per core = bytes / CPU seconds of the
 * encoding thread (wall-clock MB/s printed beside it). Target: >= 20 MB/s per core. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "common/rng.h"
#include "tokenizer/tokenizer.h"

#define CORPUS_BYTES (8u << 20)
#define CHUNK_BYTES  (64u << 10)
#define TARGET_MB_S  20.0

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Wall-clock MB/s of the last run (the returned figure is per CPU-second of this thread, i.e.
 * per core, which stays meaningful on a shared, loaded machine). */
static double last_wall_mb_s;

static void make_corpus(struct buf *b)
{
    static const char *words[] = { "the",   "model", "cache",  "block",   "storage", "tier",
                                   "token", "reuse", "prefix", "latency", "request", "of",
                                   "and",   "to",    "in",     "is",      "that",    "for" };
    static const char *extra[] = { "Привет мир",  "中文文本", "😀🚀",    "    ",    "\n\n",
                                   "int x = 42;", "3.14159",  "  }\n", "x->next", "日本語" };
    struct rng r;
    rng_seed(&r, 42);
    while (b->len < CORPUS_BYTES) {
        uint64_t k = rng_range(&r, 0, 99);
        if (k < 80)
            buf_printf(b, " %s", words[rng_range(&r, 0, 17)]);
        else if (k < 90)
            buf_append_str(b, k & 1 ? ". " : ", ");
        else
            buf_append_str(b, extra[rng_range(&r, 0, 9)]);
    }
}

static double run(const struct tokenizer *t, const struct buf *corpus, size_t *ret_tokens)
{
    struct token_ids v = { 0 };
    size_t tokens = 0;
    double t0 = now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (size_t off = 0; off < corpus->len; off += CHUNK_BYTES) {
        size_t n = corpus->len - off < CHUNK_BYTES ? corpus->len - off : CHUNK_BYTES;
        v.len = 0;
        tokenizer_encode(t, (const char *)corpus->data + off, n, true, &v);
        tokens += v.len;
    }
    double dt = now_s() - t0, cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    tokenizer_ids_fini(&v);
    *ret_tokens = tokens;
    last_wall_mb_s = (double)corpus->len / dt / 1e6;
    return (double)corpus->len / cpu / 1e6;
}

static int bench_file(const char *path, const struct buf *corpus, double approx_mb_s)
{
    struct tokenizer *t = NULL;
    struct diag d = { 0 };
    double t0 = now_s();
    if (tokenizer_new_from_file(path, &t, &d) < 0) {
        char msg[600];
        diag_format(&d, msg, sizeof(msg));
        printf("  %s: cannot load: %s\n", path, msg);
        return 1;
    }
    double load_s = now_s() - t0;
    size_t tokens = 0;
    run(t, corpus, &tokens); /* warm caches */
    double mb_s = run(t, corpus, &tokens);
    printf("  bpe %-36s %7.1f MB/s per core (wall %.1f)  %5.2f bytes/token  x%.2f of approx  "
           "load %.2f s  %s\n",
           path, mb_s, last_wall_mb_s, (double)corpus->len / (double)tokens, mb_s / approx_mb_s,
           load_s, mb_s >= TARGET_MB_S ? "ok (>= 20 MB/s)" : "BELOW TARGET 20 MB/s");
    tokenizer_free(t);
    return mb_s >= TARGET_MB_S ? 0 : 1;
}

int main(void)
{
    struct buf corpus;
    buf_init(&corpus, 0);
    make_corpus(&corpus);
    struct tokenizer *approx = tokenizer_new_approx(128256);
    size_t tokens = 0;
    run(approx, &corpus, &tokens);
    double approx_mb_s = run(approx, &corpus, &tokens);
    printf("tokenizer encode, one core, %.1f MiB corpus in %u KiB requests\n",
           (double)corpus.len / (1 << 20), CHUNK_BYTES >> 10);
    printf("  approx %42.1f MB/s per core (wall %.1f)  %5.2f bytes/token\n", approx_mb_s,
           last_wall_mb_s, (double)corpus.len / (double)tokens);
    tokenizer_free(approx);
    int rc = 0;
    const char *p = getenv("KVTIER_TOKENIZER_JSON");
    struct stat st;
    if (!p || stat(p, &st) != 0) {
        printf("  bpe: skipped; set KVTIER_TOKENIZER_JSON to a tokenizer.json or to the directory "
               "`node tests/npm/export.mjs DIR` writes\n");
    } else if (S_ISDIR(st.st_mode)) {
        static const char *names[] = { "llama3.json", "o200k_harmony.json" };
        for (int i = 0; i < 2; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", p, names[i]);
            if (stat(path, &st) == 0)
                rc |= bench_file(path, &corpus, approx_mb_s);
        }
    } else {
        rc |= bench_file(p, &corpus, approx_mb_s);
    }
    buf_fini(&corpus);
    return rc;
}
