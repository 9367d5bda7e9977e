/* SPDX-License-Identifier: Apache-2.0 */
/* Gates and verdicts (ARCHITECTURE.md §7): pure functions from an evidence document (what the
 * bundle measured, see docs/bundle.md "Evidence") and one threshold table to
 * {run_valid, decision_grade, reason_codes[], details}. Every code carries the numbers that
 * triggered it. decision_grade requires that the mechanism (KVBM deltas), the OS corroboration
 * (device/process reads matching onboarded bytes) and the request plane agree; write-only
 * evidence (offload without onboard read-back) never passes. */
#ifndef KVTIER_RUN_GATE_H
#define KVTIER_RUN_GATE_H

#include <stdbool.h>

#include <jansson.h>

enum gate_code {
    /* hard: run_valid = false */
    GATE_SERVER_UNHEALTHY,
    GATE_MODEL_NOT_LOADED,
    GATE_ERROR_RATE_HIGH,
    GATE_KVBM_METRICS_UNREACHABLE,
    GATE_FRONTEND_UNREACHABLE,
    GATE_MODE_NOT_APPLIED,
    GATE_RUN_INTERRUPTED,
    GATE_KV_VERIFY_FAILED, /* blocks read from a KV tier were not served: the tier's numbers
                            * describe recompute, not the tier */
    /* soft: decision_grade = false */
    GATE_DISK_TIER_NO_IO,
    GATE_KVBM_OS_MISMATCH,
    GATE_REUSE_NOT_OBSERVED,
    GATE_PRESSURE_INSUFFICIENT,
    GATE_PAGE_CACHE_SUSPECT,
    GATE_IO_UNATTRIBUTED,
    GATE_SYSTEM_NOISE,
    GATE_THERMAL_THROTTLE,
    GATE_SMART_ERRORS,
    GATE_CLIENT_LAG,
    GATE_REPEATS_UNSTABLE,
    GATE_TAIL_UNDERSAMPLED,
    GATE_PROMPT_TOKENS_MISMATCH,
    GATE_SETTLE_TIMEOUT, /* KVBM offloads or device writes still moving when the wait between
                          * two phases gave up: the next phase may carry the last one's writes */
    GATE__COUNT
};

/* One threshold table: every number a gate compares against. */
struct gate_thresholds {
    double error_rate_max;              /* ERROR_RATE_HIGH above this fraction of requests */
    double disk_min_bytes;              /* DISK_TIER_NO_IO: disk traffic below this is "none" */
    double kvbm_os_ratio_min;           /* KVBM_OS_MISMATCH: OS bytes / KVBM bytes outside ... */
    double kvbm_os_ratio_max;           /* ... [min, max] */
    double reuse_min_fraction;          /* REUSE_NOT_OBSERVED: observed / opportunity below this */
    double reuse_min_tokens;            /* opportunity below this is not judged */
    double pressure_min_ratio;          /* PRESSURE_INSUFFICIENT: unique working set / (G1+G2) */
    double page_cache_max_fraction;     /* PAGE_CACHE_SUSPECT: KV-file resident bytes / G3 bytes */
    double page_cache_read_ratio_min;   /* storage reads / onboarded bytes below this = cache */
    double attribution_min_fraction;    /* IO_UNATTRIBUTED: KV-attributed share of device bytes */
    double noise_other_io_max_fraction; /* SYSTEM_NOISE: other processes' device bytes share */
    double noise_psi_cpu_max_pct;       /* SYSTEM_NOISE: PSI cpu "some" % of a phase */
    double noise_psi_io_max_pct;        /* SYSTEM_NOISE: PSI io "some" % of a phase */
    double thermal_events_max;          /* THERMAL_THROTTLE above this many new events */
    double smart_media_errors_max;      /* SMART_ERRORS above this many new media errors */
    double client_lag_p99_max_ms;       /* CLIENT_LAG: p99 of sent - intended */
    double repeats_min;                 /* REPEATS_UNSTABLE below this many repeats */
    double repeats_cv_max;              /* REPEATS_UNSTABLE: CV of replay TTFT p50 across repeats */
    double tail_quantile; /* TAIL_UNDERSAMPLED: the headline quantile (0.95, or 0.99 for
                             --tail p99) must have a 95% order-statistic interval in replay */
};

/* The shipped thresholds (documented in docs/bundle.md). */
void gate_thresholds_default(struct gate_thresholds *ret);
/* The table as JSON (recorded in every manifest and verdict). Owned. */
json_t *gate_thresholds_json(const struct gate_thresholds *t);
/* Overrides from a JSON object with the same keys: -EINVAL when j is not an object (*ret_bad
 * NULL) or a key is unknown or not a number (key in *ret_bad), -ERANGE for a negative or
 * non-finite value (key in *ret_bad). t may be partly updated on failure. */
int gate_thresholds_from_json(const json_t *j, struct gate_thresholds *t, const char **ret_bad);
/* Canonical name of a code ("DISK_TIER_NO_IO"). */
const char *gate_code_name(enum gate_code c);
/* Whether a code makes the run invalid (hard) rather than only not decision-grade. */
bool gate_code_is_hard(enum gate_code c);

/* Evaluates evidence (borrowed) against t; returns the verdict object (owned):
 * {schema_version, run_valid, decision_grade, reason_codes[], details{CODE: {...numbers}},
 *  chain{mechanism, os_corroboration, request_plane}, thresholds}. */
json_t *gate_evaluate(const json_t *evidence, const struct gate_thresholds *t);

#endif
