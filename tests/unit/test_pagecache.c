/* SPDX-License-Identifier: Apache-2.0 */
/* Page-cache checks: fdinfo parsing, the build target's O_DIRECT bit (not a literal), and a real
 * scan of this process's descriptors in a directory on a disk file system: an O_DIRECT file, an
 * unlinked file still open, and the residency of a buffered file (cachestat or mincore). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "observe/pagecache.h"

static void test_fdinfo(void **state)
{
    (void)state;
    char text[256];
    /* Build the flags line from the macro of this target: the same test passes on x86-64
     * (O_DIRECT 040000) and aarch64 (0200000). */
    unsigned flags = (unsigned)(O_RDWR | O_DIRECT | O_CLOEXEC);
    snprintf(text, sizeof(text), "pos:\t4096\nflags:\t0%o\nmnt_id:\t29\nino:\t1234\n", flags);
    unsigned f = 0;
    uint64_t pos = 0, ino = 0;
    int mnt = 0;
    assert_int_equal(pagecache_parse_fdinfo(text, strlen(text), &f, &pos, &mnt, &ino), 0);
    assert_int_equal(f, flags);
    assert_int_equal(pos, 4096);
    assert_int_equal(mnt, 29);
    assert_int_equal(ino, 1234);
    assert_true(pagecache_flags_direct(f));
    assert_false(pagecache_flags_direct((unsigned)(O_RDWR | O_CLOEXEC)));
    assert_int_equal(pagecache_parse_fdinfo("pos: 1\n", 7, &f, NULL, NULL, NULL), -EINVAL);
}

static void test_scan_real(void **state)
{
    (void)state;
    /* The build directory is on a disk file system (tmpfs refuses O_DIRECT). */
    char tmpl[] = "./pagecache-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char *a = xalloc_printf("%s/direct.bin", dir);
    char *b = xalloc_printf("%s/buffered.bin", dir);
    char *c = xalloc_printf("%s/unlinked.bin", dir);
    int fa = open(a, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    assert_true(fa >= 0);
    int fb = open(b, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    char *buf = xcalloc(1, 1 << 20);
    assert_int_equal(write(fb, buf, 1 << 20), 1 << 20);
    int fc = open(c, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(write(fc, buf, 8192), 8192);
    unlink(c);
    pid_t self = getpid();
    struct pagecache_file files[8];
    int n = pagecache_scan(NULL, &self, 1, dir, true, files, 8);
    assert_int_equal(n, 3);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(files[i].path, "direct.bin")) {
            assert_true(files[i].o_direct);
            seen |= 1;
        } else if (strstr(files[i].path, "buffered.bin")) {
            assert_false(files[i].o_direct);
            assert_true(files[i].residency_known);
            assert_int_equal(files[i].total_pages, (1 << 20) / sysconf(_SC_PAGESIZE));
            assert_true(files[i].cached_pages > 0);
            seen |= 2;
        } else if (strstr(files[i].path, "unlinked.bin")) {
            assert_true(files[i].deleted);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    json_t *j = pagecache_json(files, (size_t)n);
    assert_int_equal(json_integer_value(json_object_get(j, "kv_files_open")), 3);
    assert_true(json_is_false(json_object_get(j, "o_direct_all")));
    json_decref(j);
    /* A pid that does not exist lists nothing. */
    pid_t none = 0x3ffffff0;
    assert_int_equal(pagecache_scan(NULL, &none, 1, dir, false, files, 8), -ENOENT);
    close(fa);
    close(fb);
    close(fc);
    unlink(a);
    unlink(b);
    rmdir(dir);
    free(a);
    free(b);
    free(c);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdinfo),
        cmocka_unit_test(test_scan_real),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
