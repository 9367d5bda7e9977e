/* SPDX-License-Identifier: Apache-2.0 */
/* The phase arithmetic on parsed Prometheus pages (common/prom.h): several endpoints summed,
 * counter deltas with reset detection, gauge start/end, histogram bucket deltas. */
#ifndef KVTIER_OBSERVE_PROMDELTA_H
#define KVTIER_OBSERVE_PROMDELTA_H

#include <stddef.h>

#include <jansson.h>

#include "common/prom.h"

/* A page as JSON for the _start/_end files: {key: value} plus {"types": {family: type}}.
 * pages[n] are summed per key (several workers). Owned. */
json_t *promdelta_sum_json(const struct prom_page *const *pages, size_t n);

/* The delta object of a phase for n endpoints: start[i] and end[i] are the same endpoint at
 * phase start and end (either may be NULL when a scrape failed: that endpoint is skipped and
 * counted in "endpoints_missing"). Per endpoint: counters end-start, or end when end < start
 * (a reset; "reset": true), gauges start/end; then summed over endpoints. Histograms become
 * {family{labels}: {buckets: {le: delta}, count, sum, reset}}. Owned. */
json_t *promdelta_json(const struct prom_page *const *start, const struct prom_page *const *end,
                       size_t n);

#endif
