/* SPDX-License-Identifier: Apache-2.0 */
/* Tier capacities and the pressure target (see capacity.h). */
#include "workload/capacity.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int capacity_from_mode(const char *mode, const struct hw_profile *h, const struct model_profile *m,
                       double cpu_cache_gb, double disk_cache_gb, struct workload_capacity *ret,
                       char *source, size_t source_len, struct diag *d)
{
    static const struct {
        const char *name;
        bool g2, g3;
    } modes[] = { { "B0", false, false }, { "B1", true, false }, { "B2", true, true },
                  { "B2p", true, true },  { "B3", false, true }, { "C", true, true } };
    int idx = -1;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (mode && !strcmp(mode, modes[i].name))
            idx = (int)i;
    if (idx < 0)
        return diag_set(d, -EINVAL, 0, 0, "mode \"%s\" is not one of B0, B1, B2, B2p, B3, C",
                        mode ? mode : "");
    uint64_t bpb = profile_bytes_per_block(m);
    uint64_t g1 = profile_g1_blocks(h, m);
    if (g1 == 0 || bpb == 0)
        return diag_set(d, -EINVAL, 0, 0,
                        "model %s does not fit hardware %s (weights %.3g B, visible %.3g B)",
                        m->name, h->name, profile_weight_total_bytes(m), h->gpu_visible_bytes);
    struct workload_capacity c = { .g1_blocks = g1, .bytes_per_block = bpb };
    if (modes[idx].g2)
        c.g2_blocks = (uint64_t)floor(cpu_cache_gb * 1e9 / (double)bpb);
    if (modes[idx].g3)
        c.g3_blocks = (uint64_t)floor(disk_cache_gb * 1e9 / (double)bpb);
    snprintf(source, source_len,
             "mode %s on %s: G1 = (%.4g B visible - %.4g B weights) x %.2f / %llu B per block; "
             "G2 = %.4g GB / block; G3 = %.4g GB / block",
             mode, h->name, h->gpu_visible_bytes, profile_weight_total_bytes(m),
             h->free_gpu_memory_fraction, (unsigned long long)bpb,
             modes[idx].g2 ? cpu_cache_gb : 0.0, modes[idx].g3 ? disk_cache_gb : 0.0);
    c.source = source;
    *ret = c;
    return 0;
}

void capacity_target(const struct workload_capacity *c, struct capacity_target *ret)
{
    struct capacity_target t = { 0 };
    t.g12_blocks = c->g1_blocks + c->g2_blocks;
    t.g3_present = c->g3_blocks > 0;
    uint64_t over = (uint64_t)ceil((double)t.g12_blocks * CAPACITY_PRESSURE_OVER) + 1;
    uint64_t g3_cap = (uint64_t)floor((double)c->g3_blocks * CAPACITY_G3_FILL);
    if (!t.g3_present) {
        t.target_blocks = over;
        t.feasible = t.g12_blocks > 0;
        snprintf(t.note, sizeof(t.note),
                 "no G3 given: working set sized to %.2f x (G1+G2); whether it fits G3 is unknown",
                 CAPACITY_PRESSURE_OVER);
    } else if (over <= g3_cap) {
        t.target_blocks = over;
        t.feasible = true;
        snprintf(t.note, sizeof(t.note), "%.2f x (G1+G2), below %.2f x G3", CAPACITY_PRESSURE_OVER,
                 CAPACITY_G3_FILL);
    } else if (t.g12_blocks < g3_cap) {
        t.target_blocks = t.g12_blocks + (g3_cap - t.g12_blocks) / 2;
        t.feasible = t.target_blocks > t.g12_blocks;
        snprintf(t.note, sizeof(t.note),
                 "G3 is tight: working set halfway between G1+G2 and %.2f x G3", CAPACITY_G3_FILL);
    } else {
        t.target_blocks = over;
        t.feasible = false;
        snprintf(t.note, sizeof(t.note),
                 "G3 (%llu blocks) cannot hold more than G1+G2 (%llu blocks): no working set "
                 "exceeds G1+G2 and fits G3",
                 (unsigned long long)c->g3_blocks, (unsigned long long)t.g12_blocks);
    }
    *ret = t;
}
