/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic and wall clocks in nanoseconds, and absolute-deadline sleeping. */
#include "common/clk.h"

#include <errno.h>
#include <time.h>

uint64_t clk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * CLK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t clk_wall_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * CLK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t sys_now(const struct clk *c)
{
    (void)c;
    return clk_now_ns();
}

static uint64_t sys_wall(const struct clk *c)
{
    (void)c;
    return clk_wall_unix_ns();
}

static const struct clk system_clk = { .now_ns = sys_now, .wall_unix_ns = sys_wall };

const struct clk *clk_system(void)
{
    return &system_clk;
}

void clk_sleep_until_ns(uint64_t deadline_ns)
{
    struct timespec ts = { .tv_sec = (time_t)(deadline_ns / CLK_NS_PER_S),
                           .tv_nsec = (long)(deadline_ns % CLK_NS_PER_S) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void clk_sleep_ns(uint64_t ns)
{
    clk_sleep_until_ns(clk_now_ns() + ns);
}
