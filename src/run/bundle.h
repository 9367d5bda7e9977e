/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier bundle (run_bundle): one command that plans the workload for the mode's capacities,
 * launches the stack, runs the phases with the samplers, snapshots at every phase boundary,
 * writes self-describing bundles exactly as ARCHITECTURE.md §6 lays them out, evaluates the
 * gates and writes verdict.json. Each repeat is its own bundle; several modes in one call
 * interleave their repeats in a seeded random block order; a group summary closes the call.
 * Layout: <out>/<model>_<workload>_<dataset>_<UTC stamp>/{group_summary.json, plan.jsonl,
 * <mode>/r<NN>/<bundle files>}. Library code: progress goes through a callback. */
#ifndef KVTIER_RUN_BUNDLE_H
#define KVTIER_RUN_BUNDLE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/diag.h"
#include "run/gate.h"
#include "stack/mode.h"
#include "workload/workload.h"

#define BUNDLE_SCHEMA_VERSION 1
#define BUNDLE_MAX_REPEATS    100

struct bundle_config {
    const char *profiles_dir; /* borrowed; resolved profiles directory */
    const char *stack;        /* borrowed; stack profile name or path to a .yaml */
    const char *model, *workload, *dataset, *hardware; /* borrowed; hardware NULL = stack's */
    enum mode_id modes[MODE__COUNT];
    size_t n_modes;
    unsigned repeats;           /* per mode, 1..BUNDLE_MAX_REPEATS */
    uint64_t seed;              /* plan seed and block-order seed */
    const char *out_dir;        /* borrowed; results root */
    const char *kvtier_path;    /* borrowed; binary launched for the builtin stack */
    const char *disk_cache_dir; /* borrowed; NULL = <out>/.kvtier-kvcache */
    /* tier overrides (0 = the stack profile's table) */
    double cpu_cache_gb, disk_cache_gb;
    uint64_t cpu_cache_blocks, disk_cache_blocks, g1_blocks;
    double c_disk_fraction;
    uint64_t c_read_bps, c_write_bps;
    const char *c_levels; /* borrowed; Mode C ladder "25%,50%,100%" or sizes; NULL = one level */
    bool disable_o_direct;
    bool drop_caches;          /* try to drop the page cache before each run */
    bool use_cgroup;           /* place the stack in a cgroup (always tried in mode C) */
    uint64_t ready_timeout_ns; /* 0 = the profile's, else 120 s */
    uint64_t interval_ns;      /* sampler interval; 0 = 1 s */
    uint64_t max_requests;     /* per-phase cap passed to the planner; 0 = profile */
    double rate_scale;         /* planner rate multiplier; 0 = 1 */
    uint64_t settle_quiet_ns;  /* phase settling: KVBM offloads and device writes quiet this long */
    uint64_t settle_timeout_ns; /* bound on each wait (SETTLE_TIMEOUT); 0 = no settling */
    uint64_t settle_device_bps; /* device writes at or below this rate count as quiet */
    int hit_rate; /* KVBM hit-rate gauges after each phase's next refresh: 0 auto (real stacks,
                     not builtin), 1 always, 2 never */
    double tail_quantile;     /* headline quantile the plan is sized for; 0 = 0.95 */
    bool skip_steady;         /* plan no steady phase (the planner's skip_steady) */
    uint64_t concurrency;     /* load override: every phase closed loop with this many requests
                                 in flight (kvtier sweep/slo concurrency axis); 0 = the plan's */
    const char *device;       /* borrowed; block device to observe; NULL = from the cache dir */
    const char *probe_path;   /* borrowed; probe.json to record; NULL = none */
    const char *storage_kind; /* "local_nvme" (default) or "shared_nvmeof" */
    /* external stacks */
    const char *url, *kvbm_metrics_url, *frontend_metrics_url, *served_model;
    pid_t observe_pid;
    const json_t *command_line; /* borrowed; argv as JSON array (secrets already redacted) */
    const json_t *options;      /* borrowed; effective options (from the option table) */
    struct gate_thresholds thresholds;
    const volatile sig_atomic_t *interrupt_flag; /* set by the cli's SIGINT/SIGTERM handler */
    bool dry_run; /* doctor_run: return bundle_dry_run's document for its modes instead */
    /* prompts: the tokenizer.json to plan with (NULL = <model_path>/tokenizer.json of the stack
     * profile when that exists, else the approximate tokenizer) and the endpoint */
    const char *tokenizer_path;
    enum workload_endpoint endpoint;
    /* progress lines (may be NULL); called on the caller's thread */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
};

/* Fills the defaults (1 repeat, seed 1, drop caches and cgroup on, default thresholds). */
void bundle_config_init(struct bundle_config *cfg);

/* Runs every mode x repeat. Returns 0 when every bundle was written (whatever the verdicts),
 * negative errno with d for configuration errors found before anything ran (unknown
 * model/workload/stack names: -ENOENT with d listing the valid names; bad settings: -EINVAL)
 * or when the results directory cannot be created, and the errno of the first output file
 * that could not be written (-ENOSPC on a full disk; d names the file) after every bundle went
 * as far as it could. *ret_group (owned) is the group summary (also written as
 * group_summary.json), set whenever bundles were attempted; its "all_run_valid" says whether
 * exit code 3 is due. Caller's thread. */
int bundle_run(const struct bundle_config *cfg, json_t **ret_group, struct diag *d);

/* --dry-run: what bundle_run would do, without starting, creating or writing anything under
 * the results directory (the plan is computed in a temporary directory that is removed):
 * per mode, the tier sizes, the exact commands and environment of every process (secrets
 * redacted), the engine-args YAML, the capacity and pressure sizing. Owned JSON in *ret. */
int bundle_dry_run(const struct bundle_config *cfg, json_t **ret, struct diag *d);

/* Re-evaluates an existing bundle directory from its evidence (verdict.json "evidence") with
 * thresholds t and rewrites verdict.json; returns the new verdict (owned) or NULL with d. */
json_t *bundle_reevaluate(const char *bundle_dir, const struct gate_thresholds *t, struct diag *d);

/* The seeded block order: for each of repeats blocks, a permutation of n modes. order gets
 * repeats*n entries (mode indexes into the caller's list). Pure. */
void bundle_block_order(size_t n, unsigned repeats, uint64_t seed, size_t *order);

#endif
