/* SPDX-License-Identifier: Apache-2.0 */
/* The disk tier file: created under the directory (made if missing), unlinked at once (the
 * directory stays empty), blocks written and read back intact through io_uring and through the
 * pread/pwrite fallback, a read past the preallocated file is an error (-EIO, the engine treats
 * it as a miss), bad options and an unusable directory are refused with a message; the host,
 * disk and null tiers keep one plug-in contract. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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
#include "engine/kvdata.h"
#include "engine/tier_disk.h"
#include "engine/tier_host.h"
#include "engine/tier_null.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned done;
};

static void on_done(void *ctx, struct tier_job *j)
{
    struct waiter *w = ctx;
    (void)j;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_for(struct waiter *w, unsigned n)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Under `make valgrind` (its test setup sets KVTIER_VALGRIND): valgrind 3.19 keeps its one
 * scheduler lock while a thread waits in io_uring_enter, so the tier's I/O thread waiting for a
 * completion stops every other thread for good; the tier then runs on its pread/pwrite path. */
static bool under_valgrind(void)
{
    const char *v = getenv("KVTIER_VALGRIND");
    return v && v[0] && strcmp(v, "0") != 0;
}

static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool empty = true;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    if (d)
        closedir(d);
    return empty;
}

static void roundtrip(bool force_pread)
{
    char base[] = "/var/tmp/kvtier-test-disk.XXXXXX";
    assert_non_null(mkdtemp(base));
    char *dir = xalloc_printf("%s/sub/dir", base);
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct tier_disk_opts o = { .dir = dir,
                                .n_blocks = 8,
                                .block_bytes = 65536,
                                .o_direct = true,
                                .force_pread = force_pread,
                                .queue_depth = 4 };
    struct tier_disk *t;
    struct diag d = { 0 };
    assert_int_equal(tier_disk_open(&o, on_done, &w, &t, &d), 0);
    assert_true(dir_empty(dir));
    assert_true(strstr(tier_disk_path(t), "dynamo-kvbm-disk-cache-") != NULL);
    assert_int_equal(tier_disk_io_uring(t), !force_pread);
    struct tier_job jobs[9];
    uint8_t *mem = xalloc_aligned(TIER_DISK_ALIGN, 9 * 65536);
    for (unsigned i = 0; i < 8; i++) {
        jobs[i] = (struct tier_job){
            .write = true, .slot = 7 - i, .hash = 500 + i, .buf = mem + i * 65536
        };
        kvdata_fill(jobs[i].hash, jobs[i].buf, 65536);
        tier_disk_submit(t, &jobs[i]);
    }
    wait_for(&w, 8);
    memset(mem, 0, 9 * 65536);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(jobs[i].result, 0);
        jobs[i].write = false;
        tier_disk_submit(t, &jobs[i]);
    }
    /* past the end of the preallocated file: short read */
    jobs[8] = (struct tier_job){ .write = false, .slot = 100, .buf = mem + 8 * 65536 };
    tier_disk_submit(t, &jobs[8]);
    wait_for(&w, 17);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(jobs[i].result, 0);
        assert_true(kvdata_verify(500 + i, jobs[i].buf, 65536));
    }
    assert_int_equal(jobs[8].result, -EIO);
    tier_disk_close(t);
    assert_true(dir_empty(dir));
    free(mem);
    char *sub = xalloc_printf("%s/sub", base);
    rmdir(dir);
    rmdir(sub);
    rmdir(base);
    free(sub);
    free(dir);
}

static void test_uring(void **state)
{
    (void)state;
    roundtrip(false);
}

static void test_pread(void **state)
{
    (void)state;
    roundtrip(true);
}

static void test_bad(void **state)
{
    (void)state;
    struct tier_disk *t;
    struct diag d = { 0 };
    struct tier_disk_opts o = { .dir = "/var/tmp", .n_blocks = 4, .block_bytes = 1000 };
    assert_int_equal(tier_disk_open(&o, on_done, NULL, &t, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "multiple"));
    o.block_bytes = 4096;
    o.dir = "/proc/kvtier-no-such-dir";
    assert_true(tier_disk_open(&o, on_done, NULL, &t, &d) < 0);
    assert_non_null(strstr(d.msg, "/proc/kvtier-no-such-dir"));
}

/* A start that fails after the file was created leaves nothing behind (issue 11 item 9): the
 * file is unlinked as soon as it exists, before it is preallocated. 2^60 bytes fail fallocate
 * (or the sparse ftruncate) on every file system. */
