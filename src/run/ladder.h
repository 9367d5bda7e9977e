/* SPDX-License-Identifier: Apache-2.0 */
/* The Mode C ladder (issue 16 item 4): mode C at several storage constraint levels (cgroup
 * read bandwidth limits), each level one arm of the interleaved group ("C@25%", "C@200MiB"),
 * and whether the outcome (replay TTFT p95 of each valid bundle) is monotonic in storage
 * capability: Spearman's rank correlation between the level's read limit and the outcome over
 * every repeat, with a one-sided seeded permutation p-value (H1: more bandwidth, lower TTFT),
 * and whether the per-level medians never rise with capability. Pure apart from the chart
 * files; any thread. */
#ifndef KVTIER_RUN_LADDER_H
#define KVTIER_RUN_LADDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"
#include "report/charts.h"

#define LADDER_MAX_LEVELS   8
#define LADDER_PERMUTATIONS 10000
#define LADDER_NAME_MAX     24

struct ladder_level {
    char name[LADDER_NAME_MAX]; /* arm name, "C@25%" or "C@200MiB" */
    uint64_t read_bps;          /* cgroup read limit of the arm */
    double pct;                 /* % of the probe ceiling; NAN for an absolute level */
};

/* Parses a comma list of levels, each "<p>%" (of ceiling_bps, the probe's read ceiling; 0 =
 * unknown, then a % level is an error) or a size in bytes/s ("200MiB"). At least two distinct
 * levels, at most LADDER_MAX_LEVELS. 0, or -EINVAL with d naming the bad level. */
int ladder_parse_levels(const char *spec, double ceiling_bps, struct ladder_level *out, size_t max,
                        size_t *ret_n, struct diag *d);
/* The probe's read ceiling: the highest bw_bytes_per_s of its randread entries, else of its
 * read entries, in probe.json's "ceilings"; 0 when none. */
double ladder_probe_read_ceiling(const json_t *probe);
/* Spearman's rho of (x, y), n pairs, average ranks for ties; NAN for n < 3 or a constant side. */
double ladder_spearman(const double *x, const double *y, size_t n);
/* One-sided permutation p-value of rho <= observed (seeded): (1 + count) / (1 + perms). */
double ladder_perm_p(const double *x, const double *y, size_t n, uint64_t seed, unsigned perms);
/* The ladder report (owned) from the group's quick summaries (each with "arm" and
 * replay.ttft_p95_ms; only run_valid ones count): {levels[{arm, read_bps, pct, n, values,
 * median_ms}], n, spearman_rho, p_value, permutations, monotonic_medians, monotonic,
 * outcome, note}. */
json_t *ladder_report(const struct ladder_level *lv, size_t n_levels, const json_t *quicks,
                      uint64_t seed);
/* Writes <dir>/c_ladder.{dat,gp} and renders .png/.svg with gnuplot (NULL: on PATH): each
 * valid repeat's replay TTFT p95 and the level medians against the read limit. Returns
 * charts_write's code (-EIO: gnuplot failed); 0 and nothing written when no repeat is valid. */
int ladder_write_chart(const char *dir, const json_t *report, const char *gnuplot,
                       struct charts_result *res);

/* The Style 2 side of the ladder (kvtier slo --c-levels): each level's search result (modes is
 * slo.json's "modes"; the level's entry is under its arm name: max, bracket, status) as its
 * capacity, and whether capacity grows with storage capability: Spearman's rho between the
 * read limit and the capacity over the levels, a one-sided permutation p-value (H1: more
 * bandwidth, larger capacity), and whether the capacities never fall as bandwidth grows.
 * A search that passed at its --max counts as that value (censored "at_least"), one that failed
 * at --min as 0 ("below_min"); an unfinished one (interrupted, probe limit) leaves the order
 * unknown. {metric, axis, levels[{arm, read_bps, pct, status, capacity, censored, bracket}], n,
 * spearman_rho, p_value, permutations, monotonic_capacities, outcome, note}. Owned. */
json_t *ladder_capacity_report(const struct ladder_level *lv, size_t n_levels, const json_t *modes,
                               const char *axis, uint64_t seed);
/* Writes <dir>/c_ladder_capacity.{dat,gp} and renders .png/.svg: each level's capacity with its
 * bracket [last pass, first fail] against the read limit. Returns charts_write's code; 0 and
 * nothing written when no level has a capacity (every search unfinished). */
int ladder_capacity_chart(const json_t *report, const char *dir, const char *gnuplot,
                          struct charts_result *res);
/* The report as a Markdown section (a table per level, the statistic, the chart). Owned. */
char *ladder_capacity_markdown(const json_t *report);

#endif
