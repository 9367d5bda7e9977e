/* SPDX-License-Identifier: Apache-2.0 */
/* Overhead of the eBPF block-layer attribution (observe/bpfio.c) against its budget (<= 1% of a
 * core at 10k I/O per second). The load: 4 KiB O_DIRECT random reads of a 256 MiB file in the
 * current directory, paced at a target rate (default 10,000 per second) by 8 threads.
 *
 * 1. A/B, interleaved: pairs of windows, one with the programs detached (A) and one with them
 *    attached (B), in alternating order (AB, BA, ...) so drift and the neighbours' load fall on
 *    both sides alike. Each window's cost is the CPU time of this process per read
 *    (CLOCK_PROCESS_CPUTIME_ID: its threads and the kernel work done while they run, i.e. the
 *    submission path with the tagging, queue and issue hooks, and completions that interrupt
 *    them). kernel.bpf_stats_enabled is off during A/B: its two clock reads per program run
 *    would be charged too. Per pair B - A in ns per read; the median and range over the pairs,
 *    as a share of one core at 10k reads/s, and the median ratio B/A; and the difference of
 *    the two sides' lower quartiles (interference from other work only adds CPU time, so the
 *    low windows are the least disturbed).
 * 2. The kernel's own accounting (bpf_stats on, STATS_WINS windows with the programs
 *    attached): the median ns per run and runs per read of each program, their sum, and the sum
 *    less bpf_stats' own two clock reads per run (a clock read's cost measured here in user
 *    space). The completion program runs in interrupt context, mostly outside this process, so
 *    step 1 sees only part of it: step 1's median plus the completion program's time is the
 *    estimate of the whole.
 * Needs root; otherwise it says why and exits 0.
 * Usage: bench_bpfio [seconds-per-window] [target-iops] [pairs] */
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

#define FILE_BYTES   (256ULL << 20)
#define IO_BYTES     4096
#define THREADS      8
#define MAX_PAIRS    64
#define STATS_WINS   5
#define PACE_SLACK_S 0.004

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

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One thread's share of the paced reads: read i is due at i / rate from the start; the thread
 * sleeps when it is more than PACE_SLACK_S ahead. */
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
        if (due > t + PACE_SLACK_S) { /* sleep only when well ahead: fewer wake-ups per read */
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

struct window {
    double reads, wall_s, cpu_s;
};

static struct window run_load(int fd, double seconds, double iops, unsigned seed)
{
    struct load l[THREADS];
    pthread_t th[THREADS];
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < THREADS; i++) {
        l[i] =
            (struct load){ .fd = fd, .seconds = seconds, .iops = iops, .seed = seed + (unsigned)i };
        pthread_create(&th[i], NULL, reader, &l[i]);
    }
    unsigned long long done = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        done += l[i].done;
    }
    return (struct window){ .reads = (double)done, .wall_s = now_s() - t0, .cpu_s = cpu_s() - c0 };
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

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double quartile1(const double *v, int n)
{
    double c[MAX_PAIRS];
    memcpy(c, v, (size_t)n * sizeof(c[0]));
    qsort(c, (size_t)n, sizeof(c[0]), cmp_d);
    return c[(n - 1) / 4];
}

/* ns per read to % of one core at 10k reads per second */
#define PCT_AT_10K(ns) ((ns)*10000.0 / 1e9 * 100.0)

/* The cost of one clock read here, measured in user space (the vDSO reads the same clock
 * source as the kernel's sched_clock): bpf_stats adds two per program run. */
static double clock_read_ns(void)
{
    struct timespec ts;
    double t0 = now_s();
    for (int i = 0; i < 1000000; i++)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (now_s() - t0) * 1e9 / 1000000;
}

/* Step 2: STATS_WINS windows with bpf_stats on; prints each program's median figures and
 * returns the completion program's median ns per read (-1 when unknown). */
