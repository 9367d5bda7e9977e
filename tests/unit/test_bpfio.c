/* SPDX-License-Identifier: Apache-2.0 */
/* eBPF block-layer attribution. The arithmetic over snapshots (deltas key by key, the three-way
 * split, histogram quantiles) on tables built by hand; then, where the kernel permits (root,
 * BTF), the real programs: a child writes and reads an unlinked O_DIRECT file and the KV share
 * of the device's bytes, the bytes of that inode and the agreement with /proc/diskstats are
 * checked. Where refused, bpfio_start must say why and the test is skipped. */
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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "observe/bpfio.h"
#include "observe/diskstats.h"

static struct bpfio_entry mk(uint32_t tgid, uint32_t op, uint64_t ino, unsigned ma, unsigned mi,
                             uint64_t ios, uint64_t bytes, int lat_bucket)
{
    struct bpfio_entry e;
    memset(&e, 0, sizeof(e));
    e.key.tgid = tgid;
    e.key.op = op;
    e.key.ino = ino;
    e.key.ino_dev = ma << 20 | mi;
    e.val.ios = ios;
    e.val.bytes = bytes;
    e.val.lat_sum_ns = ios * 1000ULL << lat_bucket;
    e.val.lat_hist[lat_bucket] = ios;
    e.val.queue_hist[0] = ios;
    return e;
}

static void test_quantile(void **state)
{
    (void)state;
    uint64_t h[BPFIO_HIST_BUCKETS] = { 0 };
    struct bpfio_quantile q = bpfio_hist_quantile(h, 0.99);
    assert_false(q.known);
    h[3] = 98; /* [8, 16) us */
    h[10] = 2; /* [1024, 2048) us */
    q = bpfio_hist_quantile(h, 0.5);
    assert_true(q.known);
    assert_true(q.lo_us == 8 && q.hi_us == 16);
    /* 99 of 100 needs the 99th value: still in bucket 10 since only 98 are below */
    q = bpfio_hist_quantile(h, 0.99);
    assert_true(q.lo_us == 1024 && q.hi_us == 2048);
    q = bpfio_hist_quantile(h, 0.98);
    assert_true(q.lo_us == 8);
    h[3] = 0;
    h[10] = 0;
    h[0] = 1;
    q = bpfio_hist_quantile(h, 1.0);
    assert_true(q.lo_us == 0 && q.hi_us == 2);
}

static void test_phase_split(void **state)
{
    (void)state;
    const pid_t server[] = { 100 };
    const struct bpfio_ident kv[] = { { 8, 1, 42 } };
    struct bpfio_snap b = { .e = xcalloc(4, sizeof(struct bpfio_entry)) };
    struct bpfio_snap e = { .e = xcalloc(5, sizeof(struct bpfio_entry)) };
    /* begin: the server had read 10 blocks of the KV file; the journal had written 2 */
    b.e[b.n++] = mk(100, 0, 42, 8, 1, 10, 10 << 20, 4);
    b.e[b.n++] = mk(7, 1, 0, 0, 0, 2, 8192, 2);
    /* end: +20 KV reads (slow bucket), +5 KV writes, journal +3, a log file of the server,
     * another process reading the KV file, and the same inode number on another device */
    e.e[e.n] = mk(100, 0, 42, 8, 1, 30, 30 << 20, 9);
    e.e[e.n].val.lat_hist[4] = 10; /* histograms are cumulative like the counters */
    e.e[e.n++].val.lat_hist[9] = 20;
    e.e[e.n++] = mk(100, 1, 42, 8, 1, 5, 5 << 20, 6);
    e.e[e.n++] = mk(7, 1, 0, 0, 0, 5, 20480, 2);
    e.e[e.n++] = mk(100, 1, 77, 8, 1, 1, 4096, 2);
    e.e[e.n++] = mk(200, 0, 42, 8, 2, 1, 1 << 20, 2);
    bpfio_snap_sort(&b);
    bpfio_snap_sort(&e);
    struct bpfio_phase p;
    bpfio_phase_compute(&b, &e, kv, 1, server, 1, &p);
    assert_int_equal(p.kv.read_bytes, 20u << 20);
    assert_int_equal(p.kv.read_ios, 20);
    assert_int_equal(p.kv.write_bytes, 5u << 20);
    assert_int_equal(p.server_other.write_bytes, 4096);
    assert_int_equal(p.other.write_bytes, 12288);
    assert_int_equal(p.other.read_bytes, 1u << 20); /* inode 42 of device 8:2 is not the KV file */
    assert_int_equal(p.device.read_bytes, 21u << 20);
    assert_int_equal(p.kv_by_other_bytes, 0);
    /* the 10 reads before the phase were in bucket 4; the 20 of the phase lie in [512, 1024) */
    assert_true(p.kv_read_lat_p99.known);
    assert_true(p.kv_read_lat_p99.lo_us == 512);
    assert_true(p.kv_write_lat_p99.lo_us == 64);
    json_t *j = bpfio_phase_json(&p);
    assert_non_null(strstr(json_string_value(json_object_get(j, "statement")), "KV files'"));
    double share = json_real_value(json_object_get(j, "kv_share"));
    assert_true(share > 0.96 && share < 0.961); /* 25 MiB of 26 MiB + 16 KiB */
    json_decref(j);
    /* a phase with nothing on the disk */
    bpfio_phase_compute(&e, &e, kv, 1, server, 1, &p);
    assert_int_equal(p.device.read_bytes + p.device.write_bytes, 0);
    assert_false(p.kv_read_lat_p99.known);
    j = bpfio_phase_json(&p);
    assert_true(json_is_null(json_object_get(j, "kv_share")));
    json_decref(j);
    bpfio_snap_fini(&b);
    bpfio_snap_fini(&e);
}

