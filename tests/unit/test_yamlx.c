/* SPDX-License-Identifier: Apache-2.0 */
/* YAML into json_t and back: typing of plain scalars, nesting, errors with positions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/yamlx.h"

static void test_types(void **state)
{
    (void)state;
    const char *y = "name: tiny\nlayers: 4\nbw: 2.5e9\nflag: true\nnone: ~\nq: \"42\"\n"
                    "list: [1, two]\nmap:\n  a: {b: 3}\n";
    json_t *j = NULL;
    struct diag d = { 0 };
    assert_int_equal(yamlx_parse(y, strlen(y), &j, &d), 0);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "tiny");
    assert_int_equal(json_integer_value(json_object_get(j, "layers")), 4);
    assert_true(json_real_value(json_object_get(j, "bw")) == 2.5e9);
    assert_true(json_is_true(json_object_get(j, "flag")));
    assert_true(json_is_null(json_object_get(j, "none")));
    assert_string_equal(json_string_value(json_object_get(j, "q")), "42");
    assert_int_equal(json_array_size(json_object_get(j, "list")), 2);
    json_t *b = json_object_get(json_object_get(json_object_get(j, "map"), "a"), "b");
    assert_int_equal(json_integer_value(b), 3);

    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(yamlx_emit(j, &out), 0);
    json_t *back = NULL;
    assert_int_equal(yamlx_parse(buf_str(&out), out.len, &back, &d), 0);
    assert_true(json_equal(j, back));
    json_decref(back);
    buf_fini(&out);
    json_decref(j);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
        unsigned line;
    } cases[] = {
        { "a: 1\nb: [1, 2\n", "invalid YAML", 0 },
        { "a: 1\na: 2\n", "duplicate key 'a'", 2 },
        { "a: &x 1\nb: *x\n", "aliases", 2 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = NULL;
        struct diag d = { 0 };
        assert_int_equal(yamlx_parse(cases[i].text, strlen(cases[i].text), &j, &d), -EINVAL);
        assert_non_null(strstr(d.msg, cases[i].needle));
        if (cases[i].line)
            assert_int_equal(d.line, cases[i].line);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
