/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal Prometheus text scan (see promscan.h). */
#include "stack/promscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef int line_fn(const char *line, size_t n, void *ctx);

static void each_line(const char *text, size_t len, line_fn *fn, void *ctx)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (n && n < PROMSCAN_LINE_MAX_BYTES && text[i] != '#')
            if (fn(text + i, n, ctx))
                return;
        i += n + 1;
    }
}

struct sum_ctx {
    const char *name;
    size_t nl;
    double sum;
    int count;
};

static int sum_line(const char *line, size_t n, void *ctx)
{
    struct sum_ctx *c = ctx;
    if (n <= c->nl || memcmp(line, c->name, c->nl) != 0)
        return 0;
    const char *p = line + c->nl;
    const char *end = line + n;
    if (*p == '{') {
        /* skip the label set, honouring quoted values with escapes */
        bool q = false;
        for (p++; p < end; p++) {
            if (q && *p == '\\') {
                p++;
                continue;
            }
            if (*p == '"')
                q = !q;
            else if (!q && *p == '}')
                break;
        }
        if (p >= end)
            return 0;
        p++;
    }
    if (p >= end || (*p != ' ' && *p != '\t'))
        return 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char *v = xalloc_strndup(p, (size_t)(end - p));
    char *e;
    double d = strtod(v, &e);
    bool ok = e != v && (*e == 0 || *e == ' ' || *e == '\r') && !isnan(d);
    free(v);
    if (ok) {
        c->sum += d;
        c->count++;
    }
    return 0;
}

int promscan_sum(const char *text, size_t len, const char *name, double *ret_sum)
{
    struct sum_ctx c = { .name = name, .nl = strlen(name) };
    if (!c.nl)
        return 0;
    each_line(text, len, sum_line, &c);
    if (c.count)
        *ret_sum = c.sum;
    return c.count;
}

struct prefix_ctx {
    const char *prefix;
    size_t pl;
    bool found;
};

static int prefix_line(const char *line, size_t n, void *ctx)
{
    struct prefix_ctx *c = ctx;
    if (n >= c->pl && !memcmp(line, c->prefix, c->pl)) {
        c->found = true;
        return 1;
    }
    return 0;
}

bool promscan_has_prefix(const char *text, size_t len, const char *prefix)
{
    struct prefix_ctx c = { .prefix = prefix, .pl = strlen(prefix) };
    each_line(text, len, prefix_line, &c);
    return c.found;
}
