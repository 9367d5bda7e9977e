/* SPDX-License-Identifier: Apache-2.0 */
/* The load axes kvtier sweep and kvtier slo vary, and the bundle groups they run: one point of an
 * axis is one `bundle_run` (modes interleaved and repeated exactly as `kvtier bundle` does) in
 * its own directory, reused when a finished group is already there (resume). Axes:
 *   concurrency  every phase closed loop with N requests in flight (whole numbers);
 *   rate         a multiplier of every phase's planned arrival rate (1 = the workload profile);
 *   context      not variable by the planner yet: refused before anything runs. */
#ifndef KVTIER_RUN_AXIS_H
#define KVTIER_RUN_AXIS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "analysis/rundir.h"
#include "common/diag.h"
#include "run/bundle.h"

enum axis_kind { AXIS_CONCURRENCY, AXIS_RATE, AXIS_CONTEXT, AXIS__COUNT };

/* "concurrency" / "rate" / "context". */
const char *axis_name(enum axis_kind a);
/* Parses an axis name; -EINVAL with d listing the axes otherwise. */
int axis_parse(const char *s, enum axis_kind *ret, struct diag *d);
/* Whether the axis takes whole numbers only. */
bool axis_integer(enum axis_kind a);
/* Checks that the workload can vary the axis and that value is admissible on it (concurrency:
 * whole, 1..1024; rate: > 0 and <= 1000). -EINVAL with d naming the axis and value. */
int axis_check(enum axis_kind a, const char *workload, double value, struct diag *d);

/* The directory name of a point: "<axis>-<value>" (value printed exactly with %g). Owned. */
char *axis_point_name(enum axis_kind a, double value);

/* Runs, or reuses, one point: base (borrowed) with the axis set to value, its modes and at least
 * repeats bundles per mode, under point_dir (created). A finished group already there (every
 * mode with rNN/verdict.json for r = 1..repeats) is reused without running anything. *ret_group
 * (owned) is the group directory. Returns 0 (whatever the verdicts), or bundle_run's negative
 * errno with d. Caller's thread; runs the stack and the load. */
int axis_run_point(const struct bundle_config *base, enum axis_kind a, double value,
                   unsigned repeats, const char *point_dir, char **ret_group, bool *ret_reused,
                   struct diag *d);

/* The finished group under point_dir with at least repeats bundles for each of modes, or NULL
 * (owned). Pure apart from reading the directory. */
char *axis_find_group(const char *point_dir, const enum mode_id *modes, size_t n_modes,
                      unsigned repeats);

/* Loads the bundles of mode in group (group/<mode>/rNN) for phase: *ret (owned: fini each,
 * free the array) and *ret_n. -ENOENT or negative errno with d. */
int axis_load_mode(const char *group, const char *mode, const char *phase,
                   struct rundir_bundle **ret, size_t *ret_n, struct diag *d);
/* Frees what axis_load_mode returned (NULL-safe). */
void axis_free_bundles(struct rundir_bundle *b, size_t n);

#endif
