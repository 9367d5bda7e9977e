/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics (common/diag.c): a caller may re-label a message with the message itself as an
 * argument (issue 11 item 14, the overlapping vsnprintf in diag_set callers): the result is the
 * new text around the old one, never the old buffer read while it is being written; the same
 * for the file name; diag_format puts the parts together. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/diag.h"

static void test_relabel_own_message(void **state)
{
    (void)state;
    struct diag d = { 0 };
    assert_int_equal(diag_set(&d, -EINVAL, 2, 5, "unexpected token"), -EINVAL);
    /* the message as the only argument (mooncake_export's case) */
    assert_int_equal(diag_set(&d, -EINVAL, 3, d.col, "%s", d.msg), -EINVAL);
    assert_string_equal(d.msg, "unexpected token");
    assert_int_equal(d.line, 3);
    assert_int_equal(d.col, 5);
    /* with text before it: a vsnprintf into d.msg writes the prefix over the argument first */
    diag_set(&d, -EINVAL, 3, 0, "plan row %u: %s", 7u, d.msg);
    assert_string_equal(d.msg, "plan row 7: unexpected token");
    diag_set(&d, -EINVAL, 3, 0, "%s (%s)", d.msg, d.msg + 12);
    assert_string_equal(d.msg, "plan row 7: unexpected token (unexpected token)");
    /* a full-length message re-labelled: truncated, terminated */
    char longer[sizeof(d.msg) + 40];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = 0;
    diag_set(&d, -E2BIG, 1, 0, "%s", longer);
    diag_set(&d, -E2BIG, 1, 0, "in row 1: %s", d.msg);
    assert_int_equal(strlen(d.msg), sizeof(d.msg) - 1);
    assert_memory_equal(d.msg, "in row 1: xxx", 13);
}

static void test_file_and_format(void **state)
{
    (void)state;
    struct diag d = { 0 };
    diag_file(&d, "plans/a.jsonl");
    diag_file(&d, d.file); /* unchanged */
    assert_string_equal(d.file, "plans/a.jsonl");
    diag_file(&d, d.file + 6);
    assert_string_equal(d.file, "a.jsonl");
    diag_set(&d, -EINVAL, 4, 9, "field %s: %s", "id", "not a string");
    char out[400];
    diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.jsonl:4:9: field id: not a string");
    diag_file(&d, NULL);
    d.col = 0;
    diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "4: field id: not a string");
    assert_int_equal(diag_set(NULL, -EIO, 0, 0, "%s", "nothing"), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relabel_own_message),
        cmocka_unit_test(test_file_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
