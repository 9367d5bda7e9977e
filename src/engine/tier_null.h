/* SPDX-License-Identifier: Apache-2.0 */
/* The null tier: the scheduler's deterministic test double behind `struct tier_ops`. It keeps
 * no bytes, only the hash last written to each slot; a read succeeds when the slot holds the
 * block asked for (-EBADMSG otherwise, or always with inject_verify_fail). Every job finishes
 * at once, on the submitting thread, in submission order, so a scheduler test sees the same
 * sequence of completions on every run. Not for production: it never touches memory or disk. */
#ifndef KVTIER_ENGINE_TIER_NULL_H
#define KVTIER_ENGINE_TIER_NULL_H

#include <stdint.h>

#include "engine/tier.h"

extern const struct tier_ops tier_null_ops;

/* Jobs the null tier t (opened through tier_null_ops) has finished, reads and writes. */
uint64_t tier_null_reads(const void *t);
uint64_t tier_null_writes(const void *t);

#endif
