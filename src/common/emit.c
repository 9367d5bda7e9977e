/* SPDX-License-Identifier: Apache-2.0 */
/* Format and emit one line (see emit.h). */
#include "common/emit.h"

#include <stdio.h>

void emit_vline(emit_fn *fn, void *ctx, const char *fmt, va_list ap)
{
    if (!fn)
        return;
    char line[EMIT_LINE_MAX_BYTES];
    vsnprintf(line, sizeof(line), fmt, ap);
    fn(ctx, line);
}

void emit_line(emit_fn *fn, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(fn, ctx, fmt, ap);
    va_end(ap);
}
