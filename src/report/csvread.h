/* SPDX-License-Identifier: Apache-2.0 */
/* A small reader for the numeric CSV files kvtier writes (time series, os/ samplers): one
 * header row of column names, then rows of cells. Cells that are not numbers read as NaN, so
 * text columns (device names, phase labels) can coexist with numbers; their text is kept too.
 * Bounded: CSVREAD_MAX_BYTES per file, CSVREAD_MAX_COLS columns. */
#ifndef KVTIER_REPORT_CSVREAD_H
#define KVTIER_REPORT_CSVREAD_H

#include <stddef.h>

#include "common/diag.h"

#define CSVREAD_MAX_BYTES (64u << 20)
#define CSVREAD_MAX_COLS  256u

struct csvread_table {
    size_t ncols, nrows;
    char **names;  /* owned; ncols column names */
    double *cells; /* owned; nrows x ncols, row-major; NaN where not a number */
    char **text;   /* owned; nrows x ncols cell texts */
};

/* Parses text[0..len). Errors: -EINVAL (no header, a row with more cells than the header;
 * d names the line), -EMSGSIZE past the limits. *ret owned; free with csvread_free. */
int csvread_parse(const char *text, size_t len, struct csvread_table **ret, struct diag *d);
/* Loads a file; -ENOENT when absent. */
int csvread_load(const char *path, struct csvread_table **ret, struct diag *d);
void csvread_free(struct csvread_table *t);
/* Index of the column named name, or -1. */
int csvread_col(const struct csvread_table *t, const char *name);
/* Cell value (NaN when out of range). */
double csvread_at(const struct csvread_table *t, size_t row, int col);

#endif
