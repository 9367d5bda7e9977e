/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier probe (see probe.h).
 *
 * The test file is created in the target directory, reopened with O_DIRECT and unlinked at
 * once, so nothing is left behind even if the process is killed; the descriptor keeps the
 * space until it is closed. The whole file is pre-written with random data (never-written
 * extents read as zeros without touching the device). Each shape (direction, block size,
 * queue depth) then runs for an equal share of the time budget: io_uring keeps qd requests in
 * flight on 4096-aligned buffers; every completion records its latency (submission to
 * completion) into a bounded sample (reservoir beyond PROBE_LAT_MAX_SAMPLES). The block
 * device's diskstats are read around each shape: the device must have moved at least 90% of
 * the bytes, otherwise the page cache (or something else) served them and the shape says so.
 * Where io_uring is refused (-EPERM/-ENOSYS: seccomp, io_uring_disabled) qd threads doing
 * pread/pwrite take its place and the result records which engine ran. */
#include "probe/probe.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <liburing.h>

#include "common/clk.h"
#include "common/devinfo.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "observe/diskstats.h"

#define ALIGN           4096u
#define TMPFS_MAGIC_    0x01021994
#define RAMFS_MAGIC_    0x858458f6
#define MIN_SHAPE_NS    (200ULL * CLK_NS_PER_MS)
#define BYPASS_FRACTION 0.9
#define PREWRITE_BLOCK  (1u << 20)
#define PREWRITE_QD     8

static const char *const rw_names[PROBE_RW__COUNT] = { "read", "write", "randread", "randwrite" };

const char *probe_rw_name(enum probe_rw rw)
{
    return (unsigned)rw < PROBE_RW__COUNT ? rw_names[rw] : "?";
}

static bool is_write(enum probe_rw rw)
{
    return rw == PROBE_WRITE || rw == PROBE_RANDWRITE;
}

static bool is_rand(enum probe_rw rw)
{
    return rw == PROBE_RANDREAD || rw == PROBE_RANDWRITE;
}

struct lat {
    uint64_t *v;
    size_t n, cap, seen;
    struct rng rng;
};

static void lat_add(struct lat *l, uint64_t ns)
{
    l->seen++;
    if (l->n < l->cap) {
        l->v[l->n++] = ns;
        return;
    }
    uint64_t k = rng_range(&l->rng, 0, l->seen - 1);
    if (k < l->cap)
        l->v[k] = ns;
}

struct shape {
    enum probe_rw rw;
    uint64_t bs;
    unsigned qd;
    uint64_t deadline_ns;
    uint64_t blocks; /* file size / bs */
};

struct shape_out {
    uint64_t bytes, ios, start_ns, end_ns;
    int err;
};

static uint64_t next_offset(const struct shape *s, struct rng *r, uint64_t *cursor)
{
    uint64_t blk;
    if (is_rand(s->rw)) {
        blk = rng_range(r, 0, s->blocks - 1);
    } else {
        blk = *cursor;
        *cursor = (*cursor + 1) % s->blocks;
    }
    return blk * s->bs;
}

static void *map_buffers(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void fill_random(uint8_t *p, size_t n, struct rng *r)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = rng_next_u64(r);
        memcpy(p + i, &v, 8);
    }
}

