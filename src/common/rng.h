/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded deterministic random numbers (xoshiro256** seeded by splitmix64) and the
 * distributions kvtier draws from. Same seed, same sequence, on every platform. */
#ifndef KVTIER_COMMON_RNG_H
#define KVTIER_COMMON_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next_u64(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Uniform integer in [lo, hi] (inclusive). */
uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi);
/* Exponential with the given mean. */
double rng_exponential(struct rng *r, double mean);
/* Standard normal (Box-Muller). */
double rng_normal(struct rng *r);
/* Gamma with shape k and scale theta (Marsaglia-Tsang; k < 1 boosted). */
double rng_gamma(struct rng *r, double shape, double scale);
/* Lognormal with the given median and sigma of the underlying normal. */
double rng_lognormal(struct rng *r, double median, double sigma);
/* Derives an independent stream seed from a parent seed and a label (for sub-streams). */
uint64_t rng_derive(uint64_t seed, const char *label);

#endif
