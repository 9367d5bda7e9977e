/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental SSE parser (see sse.h). The hot path scans each read once for line ends; only
 * bytes of a line that straddles two reads are copied into the line buffer. */
#include "loadgen/sse.h"

#include <errno.h>
#include <string.h>

void sse_parser_init(struct sse_parser *p, size_t max_bytes, sse_event_fn *cb, void *ctx)
{
    *p = (struct sse_parser){ .cb = cb, .ctx = ctx };
    if (max_bytes == 0)
        max_bytes = SSE_EVENT_MAX_BYTES;
    buf_init(&p->line, max_bytes);
    buf_init(&p->data, max_bytes);
}

void sse_parser_fini(struct sse_parser *p)
{
    buf_fini(&p->line);
    buf_fini(&p->data);
}

static void reset_event(struct sse_parser *p)
{
    buf_reset(&p->data);
    p->type[0] = '\0';
    p->have_data = false;
    p->in_event = false;
}

void sse_parser_reset(struct sse_parser *p)
{
    buf_reset(&p->line);
    reset_event(p);
    p->pending_cr = false;
    p->bom_checked = false;
    p->bom_matched = 0;
    p->event_count = 0;
}

bool sse_parser_pending(const struct sse_parser *p)
{
    return p->line.len > 0 || p->in_event || (!p->bom_checked && p->bom_matched > 0);
}

static int dispatch(struct sse_parser *p)
{
    int rc = 0;
    if (p->have_data) {
        /* the data buffer ends in the "\n" appended after the last data line */
        size_t n = p->data.len;
        if (n > 0 && p->data.data[n - 1] == '\n')
            n--;
        if (p->data.data)
            p->data.data[n] = '\0';
        struct sse_event ev = {
            .type = p->type[0] ? p->type : "message",
            .data = p->data.data ? (const char *)p->data.data : "",
            .data_len = n,
            .t_first_byte_ns = p->t_event_ns,
        };
        p->event_count++;
        if (p->cb)
            rc = p->cb(p->ctx, &ev);
    }
    reset_event(p);
    return rc;
}

/* One complete line (without its end). */
static int process_line(struct sse_parser *p, const char *s, size_t n, uint64_t t_line)
{
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0; /* comment */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (!p->in_event) {
        p->in_event = true;
        p->t_event_ns = t_line;
    }
    if (flen == 4 && !memcmp(s, "data", 4)) {
        if (buf_append(&p->data, v, vlen) < 0 || buf_append(&p->data, "\n", 1) < 0)
            return -EMSGSIZE;
        p->have_data = true;
    } else if (flen == 5 && !memcmp(s, "event", 5)) {
        size_t m = vlen < sizeof(p->type) - 1 ? vlen : sizeof(p->type) - 1;
        memcpy(p->type, v, m);
        p->type[m] = '\0';
    }
    /* "id", "retry" and unknown fields are ignored: nothing in a completion stream needs them */
    return 0;
}

int sse_parser_feed(struct sse_parser *p, const void *data, size_t len, uint64_t now_ns)
{
    const char *s = data;
    const char *end = s + len;
    if (len == 0)
        return 0;
    /* a UTF-8 BOM may open the stream, itself split across reads: match it byte by byte */
    static const char bom[3] = { '\xEF', '\xBB', '\xBF' };
    while (!p->bom_checked && s < end) {
        if (*s == bom[p->bom_matched]) {
            s++;
            if (++p->bom_matched == 3)
                p->bom_checked = true;
            continue;
        }
        p->bom_checked = true;
        if (p->bom_matched > 0) {
            /* not a BOM after all: the held bytes start the first line */
            p->t_line_ns = now_ns;
            if (buf_append(&p->line, bom, p->bom_matched) < 0)
                return -EMSGSIZE;
        }
    }
    if (p->pending_cr && s < end) {
        p->pending_cr = false;
        if (*s == '\n')
            s++;
    }
    while (s < end) {
        const char *e = s;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        if (e == end) {
            /* partial line: keep it for the next read */
            if (p->line.len == 0)
                p->t_line_ns = now_ns;
            if (buf_append(&p->line, s, (size_t)(e - s)) < 0)
                return -EMSGSIZE;
            return 0;
        }
        int rc;
        if (p->line.len > 0) {
            if (buf_append(&p->line, s, (size_t)(e - s)) < 0)
                return -EMSGSIZE;
            rc = process_line(p, (const char *)p->line.data, p->line.len, p->t_line_ns);
            buf_reset(&p->line);
        } else {
            rc = process_line(p, s, (size_t)(e - s), now_ns);
        }
        if (rc < 0)
            return rc;
        if (*e == '\r') {
            if (e + 1 < end) {
                if (e[1] == '\n')
                    e++;
            } else {
                p->pending_cr = true;
            }
        }
        s = e + 1;
    }
    return 0;
}
