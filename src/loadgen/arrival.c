/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded open-loop arrival schedules (see arrival.h). */
#include "loadgen/arrival.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"

static const char *const names[] = {
    [LOADGEN_ARRIVAL_PLAN] = "plan",       [LOADGEN_ARRIVAL_CONSTANT] = "constant",
    [LOADGEN_ARRIVAL_POISSON] = "poisson", [LOADGEN_ARRIVAL_GAMMA] = "gamma",
    [LOADGEN_ARRIVAL_CLOSED] = "closed",
};

int arrival_from_name(const char *name, enum loadgen_arrival *ret)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (name && !strcmp(name, names[i])) {
            *ret = (enum loadgen_arrival)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *arrival_name(enum loadgen_arrival kind)
{
    if ((size_t)kind < sizeof(names) / sizeof(names[0]))
        return names[kind];
    return "?";
}

int arrival_generate(enum loadgen_arrival kind, double rate_per_s, double burstiness, uint64_t seed,
                     size_t n, uint64_t *ret_offsets)
{
    if (!(rate_per_s > 0) || !isfinite(rate_per_s))
        return -EINVAL;
    if (kind != LOADGEN_ARRIVAL_CONSTANT && kind != LOADGEN_ARRIVAL_POISSON &&
        kind != LOADGEN_ARRIVAL_GAMMA)
        return -EINVAL;
    if (burstiness <= 0)
        burstiness = 1.0;
    struct rng r;
    rng_seed(&r, seed);
    double mean_ns = 1e9 / rate_per_s;
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        ret_offsets[i] = (uint64_t)llround(t);
        switch (kind) {
        case LOADGEN_ARRIVAL_CONSTANT:
            t += mean_ns;
            break;
        case LOADGEN_ARRIVAL_POISSON:
            t += rng_exponential(&r, mean_ns);
            break;
        default:
            /* mean of gamma(k, theta) is k * theta: theta = mean / k keeps the rate */
            t += rng_gamma(&r, burstiness, mean_ns / burstiness);
            break;
        }
    }
    return 0;
}
