/* SPDX-License-Identifier: Apache-2.0 */
/* KVBM environment parsing (see config.h). The number parsers mimic Rust's str::parse:
 * u64/usize take only decimal digits (no sign, no spaces, no fraction); f64 takes an optional
 * sign, digits with an optional fraction and exponent, "inf"/"NaN". */
#include "engine/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *config_getenv_process(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* Rust u64/usize parse: "+"? digits only. */
static bool parse_u64_rust(const char *s, uint64_t *ret)
{
    if (!s)
        return false;
    if (*s == '+')
        s++;
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    *ret = v;
    return true;
}

/* Rust f64 parse: no surrounding spaces, decimal or exponent form, inf/infinity/nan. */
static bool parse_f64_rust(const char *s, double *ret)
{
    if (!s || !*s)
        return false;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        *ret = strtod(s, NULL);
        return true;
    }
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    *ret = strtod(s, NULL);
    return true;
}

/* Tier size as the leader computes it: override wins when parseable, else floor(GB x 1e9 /
 * bpb) with GB as f64 (0 when absent, unparseable, negative or NaN). */
static uint64_t tier_blocks(config_getenv_fn *get, void *ctx, const char *gb_var,
                            const char *override_var, uint64_t bpb)
{
    uint64_t ov;
    if (parse_u64_rust(get(ctx, override_var), &ov))
        return ov;
    double gb;
    if (!parse_f64_rust(get(ctx, gb_var), &gb) || !(gb > 0))
        return 0;
    double blocks = floor(gb * 1e9 / (double)bpb);
    return blocks >= 1.8e19 ? UINT64_MAX : (uint64_t)blocks;
}

/* The bypass check's view of a tier: GB as u64 or override as usize, > 0. */
static bool tier_set_u64(config_getenv_fn *get, void *ctx, const char *gb_var,
                         const char *override_var)
{
    uint64_t gb = 0, ov = 0;
    if (!parse_u64_rust(get(ctx, gb_var), &gb))
        gb = 0;
    if (!parse_u64_rust(get(ctx, override_var), &ov))
        ov = 0;
    return gb > 0 || ov > 0;
}

static void warn(struct config_kvbm *c, const char *fmt, const char *arg)
{
    if (c->n_warnings >= CONFIG_WARN_MAX)
        return;
    snprintf(c->warnings[c->n_warnings++], sizeof(c->warnings[0]), fmt, arg);
}

static uint32_t env_u32(config_getenv_fn *get, void *ctx, const char *name, uint32_t def)
{
    uint64_t v;
    if (!parse_u64_rust(get(ctx, name), &v) || v == 0 || v > UINT32_MAX)
        return def;
    return (uint32_t)v;
}

int config_kvbm_from_env(config_getenv_fn *get, void *ctx, uint64_t bytes_per_block,
                         struct config_kvbm *ret)
{
    if (bytes_per_block == 0)
        return -EINVAL;
    struct config_kvbm c = { 0 };
    c.host_blocks = tier_blocks(get, ctx, "DYN_KVBM_CPU_CACHE_GB",
                                "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS", bytes_per_block);
    c.disk_blocks = tier_blocks(get, ctx, "DYN_KVBM_DISK_CACHE_GB",
                                "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS", bytes_per_block);
    c.enabled = c.host_blocks > 0 || c.disk_blocks > 0;
    bool cpu_u64 =
        tier_set_u64(get, ctx, "DYN_KVBM_CPU_CACHE_GB", "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS");
    bool disk_u64 =
        tier_set_u64(get, ctx, "DYN_KVBM_DISK_CACHE_GB", "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS");
    c.bypass_cpu = !cpu_u64 && disk_u64;
    const char *f = get(ctx, "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER");
    bool filter_off = f && (!strcmp(f, "true") || !strcmp(f, "1"));
    c.filter_enabled = c.disk_blocks > 0 && c.host_blocks > 0 && !c.bypass_cpu && !filter_off;
    c.o_direct = get(ctx, "DYN_KVBM_DISK_DISABLE_O_DIRECT") == NULL;
    c.zerofill_fallback = get(ctx, "DYN_KVBM_DISK_ZEROFILL_FALLBACK") != NULL;
    const char *dir = get(ctx, "DYN_KVBM_DISK_CACHE_DIR");
    if (!dir || !*dir)
        dir = CONFIG_DEFAULT_DISK_DIR;
    if (strlen(dir) >= sizeof(c.disk_dir) - 40)
        return -EINVAL;
    snprintf(c.disk_dir, sizeof(c.disk_dir), "%s", dir);
    const char *m = get(ctx, "DYN_KVBM_METRICS");
    c.metrics_enabled = m && (!strcmp(m, "1") || !strcasecmp(m, "true"));
    c.metrics_port = CONFIG_DEFAULT_KVBM_PORT;
    const char *port = get(ctx, "DYN_KVBM_METRICS_PORT");
    uint64_t pv;
    if (port && parse_u64_rust(port, &pv) && pv <= 65535)
        c.metrics_port = (uint16_t)pv;
    else if (port)
        warn(&c, "DYN_KVBM_METRICS_PORT='%.60s' is not a valid port; using 6880", port);
    c.stats_max_requests = env_u32(get, ctx, "DYN_KVBM_CACHE_STATS_MAX_REQUESTS", 1000);
    c.stats_interval_s = env_u32(get, ctx, "DYN_KVBM_CACHE_STATS_LOG_INTERVAL_SECS", 5);
    if (c.disk_blocks > 0 && c.host_blocks == 0 && !c.bypass_cpu)
        warn(&c,
             "%s: disk tier set without a host tier and not in disk-only mode: nothing "
             "will reach the disk",
             "DYN_KVBM_DISK_CACHE_GB");
    if (c.bypass_cpu && c.host_blocks > 0)
        warn(&c,
             "%s is fractional: host blocks are allocated but disk-only mode bypasses them "
             "(KVBM's u64-vs-f64 trap)",
             "DYN_KVBM_CPU_CACHE_GB");
    *ret = c;
    return 0;
}

const char *config_mode_name(const struct config_kvbm *c)
{
    if (!c->enabled)
        return "B0";
    if (c->bypass_cpu)
        return "B3";
    if (c->host_blocks > 0 && c->disk_blocks == 0)
        return "B1";
    if (c->host_blocks > 0 && c->disk_blocks > 0)
        return c->filter_enabled ? "B2" : "B2p";
    return "other";
}
