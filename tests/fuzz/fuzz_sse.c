/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the incremental SSE parser with input-chosen split points, and every event
 * through the OpenAI chunk reader. The first byte selects how the rest is cut into reads; the
 * same stream fed whole must give the same events (checked by a digest). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/oaichunk.h"
#include "loadgen/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    uint64_t digest;
    uint64_t events;
    struct buf text;
};

static int on_ev(void *ctx, const struct sse_event *ev)
{
    struct acc *a = ctx;
    a->events++;
    for (size_t i = 0; i < ev->data_len; i++)
        a->digest = (a->digest ^ (uint8_t)ev->data[i]) * 1099511628211ull;
    a->digest = (a->digest ^ 0xff) * 1099511628211ull;
    struct oaichunk c;
    buf_reset(&a->text);
    oaichunk_parse(ev->type, ev->data, ev->data_len, &c, &a->text);
    return 0;
}

static int run(const uint8_t *d, size_t n, unsigned step_seed, struct acc *a)
{
    struct sse_parser p;
    sse_parser_init(&p, 1 << 16, on_ev, a);
    size_t pos = 0;
    unsigned s = step_seed;
    int rc = 0;
    while (pos < n && rc == 0) {
        size_t step = step_seed ? 1 + (s % 17) : n - pos;
        s = s * 1103515245u + 12345u;
        if (step > n - pos)
            step = n - pos;
        rc = sse_parser_feed(&p, d + pos, step, pos);
        pos += step;
    }
    sse_parser_fini(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    struct acc whole = { .digest = 1469598103934665603ull }, split = whole;
    buf_init(&whole.text, 1 << 16);
    buf_init(&split.text, 1 << 16);
    int r1 = run(data + 1, size - 1, 0, &whole);
    int r2 = run(data + 1, size - 1, seed | 1, &split);
    if (r1 == 0 && r2 == 0 && (whole.digest != split.digest || whole.events != split.events))
        abort(); /* splitting must not change what is parsed */
    buf_fini(&whole.text);
    buf_fini(&split.text);
    return 0;
}