/* A child that writes then reads `mib` MiB of an unlinked O_DIRECT file in dir and reports
 * the identities of that file and of the other file it wrote through a pipe (st[0] the KV
 * file, st[1] the other). */
static pid_t run_child(const char *dir, int mib, int wfd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char path[4096]; /* not the heap: the child ends with _exit (valgrind counts a leak) */
    /* first buffered writes to another file: writeback's bios (merged ones among them) leave
     * bio-table entries whose addresses the direct I/O's bios may reuse; they must not be
     * taken for its owners */
    snprintf(path, sizeof(path), "%s/other.bin", dir);
    int ofd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ofd < 0)
        _exit(8);
    unlink(path);
    static char page[4096];
    for (int i = 0; i < 1024; i++)
        if (pwrite(ofd, page, sizeof(page), (off_t)i * (off_t)sizeof(page)) != sizeof(page))
            _exit(9);
    if (fsync(ofd) < 0)
        _exit(9);
    /* ofd stays open: a closed unlinked file's inode number is the next file's */
    snprintf(path, sizeof(path), "%s/kv.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0)
        _exit(2);
    unlink(path);
    struct stat st[2];
    if (fstat(fd, &st[0]) < 0 || fstat(ofd, &st[1]) < 0 ||
        write(wfd, st, sizeof(st)) != (ssize_t)sizeof(st))
        _exit(3);
    void *buf;
    if (posix_memalign(&buf, 4096, 1 << 20) != 0)
        _exit(4);
    memset(buf, 0x5a, 1 << 20);
    for (int i = 0; i < mib; i++)
        if (pwrite(fd, buf, 1 << 20, (off_t)i << 20) != 1 << 20)
            _exit(5);
    if (fdatasync(fd) < 0)
        _exit(6);
    for (int i = 0; i < mib; i++)
        if (pread(fd, buf, 1 << 20, (off_t)i << 20) != 1 << 20)
            _exit(7);
    _exit(0);
}

/* The real programs with the file hooks `hooks` (NULL: the first the kernel allows, as the
 * sampler loads them). */
static char live_dir[] = "./bpfio-test-XXXXXX"; /* on a real disk, not tmpfs: the current one */
static bool live_made;

/* Removes the live test's directory, also after a failed assertion left it (cmocka runs the
 * teardown then too): the child unlinks its files at once, but not if it failed first. */
