/* SPDX-License-Identifier: Apache-2.0 */
/* Overhead of the eBPF block-layer attribution (observe/bpfio.c). A paced reader issues 4 KiB
 * O_DIRECT random reads of a 256 MiB file in the current directory at a target rate (default
 * 10,000 per second) with 8 threads, first with no programs attached (the reference), then with
 * them. The kernel's own accounting of the programs' run time (kernel.bpf_stats_enabled, which
 * this benchmark turns on and restores) gives the CPU they cost, printed as a share of one core
 * against the budget (<= 1% of a core at 10k I/O per second), with the achieved rates of both
 * runs and their ratio. Needs root; otherwise it says why and exits 0.
 * Usage: bench_bpfio [seconds] [target-iops] */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "observe/bpfio.h"
#include "observe/diskstats.h"

#define FILE_BYTES (256ULL << 20)
#define IO_BYTES   4096
#define THREADS    8

struct load {
    int fd;
    double seconds, iops;
    unsigned seed;
    unsigned long long done;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One thread's share of the paced reads: sends at i / rate from the start, sleeping when early. */
static void *reader(void *arg)
{
    struct load *l = arg;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, IO_BYTES) != 0)
        return NULL;
    double rate = l->iops / THREADS, t0 = now_s();
    for (unsigned long long i = 0;; i++) {
        double due = t0 + (double)i / rate, t = now_s();
        if (t - t0 >= l->seconds)
            break;
        if (due > t) {
            struct timespec ts = { 0, (long)((due - t) * 1e9) };
            nanosleep(&ts, NULL);
        }
        off_t off = (off_t)(rand_r(&l->seed) % (FILE_BYTES / IO_BYTES)) * IO_BYTES;
        if (pread(l->fd, buf, IO_BYTES, off) == IO_BYTES)
            l->done++;
    }
    free(buf);
    return NULL;
}

static double run_load(int fd, double seconds, double iops)
{
    struct load l[THREADS];
    pthread_t th[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        l[i] =
            (struct load){ .fd = fd, .seconds = seconds, .iops = iops, .seed = 7u + (unsigned)i };
        pthread_create(&th[i], NULL, reader, &l[i]);
    }
    unsigned long long done = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        done += l[i].done;
    }
    return (double)done / (now_s() - t0);
}

static int make_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    unlink(path);
    static char chunk[1 << 20];
    memset(chunk, 0x3c, sizeof(chunk));
    for (unsigned long long o = 0; o < FILE_BYTES; o += sizeof(chunk))
        if (pwrite(fd, chunk, sizeof(chunk), (off_t)o) != (ssize_t)sizeof(chunk)) {
            close(fd);
            return -EIO;
        }
    fsync(fd);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int dfd = open(proc, O_RDONLY | O_DIRECT | O_CLOEXEC);
    close(fd);
    return dfd < 0 ? -errno : dfd;
}

static int stats_switch(const char *v, char *old, size_t len)
{
    const char *p = "/proc/sys/kernel/bpf_stats_enabled";
    FILE *f = fopen(p, "re");
    if (old && f && !fgets(old, (int)len, f))
        old[0] = '\0';
    if (f)
        fclose(f);
    f = fopen(p, "we");
    if (!f)
        return -errno;
    fputs(v, f);
    return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5, iops = argc > 2 ? atof(argv[2]) : 10000;
    char disk[64];
    struct diskstats_dev d;
    if (diskstats_disk_of_path("/proc", "/sys", ".", disk, sizeof(disk)) < 0 ||
        diskstats_read("/proc", disk, &d) < 0) {
        printf("bench_bpfio: no block device under the current directory; skipped\n");
        return 0;
    }
    int fd = make_file("./bench-bpfio.tmp");
    if (fd < 0) {
        printf("bench_bpfio: cannot make the O_DIRECT test file: %s\n", strerror(-fd));
        return 1;
    }
    double ref = run_load(fd, seconds, iops);
    struct bpfio *b = NULL;
    bool tags = false;
    char reason[BPFIO_REASON_MAX], old[16] = "0\n";
    int r = bpfio_start(d.major, d.minor, &b, &tags, reason);
    if (r < 0) {
        printf("bench_bpfio: reference %.0f reads/s; eBPF not loaded: %s; skipped\n", ref, reason);
        close(fd);
        return 0;
    }
    if (stats_switch("1\n", old, sizeof(old)) < 0)
        printf("bench_bpfio: cannot enable kernel.bpf_stats_enabled; run time unknown\n");
    uint64_t ns0 = 0, runs0 = 0, ns1 = 0, runs1 = 0;
    bpfio_prog_stats(b, &ns0, &runs0);
    double t0 = now_s();
    double with = run_load(fd, seconds, iops);
    double wall = now_s() - t0;
    int sr = bpfio_prog_stats(b, &ns1, &runs1);
    stats_switch(old, NULL, 0);
    printf("disk %s, hooks %s, %d threads of 4 KiB O_DIRECT random reads for %.1f s each\n", disk,
           bpfio_hooks(b), THREADS, seconds);
    printf("reads/s without programs (reference) %.0f, with programs %.0f: ratio %.3f\n", ref, with,
           ref > 0 ? with / ref : 0);
    if (sr == 0 && runs1 > runs0) {
        double cpu = (double)(ns1 - ns0) / 1e9 / wall * 100.0;
        double per_io = with > 0 ? (double)(ns1 - ns0) / (with * wall) : 0;
        printf("programs: %llu runs, %.0f ns per run, %.0f ns per read; %.3f%% of one core at "
               "%.0f reads/s; at 10k I/O/s: %.3f%% of a core (budget 1%%)\n",
               (unsigned long long)(runs1 - runs0), (double)(ns1 - ns0) / (double)(runs1 - runs0),
               per_io, cpu, with, per_io * 10000 / 1e9 * 100.0);
    } else {
        printf("programs: run time not available (kernel.bpf_stats_enabled)\n");
    }
    bpfio_free(b);
    close(fd);
    return 0;
}
