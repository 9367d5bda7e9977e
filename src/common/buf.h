/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers with a fixed maximum: every buffer fed from input has a named limit,
 * and going past it is -EMSGSIZE rather than unbounded growth. The data is always kept
 * NUL-terminated (one spare byte) so text can be used as a C string. */
#ifndef KVTIER_COMMON_BUF_H
#define KVTIER_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;    /* owned; NUL-terminated at data[len] once anything was appended */
    size_t len;       /* bytes used */
    size_t cap;       /* bytes allocated */
    size_t max_bytes; /* append beyond this fails with -EMSGSIZE; 0 = SIZE_MAX */
};

/* Caller storage; max_bytes as above. Allocates nothing yet. */
void buf_init(struct buf *b, size_t max_bytes);
/* Frees the data; safe on a zeroed or already finished buffer. */
void buf_fini(struct buf *b);
/* Keeps the allocation, forgets the content. */
void buf_reset(struct buf *b);
/* Appends n bytes; 0 or -EMSGSIZE (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* printf-append; 0 or -EMSGSIZE. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* The content as a C string (never NULL; "" when empty). Borrowed until the next change. */
const char *buf_str(const struct buf *b);
/* Moves the data out as an owned NUL-terminated string and resets b. */
char *buf_take_str(struct buf *b);

#endif
