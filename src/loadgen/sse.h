/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental Server-Sent Events parser (WHATWG event-stream rules): lines end in CRLF, LF or
 * CR (a CR at the end of one read and an LF at the start of the next are one line end);
 * comment lines (":...") are skipped; "data" lines of one event are joined with "\n"; a blank
 * line dispatches the event; events split across any number of reads are reassembled. Every
 * event carries the arrival time of its first byte, which the caller stamps per read before
 * any parsing, so JSON decoding never shifts a timestamp. Input-driven sizes are bounded by
 * the max_bytes given at init (-EMSGSIZE beyond). */
#ifndef KVTIER_LOADGEN_SSE_H
#define KVTIER_LOADGEN_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SSE_EVENT_MAX_BYTES (4u << 20) /* default bound on one event's data (and one line) */
#define SSE_EVENT_NAME_MAX  64         /* longer event types are truncated */

struct sse_event {
    const char *type;         /* borrowed; "message" unless an "event:" line said otherwise */
    const char *data;         /* borrowed until the callback returns; NUL-terminated */
    size_t data_len;          /* bytes of data, without the terminating NUL */
    uint64_t t_first_byte_ns; /* caller's stamp of the read that held the event's first byte */
};

/* Called once per dispatched event. A negative return stops parsing and is returned by
 * sse_parser_feed. */
typedef int sse_event_fn(void *ctx, const struct sse_event *ev);

struct sse_parser {
    struct buf line;               /* partial line carried between reads */
    struct buf data;               /* data of the event being assembled */
    char type[SSE_EVENT_NAME_MAX]; /* event type of the event being assembled ("" = message) */
    bool have_data;                /* a data line was seen for this event */
    bool in_event;                 /* a field line of this event was seen */
    bool pending_cr;               /* last read ended in CR: a leading LF is part of it */
    bool bom_checked;              /* the stream's first bytes were checked for a BOM */
    unsigned bom_matched;          /* BOM bytes matched so far (0..3) */
    uint64_t t_line_ns;            /* stamp of the read holding the partial line's first byte */
    uint64_t t_event_ns;           /* stamp of the event's first field line */
    uint64_t event_count;          /* events dispatched so far */
    sse_event_fn *cb;              /* borrowed */
    void *ctx;                     /* borrowed */
};

/* Caller storage. max_bytes bounds one line and one event's data (0 = SSE_EVENT_MAX_BYTES).
 * cb/ctx are borrowed for the parser's life. */
void sse_parser_init(struct sse_parser *p, size_t max_bytes, sse_event_fn *cb, void *ctx);
/* Frees the buffers; safe on a zeroed parser. */
void sse_parser_fini(struct sse_parser *p);
/* Forgets any partial line or event (for reuse on a new stream); keeps allocations. */
void sse_parser_reset(struct sse_parser *p);
/* Feeds len bytes that arrived at now_ns. Returns 0, -EMSGSIZE when a line or an event's data
 * passes the bound, or the callback's negative return. After an error the parser must be
 * reset before reuse. Not thread-safe (one parser per stream). */
int sse_parser_feed(struct sse_parser *p, const void *data, size_t len, uint64_t now_ns);
/* Whether bytes of an unfinished line or event are pending (a stream that ends now was
 * truncated mid-event). */
bool sse_parser_pending(const struct sse_parser *p);

#endif
