/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier sweep (Style 1 of the test plan): latency at fixed features along a load axis. Each
 * point is one bundle group (all modes, repeats interleaved as kvtier bundle does; see axis.h);
 * per point and mode the TTFT p50/p95/p99 from the intended send, pooled over the valid
 * repeats' requests, each with its order-statistic interval and n; every mode is compared with
 * the baseline mode at every point by kvtier compare's own statistics, and points where a mode
 * is worse are listed as regimes, not hidden. This file holds the pure parts: value lists, the
 * point and document JSON, Markdown and the chart. */
#ifndef KVTIER_RUN_SWEEP_H
#define KVTIER_RUN_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "analysis/rundir.h"
#include "common/diag.h"
#include "report/charts.h"

#define SWEEP_MAX_VALUES 64

/* Parses "1,2,4,8" into ascending distinct values (at most SWEEP_MAX_VALUES); integer rounds
 * nothing but refuses fractions. *ret owned. -EINVAL with d naming the bad item. */
int sweep_values_parse(const char *list, bool integer, double **ret, size_t *ret_n, struct diag *d);
/* steps values evenly spaced from from to to (inclusive; steps >= 2, or 1 when from == to),
 * rounded on an integer axis, duplicates dropped. -EINVAL for an empty or inverted range. */
int sweep_values_range(double from, double to, unsigned steps, bool integer, double **ret,
                       size_t *ret_n, struct diag *d);

/* One point of one mode from its loaded bundles (b[0..n), borrowed): {value, repeats,
 * run_valid, bundles, ttft_ms: {p50|p95|p99: {value, lo, hi, n, supported}}, error_rate,
 * throughput_rps, engine}. Owned. */
json_t *sweep_point_json(double value, const struct rundir_bundle *b, size_t n, const char *phase);

/* The Markdown of a sweep document. Owned. */
char *sweep_markdown(const json_t *doc);

/* Writes <dir>/sweep_ttft.{dat,gp,png,svg}: TTFT p50/p95/p99 against the axis, one colour per
 * mode, the p95 confidence band shaded. Returns charts_write's code. */
int sweep_chart(const json_t *doc, const char *dir, const char *gnuplot, struct charts_result *res);

#endif
