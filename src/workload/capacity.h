/* SPDX-License-Identifier: Apache-2.0 */
/* KV tier capacities and the pressure arithmetic of a plan. Capacities come from the command
 * line (blocks) or from a serving mode on a hardware profile: G1 as TRT-LLM sizes the device
 * pool (profile_g1_blocks), G2 and G3 from DYN_KVBM_CPU_CACHE_GB and DYN_KVBM_DISK_CACHE_GB
 * (decimal GB, as KVBM reads them) divided by the model's bytes per block. The pressure target
 * puts the unique KV working set above G1+G2 by CAPACITY_PRESSURE_OVER and, when G3 exists,
 * below CAPACITY_G3_FILL of it. Pure functions; any thread. */
#ifndef KVTIER_WORKLOAD_CAPACITY_H
#define KVTIER_WORKLOAD_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/profile.h"
#include "workload/workload.h"

#define CAPACITY_PRESSURE_OVER 1.25 /* working set / (G1+G2) aimed at */
#define CAPACITY_G3_FILL       0.90 /* working set / G3 never above */

/* Capacities of mode (B0, B1, B2, B2p, B3, C) for model m on hardware h with the KVBM cache
 * sizes in decimal GB. source (source_len bytes) receives the arithmetic in words and
 * ret->source points at it. -EINVAL (d names the mode) for an unknown mode or a model that does
 * not fit the hardware. */
int capacity_from_mode(const char *mode, const struct hw_profile *h, const struct model_profile *m,
                       double cpu_cache_gb, double disk_cache_gb, struct workload_capacity *ret,
                       char *source, size_t source_len, struct diag *d);

struct capacity_target {
    uint64_t g12_blocks;    /* G1 + G2 */
    uint64_t target_blocks; /* unique working set to reach (primed + pressure) */
    bool g3_present;
    bool feasible;  /* target > G1+G2 and (no G3 or target <= CAPACITY_G3_FILL x G3) */
    char note[200]; /* why not feasible, or how the target was chosen */
};

/* The working-set target for capacities c (borrowed). */
void capacity_target(const struct workload_capacity *c, struct capacity_target *ret);

#endif
