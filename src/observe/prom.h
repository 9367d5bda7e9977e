/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text: a parser into a flat
 * page of samples (name, canonical label set, value, optional timestamp) typed by their
 * family's # TYPE line, and the phase arithmetic on pages: several endpoints summed, counter
 * deltas with reset detection, gauge start/end, histogram bucket deltas. */
#ifndef KVTIER_OBSERVE_PROM_H
#define KVTIER_OBSERVE_PROM_H

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
void prom_page_fini(struct prom_page *p);
/* Binary search by key; borrowed or NULL. */
const struct prom_sample *prom_find(const struct prom_page *p, const char *key);
const char *prom_type_name(enum prom_type t);

/* A page as JSON for the _start/_end files: {key: value} plus {"types": {family: type}}.
 * pages[n] are summed per key (several workers). Owned. */
json_t *prom_sum_json(const struct prom_page *const *pages, size_t n);

/* The delta object of a phase for n endpoints: start[i] and end[i] are the same endpoint at
 * phase start and end (either may be NULL when a scrape failed: that endpoint is skipped and
 * counted in "endpoints_missing"). Per endpoint: counters end-start, or end when end < start
 * (a reset; "reset": true), gauges start/end; then summed over endpoints. Histograms become
 * {family{labels}: {buckets: {le: delta}, count, sum, reset}}. Owned. */
json_t *prom_delta_json(const struct prom_page *const *start, const struct prom_page *const *end,
                        size_t n);

#endif
