/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's event hook: the library never prints; it formats one line per event and hands
 * it to a sink the command installs (the cli shows it to the user). Levels match cli/log.h. */
#ifndef KVTIER_ENGINE_ELOG_H
#define KVTIER_ENGINE_ELOG_H

enum elog_level { ELOG_ERROR, ELOG_WARN, ELOG_INFO, ELOG_DEBUG };

typedef void elog_sink_fn(void *ctx, enum elog_level level, const char *line);

struct elog {
    elog_sink_fn *sink; /* NULL: events are dropped */
    void *ctx;
};

/* Formats and hands one line to the sink. Any thread (the sink must be thread-safe). */
void elog_emit(const struct elog *l, enum elog_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
