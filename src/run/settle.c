/* SPDX-License-Identifier: Apache-2.0 */
/* Phase settling: see settle.h and docs/bundle.md "Phase settling". */
#include "run/settle.h"

#include <assert.h>
#include <errno.h>
#include <math.h>

#include "common/jsonx.h"

const char *settle_status_name(enum settle_status s)
{
    switch (s) {
    case SETTLE_DISABLED:
        return "disabled";
    case SETTLE_SETTLED:
        return "settled";
    case SETTLE_TIMED_OUT:
        return "timed_out";
    case SETTLE_INTERRUPTED:
        return "interrupted";
    }
    return "?";
}

static void real_sleep(void *ctx, uint64_t ns)
{
    (void)ctx;
    clk_sleep_ns(ns);
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Folds one reading, dt_s after the previous one, into the result: returns whether any
 * readable counter moved since its last readable value by more than its quiet rate allows (an
 * unreadable reading keeps the last value; a decrease is a reset and counts as movement, its
 * growth after the reset is counted from zero). */
static bool fold(struct settle_result *r, const double *rate, double *last, const double *cur,
                 double dt_s)
{
    bool moved = false;
    for (size_t i = 0; i < r->n; i++) {
        if (isnan(cur[i]))
            continue;
        if (!r->readable[i]) {
            r->readable[i] = true;
            r->moved[i] = 0;
            last[i] = cur[i];
            continue;
        }
        if (cur[i] != last[i]) {
            double grew = cur[i] > last[i] ? cur[i] - last[i] : cur[i];
            if (cur[i] < last[i] || !rate || grew > rate[i] * dt_s)
                moved = true;
            r->moved[i] += grew;
        }
        last[i] = cur[i];
    }
    return moved;
}

int settle_wait(const struct settle_config *cfg, const struct settle_source *src,
                struct settle_result *ret)
{
    assert(cfg && src && ret);
    if (src->n == 0 || src->n > SETTLE_MAX_COUNTERS || !src->sample)
        return -EINVAL;
    *ret = (struct settle_result){ .status = SETTLE_DISABLED, .n = src->n };
    for (size_t i = 0; i < src->n; i++)
        ret->moved[i] = NAN;
    if (cfg->timeout_ns == 0)
        return 0;
    const struct clk *c = cfg->clk ? cfg->clk : clk_system();
    settle_sleep_fn *sleep = cfg->sleep ? cfg->sleep : real_sleep;
    uint64_t poll = cfg->poll_ns ? cfg->poll_ns : SETTLE_DEFAULT_POLL;
    if (cfg->quiet_ns && poll > cfg->quiet_ns)
        poll = cfg->quiet_ns;
    double last[SETTLE_MAX_COUNTERS], cur[SETTLE_MAX_COUNTERS];
    src->sample(src->ctx, cur, src->n);
    ret->samples = 1;
    uint64_t t0 = c->now_ns(c), last_move = t0, now = t0, prev_t = t0;
    fold(ret, src->quiet_rate, last, cur, 0);
    for (;;) {
        if (cfg->stop && *cfg->stop) {
            ret->status = SETTLE_INTERRUPTED;
            break;
        }
        if (now - last_move >= cfg->quiet_ns) {
            ret->status = SETTLE_SETTLED;
            break;
        }
        if (now - t0 >= cfg->timeout_ns) {
            ret->status = SETTLE_TIMED_OUT;
            break;
        }
        uint64_t step = min3(poll, cfg->quiet_ns - (now - last_move), cfg->timeout_ns - (now - t0));
        sleep(cfg->sleep_ctx, step ? step : 1);
        src->sample(src->ctx, cur, src->n);
        ret->samples++;
        now = c->now_ns(c);
        bool moved = fold(ret, src->quiet_rate, last, cur, (double)(now - prev_t) / CLK_NS_PER_S);
        prev_t = now;
        if (moved) {
            ret->changes++;
            last_move = now;
        }
    }
    ret->waited_ns = now - t0;
    ret->quiet_ns = now - last_move;
    return 0;
}

json_t *settle_result_json(const struct settle_result *r, const struct settle_config *cfg,
                           const struct settle_source *src)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(settle_status_name(r->status)));
    jsonx_set_num(o, "waited_s", (double)r->waited_ns / CLK_NS_PER_S);
    jsonx_set_num(o, "quiet_s", (double)r->quiet_ns / CLK_NS_PER_S);
    jsonx_set_num(o, "quiet_required_s", (double)cfg->quiet_ns / CLK_NS_PER_S);
    jsonx_set_num(o, "timeout_s", (double)cfg->timeout_ns / CLK_NS_PER_S);
    json_object_set_new(o, "samples", json_integer(r->samples));
    json_object_set_new(o, "changes", json_integer(r->changes));
    json_t *m = json_object();
    for (size_t i = 0; i < r->n && i < src->n; i++)
        jsonx_set_num(m, src->names[i], r->readable[i] ? r->moved[i] : NAN);
    json_object_set_new(o, "moved", m);
    return o;
}
