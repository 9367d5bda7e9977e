/* SPDX-License-Identifier: Apache-2.0 */
/* Event hook (see elog.h). */
#include "engine/elog.h"

#include <stdarg.h>
#include <stdio.h>

void elog_emit(const struct elog *l, enum elog_level level, const char *fmt, ...)
{
    if (!l || !l->sink)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    l->sink(l->ctx, level, line);
}
