/* SPDX-License-Identifier: Apache-2.0 */
/* Every shipped profile loads; KV arithmetic matches the reference tables; bad names list the
 * valid ones; missing fields are named. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "common/profile.h"

static void test_models(void **state)
{
    (void)state;
    char *dir = profile_dir(NULL);
    static const struct {
        const char *name;
        uint64_t bytes_per_block;
    } cases[] = {
        { "llama8b_fp8", 2097152 },
        { "llama33_70b_nvfp4", 5242880 },
        { "llama33_70b_nvfp4_ctx32k", 5242880 },
        { "gptoss120b_mxfp4", 1179648 },
        { "tiny", 262144 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct model_profile m;
        struct diag d = { 0 };
        int rc = profile_load_model(dir, cases[i].name, &m, &d);
        if (rc != 0)
            fail_msg("%s: %s", cases[i].name, d.msg);
        assert_int_equal(profile_bytes_per_block(&m), cases[i].bytes_per_block);
    }
    const char *hws[] = { "dgx_spark_gb10", "h200", "cpu_small" };
    for (size_t i = 0; i < 3; i++) {
        struct hw_profile h;
        struct diag d = { 0 };
        assert_int_equal(profile_load_hw(dir, hws[i], &h, &d), 0);
    }
    struct model_profile m;
    struct diag d = { 0 };
    assert_int_equal(profile_load_model(dir, "llama9000", &m, &d), -ENOENT);
    assert_non_null(strstr(d.msg, "llama8b_fp8"));
    free(dir);
}

static void test_bad_model(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s, s:{s:i}, s:{}, s:{}, s:{}}", "name", "x", "architecture", "layers",
                          2, "weights", "kv", "engine");
    struct model_profile m;
    struct diag d = { 0 };
    assert_int_equal(profile_model_from_json(j, &m, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "architecture.hidden"));
    json_decref(j);
}

/* Issue 11 #14: a FIFO named like a profile is neither listed nor opened for reading (which
 * would block until a writer came); the alarm turns a hang into a failure. */
static void test_fifo_profile(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/kvtier-test-profile-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char *models = fileio_join(dir, "models");
    assert_int_equal(fileio_mkdir_p(models), 0);
    char *fifo = fileio_join(models, "stuck.yaml");
    char *ok = fileio_join(models, "fine.yaml");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(fileio_write_atomic(ok, "name: fine\n", 11), 0);
    alarm(10);
    json_t *names = profile_list(dir, "models");
    assert_int_equal(json_array_size(names), 1);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "fine");
    json_decref(names);
    json_t *j = NULL;
    struct diag d = { 0 };
    assert_int_equal(profile_load(dir, "models", "stuck", &j, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "not a regular file"));
    assert_int_equal(profile_load(dir, "models", "fine", &j, &d), 0);
    json_decref(j);
    alarm(0);
    unlink(fifo);
    unlink(ok);
    rmdir(models);
    rmdir(dir);
    free(fifo);
    free(ok);
    free(models);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_bad_model),
        cmocka_unit_test(test_fifo_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
