/* SPDX-License-Identifier: Apache-2.0 */
/* Quantity parsing: see units.h for the accepted grammar. */
#include "common/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct suffix {
    const char *name;
    double mult;
};

/* Parses a finite non-negative number and returns the suffix start in *ret_end. */
static int number(const char *s, double *ret, const char **ret_end)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    while (*s == ' ')
        s++;
    if (*s == '-')
        return -ERANGE;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return end == s ? -EINVAL : -ERANGE;
    while (*end == ' ')
        end++;
    *ret = v;
    *ret_end = end;
    return 0;
}

static int with_suffix(const char *s, const struct suffix *tab, int case_sensitive, double *ret)
{
    double v;
    const char *end;
    int r = number(s, &v, &end);
    if (r < 0)
        return r;
    for (const struct suffix *t = tab; t->name; t++) {
        int eq = case_sensitive ? strcmp(end, t->name) == 0 : strcasecmp(end, t->name) == 0;
        if (eq) {
            *ret = v * t->mult;
            return 0;
        }
    }
    return -EINVAL;
}

static const struct suffix size_tab[] = {
    { "", 1 },
    { "B", 1 },
    { "KiB", 1024.0 },
    { "MiB", 1048576.0 },
    { "GiB", 1073741824.0 },
    { "TiB", 1099511627776.0 },
    { "K", 1024.0 },
    { "M", 1048576.0 },
    { "G", 1073741824.0 },
    { "T", 1099511627776.0 },
    { "k", 1024.0 },
    { "kB", 1e3 },
    { "KB", 1e3 },
    { "MB", 1e6 },
    { "GB", 1e9 },
    { "TB", 1e12 },
    { NULL, 0 },
};

static int to_u64(double v, uint64_t *ret)
{
    if (v < 0 || v >= 18446744073709551615.0)
        return -ERANGE;
    *ret = (uint64_t)llround(v);
    return 0;
}

int units_parse_size_bytes(const char *s, uint64_t *ret_bytes)
{
    double v;
    int r = with_suffix(s, size_tab, 1, &v);
    if (r < 0)
        return r;
    return to_u64(v, ret_bytes);
}

static const struct suffix dur_tab[] = {
    { "", 1e9 }, { "s", 1e9 },  { "sec", 1e9 },  { "ms", 1e6 },   { "us", 1e3 },
    { "ns", 1 }, { "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 }, { NULL, 0 },
};

int units_parse_duration_ns(const char *s, uint64_t *ret_ns)
{
    double v;
    int r = with_suffix(s, dur_tab, 1, &v);
    if (r < 0)
        return r;
    return to_u64(v, ret_ns);
}

static const struct suffix si_tab[] = {
    { "", 1 }, { "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { NULL, 0 },
};

int units_parse_rate_per_s(const char *s, double *ret_rate)
{
    char tmp[64];
    if (!s)
        return -EINVAL;
    snprintf(tmp, sizeof(tmp), "%s", s);
    size_t n = strlen(tmp);
    if (n >= 2 && strcmp(tmp + n - 2, "/s") == 0)
        tmp[n - 2] = 0;
    return with_suffix(tmp, si_tab, 1, ret_rate);
}

int units_parse_double(const char *s, double *ret)
{
    return with_suffix(s, si_tab, 1, ret);
}

int units_parse_u64(const char *s, uint64_t *ret)
{
    double v;
    int r = with_suffix(s, si_tab, 1, &v);
    if (r < 0)
        return r;
    if (v != floor(v))
        return -EINVAL;
    return to_u64(v, ret);
}

void units_format_bytes(uint64_t bytes, char *out, unsigned out_len)
{
    static const char *names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)bytes;
    unsigned i = 0;
    while (v >= 1024.0 && i < 5) {
        v /= 1024.0;
        i++;
    }
    if (i == 0)
        snprintf(out, out_len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, out_len, "%.1f %s", v, names[i]);
}

uint64_t units_sat_u64(double x)
{
    if (!(x > 0))
        return 0;
    /* 2^64 as a double: every double below it converts */
    return x >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)x;
}

int64_t units_sat_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}
