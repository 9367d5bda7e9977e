/* SPDX-License-Identifier: Apache-2.0 */
/* Reading finished run bundles through their files (ARCHITECTURE.md §6: verdict.json,
 * manifest.json, summary.json, raw/records.jsonl), for every analysis that judges bundles:
 * compare, sweep and slo read the same numbers through the same table of metrics, so a search
 * and a comparison of the same bundles can never disagree on what a key means. Library code;
 * any thread. */
#ifndef KVTIER_ANALYSIS_RUNDIR_H
#define KVTIER_ANALYSIS_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"

#define RUNDIR_MAX_BUNDLES 1000 /* bundles listed per directory */

enum rundir_better { RUNDIR_LOWER, RUNDIR_HIGHER };

/* One metric of summary.json phases.<phase>: the key compare, sweep and slo use. */
struct rundir_metric {
    const char *key;   /* e.g. "ttft_p95_ms" */
    const char *path;  /* in summary.json phases.<phase>, e.g. "ttft_ms.p95" */
    const char *label; /* for people */
    enum rundir_better better;
    double q; /* the quantile of a request-level distribution; 0 for a rate or a count */
};

/* The metric table (static storage; *ret_n entries). */
const struct rundir_metric *rundir_metrics(size_t *ret_n);
/* The metric named key, or NULL. */
const struct rundir_metric *rundir_metric_find(const char *key);
/* The comma-separated list of metric keys (static storage), for error messages. */
const char *rundir_metric_names(void);
/* The metric's value in summary phases.<phase>; NaN where absent. */
double rundir_metric_value(const json_t *summary, const char *phase, const struct rundir_metric *m);
/* The metric's order-statistic interval object ({lo, hi, n, level, supported}, borrowed) in
 * summary phases.<phase> (the "<path>_ci" sibling), or NULL for a non-quantile or an older
 * summary. */
const json_t *rundir_metric_ci(const json_t *summary, const char *phase,
                               const struct rundir_metric *m);

struct rundir_bundle {
    char *dir;                            /* owned */
    json_t *manifest, *verdict, *summary; /* owned; manifest/summary may be NULL if invalid */
    bool valid, decision_grade;
    double *ttft; /* owned: the phase's successful requests, ms from the intended send */
    size_t n_ttft;
};

/* The bundle directories under dir: dir itself when it holds verdict.json, else dir/r* that
 * do, sorted by name. *ret (owned: free each string and the array) and *ret_n are set on
 * success; -ENOENT (not a directory or no bundle) or negative errno with d. */
int rundir_list(const char *dir, char ***ret, size_t *ret_n, struct diag *d);

/* Loads b->dir (set by the caller, owned by b): verdict, and for a run_valid bundle the
 * manifest, summary and phase TTFTs (an invalid one keeps whatever is present). Returns 0 or
 * negative errno with d naming the file. */
int rundir_load(struct rundir_bundle *b, const char *phase, struct diag *d);

/* Frees what b holds (NULL-safe fields). */
void rundir_bundle_fini(struct rundir_bundle *b);

/* "builtin" when the manifest's stack is kvtier's emulated engine, "real" for any other stack
 * kind, NULL when the manifest does not say. */
const char *rundir_engine(const json_t *manifest);

#endif
