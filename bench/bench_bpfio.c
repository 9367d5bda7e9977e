/* SPDX-License-Identifier: Apache-2.0 */
/* Overhead of the eBPF block-layer attribution (observe/bpfio.c) against its budget (<= 1% of a
 * core at 10k I/O per second). The load: 4 KiB O_DIRECT random reads of a 256 MiB file in the
 * current directory, paced at a target rate (default 10,000 per second) by 8 threads.
 *
 * 1. A/B, interleaved: pairs of windows, one with the programs detached (A) and one with them
 *    attached (B), in alternating order (AB, BA, ...) so drift and the neighbours' load fall on
 *    both sides alike. The programs are loaded once; a window only attaches or detaches them. Each
 * window's cost is the CPU time of this process per read (CLOCK_PROCESS_CPUTIME_ID: its threads and
 * the kernel work done while they run, i.e. the submission path with the tagging, queue and issue
 * hooks, and completions that interrupt them). kernel.bpf_stats_enabled is off during A/B: its two
 * clock reads per program run would be charged too. Per pair B - A in ns per read; the median and
 * range over the pairs, as a share of one core at 10k reads/s, and the median ratio B/A; and the
 * difference of the two sides' lower quartiles (interference from other work only adds CPU time, so
 * the low windows are the least disturbed).
 * 2. The kernel's own accounting (bpf_stats on, STATS_WINS windows with the programs
 *    attached): the median ns per run and runs per read of each program, their sum, and the sum
 *    less bpf_stats' own two clock reads per run (a clock read's cost measured here in user
 *    space). The completion program runs in interrupt context, mostly outside this process, so
 *    step 1 sees only part of it: step 1's median plus the completion program's time is the
 *    estimate of the whole.
 *    The median's 95% interval is the distribution-free one of common/quantci.h over the
 *    pairs (it exists from 6 pairs): the budget is met with confidence when its upper bound
 *    plus the completion program's time is under 1% of a core.
 *    The same pairs are also measured on the whole machine where the kernel has a cpuidle
 *    driver: its busy time (wall less the CPUs' idle residency, microseconds) per read, which
 *    includes the completion program wherever it runs, and everything else running: on an
 *    otherwise idle machine it is the whole cost.
 * Needs root; otherwise it says why and exits 0.
 * Usage: bench_bpfio [seconds-per-window] [target-iops] [pairs] [file-hooks]
 * target-iops 0: no pacing, the 8 threads read as fast as the device lets them (the cost per
 * read with a larger signal; bench/bpfio-ramdisk runs it on a RAM-backed loop device).
 * file-hooks: bio, fentry, tracepoint or none (observe/bpfio.h); default the first the kernel
 * allows, as kvtier loads them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/quantci.h"
#include "observe/bpfio.h"
#include "observe/diskstats.h"

#define FILE_BYTES   (256ULL << 20)
#define IO_BYTES     4096
#define THREADS      8
#define MAX_PAIRS    4096
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
        if (rate > 0 && due > t + PACE_SLACK_S) { /* sleep only when well ahead */
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

/* Busy CPU seconds of the whole machine since an arbitrary origin: the CPUs' wall time less
 * their idle time, from the cpuidle states' residency (microseconds) where the kernel has a
 * cpuidle driver; -1 where it has none (the system-wide figures are then left out: /proc/stat's
 * ticks are too coarse for a 1 s window). */
static double sys_busy_s(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double idle_us = 0;
    int states = 0;
    for (long c = 0; c < ncpu; c++)
        for (int st = 0; st < 16; st++) {
            char p[96];
            snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu%ld/cpuidle/state%d/time", c, st);
            FILE *f = fopen(p, "re");
            if (!f)
                break;
            unsigned long long us = 0;
            if (fscanf(f, "%llu", &us) == 1) {
                idle_us += (double)us;
                states++;
            }
            fclose(f);
        }
    return states ? (double)ncpu * now_s() - idle_us / 1e6 : -1;
}

