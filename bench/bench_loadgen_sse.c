/* SPDX-License-Identifier: Apache-2.0 */
/* SSE events parsed per second on one core: realistic chat chunks (about 150 bytes each) fed
 * in 4 KiB reads through the incremental parser alone, and through parser + OpenAI chunk
 * reader (JSON decode), the work the load generator does per event. Target: >= 200,000
 * events/s per core for the full path. Reference: memchr over the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clk.h"
#include "common/xalloc.h"
#include "loadgen/oaichunk.h"
#include "loadgen/sse.h"

#define EVENTS 200000
#define READ   4096

struct ctx {
    uint64_t events, tokens;
    bool decode;
};

static int on_ev(void *p, const struct sse_event *ev)
{
    struct ctx *c = p;
    c->events++;
    if (c->decode) {
        struct oaichunk k;
        if (oaichunk_parse(ev->type, ev->data, ev->data_len, &k, NULL) == 0 && k.content)
            c->tokens++;
    }
    return 0;
}

static double run(const char *s, size_t n, bool decode, struct ctx *c)
{
    struct sse_parser p;
    *c = (struct ctx){ .decode = decode };
    sse_parser_init(&p, 0, on_ev, c);
    uint64_t t0 = clk_now_ns();
    for (size_t off = 0; off < n; off += READ) {
        size_t len = n - off < READ ? n - off : READ;
        sse_parser_feed(&p, s + off, len, clk_now_ns());
    }
    uint64_t t1 = clk_now_ns();
    sse_parser_fini(&p);
    return (double)(t1 - t0) / 1e9;
}

int main(void)
{
    size_t cap = (size_t)EVENTS * 200;
    char *s = xmalloc(cap);
    size_t n = 0;
    for (int i = 0; i < EVENTS; i++)
        n += (size_t)snprintf(s + n, cap - n,
                              "data: {\"id\":\"chatcmpl-%d\",\"object\":\"chat.completion.chunk\","
                              "\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
                              "\"delta\":{\"content\":\" tok%d\"},\"finish_reason\":null}]}\n\n",
                              i, i);
    struct ctx c;
    double best_parse = 1e9, best_full = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t = run(s, n, false, &c);
        if (t < best_parse)
            best_parse = t;
        t = run(s, n, true, &c);
        if (t < best_full)
            best_full = t;
    }
    if (c.events != EVENTS || c.tokens != EVENTS) {
        fprintf(stderr, "bench_loadgen_sse: parsed %llu events, %llu tokens (want %d)\n",
                (unsigned long long)c.events, (unsigned long long)c.tokens, EVENTS);
        return 1;
    }
    uint64_t t0 = clk_now_ns();
    size_t lines = 0;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + n - p))); p++)
        lines++;
    double ref = (double)(clk_now_ns() - t0) / 1e9;
    printf("SSE bytes: %.1f MB, %d events of %.0f bytes\n", (double)n / 1e6, EVENTS,
           (double)n / EVENTS);
    printf("SSE framing only:          %.0f events/s (%.0f MB/s)\n", EVENTS / best_parse,
           (double)n / best_parse / 1e6);
    printf("SSE + chunk JSON decode:   %.0f events/s per core (target >= 200000): %s\n",
           EVENTS / best_full, EVENTS / best_full >= 200000 ? "PASS" : "FAIL");
    printf("reference memchr scan:     %.0f MB/s (%zu lines)\n", (double)n / ref / 1e6, lines);
    free(s);
    return 0;
}
