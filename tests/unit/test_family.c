/* SPDX-License-Identifier: Apache-2.0 */
/* Family profiles: the shipped A-D parse for S and L; malformed fields are refused with the
 * dotted field path and the YAML line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/yamlx.h"
#include "workload/family.h"

static int parse_text(const char *text, const char *ds, struct family_dataset *out, struct diag *d)
{
    json_t *doc = NULL;
    int r = yamlx_parse(text, strlen(text), &doc, d);
    struct family fam;
    if (r == 0)
        r = family_parse(doc, ds, text, strlen(text), &fam, out, d);
    json_decref(doc);
    return r;
}

static void test_shipped(void **state)
{
    (void)state;
    const char *dir = getenv("KVTIER_PROFILES");
    if (!dir)
        skip();
    static const char *names[] = { "A", "B", "C", "D" };
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/workloads/%s.yaml", dir, names[i]);
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(fileio_read_all(path, 1u << 20, &b), 0);
        for (int k = 0; k < 2; k++) {
            struct family_dataset ds;
            struct diag d = { 0 };
            int r = parse_text(buf_str(&b), k ? "L" : "S", &ds, &d);
            if (r != 0)
                fail_msg("%s %s: %s (line %u)", names[i], k ? "L" : "S", d.msg, d.line);
            assert_true(ds.n_classes >= 1);
            assert_true(ds.phases[FAMILY_WARMUP].enabled && ds.phases[FAMILY_PRESSURE].enabled &&
                        ds.phases[FAMILY_REPLAY].enabled && ds.phases[FAMILY_STEADY].enabled);
            for (int p = 0; p < FAMILY__COUNT; p++)
                assert_true(ds.phases[p].rate_per_s <= 4.0); /* workstation rates */
            if (k == 0)
                assert_int_equal(ds.max_input_tokens, 8192);
            else
                assert_int_equal(ds.min_model_seq, 32768);
        }
        buf_fini(&b);
    }
}

static const char good[] = "name: X\n"
                           "datasets:\n"
                           "  S:\n"
                           "    max_input_tokens: 8192\n"
                           "    classes:\n"
                           "      - name: c\n"
                           "        system_tokens: 64\n"
                           "        groups: 2\n"
                           "        query_tokens: [8, 16]\n"
                           "    phases:\n"
                           "      warmup: { arrival: constant, rate_per_s: 1 }\n";

struct err_case {
    const char *from, *to; /* text replacement in `good` */
    int err;
    const char *msg;
    unsigned line;
};

static const struct err_case cases[] = {
    { "groups: 2", "groups: -1", -EINVAL, "datasets.S.classes[0].groups", 8 },
    { "groups: 2", "groups: many", -EINVAL, "classes[0].groups", 8 },
    { "query_tokens: [8, 16]", "query_tokens: [16, 8]", -EINVAL, "classes[0].query_tokens", 9 },
    { "system_tokens: 64", "sistem_tokens: 64", -EINVAL, "sistem_tokens: unknown field", 7 },
    { "arrival: constant", "arrival: bursty", -EINVAL, "phases.warmup.arrival", 11 },
    { "rate_per_s: 1", "rate_per_s: 500", -EINVAL, "phases.warmup.rate_per_s", 11 },
    { "warmup:", "warmpu:", -EINVAL, "unknown phase", 11 },
    { "name: c", "name: \"\"", -EINVAL, "classes[0].name", 6 },
    { "  S:", "  M:", -ENOENT, "datasets.S: not defined", 0 },
    { "max_input_tokens: 8192", "max_input_tokens: [1]", -EINVAL, "datasets.S.max_input_tokens",
      4 },
};

static void test_errors(void **state)
{
    (void)state;
    struct family_dataset ds;
    struct diag d = { 0 };
    assert_int_equal(parse_text(good, "S", &ds, &d), 0);
    assert_int_equal(ds.n_classes, 1);
    assert_int_equal(ds.classes[0].groups, 2);
    assert_int_equal(ds.classes[0].query_tokens.hi, 16);
    assert_int_equal(ds.classes[0].turns.lo, 1);
    assert_false(ds.phases[FAMILY_PRESSURE].enabled);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct err_case *c = &cases[i];
        char text[1024];
        const char *at = strstr(good, c->from);
        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, c->to,
                 at + strlen(c->from));
        d = (struct diag){ 0 };
        int r = parse_text(text, "S", &ds, &d);
        if (r != c->err || !strstr(d.msg, c->msg) || (c->line && d.line != c->line))
            fail_msg("case %zu: rc %d line %u msg '%s'", i, r, d.line, d.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