static double stats_windows(int fd, unsigned major, unsigned minor, double seconds, double iops)
{
    struct bpfio *b = NULL;
    bool tags = false;
    char reason[BPFIO_REASON_MAX];
    if (bpfio_start(major, minor, &b, &tags, reason) < 0 || stats_switch("1\n", NULL, 0) < 0) {
        bpfio_free(b);
        printf("bpf_stats: not available\n");
        return -1;
    }
    struct bpfio_prog_stat s0[BPFIO_PROGS], s1[BPFIO_PROGS];
    double per_run[BPFIO_PROGS][STATS_WINS], per_read[BPFIO_PROGS][STATS_WINS];
    double runs_per_read[BPFIO_PROGS][STATS_WINS];
    int n = 0;
    for (int w = 0; w < STATS_WINS; w++) {
        int n0 = bpfio_prog_stats_each(b, s0, BPFIO_PROGS);
        struct window win = run_load(fd, seconds, iops, 99u + (unsigned)w);
        n = bpfio_prog_stats_each(b, s1, BPFIO_PROGS);
        for (int i = 0; n0 == n && i < n; i++) {
            double runs = (double)(s1[i].runs - s0[i].runs),
                   ns = (double)(s1[i].run_ns - s0[i].run_ns);
            per_run[i][w] = runs > 0 ? ns / runs : 0;
            per_read[i][w] = ns / win.reads;
            runs_per_read[i][w] = runs / win.reads;
        }
    }
    stats_switch("0\n", NULL, 0);
    double clk = clock_read_ns(), complete = -1, total = 0, runs_total = 0;
    printf("bpf_stats (kernel.bpf_stats_enabled; medians of %d windows):\n", STATS_WINS);
    for (int i = 0; i < n; i++) {
        double rpr = median(runs_per_read[i], STATS_WINS), pr = median(per_read[i], STATS_WINS);
        if (rpr < 0.005)
            continue;
        total += pr;
        runs_total += rpr;
        if (!strcmp(s1[i].name, "rq_complete"))
            complete = pr;
        printf("  %-12s %6.0f ns per run, %.2f runs per read, %6.0f ns per read\n", s1[i].name,
               median(per_run[i], STATS_WINS), rpr, pr);
    }
    double bias = runs_total * 2 * clk;
    printf("  all programs: %.0f ns per read = %.3f%% of a core at 10k reads/s; less bpf_stats' "
           "own two clock reads per run (%.0f ns each here): %.0f ns = %.3f%%\n",
           total, PCT_AT_10K(total), clk, total - bias, PCT_AT_10K(total - bias));
    bpfio_free(b);
    return complete;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2, iops = argc > 2 ? atof(argv[2]) : 10000;
    int pairs = argc > 3 ? atoi(argv[3]) : 7;
    if (pairs < 1 || pairs > MAX_PAIRS || !(seconds > 0) || !(iops > 0)) {
        fprintf(stderr, "usage: bench_bpfio [seconds-per-window] [target-iops] [pairs 1..%d]\n",
                MAX_PAIRS);
        return 2;
    }
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
    struct bpfio *b = NULL;
    bool tags = false;
    char reason[BPFIO_REASON_MAX], old[16] = "0\n";
    if (bpfio_start(d.major, d.minor, &b, &tags, reason) < 0) {
        printf("bench_bpfio: eBPF not loaded: %s; skipped\n", reason);
        close(fd);
        return 0;
    }
    printf("disk %s, file hooks %s; %d pairs of %.1f s windows of 4 KiB O_DIRECT random reads at "
           "%.0f/s (%d threads)\n",
           disk, bpfio_hooks(b), pairs, seconds, iops, THREADS);
    bpfio_free(b);
    stats_switch("0\n", old, sizeof(old));
    double delta[MAX_PAIRS], ratio[MAX_PAIRS], cpu_off[MAX_PAIRS], cpu_on[MAX_PAIRS];
    for (int p = 0; p < pairs; p++) {
        struct window w[2]; /* [0] detached, [1] attached */
        for (int k = 0; k < 2; k++) {
            int on = (k + p) % 2; /* AB, BA, AB, ... */
            b = NULL;
            if (on && bpfio_start(d.major, d.minor, &b, &tags, reason) < 0) {
                printf("bench_bpfio: eBPF not loaded: %s\n", reason);
                stats_switch(old, NULL, 0);
                close(fd);
                return 1;
            }
            w[on] = run_load(fd, seconds, iops, 7u + (unsigned)p * 31u);
            bpfio_free(b);
        }
        double a = w[0].cpu_s / w[0].reads * 1e9, bb = w[1].cpu_s / w[1].reads * 1e9;
        delta[p] = bb - a;
        cpu_off[p] = a;
        cpu_on[p] = bb;
        ratio[p] = bb / a;
        printf("pair %d (%s): detached %.0f reads/s %.0f ns CPU per read; attached %.0f reads/s "
               "%.0f ns per read; +%.0f ns\n",
               p + 1, p % 2 ? "BA" : "AB", w[0].reads / w[0].wall_s, a, w[1].reads / w[1].wall_s,
               bb, delta[p]);
    }
    /* interference only adds CPU time: the lower quartiles of each side are the steadier pair */
    double q_off = quartile1(cpu_off, pairs), q_on = quartile1(cpu_on, pairs);
    double lo = delta[0], hi = delta[0];
    for (int p = 1; p < pairs; p++) {
        lo = delta[p] < lo ? delta[p] : lo;
        hi = delta[p] > hi ? delta[p] : hi;
    }
    double md = median(delta, pairs), mr = median(ratio, pairs);
    printf("A/B process CPU: median +%.0f ns per read (range %+.0f..%+.0f over %d pairs), ratio "
           "%.3f: %.3f%% of a core at 10k reads/s (range %.3f..%.3f%%)\n",
           md, lo, hi, pairs, mr, PCT_AT_10K(md), PCT_AT_10K(lo), PCT_AT_10K(hi));
    printf("A/B lower quartiles: detached %.0f, attached %.0f ns CPU per read: +%.0f ns = %.3f%% "
           "of a core at 10k reads/s\n",
           q_off, q_on, q_on - q_off, PCT_AT_10K(q_on - q_off));
    double comp = stats_windows(fd, d.major, d.minor, seconds, iops);
    stats_switch(old, NULL, 0);
    if (comp >= 0)
        printf("estimate: A/B median + completion program = %.0f ns per read = %.3f%% of a core "
               "at 10k reads/s (budget 1%%)\n",
               md + comp, PCT_AT_10K(md + comp));
    close(fd);
    return 0;
}
