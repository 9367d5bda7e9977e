/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest facts (docs/bundle.md "manifest.json"): what ran, where and how, recorded so a bundle
 * explains itself: tool, command line and effective options, host, stack (profile, launch
 * record, readiness checks, observed configuration), model and engine provenance, mode with the
 * environment the processes really got, storage identity and probe ceiling, workload and plan
 * header, capacities, thresholds, repeat position, preparation, cgroup and phases. Builds JSON
 * only: the runner writes it. Any thread. */
#ifndef KVTIER_RUN_MANIFEST_H
#define KVTIER_RUN_MANIFEST_H

#include <stdint.h>

#include <jansson.h>

#include "common/profile.h"
#include "run/bundle.h"
#include "stack/mode.h"
#include "stack/stack.h"

/* Everything the manifest records; every pointer is borrowed for the call. */
struct manifest_facts {
    const struct bundle_config *cfg;
    const char *stack_label, *hardware, *group_dir, *cache_dir;
    const json_t *stack_profile, *model_json, *plan_header;
    const json_t *sizing; /* capacity.sizing: observed vs profile capacity (may be NULL) */
    const struct model_profile *model;
    uint64_t g1_blocks;
    const struct mode_settings *ms;
    const struct stack *stack; /* NULL when nothing was launched */
    const json_t *ready_checks, *observed_config, *cache_clear, *page_cache; /* may be NULL */
    const json_t *phases;                                                    /* may be NULL */
    const json_t *provenance; /* provenance_observe; may be NULL */
    unsigned rep, block_pos;
};

/* Which engine produced a bundle, said in every output (ARCHITECTURE.md §7): {kind: "emulated"
 * for the builtin stack (kvtier serve) | "real" for a named real stack, stack (the label),
 * stack_kind, versions (kvtier's for the emulation; the stack profile's provenance for a real
 * stack)}. stack_profile and stack_label are borrowed. Owned. */
json_t *manifest_engine(const json_t *stack_profile, const char *stack_label);
/* The manifest document. Owned. */
json_t *manifest_build(const struct manifest_facts *f);
/* Host identity: hostname, kernel, arch, CPU model, CPUs online, memory. Owned. */
json_t *manifest_host(void);
/* The storage tier: kind, path, device number and name (sysfs), model, firmware, PCIe link, and
 * the probe ceiling (cfg->probe_path) with bpb the block size of interest. Owned. */
json_t *manifest_storage(const struct bundle_config *cfg, const char *cache_dir, uint64_t bpb);

#endif
