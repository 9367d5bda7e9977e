/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake trace rows: valid rows, and each malformed field named in the error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/mooncake_row.h"

struct case_ {
    const char *line;
    uint32_t tph;
    int err;
    const char *msg; /* substring of the diagnostic, or expected session id */
};

static const struct case_ cases[] = {
    { "{\"timestamp\": 27482, \"input_length\": 6955, \"output_length\": 52, \"hash_ids\": "
      "[46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}",
      512, 0, "" },
    { "{\"timestamp\": 0, \"input_length\": 64, \"output_length\": 8, \"hash_ids\": [1, 2], "
      "\"session_id\": \"u1\", \"delay\": 1500}",
      32, 0, "u1" },
    { "{\"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0], \"session_id\": 7}", 512, 0,
      "7" },
    { "{\"timestamp\": 1, \"output_length\": 8, \"hash_ids\": [1]}", 512, -EINVAL,
      "\"input_length\": missing" },
    { "{\"input_length\": 600, \"output_length\": 8, \"hash_ids\": [1]}", 512, -EINVAL,
      "\"input_length\": 600 tokens do not match 1 hash ids" },
    { "{\"input_length\": 100, \"output_length\": 8, \"hash_ids\": [1, 2]}", 512, -EINVAL,
      "do not match" },
    { "{\"input_length\": 10, \"output_length\": 8, \"hash_ids\": [1, -2]}", 512, -EINVAL,
      "\"hash_ids[1]\"" },
    { "{\"input_length\": 10, \"output_length\": 8, \"hash_ids\": []}", 512, -EINVAL,
      "\"hash_ids\": expected" },
    { "{\"input_length\": 10, \"output_length\": \"8\", \"hash_ids\": [1]}", 512, -EINVAL,
      "\"output_length\"" },
    { "{\"input_length\": 10, \"output_length\": 0, \"hash_ids\": [1]}", 512, -EINVAL,
      "\"output_length\": must be" },
    { "{\"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1], \"session_id\": []}", 512,
      -EINVAL, "\"session_id\"" },
    { "[1, 2]", 512, -EINVAL, "not a JSON object" },
    { "{\"input_length\": 10,", 512, -EINVAL, "not a JSON object" },
};

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct case_ *c = &cases[i];
        struct mooncake_row r;
        struct diag d = { .line = 7 };
        int rc = mooncake_row_parse(c->line, strlen(c->line), c->tph, &r, &d);
        if (rc != c->err || (rc < 0 && (!strstr(d.msg, c->msg) || d.line != 7)))
            fail_msg("case %zu: rc %d line %u '%s'", i, rc, d.line, d.msg);
        if (rc == 0) {
            assert_string_equal(r.session_id, c->msg);
            assert_true(r.n_hash >= 1);
            mooncake_row_fini(&r);
        }
    }
    struct mooncake_row r;
    struct diag d = { 0 };
    assert_int_equal(mooncake_row_parse("{}", 2u << 20, 512, &r, &d), -EMSGSIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
