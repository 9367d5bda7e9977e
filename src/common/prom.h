/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text: the one parser of the
 * format in kvtier, into a flat page of samples (name, canonical label set, value, optional
 * timestamp) typed by their family's # TYPE line, and lookups on a page. The observe sampler
 * parses strictly; the stack launcher and doctor, which only ask whether a metric is there and
 * what it says, parse leniently (a bad line is skipped, not fatal). The phase arithmetic on
 * pages lives in observe/promdelta.h. */
#ifndef KVTIER_COMMON_PROM_H
#define KVTIER_COMMON_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define PROM_PAGE_MAX_BYTES   (16u << 20) /* largest /metrics page accepted */
#define PROM_MAX_SAMPLES      100000      /* samples per page */
#define PROM_NAME_MAX_BYTES   256         /* metric or label name */
#define PROM_LABELS_MAX_BYTES 4096        /* one canonical label set */
#define PROM_MAX_LABELS       64          /* labels per sample */

enum prom_type {
    PROM_UNTYPED,
    PROM_COUNTER,
    PROM_GAUGE,
    PROM_HISTOGRAM,
    PROM_SUMMARY,
    PROM_TYPE__COUNT
};

/* What a sample is inside its family. */
enum prom_role {
    PROM_ROLE_VALUE,    /* counter/gauge/untyped value (counter "_total" included) */
    PROM_ROLE_BUCKET,   /* histogram _bucket (labels carry le) */
    PROM_ROLE_SUM,      /* histogram/summary _sum */
    PROM_ROLE_COUNT,    /* histogram/summary _count */
    PROM_ROLE_QUANTILE, /* summary sample with a quantile label */
    PROM_ROLE_CREATED,  /* _created timestamp (never a delta) */
};

struct prom_sample {
    char *key;         /* owned: name + "{" + canonical labels + "}" ("name" without labels) */
    char *family;      /* owned: family name (the # TYPE name, or the sample name) */
    char *labels_nole; /* owned: canonical labels without le/quantile ("" if none) */
    char *le;          /* owned: le or quantile label value, NULL if none */
    enum prom_type type;
    enum prom_role role;
    double value;
    bool has_ts;
    double ts; /* as written (ms in 0.0.4, s in OpenMetrics) */
};

struct prom_page {
    struct prom_sample *s; /* owned, sorted by key after prom_parse */
    size_t n, cap;
};

/* Parses one page of text (len bytes, need not be NUL-terminated). Accepts HELP/TYPE/UNIT
 * comments, other comments, blank lines, label escapes (\\ \" \n), an optional trailing comma,
 * NaN/+Inf/-Inf, timestamps, exemplars (ignored) and "# EOF" (end). Duplicate series are an
 * error. Errors: -EINVAL (d: line, column, what), -EMSGSIZE over a PROM_* limit.
 * *ret is initialised by the call (owned; prom_page_fini). */
int prom_parse(const char *text, size_t len, struct prom_page *ret, struct diag *d);
/* Like prom_parse, but a line that does not parse (bad sample, bad # TYPE, NUL byte, a label or
 * name over its limit) is skipped instead of failing the page, and duplicate series are kept.
 * Returns the number of lines skipped (d, when given, describes the first one); fails only
 * when the page as a whole is over PROM_PAGE_MAX_BYTES or PROM_MAX_SAMPLES (-EMSGSIZE). */
int prom_parse_lenient(const char *text, size_t len, struct prom_page *ret, struct diag *d);
void prom_page_fini(struct prom_page *p);
/* Binary search by key; borrowed or NULL. */
const struct prom_sample *prom_find(const struct prom_page *p, const char *key);
const char *prom_type_name(enum prom_type t);
/* Sums the values of every sample whose metric name is exactly `name` (any labels; NaN values
 * skipped). Returns the number of samples summed (0 = absent); *ret_sum written when > 0. */
int prom_sum(const struct prom_page *p, const char *name, double *ret_sum);
/* Whether any sample's metric name starts with prefix. */
bool prom_has_prefix(const struct prom_page *p, const char *prefix);

#endif
