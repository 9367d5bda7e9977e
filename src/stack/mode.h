/* SPDX-License-Identifier: Apache-2.0 */
/* Serving modes B0/B1/B2/B2p/B3/C (ARCHITECTURE.md §4): the independent variable of every
 * comparison. A mode plus tier sizes gives the exact KVBM environment and the TRT-LLM
 * extra-engine-args document (kvbm.md §2 and §7); an environment read back from a running
 * worker gives the mode that is really in force, and the two are compared field by field so a
 * "B1" that secretly has a disk tier is caught (MODE_NOT_APPLIED). Pure functions. */
#ifndef KVTIER_STACK_MODE_H
#define KVTIER_STACK_MODE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/spawn.h"

enum mode_id { MODE_B0, MODE_B1, MODE_B2, MODE_B2P, MODE_B3, MODE_C, MODE__COUNT };

/* The tier sizes and switches a mode is launched with. Sizes either in decimal GB (as KVBM's
 * variables) or in blocks (the _OVERRIDE_NUM_BLOCKS variables, which win in KVBM); fractional
 * GB are written as block overrides because KVBM's bypass check parses GB as an integer. */
struct mode_settings {
    enum mode_id id;
    double cpu_cache_gb;        /* G2 size, decimal GB; 0 = use cpu_cache_blocks */
    uint64_t cpu_cache_blocks;  /* G2 size in blocks when set (> 0) */
    double disk_cache_gb;       /* G3 size, decimal GB; 0 = use disk_cache_blocks */
    uint64_t disk_cache_blocks; /* G3 size in blocks when set (> 0) */
    char disk_cache_dir[512];   /* where the G3 file lives */
    bool disable_o_direct;      /* DYN_KVBM_DISK_DISABLE_O_DIRECT (troubleshooting only) */
    uint16_t metrics_port;      /* DYN_KVBM_METRICS_PORT; 0 = let the stack pick (builtin) */
    uint64_t bytes_per_block;   /* for the GB <-> block arithmetic */
    /* mode C constraints */
    double c_disk_fraction; /* mode C: disk cache = B2's x this (0 < f <= 1; 1 = unchanged) */
    uint64_t c_read_bps;    /* mode C: cgroup io.max rbps; 0 = none */
    uint64_t c_write_bps;   /* mode C: cgroup io.max wbps; 0 = none */
};

/* What a mode really is in a running stack, from its environment (and, later, its metrics). */
struct mode_observed {
    bool kvbm;                /* a KVBM tier is configured (any of CPU or disk) */
    uint64_t cpu_blocks;      /* G2 blocks as KVBM computes them (override wins) */
    uint64_t disk_blocks;     /* G3 blocks */
    bool disk_only;           /* KVBM's bypass rule: disk set, CPU GB (parsed as u64) unset/0 */
    bool filter_on;           /* disk offload frequency filter in force */
    bool o_direct;            /* O_DIRECT not disabled */
    bool metrics_on;          /* DYN_KVBM_METRICS enabled */
    char disk_cache_dir[512]; /* effective dir ("/tmp/" default) */
};

/* Mode by name (case-sensitive canonical spelling, "B2'" accepted for B2p): the id or -EINVAL. */
int mode_parse(const char *name, enum mode_id *ret);
/* Canonical name ("B2p"). */
const char *mode_name(enum mode_id id);
/* One-line meaning of the mode, for help and manifests. */
const char *mode_meaning(enum mode_id id);
/* "B0, B1, B2, B2p, B3, C" as a static string. */
const char *mode_names_list(void);
/* Whether the mode has a disk (G3) tier / a host (G2) tier / KVBM at all. */
bool mode_has_disk(enum mode_id id);
bool mode_has_host(enum mode_id id);
bool mode_has_kvbm(enum mode_id id);

/* Writes the mode's KVBM variables into env (removing any DYN_KVBM_* sizing/filter variable the
 * mode must not have). Fails with -EINVAL when the settings contradict the mode (a disk mode
 * without a disk size or directory, B1 without a CPU size, C with nothing constrained). */
int mode_env_apply(const struct mode_settings *s, struct spawn_env *env);
/* The TRT-LLM extra-engine-args document (kvbm.md §7): baseline for B0, with the KVBM
 * connector otherwise. free_fraction is kv_cache_config.free_gpu_memory_fraction. Owned. */
json_t *mode_trtllm_args(enum mode_id id, double free_fraction);
/* Adds the engine limits to such a document (0 = key left out): max_seq_len, max_num_tokens,
 * max_batch_size, enable_chunked_prefill (on when max_num_tokens < max_seq_len, so a prompt
 * longer than one step's token budget is still accepted), kv_cache_config.tokens_per_block,
 * and kv_cache_config.max_tokens = g1_blocks x tokens_per_block when g1_blocks is set. */
void mode_trtllm_limits(json_t *doc, uint32_t max_seq_len, uint32_t max_num_tokens,
                        uint32_t max_batch_size, uint32_t tokens_per_block, uint64_t g1_blocks);
/* Derives what is configured from a worker's environment, by KVBM's parsing rules (f64 GB,
 * override wins, filter off only for exact "true"/"1", presence checks for O_DIRECT). */
void mode_observe_env(const struct spawn_env *env, uint64_t bytes_per_block,
                      struct mode_observed *ret);
/* Compares the observed configuration with the mode asked for; returns a new JSON array of
 * {field, expected, observed} mismatches (empty when the mode is applied). Owned. */
json_t *mode_compare(const struct mode_settings *want, const struct mode_observed *got);
/* The settings as a manifest object (mode, meaning, every variable, sizes in blocks and
 * bytes, filter and O_DIRECT state, mode C limits). Owned. */
json_t *mode_settings_json(const struct mode_settings *s);
/* The observed configuration as JSON. Owned. */
json_t *mode_observed_json(const struct mode_observed *o);
/* Effective G2 / G3 blocks of the settings (override or GB / bytes_per_block, mode C applied). */
uint64_t mode_cpu_blocks(const struct mode_settings *s);
uint64_t mode_disk_blocks(const struct mode_settings *s);

#endif
