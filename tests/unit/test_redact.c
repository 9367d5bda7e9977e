/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven tests of credential redaction (common/redact.c): secrets quoted by a server,
 * secrets cut by a length limit, URL userinfo and query values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/redact.h"

struct scase {
    const char *in, *secret, *want;
    size_t n;
};

static void test_secret(void **state)
{
    (void)state;
    static const struct scase cases[] = {
        { "invalid key sk-abcdef123", "sk-abcdef123", "invalid key ***", 1 },
        { "Bearer sk-abcdef123 and sk-abcdef123!", "sk-abcdef123", "Bearer *** and ***!", 2 },
        { "no secret here", "sk-abcdef123", "no secret here", 0 },
        { "cut inside: sk-abcd", "sk-abcdef123", "cut inside: ***", 1 },
        { "cut early: sk-", "sk-abcdef123", "cut early: sk-", 0 },
        { "short key abc", "abc", "short key abc", 0 },
        { "empty", "", "empty", 0 },
        { "sk-abcdef123", "sk-abcdef123", "***", 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[160];
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        size_t n = redact_secret(buf, cases[i].secret);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, cases[i].n);
    }
    assert_int_equal(redact_secret(NULL, "abcdef"), 0);
    char b[] = "abcdef";
    assert_int_equal(redact_secret(b, NULL), 0);
}

struct ucase {
    const char *in, *want;
};

static void test_url(void **state)
{
    (void)state;
    static const struct ucase cases[] = {
        { "http://127.0.0.1:8000", "http://127.0.0.1:8000" },
        { "http://user:pw@host:8000/v1", "http://***@host:8000/v1" },
        { "https://h/v1?api_key=s3cret&x=1", "https://h/v1?api_key=***&x=***" },
        { "http://u@h?k=v#frag", "http://***@h?k=***" },
        { "http://h/p@q", "http://h/p@q" },
        { "http://h?flag&k=v", "http://h?flag&k=***" },
        { "host:1", "host:1" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = redact_url(cases[i].in);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
    assert_null(redact_url(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
