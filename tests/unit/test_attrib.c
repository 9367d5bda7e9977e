/* SPDX-License-Identifier: Apache-2.0 */
/* fanotify attribution: where permitted (root), reads and writes of files in a KV directory by
 * a child counted as the server and by another child (counted as other) show up per file;
 * where refused, attrib_start says why (a missing directory here). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "observe/attrib.h"

static void test_events(void **state)
{
    (void)state;
    char tmpl[] = "./attrib-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    struct attrib *a = NULL;
    char reason[ATTRIB_REASON_MAX];
    int r = attrib_start(dir, &a, reason);
    if (r == -EPERM || r == -EACCES || r == -ENOSYS) {
        /* Not permitted here: the fallback path is what the sampler uses; say so. */
        assert_true(reason[0] != 0);
        rmdir(dir);
        skip();
    }
    assert_int_equal(r, 0);
    assert_string_equal(attrib_mark_kind(a), "directory");
    /* on the stack: the children end with _exit, and a heap string would be theirs to leak */
    char path[sizeof(tmpl) + 8];
    snprintf(path, sizeof(path), "%s/kv.bin", dir);
    /* The sampler ignores its own process: the "server" and the "other" are children. */
    pid_t server = fork();
    if (server == 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        char buf[4096] = { 1 };
        if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
            pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
            _exit(1);
        close(fd);
        _exit(0);
    }
    int st = 0;
    waitpid(server, &st, 0);
    assert_int_equal(WEXITSTATUS(st), 0);
    pid_t child = fork();
    if (child == 0) {
        int cfd = open(path, O_RDONLY | O_CLOEXEC);
        char b[16];
        if (cfd < 0 || read(cfd, b, sizeof(b)) < 0)
            _exit(1);
        close(cfd);
        _exit(0);
    }
    waitpid(child, &st, 0);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(attrib_poll(a, &server, 1) > 0);
    struct attrib_totals t;
    attrib_totals(a, &t);
    assert_true(t.kv_events_server >= 1); /* open, modify, access (the kernel may merge them) */
    assert_true(t.kv_events_other >= 1);  /* the child's open/read */
    json_t *files = attrib_files_json(a);
    assert_int_equal(json_array_size(files), 1);
    json_t *f = json_array_get(files, 0);
    assert_true(json_integer_value(json_object_get(f, "read_events")) >= 1);
    assert_true(json_integer_value(json_object_get(f, "write_events")) >= 1);
    assert_true(json_integer_value(json_object_get(f, "events_by_other")) >= 1);
    json_decref(files);
    attrib_free(a);
    unlink(path);
    rmdir(dir);
}

static void test_refused(void **state)
{
    (void)state;
    struct attrib *a = NULL;
    char reason[ATTRIB_REASON_MAX];
    assert_int_equal(attrib_start("/nonexistent-kv-dir", &a, reason), -ENOENT);
    assert_non_null(strstr(reason, "/nonexistent-kv-dir"));
    attrib_free(NULL);
}

/* The confidence rule at its edges: shares capped per direction, the 0.9 and 0.5 thresholds,
 * the clean-KV condition of HIGH, and nothing to attribute. */
static void test_confidence(void **state)
{
    (void)state;
    double share;
    struct attrib_evidence ev = { .device_ok = true,
                                  .device_read_bytes = 1000,
                                  .device_write_bytes = 0,
                                  .server_read_bytes = 900,
                                  .kv_clean = true };
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_HIGH);
    assert_true(share == 0.9);
    ev.kv_clean = false;
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_MEDIUM);
    ev.server_read_bytes = 499;
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_LOW);
    ev.server_read_bytes = 5000; /* more than the device saw (page cache): capped at 1 */
    ev.kv_clean = true;
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_HIGH);
    assert_true(share == 1.0);
    ev.device_write_bytes = 1000; /* writes the server did not make halve the share */
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_MEDIUM);
    assert_true(share == 0.5);
    ev.device_read_bytes = ev.device_write_bytes = 0;
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_LOW);
    assert_true(isnan(share));
    ev.device_read_bytes = 1000;
    ev.device_ok = false;
    assert_int_equal(attrib_confidence(&ev, &share), ATTRIB_LOW);
    assert_true(isnan(share));
    assert_string_equal(attrib_confidence_name(ATTRIB_HIGH), "high");
    assert_string_equal(attrib_confidence_name(ATTRIB_LOW), "low");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_confidence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
