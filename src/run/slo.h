/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier slo (Style 2 of the test plan): the largest value of an axis (concurrency, rate or
 * context) a mode sustains under a latency SLO. The search widens by doubling from --min until a
 * probe fails, bisects the bracket down to the resolution, and confirms the bracket's ends at
 * the boundary repeat count (a confirmation that flips a verdict reopens the search). A probe
 * passes only when every bundle is run_valid and the UPPER order-statistic confidence bound of
 * every SLO quantile meets its limit (the claim must hold with confidence, not by luck);
 * undersampled quantiles fail. Probes whose verdicts do not fall with the axis are reported as
 * NON_MONOTONIC, never smoothed. The search itself is pure: probes come through a callback, so
 * it runs against a synthetic system in the unit tests and against bundles in the cli. */
#ifndef KVTIER_RUN_SLO_H
#define KVTIER_RUN_SLO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "analysis/rundir.h"
#include "common/diag.h"
#include "report/charts.h"

#define SLO_MAX_LIMITS 16
#define SLO_MAX_PROBES 256 /* per mode: a search that needs more stops ("probe_limit") */

struct slo_limit {
    const struct rundir_metric *m; /* static storage (rundir table) */
    double limit;                  /* in the metric's unit (ms, or a fraction for error_rate) */
};

struct slo_spec {
    struct slo_limit lim[SLO_MAX_LIMITS];
    size_t n;
};

/* Parses "ttft_p95_ms=2000,error_rate=0.01". Keys are the summary metrics compare uses whose
 * lower values are better (ttft_*, e2e_*, itl_*, error_rate); limits are finite and >= 0.
 * Returns 0, or -EINVAL with d naming the key (an unknown key lists the valid ones). */
int slo_spec_parse(const char *text, struct slo_spec *ret, struct diag *d);
/* The spec as {key: limit}. Owned. */
json_t *slo_spec_json(const struct slo_spec *s);

/* One probe: the axis value run as a bundle group of `repeats` bundles. */
struct slo_probe {
    double value;
    unsigned repeats;
    bool valid;                   /* every bundle run_valid */
    bool pass;                    /* valid and every bound within its limit */
    double est[SLO_MAX_LIMITS];   /* mean over the repeats of each SLO metric */
    double bound[SLO_MAX_LIMITS]; /* upper confidence bound judged (NaN = undersampled) */
    json_t *detail;               /* owned, may be NULL: what the callback recorded (dirs...) */
};

/* Runs (or reuses) a probe at value with at least `repeats` bundles and fills *ret (est/bound
 * for every limit of the spec). Returns 0, or negative errno to abort the search (the error is
 * the caller's to report). */
typedef int slo_probe_fn(void *ctx, double value, unsigned repeats, struct slo_probe *ret);

/* Judges a probe from its bundles' summaries: est = mean over valid bundles of the summary
 * value, bound = the largest per-bundle upper interval bound (quantiles; NaN when any bundle's
 * interval lacks it) or the largest value (error_rate). summaries[i] borrowed, valid[i] its
 * verdict; phase e.g. "replay". Fills valid, pass, est, bound. Pure. */
void slo_judge(const struct slo_spec *spec, const char *phase, const json_t *const *summaries,
               const bool *valid, size_t n, struct slo_probe *p);

struct slo_search_config {
    double min, max;         /* axis range, 0 < min <= max */
    double resolution;       /* > 0; with integer, >= 1 */
    bool integer;            /* probe whole values only (concurrency, context tokens) */
    unsigned search_repeats; /* bundles per probe while searching, >= 1 */
    unsigned repeats;        /* bundles per probe at the bracket's ends, >= search_repeats */
};

struct slo_result {
    struct slo_probe *probes; /* owned: every probe in the order run (superseded ones too) */
    size_t n;
    double max_pass;    /* largest confirmed passing value; NaN when even min fails */
    double first_fail;  /* smallest failing value above it; NaN when max passes */
    const char *status; /* "found", "all_pass" (max passes), "none_pass" (min fails),
                           "probe_limit" */
    bool non_monotonic;
    json_t *non_monotonic_probes; /* owned: [{pass_value, fail_value}] pairs; empty if none */
};

/* Checks cfg; -EINVAL with d naming the option (--min, --max, --resolution, repeats). */
int slo_search_check(const struct slo_search_config *cfg, struct diag *d);

/* The search (see the file comment). Returns 0 with *ret filled (owned; slo_result_fini), or the
 * callback's negative errno (*ret still holds the probes run so far). */
int slo_search(const struct slo_search_config *cfg, slo_probe_fn *fn, void *ctx,
               struct slo_result *ret);

void slo_result_fini(struct slo_result *r);

/* The mode's result as {max, bracket: [pass|null, fail|null], status, non_monotonic, probes:
 * [{value, repeats, valid, pass, metrics: {key: {estimate, bound, limit}}, ...detail}]}.
 * Owned. */
json_t *slo_result_json(const struct slo_spec *spec, const struct slo_result *r);

/* The cross-mode comparison of the modes object of slo.json ({mode: slo_result_json}) against
 * baseline: {baseline, modes: {mode: {ratio, ratio_range: [lo, hi], why}}} where ratio is
 * max/max_baseline and the range spans what the brackets allow ([pass_t/fail_b,
 * fail_t/pass_b]; null where a bracket end is open). Owned. */
json_t *slo_comparison_json(const json_t *modes, const char *baseline);

/* The Markdown of an slo document. Owned. */
char *slo_markdown(const json_t *doc);

/* Writes <dir>/slo_max.{dat,gp,png,svg}: the largest value under the SLO per mode as bars with
 * the bracket [last pass, first fail] as an error bar. Returns charts_write's code. */
int slo_chart(const json_t *doc, const char *dir, const char *gnuplot, struct charts_result *res);

#endif