/* io_uring engine. */
static int run_uring(int fd, const struct shape *s, uint8_t *bufs, struct lat *lat, struct rng *r,
                     struct shape_out *out)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(s->qd < 8 ? 8 : s->qd, &ring, 0);
    if (rc < 0)
        return rc;
    uint64_t *submit_ns = xcalloc(s->qd, sizeof(*submit_ns));
    uint64_t cursor = 0, inflight = 0;
    out->start_ns = clk_now_ns();
    for (unsigned i = 0; i < s->qd; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        uint64_t off = next_offset(s, r, &cursor);
        uint8_t *b = bufs + (size_t)i * s->bs;
        if (is_write(s->rw))
            io_uring_prep_write(sqe, fd, b, (unsigned)s->bs, off);
        else
            io_uring_prep_read(sqe, fd, b, (unsigned)s->bs, off);
        io_uring_sqe_set_data64(sqe, i);
        submit_ns[i] = clk_now_ns();
        inflight++;
    }
    rc = 0;
    /* Batched: one io_uring_submit_and_wait per round submits the refills prepared for every
     * completion of the previous round and waits for at least one more. */
    while (inflight > 0) {
        int w = io_uring_submit_and_wait(&ring, 1);
        if (w == -EINTR)
            continue;
        if (w < 0) {
            rc = w;
            break;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        uint64_t now = clk_now_ns();
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            unsigned slot = (unsigned)io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            seen++;
            inflight--;
            if (res < 0) {
                rc = res;
                continue;
            }
            if ((uint64_t)res != s->bs) {
                rc = -EIO;
                continue;
            }
            out->bytes += s->bs;
            out->ios++;
            out->end_ns = now;
            lat_add(lat, now - submit_ns[slot]);
            if (rc == 0 && now < s->deadline_ns) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                if (!sqe) {
                    rc = -EBUSY;
                    continue;
                }
                uint64_t off = next_offset(s, r, &cursor);
                uint8_t *b = bufs + (size_t)slot * s->bs;
                if (is_write(s->rw))
                    io_uring_prep_write(sqe, fd, b, (unsigned)s->bs, off);
                else
                    io_uring_prep_read(sqe, fd, b, (unsigned)s->bs, off);
                io_uring_sqe_set_data64(sqe, slot);
                submit_ns[slot] = now;
                inflight++;
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
    free(submit_ns);
    io_uring_queue_exit(&ring);
    out->err = rc;
    return rc;
}

/* pread/pwrite thread-pool engine. */
struct worker {
    int fd;
    const struct shape *s;
    uint8_t *buf;
    struct lat lat;
    struct shape_out out;
    uint64_t seed;
    unsigned index;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct rng r;
    rng_seed(&r, w->seed);
    uint64_t cursor = w->index % w->s->blocks;
    w->out.start_ns = clk_now_ns();
    /* At least one I/O per slot, even if this thread started after the deadline (a loaded
     * machine), as the io_uring engine always submits its first qd requests. */
    do {
        uint64_t off = next_offset(w->s, &r, &cursor);
        uint64_t t = clk_now_ns();
        ssize_t n = is_write(w->s->rw) ? pwrite(w->fd, w->buf, w->s->bs, (off_t)off)
                                       : pread(w->fd, w->buf, w->s->bs, (off_t)off);
        uint64_t now = clk_now_ns();
        if (n < 0) {
            w->out.err = -errno;
            break;
        }
        if ((uint64_t)n != w->s->bs) {
            w->out.err = -EIO;
            break;
        }
        w->out.bytes += w->s->bs;
        w->out.ios++;
        w->out.end_ns = now;
        lat_add(&w->lat, now - t);
    } while (clk_now_ns() < w->s->deadline_ns);
    return NULL;
}

static int run_threads(int fd, const struct shape *s, uint8_t *bufs, struct lat *lat, uint64_t seed,
                       struct shape_out *out)
{
    struct worker *w = xcalloc(s->qd, sizeof(*w));
    pthread_t *th = xcalloc(s->qd, sizeof(*th));
    unsigned started = 0;
    int rc = 0;
    for (unsigned i = 0; i < s->qd; i++) {
        w[i] = (struct worker){
            .fd = fd, .s = s, .buf = bufs + (size_t)i * s->bs, .seed = seed + i, .index = i
        };
        w[i].lat.cap = PROBE_LAT_MAX_SAMPLES / s->qd;
        w[i].lat.v = xcalloc(w[i].lat.cap, sizeof(uint64_t));
        rng_seed(&w[i].lat.rng, seed ^ i);
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            rc = -EAGAIN;
            break;
        }
        started++;
    }
    out->start_ns = clk_now_ns();
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        out->bytes += w[i].out.bytes;
        out->ios += w[i].out.ios;
        if (w[i].out.end_ns > out->end_ns)
            out->end_ns = w[i].out.end_ns;
        if (w[i].out.start_ns && w[i].out.start_ns < out->start_ns)
            out->start_ns = w[i].out.start_ns;
        if (w[i].out.err && !rc)
            rc = w[i].out.err;
        for (size_t k = 0; k < w[i].lat.n && lat->n < lat->cap; k++)
            lat->v[lat->n++] = w[i].lat.v[k];
        lat->seen += w[i].lat.seen;
    }
    for (unsigned i = 0; i < s->qd; i++)
        free(w[i].lat.v);
    free(w);
    free(th);
    out->err = rc;
    return rc;
}