static void test_failed_prealloc_leaves_nothing(void **state)
{
    (void)state;
    char dir[] = "/var/tmp/kvtier-test-disk.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tier_disk *t = NULL;
    struct diag d = { 0 };
    struct tier_disk_opts o = {
        .dir = dir, .n_blocks = 1ULL << 40, .block_bytes = 1u << 20, .o_direct = true
    };
    assert_true(tier_disk_open(&o, on_done, NULL, &t, &d) < 0);
    assert_null(t);
    assert_non_null(strstr(d.msg, "dynamo-kvbm-disk-cache-"));
    assert_true(dir_empty(dir));
    o.zerofill_fallback = true;
    assert_true(tier_disk_open(&o, on_done, NULL, &t, &d) < 0);
    assert_true(dir_empty(dir));
    assert_int_equal(rmdir(dir), 0);
}

/* tmpfs and ramfs are memory: the tier says so and does not claim O_DIRECT (issue 11 item 14),
 * as the probe does. Skipped where /dev/shm is not tmpfs. */
static void test_tmpfs_is_ram(void **state)
{
    (void)state;
    char dir[] = "/dev/shm/kvtier-test-disk.XXXXXX";
    if (!mkdtemp(dir))
        skip();
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct tier_disk *t = NULL;
    struct diag d = { 0 };
    struct tier_disk_opts o = { .dir = dir,
                                .n_blocks = 4,
                                .block_bytes = 65536,
                                .o_direct = true,
                                .force_pread = under_valgrind() };
    assert_int_equal(tier_disk_open(&o, on_done, &w, &t, &d), 0);
    assert_true(tier_disk_in_ram(t));
    assert_false(tier_disk_o_direct(t));
    tier_disk_close(t);
    assert_int_equal(rmdir(dir), 0);
    /* and a real file system is not */
    char dir2[] = "/var/tmp/kvtier-test-disk.XXXXXX";
    assert_non_null(mkdtemp(dir2));
    o.dir = dir2;
    assert_int_equal(tier_disk_open(&o, on_done, &w, &t, &d), 0);
    assert_false(tier_disk_in_ram(t));
    tier_disk_close(t);
    assert_int_equal(rmdir(dir2), 0);
}

/* Every tier_ops plug-in keeps the same contract (tier.h): a block written without a source is
 * read back as itself; a read asking for another block, or with inject_verify_fail, is
 * -EBADMSG; a write from another tier's memory lands intact. */
static void tier_contract(const struct tier_ops *ops, const char *dir, bool inject)
{
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct tier_opts o = { .n_blocks = 4,
                           .block_bytes = 65536,
                           .inject_verify_fail = inject,
                           .dir = dir,
                           .o_direct = true,
                           .force_pread = under_valgrind() };
    void *t = NULL;
    struct diag d = { 0 };
    assert_int_equal(ops->open(&o, on_done, &w, &t, &d), 0);
    uint8_t *src = xalloc_aligned(TIER_DISK_ALIGN, 65536);
    kvdata_fill(77, src, 65536);
    struct tier_job j[5] = {
        { .write = true, .slot = 0, .hash = 42 },
        { .write = true, .slot = 1, .hash = 77, .buf = src },
    };
    ops->submit(t, &j[0]);
    ops->submit(t, &j[1]);
    wait_for(&w, 2);
    assert_int_equal(j[0].result, 0);
    assert_int_equal(j[1].result, 0);
    j[2] = (struct tier_job){ .slot = 0, .hash = 42 };
    j[3] = (struct tier_job){ .slot = 1, .hash = 77 };
    j[4] = (struct tier_job){ .slot = 0, .hash = 43 };
    for (int i = 2; i < 5; i++)
        ops->submit(t, &j[i]);
    wait_for(&w, 5);
    assert_int_equal(j[2].result, inject ? -EBADMSG : 0);
    assert_int_equal(j[3].result, inject ? -EBADMSG : 0);
    assert_int_equal(j[4].result, -EBADMSG);
    struct tier_facts f;
    ops->facts(t, &f);
    assert_non_null(f.path);
    assert_non_null(f.prealloc);
    ops->close(t);
    free(src);
}

static void test_tier_ops_contract(void **state)
{
    (void)state;
    char dir[] = "/var/tmp/kvtier-test-disk.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const struct tier_ops *ops[] = { &tier_host_ops, &tier_disk_ops, &tier_null_ops };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        for (int inject = 0; inject <= 1; inject++)
            tier_contract(ops[i], dir, inject);
    assert_true(dir_empty(dir));
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
#define DISK_TESTS                                             \
    cmocka_unit_test(test_pread), cmocka_unit_test(test_bad),  \
        cmocka_unit_test(test_failed_prealloc_leaves_nothing), \
        cmocka_unit_test(test_tmpfs_is_ram), cmocka_unit_test(test_tier_ops_contract)
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_uring), DISK_TESTS };
    /* under valgrind the io_uring round trip is left out (see under_valgrind(); the plain and
     * ASan runs test it): a cmocka skip reads as a failure in meson's TAP */
    const struct CMUnitTest without_uring[] = { DISK_TESTS };
    if (under_valgrind())
        return cmocka_run_group_tests(without_uring, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
