/* SPDX-License-Identifier: Apache-2.0 */
/* Format-and-emit (common/emit.c): the line reaches the callback formatted, long lines are
 * truncated to the limit, a NULL callback is a no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/emit.h"

struct got {
    char line[2 * EMIT_LINE_MAX_BYTES];
    unsigned calls;
};

static void take(void *ctx, const char *line)
{
    struct got *g = ctx;
    g->calls++;
    snprintf(g->line, sizeof(g->line), "%s", line);
}

static void test_emit(void **state)
{
    (void)state;
    struct got g = { 0 };
    emit_line(take, &g, "phase %s: %d requests", "replay", 42);
    assert_int_equal(g.calls, 1);
    assert_string_equal(g.line, "phase replay: 42 requests");
    emit_line(take, &g, "%0*d", EMIT_LINE_MAX_BYTES + 100, 7);
    assert_int_equal(g.calls, 2);
    assert_int_equal(strlen(g.line), EMIT_LINE_MAX_BYTES - 1);
    emit_line(NULL, &g, "dropped");
    assert_int_equal(g.calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
