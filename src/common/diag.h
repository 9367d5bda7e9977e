/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics that parsers of user input fill in for the caller: where (file, line, column,
 * field) and what. Only cli prints them. */
#ifndef KVTIER_COMMON_DIAG_H
#define KVTIER_COMMON_DIAG_H

struct diag {
    char file[256]; /* source name, "" if none */
    unsigned line;  /* 1-based, 0 if unknown */
    unsigned col;   /* 1-based, 0 if unknown */
    char msg[320];  /* what went wrong, naming the field */
};

/* Sets the message (printf-style) and position; d may be NULL (then nothing happens). An
 * argument may be d->msg or d->file itself (re-labelling a message). Returns err unchanged so
 * callers can `return diag_set(d, -EINVAL, ...)`. */
int diag_set(struct diag *d, int err, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Records the file name (copied; it may point into d->file). */
void diag_file(struct diag *d, const char *file);
/* Formats "file:line:col: msg" (parts omitted when unknown) into out. */
void diag_format(const struct diag *d, char *out, unsigned out_len);

#endif
