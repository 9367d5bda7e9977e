/* SPDX-License-Identifier: Apache-2.0 */
/* Prints the instrument's rates (analysis/instrument.h) over 200 seeds (or argv[1]): A/A
 * comparisons flagged better or worse, a planted 20% TTFT reduction detected, and the coverage of
 * the per-repeat p50/p95 order-statistic intervals, for 3, 5 and 10 repeats a side and two
 * run-to-run spreads, each repeat 100 or 400 requests. */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/instrument.h"

int main(int argc, char **argv)
{
    unsigned seeds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
    static const struct {
        unsigned repeats, requests;
        double run_sigma;
    } rows[] = { { 3, 100, 0.05 }, { 5, 100, 0.05 }, { 10, 100, 0.05 },
                 { 5, 400, 0.05 }, { 8, 200, 0.05 }, { 10, 200, 0.05 },
                 { 3, 400, 0.10 }, { 5, 400, 0.10 }, { 10, 400, 0.10 } };
    struct compare_config cc = {
        .level = 0.95, .resamples = 500, .seed = 1, .min_effect = 0.05, .repeats_min = 3
    };
    printf("repeats requests run_cv  A/A_flagged planted20_better planted_worse cover_p50 "
           "cover_p95 p95_undersampled\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct instrument_config c = { .seeds = seeds ? seeds : 200,
                                       .repeats = rows[i].repeats,
                                       .requests = rows[i].requests,
                                       .run_sigma = rows[i].run_sigma,
                                       .request_sigma = 0.6,
                                       .effect = 0.2,
                                       .seed = 1 };
        struct instrument_rates r;
        if (instrument_run(&c, &cc, &r) < 0)
            return 1;
        printf("%7u %8u %6.2f  %11.3f %16.3f %13.3f %9.3f %9.3f %16.3f\n", c.repeats, c.requests,
               c.run_sigma, r.aa_flagged, r.planted_better, r.planted_worse, r.coverage_p50,
               r.coverage_p95, r.undersampled_p95);
    }
    return 0;
}
