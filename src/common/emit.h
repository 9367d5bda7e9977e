/* SPDX-License-Identifier: Apache-2.0 */
/* "Format a line and hand it to a callback": how a library tells its caller something (a
 * progress note, a log event) without printing. The line is bounded and truncated, never
 * allocated, so any thread may emit. */
#ifndef KVTIER_COMMON_EMIT_H
#define KVTIER_COMMON_EMIT_H

#include <stdarg.h>

#define EMIT_LINE_MAX_BYTES 1024 /* longer lines are truncated */

/* A receiver of one line (borrowed: valid only during the call). */
typedef void emit_fn(void *ctx, const char *line);

/* Formats and calls fn(ctx, line); nothing when fn is NULL. */
void emit_line(emit_fn *fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void emit_vline(emit_fn *fn, void *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
