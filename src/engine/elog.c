/* SPDX-License-Identifier: Apache-2.0 */
/* Engine event hook (see elog.h): the level rides along to the sink through common/emit. */
#include "engine/elog.h"

#include <stdarg.h>

#include "common/emit.h"

struct leveled {
    const struct elog *log;
    enum elog_level level;
};

static void to_sink(void *ctx, const char *line)
{
    const struct leveled *lv = ctx;
    lv->log->sink(lv->log->ctx, lv->level, line);
}

void elog_emit(const struct elog *l, enum elog_level level, const char *fmt, ...)
{
    if (!l || !l->sink)
        return;
    struct leveled lv = { .log = l, .level = level };
    va_list ap;
    va_start(ap, fmt);
    emit_vline(to_sink, &lv, fmt, ap);
    va_end(ap);
}
