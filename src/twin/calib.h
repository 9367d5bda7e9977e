/* SPDX-License-Identifier: Apache-2.0 */
/* Calibration of the twin's free hardware parameters (issue 17): from run bundles, by replaying
 * each bundle's plan in the twin and fitting prefill MFU, decode MBU, the step and per-sequence
 * overheads and, where the bundles onboarded from disk and no probe fixed it, the SSD read rate,
 * so that predicted TTFT p50/p95 and ITL p50 match the measured ones (mean absolute log
 * ratio, Nelder-Mead); a deterministic share of the bundles (per mode, the second of every
 * three) is held out and the error is
 * reported on them (MAPE, the BLIS pass bar is 15 %). From a real-silicon measurement
 * (bench/gpu/silicon_check.py JSON), by fitting the step-cost model to prefill and decode step
 * times directly. Library code: never prints. */
#ifndef KVTIER_TWIN_CALIB_H
#define KVTIER_TWIN_CALIB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"
#include "common/profile.h"
#include "twin/twin_bundle.h"

enum calib_param {
    CALIB_MFU,
    CALIB_MBU,
    CALIB_STEP,
    CALIB_PER_SEQ,
    CALIB_KV_READ,
    CALIB_SSD_READ,
    CALIB_ATTN_MFU,
    CALIB__N
};

#define CALIB_METRICS 3 /* TTFT p50, TTFT p95, ITL p50 */

#define CALIB_WHY_MAX 200

struct calib_case {
    const struct twin_bundle *b; /* borrowed */
    bool held_out;
    bool excluded;               /* unclean verdict: neither trained on nor held out */
    char unclean[CALIB_WHY_MAX]; /* why the verdict says the measurement is not clean, "" */
    struct twin_metrics meas, before, after;         /* all phases */
    struct twin_metrics meas_phase[TWIN_MAX_PHASES]; /* per phase, part of the objective */
    double ape[CALIB_METRICS];                       /* after, percent; NaN where not measured */
};

struct calib_result {
    struct hw_profile fitted;
    bool fit[CALIB__N];
    double start[CALIB__N], value[CALIB__N];
    struct calib_case *cases; /* owned, n_cases */
    size_t n_cases, n_train, n_held, n_unclean, n_excluded;
    double mape_train, mape_held, mape_held_before; /* percent; NaN when none */
    double mape_held_metric[CALIB_METRICS];         /* per metric over held-out bundles */
    unsigned evals;
};

struct calib_opts {
    double ssd_read_bytes_per_s;  /* from a probe; 0 = fit from onboards or keep */
    double ssd_write_bytes_per_s; /* from a probe; 0 = keep */
    unsigned max_evals;           /* 0 = 400 */
    bool include_unclean;         /* fit and hold out bundles whose verdict is not clean too */
};

extern const char *const calib_param_names[CALIB__N];
extern const char *const calib_metric_names[CALIB_METRICS];

/* Whether a bundle's own verdict says its latency measurement is not clean, which makes it a
 * bad calibration sample: run_valid false, an interrupted run, or the reason codes SYSTEM_NOISE
 * (CPU or I/O pressure from outside the stack), CLIENT_LAG (the client sent or read late) or
 * THERMAL_THROTTLE. The reasons (codes and the verdict's own "why" lines) go into why (n bytes).
 * A bundle without verdict.json is taken as clean (false, why ""). Pure. */
bool calib_bundle_unclean(const struct twin_bundle *b, char *why, size_t n);

/* Bundles must share model and hardware (the caller groups them). Unless o->include_unclean,
 * bundles with an unclean verdict are left out of the fit and of the held-out split (their
 * predictions are still reported); the split is made among the bundles used. Errors: -EINVAL
 * with d (also when every bundle is left out). */
int calib_bundles(struct twin_bundle *bs, size_t n, const struct calib_opts *o,
                  struct calib_result *r, struct diag *d);
void calib_result_free(struct calib_result *r);

/* One row of a silicon check: a prefill (batch x isl) or a decode step (batch x context). */
struct calib_row {
    bool decode;
    unsigned batch;
    unsigned tokens; /* isl or context */
    double measured_s, before_s, after_s;
    bool held_out;
};

struct calib_silicon {
    struct hw_profile fitted;
    struct calib_row *rows; /* owned */
    size_t n_rows;
    double mape_before, mape_held; /* percent */
    double disk_read_bps, h2d_bps; /* measured */
    /* reload-vs-recompute crossover in tokens (0 = none up to 1M) at the SSD rates
       ssd_bps[]: the measured disk, 7 GB/s (PCIe Gen4 NVMe) and 14 GB/s (Gen5); measured =
       from the measured prefill times (quadratic fit), before/after = the twin's profiles */
    double ssd_bps[3];
    unsigned crossover_measured[3], crossover_before[3], crossover_after[3];
};

/* Fits mfu, mbu, kv-read rate and overheads of h to the silicon JSON for model m; odd rows
 * (by kind) are held out. */
int calib_silicon_fit(const json_t *silicon, const struct model_profile *m,
                      const struct hw_profile *h, struct calib_silicon *r, struct diag *d);
void calib_silicon_free(struct calib_silicon *r);
/* Reload-vs-recompute crossover: the smallest cached-prefix length n (up to 1M tokens) whose KV
 * reads from the SSD at ssd_bps faster than recomputing it costs at the margin (prefill of n +
 * CALIB_CROSSOVER_QUERY new tokens minus prefill of the query alone: the request runs a forward
 * pass either way); 0 = none. */
#define CALIB_CROSSOVER_QUERY 128
unsigned calib_crossover_model(const struct model_profile *m, const struct hw_profile *h,
                               double ssd_bps);

/* The fitted profile as YAML in the format of profiles/hardware/NAME.yaml, with a `calibration`
 * section (source, bundles, held-out MAPE) that whatif reads as its error bar. Owned. */
char *calib_profile_yaml(const struct hw_profile *h, const char *name, const char *comment,
                         const json_t *calibration);

#endif
