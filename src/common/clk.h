/* SPDX-License-Identifier: Apache-2.0 */
/* The one time type of kvtier: uint64_t nanoseconds from CLOCK_MONOTONIC, plus a wall-clock
 * anchor (_unix_ns) for manifests. The clock is injectable so pacing and samplers run on
 * fixtures with a fake clock. */
#ifndef KVTIER_COMMON_CLK_H
#define KVTIER_COMMON_CLK_H

#include <stdint.h>

#define CLK_NS_PER_S  1000000000ULL
#define CLK_NS_PER_MS 1000000ULL
#define CLK_NS_PER_US 1000ULL

struct clk {
    uint64_t (*now_ns)(const struct clk *c);       /* monotonic ns */
    uint64_t (*wall_unix_ns)(const struct clk *c); /* wall clock, ns since the epoch */
    void *ctx;                                     /* borrowed; for fake clocks */
};

/* The process-wide real clock (CLOCK_MONOTONIC / CLOCK_REALTIME). Borrowed, static. */
const struct clk *clk_system(void);
/* CLOCK_MONOTONIC now in ns. Any thread. */
uint64_t clk_now_ns(void);
/* CLOCK_REALTIME now in ns since the epoch. Any thread. */
uint64_t clk_wall_unix_ns(void);
/* Sleeps until the absolute monotonic deadline (clock_nanosleep TIMER_ABSTIME): no drift. */
void clk_sleep_until_ns(uint64_t deadline_ns);
/* Sleeps for a relative number of ns. */
void clk_sleep_ns(uint64_t ns);

#endif
