/* SPDX-License-Identifier: Apache-2.0 */
/* The user-facing log of the kvtier command: one line per event on stderr, prefixed with the
 * subcommand; the only place besides cli/ commands that prints. */
#ifndef KVTIER_CLI_LOG_H
#define KVTIER_CLI_LOG_H

#include <stdbool.h>

#include "common/diag.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the prefix ("kvtier serve") and the most verbose level shown. */
void log_setup(const char *prefix, enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
/* Logs a diagnostic as an error ("file:line:col: msg"). */
void log_diag(const struct diag *d);
/* Whether stderr is a terminal (progress lines are shown only then). */
bool log_is_tty(void);

#endif
