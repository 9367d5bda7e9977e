/* SPDX-License-Identifier: Apache-2.0 */
/* The five canonical figures of the evidence pack (test plan §4) across bundles: TTFT p95/p99
 * against concurrency per workload and model (Style 1 sweeps when present, else each mode's
 * operating point with its repeat interval); the largest concurrency under the SLO per mode
 * (Style 2, from slo.json); KVBM transfer rates over time with phase bands; the device I/O
 * timeline with phase bands; disk read await against TTFT with tail events marked and a
 * correlation statistic. Each figure is FIGURES/<name>.{dat,gp,png,svg} with a title, axis
 * units, a legend below the plot (never over data) and phase labels. */
#ifndef KVTIER_REPORT_PACKFIG_H
#define KVTIER_REPORT_PACKFIG_H

#include <stdbool.h>

#include <jansson.h>

#include "report/packdata.h"

/* Names of the five figures, in order. */
extern const char *const packfig_names[5];

/* Draws the figures into fig_dir (borrowed, exists) from p (records already streamed into
 * fig_dir/fig5_await_vs_ttft.dat by the caller) and the mode rollups. gnuplot: NULL = PATH.
 * Returns an owned array of {name, title, caption, drawn, rendered, why_not}; a figure whose
 * inputs are absent is listed with drawn false and why_not in words. */
json_t *packfig_draw(struct packdata *p, const json_t *rollups, const char *fig_dir,
                     const char *gnuplot, bool *ret_gnuplot_missing);

/* The group (borrowed record of p->groups) whose bundles the timelines show: the one with the
 * most modes, first in order; NULL when there are no groups. */
const json_t *packfig_main_group(const struct packdata *p);

#endif
