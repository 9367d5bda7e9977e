/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence extraction (docs/bundle.md "Evidence"): the input of the gates, built from a bundle
 * directory's files alone (raw/phases.json, summary.json, raw/records.jsonl, the plan header in
 * raw/requests.jsonl, metrics_delta/phase_<p>_kvbm_metrics_delta.json,
 * os/phase_<p>_os_delta.json, raw/worker_pid_io.json, os/nvme_smart_delta.json) plus the facts
 * only the runner knows (mode, capacities, health, read-back mismatches, interruption). Pure
 * functions of those files: a fixture bundle directory gives the same evidence as the run that
 * wrote it, so a gate input that nothing produces shows up in a unit test. Any thread. */
#ifndef KVTIER_RUN_EVIDENCE_H
#define KVTIER_RUN_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "stack/mode.h"

#define EVIDENCE_RECORDS_MAX_BYTES (512u << 20) /* raw/records.jsonl read at most */
#define EVIDENCE_HEADER_MAX_BYTES  (4u << 20)   /* the plan header line of raw/requests.jsonl */

/* Engine counters of disk blocks that were read but not served (failed verification, failed
 * read): `kvtier serve` exports them on its KVBM metrics page; Dynamo's KVBM has none. */
#define EVIDENCE_VERIFY_FAILURES_COUNTER  "kvtier_engine_verify_failures_total"
#define EVIDENCE_DISK_READ_ERRORS_COUNTER "kvtier_engine_disk_read_errors_total"

/* What only the runner knows about a run. */
struct evidence_facts {
    enum mode_id mode;
    uint64_t bytes_per_block;
    uint64_t g1_blocks, g2_blocks, g3_blocks;
    const json_t *health;     /* borrowed; the health object (docs/bundle.md); NULL = {} */
    const json_t *mismatches; /* borrowed; observed-config mismatches; NULL = none */
    bool interrupted;
    const char *interrupt_reason;  /* borrowed; when interrupted */
    const char *interrupted_phase; /* borrowed; the last phase that began */
};

/* A phase's KVBM counter deltas from metrics_delta/phase_<phase>_kvbm_metrics_delta.json:
 * {matched_tokens, offload_blocks_*, onboard_blocks_*, verify_failures, disk_read_errors}
 * (null where the counter is absent). NULL when no KVBM endpoint was scraped. Owned. */
json_t *evidence_phase_kvbm(const char *bundle_dir, const char *phase);
/* The OS view of a phase: the worker's /proc/PID/io delta (raw/worker_pid_io.json) and, from
 * os/phase_<phase>_os_delta.json, device, process-tree, page-cache and attribution figures,
 * including kv_read_bytes/kv_write_bytes (the KV file's bytes) where the attribution can tell.
 * NULL when nothing was measured. Owned. */
json_t *evidence_phase_os(const char *bundle_dir, const char *phase);
/* Per phase from raw/records.jsonl: {phase: {requests, errors, cached_tokens}}. Owned. */
json_t *evidence_records_by_phase(const char *bundle_dir);
/* The plan header (first line of raw/requests.jsonl), or NULL. Owned. */
json_t *evidence_plan_header(const char *bundle_dir);
/* The whole evidence document (schema in docs/bundle.md) from the bundle's files and f
 * (borrowed). "repeats" is null: the group fills it in. Owned. */
json_t *evidence_build(const char *bundle_dir, const struct evidence_facts *f);

#endif
