/* SPDX-License-Identifier: Apache-2.0 */
/* Disk-tier throughput at the model's block size: offload (write) and onboard (read) of N
 * blocks through the engine's tier_disk (O_DIRECT, io_uring, queue depth 32), against fio with
 * the same block size, queue depth, O_DIRECT and io_uring on the same directory in the same run.
 * Usage: bench_engine_disk [DIR [BLOCK_BYTES [BLOCKS]]]; default /var/tmp, 2 MiB, 512. */
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

static void on_done(void *ctx, struct tier_disk_job *j)
{
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->done++;
    w->failed += j->result != 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static double run_tier(struct tier_disk *t, struct waiter *w, struct tier_disk_job *jobs,
                       unsigned n, bool write)
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

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/var/tmp";
    uint64_t bs = argc > 2 ? strtoull(argv[2], NULL, 10) : 2097152;
    unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 512;
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
    struct tier_disk_job *jobs = xcalloc(n, sizeof(*jobs));
    for (unsigned i = 0; i < n; i++) {
        jobs[i].slot = i;
        jobs[i].hash = 1000 + i;
        jobs[i].buf = mem + (size_t)i * bs;
        kvdata_fill(jobs[i].hash, jobs[i].buf, bs);
    }
    double tw = run_tier(t, &w, jobs, n, true);
    unsigned wf = w.failed;
    memset(mem, 0, (size_t)bs * n);
    double tr = run_tier(t, &w, jobs, n, false);
    unsigned bad = w.failed;
    for (unsigned i = 0; i < n; i++)
        bad += !kvdata_verify(jobs[i].hash, jobs[i].buf, bs);
    printf("disk tier: dir=%s block=%" PRIu64 " B blocks=%u o_direct=%d io=%s\n", dir, bs, n,
           tier_disk_o_direct(t), tier_disk_io_uring(t) ? "io_uring" : "pread");
    tier_disk_close(t);
    double size = (double)bs * n;
    double wbw = size / tw, rbw = size / tr;
    printf("  engine offload (write): %8.1f MB/s  (%u errors)\n", wbw / 1e6, wf);
    printf("  engine onboard (read):  %8.1f MB/s  (%u errors or verification failures)\n",
           rbw / 1e6, bad);
    double fw = fio_bw(dir, "write", bs, (uint64_t)size),
           fr = fio_bw(dir, "read", bs, (uint64_t)size);
    char path[1200];
    snprintf(path, sizeof(path), "%s/kvtier-bench-fio.dat", dir);
    unlink(path);
    if (fw > 0 && fr > 0) {
        printf("  fio reference write:    %8.1f MB/s  -> engine/fio %.0f%%\n", fw / 1e6,
               100 * wbw / fw);
        printf("  fio reference read:     %8.1f MB/s  -> engine/fio %.0f%%\n", fr / 1e6,
               100 * rbw / fr);
    } else {
        printf("  fio not available: no reference\n");
    }
    free(mem);
    free(jobs);
    return bad || wf ? 1 : 0;
}
