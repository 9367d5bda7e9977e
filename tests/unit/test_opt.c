/* SPDX-License-Identifier: Apache-2.0 */
/* Option tables: defaults, parsing, bounds, enums, unknown-option hints, help and JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/opt.h"

struct cfg {
    uint64_t requests;
    uint64_t duration_ns;
    double rate;
    const char *url;
    bool quiet;
    int arrival;
    struct opt_marks set; /* which options were given */
};

static const struct opt_choice arrivals[] = { { "poisson", "exponential gaps" },
                                              { "constant", "fixed gaps" },
                                              { NULL, NULL } };

static const struct opt_def defs[] = {
    { "requests", 'n', OPT_U64, offsetof(struct cfg, requests), "100", 1, 1e6, NULL, "Load",
      "requests to send" },
    { "duration", 0, OPT_DURATION_NS, offsetof(struct cfg, duration_ns), "30s", OPT_UNBOUNDED, NULL,
      "Load", "time limit" },
    { "rate", 0, OPT_RATE_PER_S, offsetof(struct cfg, rate), NULL, OPT_UNBOUNDED, NULL, "Load",
      "requests per second" },
    { "url", 0, OPT_STR, offsetof(struct cfg, url), "http://127.0.0.1:8000", OPT_UNBOUNDED, NULL,
      "Target", "base URL" },
    { "quiet", 'q', OPT_BOOL, offsetof(struct cfg, quiet), NULL, OPT_UNBOUNDED, NULL, "Output",
      "no progress line" },
    { "arrival", 0, OPT_ENUM, offsetof(struct cfg, arrival), "poisson", OPT_UNBOUNDED, arrivals,
      "Load", "arrival process" },
    OPT_END_MARKS(struct cfg, set),
};

static int parse(int argc, char **argv, struct cfg *c, struct diag *d, bool *help)
{
    int oi = 0;
    *c = (struct cfg){ 0 };
    return opt_parse(defs, argc, argv, c, help, &oi, d);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    struct cfg c;
    struct diag d = { 0 };
    bool help;
    char *argv[] = { "load",      "-n",       "2k", "--duration",  "250ms",
                     "--arrival", "constant", "-q", "--rate=50/s", NULL };
    assert_int_equal(parse(9, argv, &c, &d, &help), 0);
    assert_false(help);
    assert_int_equal(c.requests, 2000);
    assert_int_equal(c.duration_ns, 250000000ULL);
    assert_int_equal(c.arrival, 1);
    assert_true(c.quiet);
    assert_true(c.rate == 50.0);
    assert_string_equal(c.url, "http://127.0.0.1:8000");
    assert_true(opt_was_set(defs, &c, "requests"));
    assert_false(opt_was_set(defs, &c, "url"));
    json_t *j = opt_to_json(defs, &c);
    assert_string_equal(json_string_value(json_object_get(j, "arrival")), "constant");
    json_decref(j);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *arg, *val, *needle;
    } cases[] = {
        { "--requests", "0", "out of range" },
        { "--requests", "many", "cannot parse" },
        { "--arrival", "bursty", "valid: poisson, constant" },
        { "--reqests", "5", "did you mean '--requests'" },
        { "--duration", "soon", "duration" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg c;
        struct diag d = { 0 };
        bool help;
        char *argv[] = { "load", (char *)cases[i].arg, (char *)cases[i].val, NULL };
        assert_int_equal(parse(3, argv, &c, &d, &help), -EINVAL);
        assert_non_null(strstr(d.msg, cases[i].needle));
    }
}

static void test_help(void **state)
{
    (void)state;
    struct cfg c;
    struct diag d = { 0 };
    bool help = false;
    char *argv[] = { "load", "--help", NULL };
    assert_int_equal(parse(2, argv, &c, &d, &help), 0);
    assert_true(help);
    struct buf b;
    buf_init(&b, 0);
    opt_help(defs, "kvtier load [OPTIONS]", "Sends requests.", &b);
    assert_non_null(strstr(buf_str(&b), "--requests N"));
    assert_non_null(strstr(buf_str(&b), "[default: 100]"));
    assert_non_null(strstr(buf_str(&b), "Target:"));
    buf_reset(&b);
    opt_help_markdown(defs, "load", &b);
    assert_non_null(strstr(buf_str(&b), "| `--arrival` |"));
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
