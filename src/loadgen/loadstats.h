/* SPDX-License-Identifier: Apache-2.0 */
/* Per-phase metrics of a load run, computed exactly from every finished request (loadgen.md
 * definitions): request and error counts per class, duration, throughput, output tokens/s,
 * goodput under an SLO, and the distributions ttft_ms (from intended), ttft_sent_ms (from
 * actual send), ttfc_ms, itl_ms (token-weighted chunk gaps), tpot_ms, e2e_ms, client_lag_ms as
 * {n, mean, stddev, min, p50, p90, p95, p99, p999, max}. "all" pools every measured phase
 * (every phase but "warmup"). Single-threaded: the owner adds and reads. */
#ifndef KVTIER_LOADGEN_LOADSTATS_H
#define KVTIER_LOADGEN_LOADSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "loadgen/loadgen.h"
#include "loadgen/loadrec.h"

struct loadstats;

/* slo is copied. Owned result. */
struct loadstats *loadstats_new(const struct loadgen_slo *slo);
void loadstats_free(struct loadstats *s);
/* Starts accounting for a phase named name (copied) at t_ns; measured = pooled into "all".
 * Returns the phase's index. */
int loadstats_phase_begin(struct loadstats *s, const char *name, bool measured, uint64_t t_ns);
/* Adds one finished request (borrowed) to phase idx. */
void loadstats_add(struct loadstats *s, int idx, const struct loadrec *r);
/* Closes phase idx at t_ns; not_sent = planned requests that were never sent. */
void loadstats_phase_end(struct loadstats *s, int idx, uint64_t t_ns, uint64_t not_sent);
/* {"<name>": {...}, ..., "all": {...}} (owned). */
json_t *loadstats_phases_json(struct loadstats *s);
/* The stats object of one phase (owned). */
json_t *loadstats_phase_json(struct loadstats *s, int idx);

#endif
