/* SPDX-License-Identifier: Apache-2.0 */
/* Reuse accounting (test plan W3): set the reuse opportunity a plan created against the reuse
 * the server reported, per phase. The plan header holds reuse_opportunity_tokens per phase
 * (full-block tokens of each prompt already seen earlier in the plan, with KVBM's last-block
 * drop applied). Observed reuse comes from two counters: the kvbm_matched_tokens delta of the
 * phase (host + disk hits beyond the device hit) and the sum of usage cached tokens
 * (prompt_tokens_details.cached_tokens, every tier). The ratio observed / opportunity feeds the
 * REUSE_NOT_OBSERVED gate of the bundle. Pure functions; any thread. */
#ifndef KVTIER_WORKLOAD_REUSE_H
#define KVTIER_WORKLOAD_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define REUSE_MIN_RATIO_DEFAULT 0.10 /* below this observed/opportunity: REUSE_NOT_OBSERVED */
#define REUSE_MIN_OPPORTUNITY_TOKENS \
    1024u /* a phase with less opportunity than this is not judged (nothing to observe) */
#define REUSE_MAX_PHASES 16u

struct reuse_phase {
    char name[32];
    uint64_t opportunity_tokens; /* from the plan header */
    uint64_t prompt_tokens;      /* planned prompt tokens of the phase (header) */
    bool matched_known;          /* kvbm_matched_tokens delta available */
    uint64_t matched_tokens;     /* kvbm_matched_tokens delta over the phase */
    bool cached_known;           /* usage cached tokens available */
    uint64_t cached_tokens;      /* sum of usage cached tokens of the phase's requests */
};

/* Observed reused tokens of a phase: the larger of the two counters that are known (cached
 * tokens include device hits, matched tokens only host and disk hits); 0 if none is known. */
uint64_t reuse_observed_tokens(const struct reuse_phase *p);

/* observed / opportunity, or NaN when the phase has no opportunity or no counter is known. */
double reuse_ratio(const struct reuse_phase *p);

/* Whether the phase trips REUSE_NOT_OBSERVED: opportunity >= REUSE_MIN_OPPORTUNITY_TOKENS, a
 * counter is known, and reuse_ratio < min_ratio. */
bool reuse_not_observed(const struct reuse_phase *p, double min_ratio);

/* Fills out[0..cap) with the phases of a plan header (borrowed; "phases" and
 * "reuse_opportunity_tokens"), counters unknown. Returns the number of phases or -EINVAL (d
 * names the field) for a header that is not a kvtier.plan header. */
int reuse_phases_from_header(const json_t *header, struct reuse_phase *out, size_t cap,
                             struct diag *d);

/* One call for the bundle: header (borrowed plan header) and observed (borrowed object
 * {"<phase>": {"kvbm_matched_tokens": N, "cached_tokens": N}, ...}, either key optional, a
 * phase may be absent) give a new object (owned)
 * {"min_ratio": r, "phases": {"<phase>": {opportunity_tokens, prompt_tokens, matched_tokens,
 * cached_tokens, observed_tokens, ratio, not_observed}}, "opportunity_tokens", "observed_tokens",
 * "ratio", "reuse_not_observed": bool, "reason": "..."} where ratio is null when undefined and
 * reuse_not_observed is true when any judged phase trips the gate. NULL and d set when the
 * header is malformed. */
json_t *reuse_evaluate(const json_t *header, const json_t *observed, double min_ratio,
                       struct diag *d);

#endif
