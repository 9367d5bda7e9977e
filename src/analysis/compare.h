/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier compare: A/B statistics between a baseline and a treatment, each one run bundle or a
 * mode directory of repeats (<mode>/rNN/). The repeat is the unit of replication: per metric
 * (one value per repeat, from summary.json) a two-sample bootstrap interval of the ratio of
 * means and an exact Mann-Whitney test decide better / worse / negligible /
 * no_difference_shown, or insufficient_repeats. Request-level TTFT quantiles pooled over the
 * repeats get a hierarchical bootstrap (runs, then requests). Invalid bundles are excluded and
 * listed; bundles of different workloads, models or plans are refused unless allowed. */
#ifndef KVTIER_ANALYSIS_COMPARE_H
#define KVTIER_ANALYSIS_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "analysis/rundir.h"
#include "common/diag.h"

struct compare_config {
    const char *baseline, *treatment; /* bundle or mode directories */
    const char *phase;                /* summary phase compared, e.g. "replay" */
    const char *primary;              /* metric key of the headline, e.g. "ttft_p95_ms" */
    double level;                     /* confidence level, e.g. 0.95 */
    unsigned resamples;               /* bootstrap resamples */
    uint64_t seed;
    double min_effect;    /* smaller relative changes are "negligible" even when significant */
    unsigned repeats_min; /* valid repeats per side needed for a decision */
    bool allow_mismatch; /* compare bundles whose workload/model/plan differ (not decision-grade) */
};

/* Builds the comparison document. Returns 0; -ENOENT/-EINVAL with d set for unusable input
 * (unknown primary metric, checked first; no bundles, unreadable files, mismatched workloads
 * when not allowed). */
int compare_run(const struct compare_config *c, json_t **doc, struct diag *d);

/* The verdict compare_run gives one metric ("better", "worse", "negligible",
 * "no_difference_shown", "insufficient_repeats", static strings) from its per-repeat values
 * vb (baseline) and vt (treatment), borrowed; c supplies level, resamples, min_effect and
 * repeats_min. The instrument tests (A/A false positives, planted effects) call it directly. */
const char *compare_verdict(const struct compare_config *c, enum rundir_better better,
                            const double *vb, size_t nb, const double *vt, size_t nt,
                            uint64_t seed);

/* A Markdown rendering of the document (owned by the caller). */
char *compare_markdown(const json_t *doc);

#endif
