/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics for parsers of user input. */
#include "common/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int diag_set(struct diag *d, int err, unsigned line, unsigned col, const char *fmt, ...)
{
    if (!d)
        return err;
    /* formatted apart, then copied: a caller re-labelling a message may pass d->msg (or
     * d->file) itself, which vsnprintf must not read while it writes the same buffer */
    char msg[sizeof(d->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(d->msg, msg, sizeof(d->msg));
    d->line = line;
    d->col = col;
    return err;
}

void diag_file(struct diag *d, const char *file)
{
    if (!d)
        return;
    char name[sizeof(d->file)]; /* file may point into d->file */
    snprintf(name, sizeof(name), "%s", file ? file : "");
    memcpy(d->file, name, sizeof(d->file));
}

void diag_format(const struct diag *d, char *out, unsigned out_len)
{
    char where[300] = "";
    int n = 0;
    if (d->file[0])
        n = snprintf(where, sizeof(where), "%s:", d->file);
    if (d->line && n >= 0 && (unsigned)n < sizeof(where))
        n += snprintf(where + n, sizeof(where) - (unsigned)n, "%u:", d->line);
    if (d->col && n >= 0 && (unsigned)n < sizeof(where))
        snprintf(where + n, sizeof(where) - (unsigned)n, "%u:", d->col);
    snprintf(out, out_len, "%s%s%s", where, where[0] ? " " : "", d->msg[0] ? d->msg : "error");
}
