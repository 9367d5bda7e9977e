/* SPDX-License-Identifier: Apache-2.0 */
/* What kvtier sweep and kvtier slo share: the bundle options of every point (the same names,
 * defaults and meanings as kvtier bundle's), the axis option, and turning them into a
 * bundle_config. */
#ifndef KVTIER_CLI_CLISEARCH_H
#define KVTIER_CLI_CLISEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/opt.h"
#include "run/axis.h"
#include "run/bundle.h"

struct clisearch {
    /* bundle options */
    const char *stack, *model, *workload, *dataset, *mode, *out, *profiles, *hardware;
    uint64_t repeats, seed;
    const char *disk_cache_dir;
    uint64_t cpu_cache_blocks, disk_cache_blocks, g1_blocks;
    int drop_caches, cgroup, steady;
    uint64_t ready_timeout_ns, interval_ns, max_requests;
    double rate_scale;
    uint64_t settle_quiet_ns, settle_timeout_ns, settle_device_bps;
    const char *url, *kvbm_metrics_url, *frontend_metrics_url, *served_model;
    uint64_t pid;
    const char *thresholds;
    const char *tokenizer; /* tokenizer.json of the prompts (NULL = bundle's default) */
    int endpoint;          /* index into the endpoint choices: enum workload_endpoint */
    /* analysis */
    const char *axis, *phase, *baseline, *gnuplot;
    /* sweep */
    const char *values;
    double from, to;
    uint64_t steps;
    /* slo */
    const char *slo;
    double min, max, resolution;
    uint64_t search_repeats;
    const char *c_levels, *probe; /* the Mode C ladder: one search per level */
};

/* Option rows common to sweep and slo (into struct clisearch). */
#define CLISEARCH_O(f) offsetof(struct clisearch, f)
extern const struct opt_def clisearch_common_rows[];

/* Builds a table of the common rows followed by extra (terminated by OPT_END). Owned (free). */
struct opt_def *clisearch_table(const struct opt_def *extra);

/* Fills bc (caller storage) from c; pdir is the resolved profiles directory (borrowed).
 * Returns 0 or -EINVAL (bad --mode, thresholds file, --axis), already reported on stderr. */
/* 0 when --phase names a phase the probes run (warmup, pressure, replay, or steady unless
 * --steady no); else logs the error and returns -EINVAL. */
int clisearch_check_phase(const struct clisearch *c);

int clisearch_bundle_config(const struct clisearch *c, const char *pdir, struct bundle_config *bc,
                            enum axis_kind *ret_axis);

/* argv as a JSON array, secrets redacted. Owned. */
json_t *clisearch_argv_json(const char *cmd, int argc, char **argv);

/* Writes a JSON document and its Markdown (owned md, freed) into dir; 0 or -errno (reported). */
int clisearch_write(const char *dir, const char *stem, const json_t *doc, char *md);

#endif
