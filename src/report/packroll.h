/* SPDX-License-Identifier: Apache-2.0 */
/* Rollups of the evidence pack: one record per mode x plan row (group) with the repeat
 * statistics of its bundles (means with seeded bootstrap 95% intervals, ranges, counts of valid
 * and decision-grade bundles, CV of the replay TTFT p50), and the CSV/JSON writers of
 * RESULTS/. Pure functions over packdata records; any thread. */
#ifndef KVTIER_REPORT_PACKROLL_H
#define KVTIER_REPORT_PACKROLL_H

#include <jansson.h>

/* Per (group, mode) rollups of bundles (borrowed array of packdata records), in first-seen
 * order. Owned array of flat records: row, group, engine, model, workload, dataset, mode,
 * concurrency, bundles, run_valid, decision_grade, and for each rolled-up figure F:
 * F_mean, F_lo, F_hi, F_min, F_max (ms, blocks or bytes as F's name says). */
json_t *packroll_modes(const json_t *bundles);

/* Writes records (borrowed array of flat objects) as CSV to path: the columns are the keys of
 * the first record not starting with '_'; strings quoted when needed, null as empty. 0 or
 * negative errno. */
int packroll_write_csv(const char *path, const json_t *records);

/* The rollup of mode in group (borrowed), or NULL. */
const json_t *packroll_find(const json_t *rollups, const char *group, const char *mode);

#endif
