/* SPDX-License-Identifier: Apache-2.0 */
/* CSV reading for charts (see csvread.h). Handles LF and CRLF, double-quoted cells with ""
 * escapes, and blank lines; a short row is padded with NaN. */
#include "report/csvread.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

struct row {
    char **cells;
    size_t n, cap;
};

/* Splits one line starting at *pos into cells; advances *pos past the line end. */
static void split_line(const char *s, size_t len, size_t *pos, struct row *r)
{
    size_t i = *pos;
    r->n = 0;
    struct buf cell;
    buf_init(&cell, 0);
    bool quoted = false, any = false;
    while (i <= len) {
        char c = i < len ? s[i] : '\n';
        if (quoted) {
            if (c == '"' && i + 1 < len && s[i + 1] == '"') {
                buf_append(&cell, "\"", 1);
                i += 2;
                continue;
            }
            if (c == '"') {
                quoted = false;
                i++;
                continue;
            }
            if (i == len) {
                c = '\n';
            } else {
                buf_append(&cell, &c, 1);
                i++;
                continue;
            }
        }
        if (c == '"' && cell.len == 0) {
            quoted = true;
            any = true;
            i++;
            continue;
        }
        if (c == ',' || c == '\n') {
            if (r->n == r->cap)
                xalloc_grow((void **)&r->cells, &r->cap, r->n + 1, sizeof(*r->cells));
            size_t l = cell.len;
            if (l && cell.data[l - 1] == '\r' && c == '\n')
                l--;
            r->cells[r->n++] = xalloc_strndup(buf_str(&cell), l);
            buf_reset(&cell);
            any = true;
            i++;
            if (c == '\n')
                break;
            continue;
        }
        buf_append(&cell, &c, 1);
        any = true;
        i++;
    }
    (void)any;
    buf_fini(&cell);
    *pos = i;
}

static void row_clear(struct row *r)
{
    for (size_t k = 0; k < r->n; k++)
        free(r->cells[k]);
    r->n = 0;
}

static double number(const char *s)
{
    if (!*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return *end ? NAN : v;
}

int csvread_parse(const char *text, size_t len, struct csvread_table **ret, struct diag *d)
{
    if (len > CSVREAD_MAX_BYTES)
        return diag_set(d, -EMSGSIZE, 0, 0, "CSV larger than %u bytes", CSVREAD_MAX_BYTES);
    struct csvread_table *t = xcalloc(1, sizeof(*t));
    struct row r = { 0 };
    size_t pos = 0, cap = 0;
    unsigned line = 0;
    int rc = 0;
    while (pos < len) {
        size_t start = pos;
        split_line(text, len, &pos, &r);
        line++;
        if (r.n == 1 && r.cells[0][0] == 0) {
            row_clear(&r);
            continue;
        }
        if (pos == start) {
            rc = diag_set(d, -EINVAL, line, 0, "unterminated CSV line");
            goto out;
        }
        if (!t->names) {
            if (r.n > CSVREAD_MAX_COLS) {
                rc = diag_set(d, -EMSGSIZE, line, 0, "more than %u columns", CSVREAD_MAX_COLS);
                goto out;
            }
            t->ncols = r.n;
            t->names = r.cells;
            r.cells = NULL;
            r.n = r.cap = 0;
            continue;
        }
        if (r.n > t->ncols) {
            rc = diag_set(d, -EINVAL, line, 0, "row has %zu cells, header has %zu", r.n, t->ncols);
            goto out;
        }
        size_t need = (t->nrows + 1) * t->ncols;
        if (need > cap) {
            size_t c2 = cap, c3 = cap;
            xalloc_grow((void **)&t->cells, &c2, need, sizeof(*t->cells));
            xalloc_grow((void **)&t->text, &c3, need, sizeof(*t->text));
            cap = c2 < c3 ? c2 : c3;
        }
        for (size_t k = 0; k < t->ncols; k++) {
            size_t idx = t->nrows * t->ncols + k;
            if (k < r.n) {
                t->text[idx] = r.cells[k];
                t->cells[idx] = number(r.cells[k]);
            } else {
                t->text[idx] = xstrdup("");
                t->cells[idx] = NAN;
            }
        }
        r.n = 0;
        t->nrows++;
    }
    if (!t->names) {
        rc = diag_set(d, -EINVAL, 1, 0, "CSV has no header row");
        goto out;
    }
out:
    row_clear(&r);
    free(r.cells);
    if (rc < 0) {
        csvread_free(t);
        return rc;
    }
    *ret = t;
    return 0;
}

int csvread_load(const char *path, struct csvread_table **ret, struct diag *d)
{
    struct buf b;
    buf_init(&b, CSVREAD_MAX_BYTES);
    diag_file(d, path);
    int r = fileio_read_all(path, CSVREAD_MAX_BYTES, &b);
    if (r == 0)
        r = csvread_parse(buf_str(&b), b.len, ret, d);
    else
        diag_set(d, r, 0, 0, "cannot read: %s", strerror(-r));
    buf_fini(&b);
    return r;
}

void csvread_free(struct csvread_table *t)
{
    if (!t)
        return;
    for (size_t k = 0; t->names && k < t->ncols; k++)
        free(t->names[k]);
    for (size_t k = 0; t->text && k < t->nrows * t->ncols; k++)
        free(t->text[k]);
    free(t->names);
    free(t->text);
    free(t->cells);
    free(t);
}

int csvread_col(const struct csvread_table *t, const char *name)
{
    for (size_t k = 0; k < t->ncols; k++)
        if (!strcmp(t->names[k], name))
            return (int)k;
    return -1;
}

double csvread_at(const struct csvread_table *t, size_t row, int col)
{
    if (col < 0 || (size_t)col >= t->ncols || row >= t->nrows)
        return NAN;
    return t->cells[row * t->ncols + (size_t)col];
}