static json_t *lat_json(struct lat *l)
{
    double *d = xcalloc(l->n ? l->n : 1, sizeof(*d));
    for (size_t i = 0; i < l->n; i++)
        d[i] = (double)l->v[i];
    struct stats_summary s;
    stats_summarize(d, l->n, &s);
    free(d);
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)l->seen));
    json_object_set_new(o, "min", isfinite(s.min) ? json_real(s.min) : json_null());
    json_object_set_new(o, "mean", isfinite(s.mean) ? json_real(s.mean) : json_null());
    json_object_set_new(o, "p50", isfinite(s.p50) ? json_real(s.p50) : json_null());
    json_object_set_new(o, "p90", isfinite(s.p90) ? json_real(s.p90) : json_null());
    json_object_set_new(o, "p99", isfinite(s.p99) ? json_real(s.p99) : json_null());
    json_object_set_new(o, "p999", isfinite(s.p999) ? json_real(s.p999) : json_null());
    json_object_set_new(o, "max", isfinite(s.max) ? json_real(s.max) : json_null());
    return o;
}

static int prewrite(int fd, uint64_t size, bool use_uring, struct rng *r)
{
    size_t bs = PREWRITE_BLOCK;
    uint8_t *buf = map_buffers(bs * PREWRITE_QD);
    if (!buf)
        return -ENOMEM;
    fill_random(buf, bs * PREWRITE_QD, r);
    int rc = 0;
    if (use_uring) {
        struct io_uring ring;
        rc = io_uring_queue_init(PREWRITE_QD, &ring, 0);
        if (rc == 0) {
            uint64_t off = 0, inflight = 0;
            unsigned slot = 0;
            while ((off < size || inflight) && rc == 0) {
                while (off < size && inflight < PREWRITE_QD) {
                    size_t n = size - off < bs ? (size_t)(size - off) : bs;
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_write(sqe, fd, buf + (size_t)(slot++ % PREWRITE_QD) * bs,
                                        (unsigned)n, off);
                    io_uring_sqe_set_data64(sqe, n);
                    off += n;
                    inflight++;
                }
                int sr = io_uring_submit(&ring);
                if (sr < 0) {
                    rc = sr;
                    break;
                }
                struct io_uring_cqe *cqe;
                int w = io_uring_wait_cqe(&ring, &cqe);
                if (w == -EINTR)
                    continue;
                if (w < 0) {
                    rc = w;
                    break;
                }
                if (cqe->res < 0)
                    rc = cqe->res;
                else if ((uint64_t)cqe->res != io_uring_cqe_get_data64(cqe))
                    rc = -EIO;
                io_uring_cqe_seen(&ring, cqe);
                inflight--;
            }
            /* Drain what is still in flight after an error. */
            while (inflight) {
                struct io_uring_cqe *cqe;
                if (io_uring_wait_cqe(&ring, &cqe) < 0)
                    break;
                io_uring_cqe_seen(&ring, cqe);
                inflight--;
            }
            io_uring_queue_exit(&ring);
            munmap(buf, bs * PREWRITE_QD);
            return rc;
        }
    }
    for (uint64_t off = 0; off < size && rc == 0; off += bs) {
        size_t n = size - off < bs ? (size_t)(size - off) : bs;
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0)
            rc = -errno;
        else if ((size_t)w != n)
            rc = -EIO;
    }
    munmap(buf, bs * PREWRITE_QD);
    return rc;
}

