/* SPDX-License-Identifier: Apache-2.0 */
/* CSV reading: headers, numbers and text, quoting, CRLF, short rows, and the error paths. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "report/csvread.h"

static void test_parse(void **state)
{
    (void)state;
    const char *text = "t_ns,device,rkB/s,\"note, quoted\"\r\n1000,vda,12.5,\"a \"\"b\"\"\"\r\n"
                       "\n2000,vda,,x\n3000,vda\n";
    struct csvread_table *t = NULL;
    struct diag d = { 0 };
    assert_int_equal(csvread_parse(text, strlen(text), &t, &d), 0);
    assert_int_equal(t->ncols, 4);
    assert_int_equal(t->nrows, 3);
    assert_string_equal(t->names[3], "note, quoted");
    assert_int_equal(csvread_col(t, "rkB/s"), 2);
    assert_int_equal(csvread_col(t, "nope"), -1);
    assert_true(csvread_at(t, 0, 2) == 12.5);
    assert_true(isnan(csvread_at(t, 1, 2)));
    assert_true(isnan(csvread_at(t, 0, 1)));
    assert_string_equal(t->text[0 * 4 + 3], "a \"b\"");
    assert_true(isnan(csvread_at(t, 2, 3)));
    assert_true(csvread_at(t, 2, 0) == 3000);
    assert_true(isnan(csvread_at(t, 9, 0)));
    csvread_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        unsigned line;
    } cases[] = {
        { "", -EINVAL, 1 },
        { "\n\n", -EINVAL, 1 },
        { "a,b\n1,2,3\n", -EINVAL, 2 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct csvread_table *t = NULL;
        struct diag d = { 0 };
        assert_int_equal(csvread_parse(cases[i].text, strlen(cases[i].text), &t, &d), cases[i].rc);
        assert_int_equal(d.line, cases[i].line);
    }
    struct csvread_table *t = NULL;
    assert_int_equal(csvread_load("/nonexistent/x.csv", &t, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
