/* SPDX-License-Identifier: Apache-2.0 */
/* A request libcurl refuses to start (curl_multi_add_handle fails: out of memory, a handle in
 * a bad state) is a recorded failure, counted as sent, and its session's next turn still runs.
 * The refusal is injected by a mock of curl_multi_add_handle that lives only in this test and
 * passes every other call to libcurl; the target is a bound port nobody listens on, so the
 * requests that do start fail with "connect" at once. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "loadgen/loadgen.h"
#include "loadgen/reqplan.h"

static unsigned add_calls, fail_at;

CURLMcode curl_multi_add_handle(CURLM *m, CURL *e)
{
    CURLMcode (*real)(CURLM *, CURL *);
    *(void **)&real = dlsym(RTLD_NEXT, "curl_multi_add_handle");
    if (++add_calls == fail_at)
        return CURLM_OUT_OF_MEMORY;
    return real(m, e);
}

static const char plan_text[] =
    "{\"id\":\"s1-0\",\"session_id\":\"s1\",\"turn\":0,\"prompt\":\"a\",\"output_tokens\":4}\n"
    "{\"id\":\"s1-1\",\"session_id\":\"s1\",\"turn\":1,\"prompt\":\"b\",\"output_tokens\":4,"
    "\"carry_history\":true}\n";

static void test_start_failure_recorded(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char url[64], dir[] = "/tmp/kvtier-test-start.XXXXXX";
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    assert_non_null(mkdtemp(dir));

    struct reqplan *plan = NULL;
    struct diag d = { 0 };
    assert_int_equal(reqplan_parse(plan_text, strlen(plan_text), "plan", &plan, &d), 0);
    struct loadgen_config cfg;
    loadgen_config_init(&cfg);
    cfg.url = url;
    cfg.model = "m";
    cfg.out_dir = dir;
    cfg.arrival = LOADGEN_ARRIVAL_CLOSED;
    cfg.concurrency = 1;
    cfg.warm_connections = 1; /* call 1: the warm-up probe; call 2: the first turn */
    add_calls = 0;
    fail_at = 2;
    json_t *sum = NULL;
    assert_int_equal(loadgen_run(&cfg, plan, NULL, &sum, &d), 0);
    json_t *all = json_object_get(json_object_get(sum, "phases"), "all");
    assert_int_equal(json_integer_value(json_object_get(all, "requests")), 2);
    assert_int_equal(json_integer_value(json_object_get(all, "errors")), 2);
    assert_int_equal(json_integer_value(json_object_get(all, "not_sent")), 0);
    json_decref(sum);

    char *path = fileio_join(dir, "records.jsonl");
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(fileio_read_all(path, 1 << 20, &b), 0);
    json_error_t je;
    json_t *r0 = json_loadb((const char *)b.data, strcspn(buf_str(&b), "\n"), 0, &je);
    const char *second = strchr(buf_str(&b), '\n') + 1;
    json_t *r1 = json_loadb(second, strcspn(second, "\n"), 0, &je);
    assert_non_null(r0);
    assert_non_null(r1);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), "s1-0");
    assert_string_equal(json_string_value(json_object_get(r0, "error")), "connect");
    assert_non_null(
        strstr(json_string_value(json_object_get(r0, "error_detail")), "could not start"));
    assert_string_equal(json_string_value(json_object_get(r1, "id")), "s1-1");
    assert_string_equal(json_string_value(json_object_get(r1, "error")), "connect");
    json_decref(r0);
    json_decref(r1);
    buf_fini(&b);
    free(path);
    const char *names[] = { "records.jsonl", "profile_export.jsonl", "summary.json" };
    for (size_t i = 0; i < 3; i++) {
        char *p = fileio_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    reqplan_free(plan);
    close(fd);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_failure_recorded),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
