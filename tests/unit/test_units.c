/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven tests of quantity parsing (common/units.c), error paths included. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/units.h"

struct ucase {
    const char *in;
    int rc;
    uint64_t want;
};

static void test_sizes(void **state)
{
    (void)state;
    static const struct ucase cases[] = {
        { "4096", 0, 4096 },        { "4KiB", 0, 4096 },         { "2M", 0, 2097152 },
        { "8G", 0, 8589934592ULL }, { "1GB", 0, 1000000000 },    { "1.5kB", 0, 1500 },
        { "10 MiB", 0, 10485760 },  { "", -EINVAL, 0 },          { "abc", -EINVAL, 0 },
        { "-1", -ERANGE, 0 },       { "4 parsecs", -EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = units_parse_size_bytes(cases[i].in, &v);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(v, cases[i].want);
    }
}

static void test_durations(void **state)
{
    (void)state;
    static const struct ucase cases[] = {
        { "250ms", 0, 250000000ULL },  { "30", 0, 30000000000ULL },    { "5m", 0, 300000000000ULL },
        { "1.5s", 0, 1500000000ULL },  { "100us", 0, 100000ULL },      { "7ns", 0, 7 },
        { "1h", 0, 3600000000000ULL }, { "5 fortnights", -EINVAL, 0 }, { "-3s", -ERANGE, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = units_parse_duration_ns(cases[i].in, &v);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(v, cases[i].want);
    }
}

static void test_rates_and_counts(void **state)
{
    (void)state;
    double r = 0;
    assert_int_equal(units_parse_rate_per_s("2k", &r), 0);
    assert_true(r == 2000.0);
    assert_int_equal(units_parse_rate_per_s("100/s", &r), 0);
    assert_true(r == 100.0);
    assert_int_equal(units_parse_rate_per_s("fast", &r), -EINVAL);
    uint64_t u = 0;
    assert_int_equal(units_parse_u64("1.5k", &u), 0);
    assert_int_equal(u, 1500);
    assert_int_equal(units_parse_u64("1.5", &u), -EINVAL);
    char out[32];
    units_format_bytes(2097152, out, sizeof(out));
    assert_string_equal(out, "2.0 MiB");
}

/* Saturating conversions: the inputs the fuzzers found (a 1e91 GB tier, a 7.8e61 repeat count,
 * a delta past 2^64) clamp instead of being undefined behaviour. */
static void test_saturating(void **state)
{
    (void)state;
    assert_true(units_sat_u64(1.35634e91) == UINT64_MAX);
    assert_true(units_sat_u64(18446744073709551616.0) == UINT64_MAX);
    assert_true(units_sat_u64(1.8446744073709550e19) == 18446744073709549568ULL);
    assert_true(units_sat_u64(-1) == 0 && units_sat_u64(NAN) == 0);
    assert_true(units_sat_u64(41.9) == 41);
    assert_true(units_sat_i64(7.77778e61) == INT64_MAX);
    assert_true(units_sat_i64(-7.77778e61) == INT64_MIN);
    assert_true(units_sat_i64(NAN) == 0 && units_sat_i64(-2.7) == -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rates_and_counts),
        cmocka_unit_test(test_saturating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
