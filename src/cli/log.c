/* SPDX-License-Identifier: Apache-2.0 */
/* stderr logging for the command line (see log.h). */
#include "cli/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static const char *log_prefix = "kvtier";
static enum log_level log_max = LOG_LEVEL_INFO;

void log_setup(const char *prefix, enum log_level max)
{
    log_prefix = prefix;
    log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *names[] = { "error: ", "warning: ", "", "debug: " };
    if (lvl > log_max)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: %s", log_prefix, names[lvl]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void log_diag(const struct diag *d)
{
    char line[700];
    diag_format(d, line, sizeof(line));
    log_error("%s", line);
}

bool log_is_tty(void)
{
    return isatty(STDERR_FILENO);
}