struct window {
    double reads, wall_s, cpu_s, sys_s; /* sys_s < 0: unknown */
};

static struct window run_load(int fd, double seconds, double iops, unsigned seed)
{
    struct load l[THREADS];
    pthread_t th[THREADS];
    double t0 = now_s(), c0 = cpu_s(), s0 = sys_busy_s();
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
    double s1 = sys_busy_s();
    return (struct window){ .reads = (double)done,
                            .wall_s = now_s() - t0,
                            .cpu_s = cpu_s() - c0,
                            .sys_s = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1 };
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
static double stats_windows(int fd, unsigned major, unsigned minor, const char *hooks,
                            double seconds, double iops)
{
    struct bpfio *b = NULL;
    bool tags = false;
    char reason[BPFIO_REASON_MAX];
    if (bpfio_start_hooks(major, minor, hooks, &b, &tags, reason) < 0 ||
        stats_switch("1\n", NULL, 0) < 0) {
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
        if (!strncmp(s1[i].name, "rq_complete", 11)) /* rq_complete or rq_complete_dio */
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

/* Prints one A/B measure (ns per read, detached and attached per pair) and returns the
 * interval of the median of the pairs' differences (value: the median). */
static struct quantci ab_report(const char *what, const double *off, const double *on, int pairs)
{
    double delta[MAX_PAIRS], ratio[MAX_PAIRS];
    double lo = on[0] - off[0], hi = lo;
    for (int p = 0; p < pairs; p++) {
        delta[p] = on[p] - off[p];
        ratio[p] = on[p] / off[p];
        lo = delta[p] < lo ? delta[p] : lo;
        hi = delta[p] > hi ? delta[p] : hi;
    }
    double mr = median(ratio, pairs);
    qsort(delta, (size_t)pairs, sizeof(delta[0]), cmp_d);
    struct quantci ci;
    quantci_sorted(delta, (size_t)pairs, 0.5, QUANTCI_LEVEL, &ci);
    printf("A/B %s: median %+.0f ns per read (range %+.0f..%+.0f over %d pairs), ratio %.3f: "
           "%.3f%% of a core at 10k reads/s\n",
           what, ci.value, lo, hi, pairs, mr, PCT_AT_10K(ci.value));
    if (ci.supported)
        printf("  median's 95%% interval (order statistics %zu and %zu): %+.0f..%+.0f ns per read "
               "= %.3f..%.3f%% of a core at 10k reads/s\n",
               ci.rank_lo, ci.rank_hi, ci.lo, ci.hi, PCT_AT_10K(ci.lo), PCT_AT_10K(ci.hi));
    else
        printf("  median's 95%% interval: undersampled (needs %zu pairs)\n",
               quantci_min_n(0.5, QUANTCI_LEVEL));
    /* interference only adds CPU time: the lower quartiles of each side are the steadier pair */
    double q_off = quartile1(off, pairs), q_on = quartile1(on, pairs);
    printf("  lower quartiles: detached %.0f, attached %.0f ns per read: %+.0f ns = %.3f%%\n",
           q_off, q_on, q_on - q_off, PCT_AT_10K(q_on - q_off));
    return ci;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2, iops = argc > 2 ? atof(argv[2]) : 10000;
    int pairs = argc > 3 ? atoi(argv[3]) : 7;
    const char *hooks = argc > 4 ? argv[4] : NULL;
    if (pairs < 1 || pairs > MAX_PAIRS || !(seconds > 0) || !(iops >= 0)) {
        fprintf(stderr,
                "usage: bench_bpfio [seconds-per-window] [target-iops] [pairs 1..%d] "
                "[bio|fentry|tracepoint|none]\n",
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
    if (bpfio_start_hooks(d.major, d.minor, hooks, &b, &tags, reason) < 0) {
        printf("bench_bpfio: eBPF not loaded: %s; skipped\n", reason);
        close(fd);
        return 0;
    }
    printf("disk %s, file hooks %s; %d pairs of %.1f s windows of 4 KiB O_DIRECT random reads at "
           "%.0f/s (%d threads)\n",
           disk, bpfio_hooks(b), pairs, seconds, iops, THREADS);
    /* loaded once: a window only attaches or detaches the programs (no load, verification
     * or table allocation and freeing next to a window) */
    if (bpfio_set_attached(b, false) < 0) {
        printf("bench_bpfio: cannot detach the programs\n");
        bpfio_free(b);
        close(fd);
        return 1;
    }
    stats_switch("0\n", old, sizeof(old));
    double off[2][MAX_PAIRS], on[2][MAX_PAIRS]; /* [0] this process, [1] the whole machine */
    bool sys = true;
    for (int p = 0; p < pairs; p++) {
        struct window w[2]; /* [0] detached, [1] attached */
        for (int k = 0; k < 2; k++) {
            int attached = (k + p) % 2; /* AB, BA, AB, ... */
            int ar = attached ? bpfio_set_attached(b, true) : 0;
            if (ar < 0) {
                printf("bench_bpfio: eBPF not attached: %s\n", strerror(-ar));
                stats_switch(old, NULL, 0);
                bpfio_free(b);
                close(fd);
                return 1;
            }
            w[attached] = run_load(fd, seconds, iops, 7u + (unsigned)p * 31u);
            if (attached)
                bpfio_set_attached(b, false);
        }
        off[0][p] = w[0].cpu_s / w[0].reads * 1e9;
        on[0][p] = w[1].cpu_s / w[1].reads * 1e9;
        sys = sys && w[0].sys_s >= 0 && w[1].sys_s >= 0;
        off[1][p] = sys ? w[0].sys_s / w[0].reads * 1e9 : 0;
        on[1][p] = sys ? w[1].sys_s / w[1].reads * 1e9 : 0;
        printf("pair %d (%s): detached %.0f reads/s, %.0f ns per read (machine %.0f); attached "
               "%.0f reads/s, %.0f ns (machine %.0f)\n",
               p + 1, p % 2 ? "BA" : "AB", w[0].reads / w[0].wall_s, off[0][p], off[1][p],
               w[1].reads / w[1].wall_s, on[0][p], on[1][p]);
    }
    bpfio_free(b);
    struct quantci proc_ci = ab_report("process CPU", off[0], on[0], pairs), sys_ci = { 0 };
    if (sys)
        sys_ci = ab_report("machine CPU", off[1], on[1], pairs);
    else
        printf("A/B machine CPU: not measured (no cpuidle residency under "
               "/sys/devices/system/cpu)\n");
    double comp = stats_windows(fd, d.major, d.minor, hooks, seconds, iops);
    stats_switch(old, NULL, 0);
    if (comp >= 0)
        printf("estimate: process A/B median + completion program = %.0f ns per read = %.3f%% of "
               "a core at 10k reads/s (budget 1%%)\n",
               proc_ci.value + comp, PCT_AT_10K(proc_ci.value + comp));
    if (comp >= 0 && proc_ci.supported)
        printf("estimate, upper 95%% bound: %.0f ns per read = %.3f%% of a core at 10k reads/s: "
               "budget %s\n",
               proc_ci.hi + comp, PCT_AT_10K(proc_ci.hi + comp),
               PCT_AT_10K(proc_ci.hi + comp) <= 1.0 ? "met" : "not shown to be met");
    if (sys && sys_ci.supported)
        printf("machine A/B (everything, completions included), upper 95%% bound: %.0f ns per "
               "read = %.3f%% of a core at 10k reads/s: budget %s\n",
               sys_ci.hi, PCT_AT_10K(sys_ci.hi),
               PCT_AT_10K(sys_ci.hi) <= 1.0 ? "met" : "not shown to be met");
    close(fd);
    return 0;
}