static int check_config(const struct probe_config *c, struct diag *d)
{
    if (!c->dir)
        return diag_set(d, -EINVAL, 0, 0, "no directory given");
    if (c->n_block == 0 || c->n_block > PROBE_MAX_BLOCK_SIZES)
        return diag_set(d, -EINVAL, 0, 0, "between 1 and %d block sizes are needed",
                        PROBE_MAX_BLOCK_SIZES);
    if (c->n_qd == 0 || c->n_qd > PROBE_MAX_QDS)
        return diag_set(d, -EINVAL, 0, 0, "between 1 and %d queue depths are needed",
                        PROBE_MAX_QDS);
    for (size_t i = 0; i < c->n_block; i++)
        if (c->block_bytes[i] == 0 || c->block_bytes[i] % ALIGN ||
            c->block_bytes[i] > PROBE_MAX_BLOCK_BYTES)
            return diag_set(d, -EINVAL, 0, 0,
                            "block size %" PRIu64 " is not a multiple of 4096 in (0, %u]",
                            c->block_bytes[i], PROBE_MAX_BLOCK_BYTES);
    for (size_t i = 0; i < c->n_qd; i++)
        if (c->qds[i] < 1 || c->qds[i] > 256)
            return diag_set(d, -EINVAL, 0, 0, "queue depth %u is outside 1..256", c->qds[i]);
    bool any = false;
    for (int i = 0; i < PROBE_RW__COUNT; i++)
        any = any || c->rw_enabled[i];
    if (!any)
        return diag_set(d, -EINVAL, 0, 0, "no direction (read, write, randread, randwrite)");
    uint64_t maxbs = 0;
    for (size_t i = 0; i < c->n_block; i++)
        if (c->block_bytes[i] > maxbs)
            maxbs = c->block_bytes[i];
    if (c->size_bytes < 2 * maxbs)
        return diag_set(d, -EINVAL, 0, 0,
                        "--size %" PRIu64 " bytes is below two of the largest block (%" PRIu64 ")",
                        c->size_bytes, maxbs);
    if (c->time_ns == 0)
        return diag_set(d, -EINVAL, 0, 0, "--time must be positive");
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Refuses what the probe must not measure: not a directory, tmpfs/ramfs (memory, no
 * O_DIRECT), too little free space. *ret_sf gets the file system's statfs. */
static int check_dir(const struct probe_config *cfg, uint64_t size, struct statfs *ret_sf,
                     struct diag *d)
{
    struct stat st;
    if (stat(cfg->dir, &st) < 0) {
        int r = -errno;
        return diag_set(d, r, 0, 0, "%s: %s", cfg->dir, strerror(-r));
    }
    if (!S_ISDIR(st.st_mode))
        return diag_set(d, -ENOTDIR, 0, 0,
                        "%s is not a directory (the probe never touches a raw "
                        "device; give a directory on the KV file system)",
                        cfg->dir);
    memset(ret_sf, 0, sizeof(*ret_sf));
    if (statfs(cfg->dir, ret_sf) == 0 && ((unsigned long)ret_sf->f_type == TMPFS_MAGIC_ ||
                                          (unsigned long)ret_sf->f_type == RAMFS_MAGIC_))
        return diag_set(d, -EINVAL, 0, 0,
                        "%s is on tmpfs/ramfs, which refuses O_DIRECT and is memory, not an SSD",
                        cfg->dir);
    struct statvfs sv;
    uint64_t min_free = cfg->min_free_bytes ? cfg->min_free_bytes : (1ULL << 30);
    if (statvfs(cfg->dir, &sv) == 0) {
        uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        if (avail < size + min_free)
            return diag_set(d, -ENOSPC, 0, 0,
                            "%s has %" PRIu64 " bytes free; the probe needs --size %" PRIu64
                            " plus %" PRIu64 " bytes left over",
                            cfg->dir, avail, size, min_free);
    }
    return 0;
}

/* The test file: created, opened O_DIRECT, unlinked at once (nothing is left behind whatever
 * happens next) and allocated. *ret_fd on success. */
static int open_test_file(const struct probe_config *cfg, uint64_t size, int *ret_fd,
                          struct diag *d)
{
    char *path = xalloc_printf("%s/.kvtier-probe-%d-XXXXXX", cfg->dir, (int)getpid());
    int r = 0, fd = -1;
    int tfd = mkstemp(path);
    if (tfd < 0) {
        r = -errno;
        diag_set(d, r, 0, 0, "cannot create a file in %s: %s", cfg->dir, strerror(-r));
        goto out;
    }
    fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    int oe = errno;
    close(tfd);
    unlink(path);
    if (fd < 0) {
        r = oe == EINVAL ? -EINVAL : -oe;
        diag_set(d, r, 0, 0, "%s: the file system refuses O_DIRECT (%s)", cfg->dir, strerror(oe));
        goto out;
    }
    r = posix_fallocate(fd, 0, (off_t)size);
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL) {
        r = -r;
        diag_set(d, r, 0, 0, "cannot allocate %" PRIu64 " bytes in %s: %s", size, cfg->dir,
                 strerror(-r));
        close(fd);
        goto out;
    }
    r = 0;
    *ret_fd = fd;
out:
    free(path);
    return r;
}

