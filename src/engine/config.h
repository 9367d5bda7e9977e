/* SPDX-License-Identifier: Apache-2.0 */
/* KVBM configuration from the environment, with the parsing rules (and traps) of Dynamo's
 * KVBM (kvbm.md §2): tier sizes in decimal GB parsed as f64 (blocks = floor(GB x 1e9 /
 * bytes_per_block)), *_OVERRIDE_NUM_BLOCKS winning when parseable, disk-only ("bypass") mode
 * decided from GB values parsed as u64 (so CPU_CACHE_GB=0.5 allocates host blocks AND bypasses
 * the host), the disk filter off only for exact "true"/"1", presence checks for
 * DISABLE_O_DIRECT and ZEROFILL_FALLBACK, metrics on for "1"/"true" in any case, an invalid
 * metrics port falling back to 6880 with a warning. No tier at all means KVBM is off (B0). */
#ifndef KVTIER_ENGINE_CONFIG_H
#define KVTIER_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CONFIG_DIR_MAX           1024
#define CONFIG_DEFAULT_DISK_DIR  "/tmp/"
#define CONFIG_DEFAULT_KVBM_PORT 6880
#define CONFIG_WARN_MAX          4

/* Returns the value of an environment variable or NULL; borrowed. */
typedef const char *config_getenv_fn(void *ctx, const char *name);

struct config_kvbm {
    bool enabled;           /* any tier configured (else B0: device prefix cache only) */
    uint64_t host_blocks;   /* G2 capacity */
    uint64_t disk_blocks;   /* G3 capacity */
    bool bypass_cpu;        /* disk-only: G1 -> G3 directly, no filter */
    bool filter_enabled;    /* G2 -> G3 frequency filter */
    bool o_direct;          /* DYN_KVBM_DISK_DISABLE_O_DIRECT absent */
    bool zerofill_fallback; /* DYN_KVBM_DISK_ZEROFILL_FALLBACK present */
    char disk_dir[CONFIG_DIR_MAX];
    bool metrics_enabled;        /* DYN_KVBM_METRICS */
    uint16_t metrics_port;       /* DYN_KVBM_METRICS_PORT or 6880 */
    uint32_t stats_max_requests; /* hit-rate window, requests */
    uint32_t stats_interval_s;   /* hit-rate refresh period */
    unsigned n_warnings;
    char warnings[CONFIG_WARN_MAX][160]; /* non-fatal problems to log */
};

/* Reads every KVBM variable through get (borrowed ctx) for blocks of bytes_per_block bytes.
 * Returns 0; -EINVAL if bytes_per_block is 0 or the disk directory is too long. */
int config_kvbm_from_env(config_getenv_fn *get, void *ctx, uint64_t bytes_per_block,
                         struct config_kvbm *ret);
/* Environment getter over the process environment (getenv). */
const char *config_getenv_process(void *ctx, const char *name);
/* The mode this configuration corresponds to (ARCHITECTURE.md §4): "B0", "B1", "B2", "B2p",
 * "B3", or "other" (e.g. disk without host and without bypass). Static string. */
const char *config_mode_name(const struct config_kvbm *c);

#endif