static int live_teardown(void **state)
{
    (void)state;
    if (!live_made)
        return 0;
    char p[sizeof(live_dir) + 16];
    snprintf(p, sizeof(p), "%s/other.bin", live_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/kv.bin", live_dir);
    unlink(p);
    rmdir(live_dir);
    strcpy(live_dir, "./bpfio-test-XXXXXX");
    live_made = false;
    return 0;
}

static void live_check(const char *hooks)
{
    char *dir = mkdtemp(live_dir);
    assert_non_null(dir);
    live_made = true;
    char disk[64];
    struct diskstats_dev d0, d1;
    if (diskstats_disk_of_path("/proc", "/sys", dir, disk, sizeof(disk)) < 0 ||
        diskstats_read("/proc", disk, &d0) < 0) {
        skip(); /* no block device under the test directory (tmpfs) */
    }
    struct bpfio *b = NULL;
    bool tags = false;
    char reason[BPFIO_REASON_MAX];
    int r = bpfio_start_hooks(d0.major, d0.minor, hooks, &b, &tags, reason);
    if (r < 0) {
        assert_true(reason[0] != 0);
        /* as root on a kernel with BTF and a build with eBPF, a refusal is our program's
         * fault (the verifier), not the machine's: fail rather than skip (one kind of file
         * hooks alone may be refused by the kernel: fentry, or bio without iomap's symbols) */
        bool ours = (!hooks || !strcmp(hooks, "bio")) && r != -ENOTSUP; /* not the kernel's */
        if (ours && geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0)
            fail_msg("root, BTF present, and still not loaded: %s", reason);
        print_message("# bpfio %s: skipped: %s\n", hooks ? hooks : "default", reason);
        if (!hooks)
            skip();
        return; /* one kind refused alone: reported, not a skip (meson reads a TAP skip of
                 * one subtest as a failure) */
    }
    struct bpfio_snap s0, s1;
    struct diskstats_dev d0b, d1b;
    /* the eBPF window lies between two diskstats windows: d0 s0 d0b ... d1 s1 d1b */
    assert_int_equal(diskstats_read("/proc", disk, &d0), 0);
    assert_int_equal(bpfio_snapshot(b, &s0), 0);
    assert_int_equal(diskstats_read("/proc", disk, &d0b), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    const int mib = 32;
    pid_t child = run_child(dir, mib, pfd[1]);
    struct stat st[2];
    assert_int_equal(read(pfd[0], st, sizeof(st)), (ssize_t)sizeof(st));
    int ws = 0;
    waitpid(child, &ws, 0);
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(diskstats_read("/proc", disk, &d1), 0);
    assert_int_equal(bpfio_snapshot(b, &s1), 0);
    assert_int_equal(diskstats_read("/proc", disk, &d1b), 0);
    struct bpfio_ident kv = { major(st[0].st_dev), minor(st[0].st_dev), st[0].st_ino };
    struct bpfio_ident oth = { major(st[1].st_dev), minor(st[1].st_dev), st[1].st_ino };
    struct bpfio_phase p, po;
    bpfio_phase_compute(&s0, &s1, &kv, 1, &child, 1, &p);
    bpfio_phase_compute(&s0, &s1, &oth, 1, &child, 1, &po); /* the other file's bytes */
    uint64_t want = (uint64_t)mib << 20;
    print_message(
        "# bpfio: lost %llu, unowned %llu, untagged issues %llu, bio table full %llu; "
        "server other r %llu w %llu (its other file r %llu w %llu); other r %llu w %llu\n",
        (unsigned long long)p.lost, (unsigned long long)p.unowned,
        (unsigned long long)(s1.untagged_issue - s0.untagged_issue),
        (unsigned long long)(s1.bio_table_full - s0.bio_table_full),
        (unsigned long long)p.server_other.read_bytes,
        (unsigned long long)p.server_other.write_bytes, (unsigned long long)po.kv.read_bytes,
        (unsigned long long)po.kv.write_bytes, (unsigned long long)p.other.read_bytes,
        (unsigned long long)p.other.write_bytes);
    struct bpfio_prog_stat ps[BPFIO_PROGS];
    int nps = bpfio_prog_stats_each(b, ps, BPFIO_PROGS);
    for (int i = 0; i < nps; i++)
        if (ps[i].misses)
            print_message("# bpfio: %s missed %llu runs\n", ps[i].name,
                          (unsigned long long)ps[i].misses);
    print_message(
        "# bpfio: file hooks %s, tags %s; KV read %llu write %llu of device read %llu write %llu; "
        "diskstats read %llu write %llu; KV read p99 %.0f-%.0f us\n",
        bpfio_hooks(b), tags ? "on" : "off", (unsigned long long)p.kv.read_bytes,
        (unsigned long long)p.kv.write_bytes, (unsigned long long)p.device.read_bytes,
        (unsigned long long)p.device.write_bytes,
        (unsigned long long)((d1.f[DISKSTATS_RD_SEC] - d0.f[DISKSTATS_RD_SEC]) * 512),
        (unsigned long long)((d1.f[DISKSTATS_WR_SEC] - d0.f[DISKSTATS_WR_SEC]) * 512),
        p.kv_read_lat_p99.lo_us, p.kv_read_lat_p99.hi_us);
    /* Under CPU contention this development VM's kernel (6.18) now and then does not run a
     * tracing program for a completion that its own tracefs probe on the same tracepoint sees
     * (seen: 1 to 8 of about 130 requests in one window of 10 to 20 under two saturated
     * vCPUs, none on an idle machine), and counts it nowhere: not as a recursion miss, not in
     * run_cnt. Such a request's bytes are missing from every eBPF figure. The allowance below
     * is that: 4 MiB of the 32 MiB each way; what is charged must still never exceed what the
     * child moved, go to another file, or (with file hooks) to no file. */
    const uint64_t allow = 4u << 20;
    if (tags) {
        assert_true(p.kv.read_bytes <= want && p.kv.write_bytes <= want);
        assert_int_equal(p.kv_by_other_bytes, 0); /* the child's, not another process's */
        /* the child read the KV file alone, never the other file it wrote: a read charged to
         * that file is a wrong owner (a stale entry of its writeback's bios taken for a direct
         * I/O's). Other reads in the child's name are the file system's metadata (128 KiB
         * seen once under load, ext4's inode-table readahead of 32 blocks as it created the
         * files) or page faults of its code: real reads, not the KV file's. */
        assert_int_equal(po.kv.read_bytes, 0);
        assert_true(po.kv.write_bytes > 0); /* its 4 MiB: the identity is the right one */
        assert_true(p.kv.read_bytes + allow >= want && p.kv.write_bytes + allow >= want);
        assert_true(p.kv_read_lat_p99.known);
    } else {
        /* no file: the child's requests are its own, on other files or none */
        assert_int_equal(p.kv.read_bytes + p.kv.write_bytes, 0);
        assert_true(p.server_other.read_bytes + allow >= want);
    }
    if (hooks)
        assert_string_equal(bpfio_hooks(b), hooks);
    /* the device total agrees with /proc/diskstats: it lies between the inner and the outer
     * diskstats windows (other processes' I/O is in all three), with 1 MiB for requests
     * accounted a few microseconds apart by the two, and the allowance above below */
    uint64_t inner = (d1.f[DISKSTATS_RD_SEC] - d0b.f[DISKSTATS_RD_SEC] + d1.f[DISKSTATS_WR_SEC] -
                      d0b.f[DISKSTATS_WR_SEC]) *
                     512;
    uint64_t outer = (d1b.f[DISKSTATS_RD_SEC] - d0.f[DISKSTATS_RD_SEC] + d1b.f[DISKSTATS_WR_SEC] -
                      d0.f[DISKSTATS_WR_SEC]) *
                     512;
    uint64_t bp = p.device.read_bytes + p.device.write_bytes;
    assert_true(bp + allow + 1048576 >= inner);
    assert_true(bp <= outer + 1048576);
    bpfio_snap_fini(&s0);
    bpfio_snap_fini(&s1);
    bpfio_free(b);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_live(void **state)
{
    (void)state;
    live_check(NULL);
}

/* Each kind of file hooks alone, where the kernel allows it: the same bytes to the same file. */
static void test_live_bio(void **state)
{
    (void)state;
    live_check("bio");
}

static void test_live_fentry(void **state)
{
    (void)state;
    live_check("fentry");
}

static void test_live_tracepoint(void **state)
{
    (void)state;
    live_check("tracepoint");
}

static void test_live_none(void **state)
{
    (void)state;
    live_check("none");
}

/* The child's bytes charged between two snapshots of b: to its KV file (read + written), and
 * all of them (its other file's writeback too) into *all. */
static uint64_t child_kv_bytes(struct bpfio *b, const char *dir, int mib, uint64_t *all)
{
    struct bpfio_snap s0, s1;
    assert_int_equal(bpfio_snapshot(b, &s0), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t child = run_child(dir, mib, pfd[1]);
    struct stat st[2];
    assert_int_equal(read(pfd[0], st, sizeof(st)), (ssize_t)sizeof(st));
    int ws = 0;
    waitpid(child, &ws, 0);
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(bpfio_snapshot(b, &s1), 0);
    struct bpfio_ident kv = { major(st[0].st_dev), minor(st[0].st_dev), st[0].st_ino };
    struct bpfio_phase p;
    bpfio_phase_compute(&s0, &s1, &kv, 1, &child, 1, &p);
    bpfio_snap_fini(&s0);
    bpfio_snap_fini(&s1);
    close(pfd[0]);
    close(pfd[1]);
    *all =
        p.kv.read_bytes + p.kv.write_bytes + p.server_other.read_bytes + p.server_other.write_bytes;
    return p.kv.read_bytes + p.kv.write_bytes;
}

/* Detached programs charge nothing; attached again, they charge as before (the overhead
 * benchmark's A/B windows rest on this). */
static void test_live_detach(void **state)
{
    (void)state;
    char *dir = mkdtemp(live_dir);
    assert_non_null(dir);
    live_made = true;
    char disk[64];
    struct diskstats_dev d0;
    if (diskstats_disk_of_path("/proc", "/sys", dir, disk, sizeof(disk)) < 0 ||
        diskstats_read("/proc", disk, &d0) < 0)
        skip();
    struct bpfio *b = NULL;
    char reason[BPFIO_REASON_MAX];
    if (bpfio_start(d0.major, d0.minor, &b, NULL, reason) < 0) {
        print_message("# bpfio detach: skipped: %s\n", reason);
        skip();
    }
    uint64_t all = 1;
    assert_int_equal(bpfio_set_attached(b, false), 0);
    assert_int_equal(child_kv_bytes(b, dir, 4, &all), 0);
    assert_int_equal(all, 0);
    assert_int_equal(bpfio_set_attached(b, true), 0);
    uint64_t on = child_kv_bytes(b, dir, 4, &all);
    print_message("# bpfio detach: detached 0 bytes; attached again %llu KV bytes of %u\n",
                  (unsigned long long)on, 8u << 20);
    /* as in live_check: never more than the child moved, at most 4 MiB not seen */
    assert_true(on <= 8u << 20 && on + (4u << 20) >= 8u << 20);
    assert_int_equal(bpfio_set_attached(b, true), 0); /* nothing detached: no-op */
    bpfio_free(b);
}

static void test_unknown_hooks(void **state)
{
    (void)state;
    struct bpfio *b = NULL;
    char reason[BPFIO_REASON_MAX];
    int r = bpfio_start_hooks(8, 0, "kprobe", &b, NULL, reason);
    assert_true(r == -EINVAL || r == -ENOTSUP); /* -ENOTSUP: built without eBPF */
    assert_null(b);
    assert_true(reason[0] != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_phase_split),
        cmocka_unit_test_teardown(test_live, live_teardown),
        cmocka_unit_test_teardown(test_live_bio, live_teardown),
        cmocka_unit_test_teardown(test_live_fentry, live_teardown),
        cmocka_unit_test_teardown(test_live_tracepoint, live_teardown),
        cmocka_unit_test_teardown(test_live_none, live_teardown),
        cmocka_unit_test(test_unknown_hooks),
        cmocka_unit_test_teardown(test_live_detach, live_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
