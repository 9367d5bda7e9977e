/* SPDX-License-Identifier: Apache-2.0 */
/* Engine limits before sending, and the observed-provenance helpers: Dataset L on a < 32k
 * engine and a planned request longer than the live context are refused with the numbers in
 * the reason; a model checkpoint digest changes with its config; the configuration hash is
 * stable under key order and changes with any defining value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/limits.h"
#include "run/provenance.h"

static char *write_plan(const char *dir, unsigned in_tokens, unsigned out_tokens)
{
    char *p = fileio_join(dir, "plan.jsonl");
    char *txt = xalloc_printf("{\"kind\":\"kvtier.plan\"}\n"
                              "{\"id\":\"r000000\",\"input_tokens\":100,\"output_tokens\":10}\n"
                              "{\"id\":\"r000001\",\"input_tokens\":%u,\"output_tokens\":%u}\n",
                              in_tokens, out_tokens);
    assert_int_equal(fileio_write_atomic(p, txt, strlen(txt)), 0);
    free(txt);
    return p;
}

static json_t *limits(double ctx)
{
    json_t *o = json_object();
    if (ctx > 0)
        jsonx_set_num(o, "context_length", ctx);
    return o;
}

static void test_limits(void **state)
{
    (void)state;
    char dir[] = "/tmp/kvtier-test-limits.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char why[400];
    char *plan = write_plan(dir, 8000, 100);
    json_t *l8 = limits(8192), *l40 = limits(40960), *none = limits(0);
    assert_int_equal(limits_check(plan, l8, "L", why, sizeof(why)), -E2BIG);
    assert_non_null(strstr(why, "8192"));
    assert_int_equal(limits_check(plan, l8, "S", why, sizeof(why)), 0);
    assert_int_equal(limits_check(plan, none, "L", why, sizeof(why)), 0);
    free(plan);
    plan = write_plan(dir, 8100, 200);
    /* one over-long request: counted and named, not a refusal of the run */
    assert_int_equal(limits_check(plan, l8, "S", why, sizeof(why)), 1);
    assert_non_null(strstr(why, "r000001"));
    assert_non_null(strstr(why, "8300"));
    assert_int_equal(limits_check(plan, l40, "L", why, sizeof(why)), 0);
    /* a plan far larger than 64 KiB is read whole: every over-long request is counted */
    {
        struct buf big;
        buf_init(&big, 0);
        buf_printf(&big, "{\"kind\":\"kvtier.plan\"}\n");
        for (int i = 0; i < 400; i++)
            buf_printf(&big,
                       "{\"id\":\"q%03d\",\"input_tokens\":%d,\"output_tokens\":10,"
                       "\"prompt\":\"%0500d\"}\n",
                       i, i % 2 ? 9000 : 100, 0);
        char *bp = fileio_join(dir, "big.jsonl");
        assert_int_equal(fileio_write_atomic(bp, big.data, big.len), 0);
        assert_true(big.len > 150000);
        assert_int_equal(limits_check(bp, l8, "S", why, sizeof(why)), 200);
        assert_non_null(strstr(why, "q001"));
        unlink(bp);
        free(bp);
        buf_fini(&big);
    }
    assert_int_equal(limits_write_dossier(dir, l8, why), 0);
    char *md = fileio_join(dir, "blocker_dossier.md");
    assert_int_equal(access(md, R_OK), 0);
    unlink(md);
    free(md);
    char *js = fileio_join(dir, "blocker_dossier.json");
    unlink(js);
    free(js);
    unlink(plan);
    free(plan);
    rmdir(dir);
    json_decref(l8);
    json_decref(l40);
    json_decref(none);
}

static void test_model_digest_and_hash(void **state)
{
    (void)state;
    char dir[] = "/tmp/kvtier-test-prov.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cfg = fileio_join(dir, "config.json");
    assert_int_equal(fileio_write_atomic(cfg, "{\"a\":1}", 7), 0);
    json_t *d1 = provenance_model_digest(dir);
    assert_int_equal(fileio_write_atomic(cfg, "{\"a\":2}", 7), 0);
    json_t *d2 = provenance_model_digest(dir);
    const char *h1 = jsonx_str(d1, "digest", ""), *h2 = jsonx_str(d2, "digest", "");
    assert_int_equal(strncmp(h1, "xxh3-128:", 9), 0);
    assert_string_not_equal(h1, h2);
    json_decref(d1);
    json_decref(d2);
    unlink(cfg);
    free(cfg);
    rmdir(dir);
    json_t *none = provenance_model_digest("org/hub-id");
    assert_non_null(json_object_get(none, "error"));
    json_decref(none);

    static const char *const keys[] = { "a", "b", NULL };
    json_t *x = NULL, *y = NULL, *z = NULL;
    struct diag d = { 0 };
    assert_int_equal(jsonx_parse("{\"a\":{\"p\":1,\"q\":2},\"b\":3,\"c\":9}", 31, &x, &d), 0);
    assert_int_equal(jsonx_parse("{\"c\":0,\"b\":3,\"a\":{\"q\":2,\"p\":1}}", 31, &y, &d), 0);
    assert_int_equal(jsonx_parse("{\"a\":{\"p\":1,\"q\":2},\"b\":4}", 25, &z, &d), 0);
    char *hx = provenance_config_hash(x, keys), *hy = provenance_config_hash(y, keys);
    char *hz = provenance_config_hash(z, keys);
    assert_string_equal(hx, hy);
    assert_string_not_equal(hx, hz);
    free(hx);
    free(hy);
    free(hz);
    json_decref(x);
    json_decref(y);
    json_decref(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_model_digest_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
