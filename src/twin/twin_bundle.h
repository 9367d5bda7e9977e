/* SPDX-License-Identifier: Apache-2.0 */
/* A run bundle (ARCHITECTURE.md §6) read as a twin case: the model and hardware profiles it
 * names, the engine configuration of its mode (tier sizes, filter, disk-only, G1 capacity, the
 * engine's --speedup), its plan replayed at the recorded intended send times with the served
 * token counts, and the measured latency figures of its successful requests. Library code. */
#ifndef KVTIER_TWIN_TWIN_BUNDLE_H
#define KVTIER_TWIN_TWIN_BUNDLE_H

#include <jansson.h>

#include "common/diag.h"
#include "common/profile.h"
#include "twin/twin.h"

struct twin_bundle {
    char dir[512];
    char model_name[64], hw_name[64], mode[16], engine[32];
    struct model_profile model;
    struct hw_profile hw;
    struct twin_config cfg; /* cfg.model points at model: keep the struct where it is */
    struct twin_plan plan;
    struct twin_metrics measured; /* all phases */
    json_t *manifest;             /* owned */
    json_t *verdict;              /* owned: <dir>/verdict.json, NULL when the bundle has none */
    const json_t *probe;          /* borrowed from manifest: the probe.json recorded, or NULL */
};

/* Reads <dir>/manifest.json, verdict.json when there is one, raw/requests.jsonl and
 * raw/records.jsonl; the hardware profile is hw_override when given, else the manifest's. Errors:
 * negative errno, d names file and key. */
int twin_bundle_load(const char *dir, const char *profiles_dir, const char *hw_override,
                     struct twin_bundle *b, struct diag *d);
void twin_bundle_free(struct twin_bundle *b);

#endif
