/* SPDX-License-Identifier: Apache-2.0 */
/* Open-loop arrival schedules, pre-generated from a seed before a phase starts (no drift, no
 * re-anchoring): constant (interval 1/rate), Poisson (exponential gaps, mean 1/rate) and gamma
 * (shape = burstiness, mean 1/rate; shape 1 is Poisson, < 1 burstier). Offsets are summed in
 * double precision and rounded once per request, so the achieved mean rate converges to the
 * requested one without accumulated rounding error. */
#ifndef KVTIER_LOADGEN_ARRIVAL_H
#define KVTIER_LOADGEN_ARRIVAL_H

#include <stddef.h>
#include <stdint.h>

#include "loadgen/loadgen.h"

/* Writes n intended send offsets (ns from the phase start, non-decreasing, the first one 0)
 * into ret_offsets. kind is CONSTANT, POISSON or GAMMA; rate_per_s > 0; burstiness > 0 for
 * GAMMA (0 = 1). Same arguments, same offsets. -EINVAL for a bad kind or rate. Any thread. */
int arrival_generate(enum loadgen_arrival kind, double rate_per_s, double burstiness, uint64_t seed,
                     size_t n, uint64_t *ret_offsets);
/* Parses "constant", "poisson", "gamma", "closed" (and "plan"); -EINVAL otherwise. */
int arrival_from_name(const char *name, enum loadgen_arrival *ret);
/* The name of kind ("poisson" ...). */
const char *arrival_name(enum loadgen_arrival kind);

#endif
