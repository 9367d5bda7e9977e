/* SPDX-License-Identifier: Apache-2.0 */
/* common/fileio.c: a line file whose write fails part-way (here the file-size limit, as a full
 * disk would) is cut back to its last whole line when closed; the trim on its own. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

static char *tmp_path(void)
{
    char *p = xstrdup("/tmp/kvtier-test-fileio-XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

static void put(const char *path, const char *s)
{
    assert_int_equal(fileio_write_atomic(path, s, strlen(s)), 0);
}

static void expect(const char *path, const char *want)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(fileio_read_all(path, 1 << 16, &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_fini(&b);
}

static void trim(const char *path)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(fileio_trim_partial_line(fd), 0);
    close(fd);
}

static void test_trim(void **state)
{
    (void)state;
    char *p = tmp_path();
    put(p, "a\nbb\npart");
    trim(p);
    expect(p, "a\nbb\n");
    trim(p); /* whole lines: unchanged */
    expect(p, "a\nbb\n");
    put(p, "no newline at all");
    trim(p);
    expect(p, "");
    /* a partial line longer than the trim's read chunk */
    char *big = xmalloc(20000);
    memcpy(big, "x\n", 2);
    memset(big + 2, 'y', 20000 - 3);
    big[19999] = '\0';
    put(p, big);
    trim(p);
    expect(p, "x\n");
    free(big);
    unlink(p);
    free(p);
}

/* The child writes 30-byte lines through a small stdio buffer into a file limited to 100
 * bytes: the flush that crosses the limit writes part of a line and then fails (EFBIG). */
static void test_close_after_failed_write(void **state)
{
    (void)state;
    char *p = tmp_path();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 100, 100 };
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(10);
        FILE *f = fopen(p, "w+");
        if (!f)
            _exit(11);
        static char vbuf[64];
        setvbuf(f, vbuf, _IOFBF, sizeof(vbuf));
        for (int i = 0; i < 10; i++)
            fprintf(f, "line %02d 0123456789abcdefghij\n", i); /* 30 bytes */
        int rc = fileio_close_lines(&f);
        _exit(f == NULL && rc == -EFBIG ? 0 : 12);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    expect(p, "line 00 0123456789abcdefghij\nline 01 0123456789abcdefghij\n"
              "line 02 0123456789abcdefghij\n");
    FILE *f = NULL; /* nothing open: nothing to do */
    assert_int_equal(fileio_close_lines(&f), 0);
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_close_after_failed_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