/* io_uring unless forced off or refused; *ret_reason says why not (NULL when it runs). */
static bool choose_uring(const struct probe_config *cfg, const char **ret_reason)
{
    *ret_reason = cfg->force_pread ? "pread forced by the caller" : NULL;
    if (cfg->force_pread)
        return false;
    struct io_uring ring;
    int ur = io_uring_queue_init(4, &ring, 0);
    if (ur < 0) {
        *ret_reason = ur == -EPERM    ? "io_uring refused (EPERM: seccomp or "
                                        "kernel.io_uring_disabled)"
                      : ur == -ENOSYS ? "io_uring not available (ENOSYS)"
                                      : "io_uring_queue_init failed";
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

/* What every shape of one run shares. */
struct run_ctx {
    const struct probe_config *cfg;
    int fd;
    uint64_t size, per_shape_ns;
    bool use_uring, have_dev;
    char dev[DISKSTATS_NAME_MAX];
    uint8_t *bufs;
    size_t bufs_len;
    struct lat lat;
    struct rng rng;
};

/* One shape, measured for per_shape_ns: its result object (owned) into *ret. */
static int run_shape(struct run_ctx *x, const struct shape *shape, json_t **ret, struct diag *d)
{
    const struct probe_config *cfg = x->cfg;
    struct shape s = *shape;
    struct diskstats_dev before = { 0 }, after = { 0 };
    bool dev_ok = x->have_dev && diskstats_read(cfg->proc_root, x->dev, &before) == 0;
    struct shape_out so = { 0 };
    x->lat.n = x->lat.seen = 0;
    s.deadline_ns = clk_now_ns() + x->per_shape_ns;
    int sr = x->use_uring ? run_uring(x->fd, &s, x->bufs, &x->lat, &x->rng, &so)
                          : run_threads(x->fd, &s, x->bufs, &x->lat, rng_next_u64(&x->rng), &so);
    if (sr < 0)
        return diag_set(d, sr, 0, 0, "%s bs=%" PRIu64 " qd=%u on %s: %s", probe_rw_name(s.rw), s.bs,
                        s.qd, cfg->dir, strerror(-sr));
    dev_ok = dev_ok && diskstats_read(cfg->proc_root, x->dev, &after) == 0;
    double dur = so.end_ns > so.start_ns ? (double)(so.end_ns - so.start_ns) / 1e9 : 0;
    json_t *j = json_object();
    json_object_set_new(j, "rw", json_string(probe_rw_name(s.rw)));
    json_object_set_new(j, "block_size_bytes", json_integer((json_int_t)s.bs));
    json_object_set_new(j, "queue_depth", json_integer(s.qd));
    json_object_set_new(j, "duration_s", json_real(dur));
    json_object_set_new(j, "bytes", json_integer((json_int_t)so.bytes));
    json_object_set_new(j, "ios", json_integer((json_int_t)so.ios));
    json_object_set_new(j, "bw_bytes_per_s",
                        dur > 0 ? json_real((double)so.bytes / dur) : json_null());
    json_object_set_new(j, "iops", dur > 0 ? json_real((double)so.ios / dur) : json_null());
    json_object_set_new(j, "lat_ns", lat_json(&x->lat));
    if (dev_ok) {
        int sec = is_write(s.rw) ? DISKSTATS_WR_SEC : DISKSTATS_RD_SEC;
        uint64_t db = (after.f[sec] - before.f[sec]) * 512;
        json_object_set_new(j, "device_bytes", json_integer((json_int_t)db));
        json_object_set_new(j, "cache_bypass_verified",
                            json_boolean((double)db >= BYPASS_FRACTION * (double)so.bytes));
    } else {
        json_object_set_new(j, "device_bytes", json_null());
        json_object_set_new(j, "cache_bypass_verified", json_null());
    }
    *ret = j;
    return 0;
}

/* Every shape in a fixed order (direction, block size, queue depth) appended to results. */
static int run_shapes(struct run_ctx *x, json_t *results, struct diag *d)
{
    const struct probe_config *cfg = x->cfg;
    for (int rw = 0; rw < PROBE_RW__COUNT; rw++) {
        if (!cfg->rw_enabled[rw])
            continue;
        for (size_t bi = 0; bi < cfg->n_block; bi++) {
            for (size_t qi = 0; qi < cfg->n_qd; qi++) {
                struct shape s = { .rw = (enum probe_rw)rw,
                                   .bs = cfg->block_bytes[bi],
                                   .qd = cfg->qds[qi],
                                   .blocks = x->size / cfg->block_bytes[bi] };
                json_t *j = NULL;
                int r = run_shape(x, &s, &j, d);
                if (r < 0)
                    return r;
                if (cfg->progress)
                    cfg->progress(cfg->progress_ctx, j);
                json_array_append_new(results, j);
            }
        }
    }
    return 0;
}

/* Whether result v is of direction rw at block size bs. */
static bool result_is(const json_t *v, int rw, uint64_t bs)
{
    return !strcmp(json_string_value(json_object_get(v, "rw")), rw_names[rw]) &&
           (uint64_t)json_integer_value(json_object_get(v, "block_size_bytes")) == bs;
}

/* The ceiling of one (direction, block size): the best bandwidth over the queue depths, and
 * the knee, the smallest queue depth reaching 90% of it. */
static json_t *ceiling_json(const json_t *results, int rw, uint64_t bs)
{
    double best = -1, best_iops = 0;
    int best_qd = 0;
    size_t i;
    json_t *v;
    json_array_foreach (results, i, v) {
        if (!result_is(v, rw, bs))
            continue;
        double bw = json_number_value(json_object_get(v, "bw_bytes_per_s"));
        if (bw > best) {
            best = bw;
            best_iops = json_number_value(json_object_get(v, "iops"));
            best_qd = (int)json_integer_value(json_object_get(v, "queue_depth"));
        }
    }
    int knee = best_qd;
    json_array_foreach (results, i, v) {
        if (!result_is(v, rw, bs))
            continue;
        int qd = (int)json_integer_value(json_object_get(v, "queue_depth"));
        if (json_number_value(json_object_get(v, "bw_bytes_per_s")) >= 0.9 * best && qd < knee)
            knee = qd;
    }
    json_t *c = json_object();
    json_object_set_new(c, "rw", json_string(rw_names[rw]));
    json_object_set_new(c, "block_size_bytes", json_integer((json_int_t)bs));
    json_object_set_new(c, "bw_bytes_per_s", json_real(best > 0 ? best : 0));
    json_object_set_new(c, "iops", json_real(best_iops));
    json_object_set_new(c, "queue_depth", json_integer(best_qd));
    json_object_set_new(c, "knee_queue_depth", json_integer(knee));
    return c;
}

/* Ceilings and knees per (direction, block size), block sizes ascending. Owned. */
static json_t *ceilings_json(const struct probe_config *cfg, const json_t *results)
{
    json_t *ceil = json_array();
    for (int rw = 0; rw < PROBE_RW__COUNT; rw++) {
        if (!cfg->rw_enabled[rw])
            continue;
        uint64_t sizes[PROBE_MAX_BLOCK_SIZES];
        assert(cfg->n_block <= PROBE_MAX_BLOCK_SIZES);
        memcpy(sizes, cfg->block_bytes, cfg->n_block * sizeof(uint64_t));
        qsort(sizes, cfg->n_block, sizeof(uint64_t), cmp_u64);
        for (size_t bi = 0; bi < cfg->n_block; bi++)
            if (bi == 0 || sizes[bi] != sizes[bi - 1])
                json_array_append_new(ceil, ceiling_json(results, rw, sizes[bi]));
    }
    return ceil;
}

/* Sizes the buffers for the largest block at the deepest queue and the time per shape. */
static int prepare_run(struct run_ctx *x, struct diag *d)
{
    const struct probe_config *cfg = x->cfg;
    size_t n_shapes = 0;
    for (int rw = 0; rw < PROBE_RW__COUNT; rw++)
        if (cfg->rw_enabled[rw])
            n_shapes += cfg->n_block * cfg->n_qd;
    assert(n_shapes > 0); /* check_config refuses an empty sweep */
    x->per_shape_ns = cfg->time_ns / n_shapes;
    if (x->per_shape_ns < MIN_SHAPE_NS)
        x->per_shape_ns = MIN_SHAPE_NS;
    uint64_t maxbs = 0;
    unsigned maxqd = 0;
    for (size_t i = 0; i < cfg->n_block; i++)
        maxbs = cfg->block_bytes[i] > maxbs ? cfg->block_bytes[i] : maxbs;
    for (size_t i = 0; i < cfg->n_qd; i++)
        maxqd = cfg->qds[i] > maxqd ? cfg->qds[i] : maxqd;
    x->bufs_len = (size_t)maxbs * maxqd;
    x->bufs = map_buffers(x->bufs_len);
    if (!x->bufs)
        return diag_set(d, -ENOMEM, 0, 0, "cannot map %zu bytes of I/O buffers", x->bufs_len);
    fill_random(x->bufs, x->bufs_len, &x->rng);
    x->lat.cap = PROBE_LAT_MAX_SAMPLES;
    x->lat.v = xcalloc(x->lat.cap, sizeof(uint64_t));
    rng_seed(&x->lat.rng, rng_next_u64(&x->rng));
    return 0;
}

/* The probe.json document around the results (taken) and ceilings (taken). */
static json_t *probe_doc(const struct run_ctx *x, const struct statfs *sf,
                         const char *engine_reason, uint64_t prewrite_ns, uint64_t measure_ns,
                         json_t *results)
{
    const struct probe_config *cfg = x->cfg;
    json_t *doc = json_object();
    json_object_set_new(doc, "schema_version", json_integer(PROBE_SCHEMA_VERSION));
    json_object_set_new(doc, "kind", json_string("kvtier.probe"));
    json_object_set_new(doc, "created_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    json_object_set_new(doc, "dir", json_string(cfg->dir));
    json_t *fs = json_object();
    char ft[32];
    snprintf(ft, sizeof(ft), "0x%lx", (unsigned long)sf->f_type);
    json_object_set_new(fs, "statfs_type", json_string(ft));
    json_object_set_new(fs, "block_device", x->have_dev ? json_string(x->dev) : json_null());
    json_object_set_new(doc, "file_system", fs);
    json_object_set_new(doc, "device",
                        x->have_dev ? devinfo_json(cfg->sys_root, x->dev) : json_null());
    json_object_set_new(doc, "engine", json_string(x->use_uring ? "io_uring" : "pread"));
    if (engine_reason)
        json_object_set_new(doc, "engine_reason", json_string(engine_reason));
    json_object_set_new(doc, "o_direct", json_true());
    json_object_set_new(doc, "file_size_bytes", json_integer((json_int_t)x->size));
    json_object_set_new(doc, "prewrite_s", json_real((double)prewrite_ns / 1e9));
    json_object_set_new(doc, "time_budget_s", json_real((double)cfg->time_ns / 1e9));
    json_object_set_new(doc, "shape_time_s", json_real((double)x->per_shape_ns / 1e9));
    json_object_set_new(doc, "measure_s", json_real((double)measure_ns / 1e9));
    json_object_set_new(doc, "seed", json_integer((json_int_t)cfg->seed));
    bool all_bypass = true, any_dev = false;
    size_t i;
    json_t *v;
    json_array_foreach (results, i, v) {
        json_t *b = json_object_get(v, "cache_bypass_verified");
        if (json_is_boolean(b)) {
            any_dev = true;
            all_bypass = all_bypass && json_is_true(b);
        }
    }
    json_object_set_new(doc, "cache_bypass_verified",
                        any_dev ? json_boolean(all_bypass) : json_null());
    json_t *ceil = ceilings_json(cfg, results);
    json_object_set_new(doc, "results", results);
    json_object_set_new(doc, "ceilings", ceil);
    return doc;
}

int probe_run(const struct probe_config *cfg, json_t **ret, struct diag *d)
{
    int r = check_config(cfg, d);
    if (r < 0)
        return r;
    struct run_ctx x = { .cfg = cfg, .fd = -1, .size = cfg->size_bytes / ALIGN * ALIGN };
    json_t *results = NULL;
    struct statfs sf;
    r = check_dir(cfg, x.size, &sf, d);
    if (r == 0)
        r = open_test_file(cfg, x.size, &x.fd, d);
    if (r < 0)
        goto out;
    /* device identity and counters */
    x.have_dev =
        diskstats_disk_of_path(cfg->proc_root, cfg->sys_root, cfg->dir, x.dev, sizeof(x.dev)) == 0;
    struct diskstats_dev ds;
    if (x.have_dev && diskstats_read(cfg->proc_root, x.dev, &ds) < 0)
        x.have_dev = false;
    const char *engine_reason;
    x.use_uring = choose_uring(cfg, &engine_reason);
    rng_seed(&x.rng, cfg->seed ? cfg->seed : 1);
    uint64_t t_pre = clk_now_ns();
    r = prewrite(x.fd, x.size, x.use_uring, &x.rng);
    if (r < 0) {
        diag_set(d, r, 0, 0, "pre-writing the %" PRIu64 "-byte test file in %s failed: %s", x.size,
                 cfg->dir, strerror(-r));
        goto out;
    }
    fdatasync(x.fd);
    uint64_t prewrite_ns = clk_now_ns() - t_pre;
    r = prepare_run(&x, d);
    if (r < 0)
        goto out;
    results = json_array();
    uint64_t t_start = clk_now_ns();
    r = run_shapes(&x, results, d);
    if (r < 0)
        goto out;
    uint64_t measure_ns = clk_now_ns() - t_start;
    *ret = probe_doc(&x, &sf, engine_reason, prewrite_ns, measure_ns, results);
    results = NULL;
out:
    json_decref(results);
    free(x.lat.v);
    if (x.bufs)
        munmap(x.bufs, x.bufs_len);
    if (x.fd >= 0)
        close(x.fd);
    return r;
}

int probe_ceiling(const json_t *probe, const char *rw, uint64_t block_bytes, double *ret_bw,
                  uint64_t *ret_block_bytes, unsigned *ret_qd, bool *ret_exact)
{
    json_t *ceil = json_object_get(probe, "ceilings");
    size_t i;
    json_t *v;
    double best_dist = INFINITY;
    json_t *best = NULL;
    json_array_foreach (ceil, i, v) {
        const char *r = json_string_value(json_object_get(v, "rw"));
        json_int_t bs = json_integer_value(json_object_get(v, "block_size_bytes"));
        if (!r || strcmp(r, rw) || bs <= 0 || block_bytes == 0)
            continue;
        double dist = fabs(log((double)bs / (double)block_bytes));
        if (dist < best_dist) {
            best_dist = dist;
            best = v;
        }
    }
    if (!best)
        return -ENOENT;
    uint64_t bs = (uint64_t)json_integer_value(json_object_get(best, "block_size_bytes"));
    *ret_bw = json_number_value(json_object_get(best, "bw_bytes_per_s"));
    if (ret_block_bytes)
        *ret_block_bytes = bs;
    if (ret_qd)
        *ret_qd = (unsigned)json_integer_value(json_object_get(best, "queue_depth"));
    if (ret_exact)
        *ret_exact = bs == block_bytes;
    return 0;
}

int probe_storage_efficiency(const json_t *probe, uint64_t block_bytes, double kv_read_bw,
                             double *ret_efficiency)
{
    double ceil = 0;
    int r = probe_ceiling(probe, "randread", block_bytes, &ceil, NULL, NULL, NULL);
    if (r == -ENOENT)
        r = probe_ceiling(probe, "read", block_bytes, &ceil, NULL, NULL, NULL);
    if (r < 0)
        return r;
    if (!(ceil > 0))
        return -EINVAL;
    *ret_efficiency = kv_read_bw / ceil;
    return 0;
}
