/* SPDX-License-Identifier: Apache-2.0 */
/* Disk-tier throughput at the model's block size: offload (write) and onboard (read) of N
 * blocks through the engine's tier_disk (O_DIRECT, io_uring, queue depth 32), against fio with
 * the same block size, queue depth, O_DIRECT and io_uring on the same directory in the same run.
 * Usage: bench_engine_disk [DIR [BLOCK_BYTES [BLOCKS]]]; default $KVTIER_BENCH_DIR or /var/tmp,
 * and both the tiny model's 256 KiB blocks (2048 of them) and Llama-3.1-8B FP8's 2 MiB blocks
 * (512). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clk.h"
#include "common/xalloc.h"
#include "engine/kvdata.h"
#include "engine/tier_disk.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned done, failed;
};

static void on_done(void *ctx, struct tier_job *j)
{
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->done++;
    w->failed += j->result != 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static double run_tier(struct tier_disk *t, struct waiter *w, struct tier_job *jobs, unsigned n,
                       bool write)
{
    w->done = w->failed = 0;
    uint64_t t0 = clk_now_ns();
    for (unsigned i = 0; i < n; i++) {
        jobs[i].write = write;
        tier_disk_submit(t, &jobs[i]);
    }
    pthread_mutex_lock(&w->mu);
    while (w->done < n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return (double)(clk_now_ns() - t0) / 1e9;
}

static double median3(double *v)
{
    double a = v[0], b = v[1], c = v[2];
    if (a > b) {
        double x = a;
        a = b;
        b = x;
    }
    if (b > c)
        b = c;
    return a > b ? a : b;
}

static double fio_bw(const char *dir, const char *rw, uint64_t bs, uint64_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "fio --name=ref --directory=%s --rw=%s --bs=%" PRIu64 " --size=%" PRIu64
             " --direct=1 --ioengine=io_uring --iodepth=32 --numjobs=1 --unlink=0 "
             "--filename=kvtier-bench-fio.dat --output-format=json 2>/dev/null",
             dir, rw, bs, size);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    json_error_t je;
    json_t *j = json_loadf(p, 0, &je);
    pclose(p);
    if (!j)
        return -1;
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    json_t *part = json_object_get(job, strcmp(rw, "write") == 0 ? "write" : "read");
    double bw = json_number_value(json_object_get(part, "bw_bytes"));
    json_decref(j);
    return bw;
}

static int bench(const char *dir, uint64_t bs, unsigned n);

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("KVTIER_BENCH_DIR");
    if (!dir)
        dir = "/var/tmp";
    if (argc > 2)
        return bench(dir, strtoull(argv[2], NULL, 10),
                     argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 512);
    return bench(dir, 262144, 2048) | bench(dir, 2097152, 512);
}

static int bench(const char *dir, uint64_t bs, unsigned n)
{
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    struct tier_disk_opts o = {
        .dir = dir, .n_blocks = n, .block_bytes = bs, .o_direct = true, .queue_depth = 32
    };
    struct tier_disk *t;
    struct diag d = { 0 };
    if (tier_disk_open(&o, on_done, &w, &t, &d) < 0) {
        fprintf(stderr, "bench_engine_disk: %s\n", d.msg);
        return 1;
    }
    uint8_t *mem = xalloc_aligned(TIER_DISK_ALIGN, (size_t)bs * n);
    struct tier_job *jobs = xcalloc(n, sizeof(*jobs));
    for (unsigned i = 0; i < n; i++) {
        jobs[i].slot = i;
        jobs[i].hash = 1000 + i;
        jobs[i].buf = mem + (size_t)i * bs;
        kvdata_fill(jobs[i].hash, jobs[i].buf, bs);
    }
    /* interleaved rounds, medians: the virtual disk's speed drifts from one second to the next */
    enum { ROUNDS = 3 };
    double ew[ROUNDS], er[ROUNDS], fw[ROUNDS], fr[ROUNDS];
    unsigned wf = 0, bad = 0;
    double size = (double)bs * n;
    char path[1200];
    snprintf(path, sizeof(path), "%s/kvtier-bench-fio.dat", dir);
    for (int k = 0; k < ROUNDS; k++) {
        ew[k] = size / run_tier(t, &w, jobs, n, true);
        wf += w.failed;
        memset(mem, 0, (size_t)bs * n);
        er[k] = size / run_tier(t, &w, jobs, n, false);
        bad += w.failed;
        for (unsigned i = 0; i < n; i++)
            bad += !kvdata_verify(jobs[i].hash, jobs[i].buf, bs);
        fw[k] = fio_bw(dir, "write", bs, (uint64_t)size);
        fr[k] = fio_bw(dir, "read", bs, (uint64_t)size);
        unlink(path);
    }
    printf("disk tier: dir=%s block=%" PRIu64 " B blocks=%u o_direct=%d io=%s, median of %d "
           "interleaved rounds\n",
           dir, bs, n, tier_disk_o_direct(t), tier_disk_io_uring(t) ? "io_uring" : "pread", ROUNDS);
    tier_disk_close(t);
    double wbw = median3(ew), rbw = median3(er), fwm = median3(fw), frm = median3(fr);
    printf("  engine offload (write): %8.1f MB/s  (%u errors)\n", wbw / 1e6, wf);
    printf("  engine onboard (read):  %8.1f MB/s  (%u errors or verification failures)\n",
           rbw / 1e6, bad);
    if (fwm > 0 && frm > 0) {
        printf("  fio reference write:    %8.1f MB/s  -> engine/fio %.0f%%\n", fwm / 1e6,
               100 * wbw / fwm);
        printf("  fio reference read:     %8.1f MB/s  -> engine/fio %.0f%%\n", frm / 1e6,
               100 * rbw / frm);
    } else {
        printf("  fio not available: no reference\n");
    }
    free(mem);
    free(jobs);
    return bad || wf ? 1 : 0;
}
