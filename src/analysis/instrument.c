/* SPDX-License-Identifier: Apache-2.0 */
/* Instrument rates on synthetic repeats (see instrument.h). */
#include "analysis/instrument.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantci.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"

#define BASE_MS 200.0 /* median request TTFT of the baseline */
#define Z95     1.6448536269514722

struct tally {
    unsigned intervals, cover50, cover95, under95;
};

/* One repeat: its p95 (type 7, as summary.json) and the interval checks against the run's
 * true p50 = median and p95 = median * exp(sigma * z95). */
static double one_repeat(const struct instrument_config *c, struct rng *r, double median,
                         double *buf, struct tally *t)
{
    double run = median * exp(c->run_sigma * rng_normal(r));
    for (unsigned i = 0; i < c->requests; i++)
        buf[i] = rng_lognormal(r, run, c->request_sigma);
    qsort(buf, c->requests, sizeof(double), stats_cmp_double);
    struct quantci q50, q95;
    quantci_sorted(buf, c->requests, 0.5, QUANTCI_LEVEL, &q50);
    quantci_sorted(buf, c->requests, 0.95, QUANTCI_LEVEL, &q95);
    double true95 = run * exp(c->request_sigma * Z95);
    t->intervals++;
    t->cover50 += q50.supported && q50.lo <= run && run <= q50.hi;
    t->cover95 += q95.supported && q95.lo <= true95 && true95 <= q95.hi;
    t->under95 += !q95.supported;
    return q95.value;
}

/* One trial: repeats per side, the treatment's median scaled by 1 - effect. */
static const char *trial(const struct instrument_config *c, const struct compare_config *cc,
                         struct rng *r, double effect, uint64_t seed, double *buf, struct tally *t)
{
    double *vb = xmalloc(c->repeats * sizeof(double)), *vt = xmalloc(c->repeats * sizeof(double));
    for (unsigned i = 0; i < c->repeats; i++) {
        vb[i] = one_repeat(c, r, BASE_MS, buf, t);
        vt[i] = one_repeat(c, r, BASE_MS * (1 - effect), buf, t);
    }
    const char *v = compare_verdict(cc, RUNDIR_LOWER, vb, c->repeats, vt, c->repeats, seed);
    free(vb);
    free(vt);
    return v;
}

int instrument_run(const struct instrument_config *c, const struct compare_config *cc,
                   struct instrument_rates *ret)
{
    if (!c->seeds || !c->repeats || !c->requests)
        return -EINVAL;
    double *buf = xmalloc(c->requests * sizeof(double));
    struct tally t = { 0 };
    unsigned flagged = 0, better = 0, worse = 0;
    for (unsigned s = 0; s < c->seeds; s++) {
        struct rng r;
        rng_seed(&r, rng_derive(c->seed + s, "instrument"));
        const char *aa = trial(c, cc, &r, 0, c->seed + s, buf, &t);
        flagged += !strcmp(aa, "better") || !strcmp(aa, "worse");
        const char *pl = trial(c, cc, &r, c->effect, c->seed + s, buf, &t);
        better += !strcmp(pl, "better");
        worse += !strcmp(pl, "worse");
    }
    free(buf);
    double n = c->seeds;
    *ret = (struct instrument_rates){
        .aa_flagged = flagged / n,
        .planted_better = better / n,
        .planted_worse = worse / n,
        .coverage_p50 = (double)t.cover50 / t.intervals,
        .coverage_p95 = (double)t.cover95 / t.intervals,
        .undersampled_p95 = (double)t.under95 / t.intervals,
    };
    return 0;
}
