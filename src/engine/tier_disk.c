/* SPDX-License-Identifier: Apache-2.0 */
/* Disk tier file and I/O thread (see tier_disk.h).
 *
 * The io_uring loop keeps one POLL_ADD armed on an eventfd that submitters write after
 * queueing, so a single io_uring_wait_cqe wakes for either new work or a completion; up to
 * queue_depth block transfers are in flight. The fallback loop performs one pread/pwrite at a
 * time. Either way completions go to the owner's callback on this thread. */
#include "engine/tier_disk.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <liburing.h>

#include "common/clk.h"
#include "common/fileio.h"
#include "common/jobq.h"
#include "common/xalloc.h"
#include "engine/kvdata.h"

#define ZEROFILL_CHUNK (16u << 20)

struct tier_disk {
    int fd;
    int efd; /* eventfd: new jobs queued */
    char path[TIER_DISK_PATH_MAX];
    uint64_t n_blocks, block_bytes;
    bool o_direct;
    bool in_ram; /* tmpfs or ramfs */
    int o_direct_err;
    bool uring;
    int uring_err;
    const char *prealloc;
    unsigned qd;
    struct io_uring ring;
    pthread_t thread;
    struct jobq q; /* queued, not yet submitted */
    tier_done_fn *done;
    void *ctx;
};

static int neg_errno(void)
{
    return errno ? -errno : -EIO;
}

/* Writes zeros over the whole file with aligned 16 MiB buffers. */
static int zerofill(int fd, uint64_t size)
{
    void *z = xalloc_aligned(TIER_DISK_ALIGN, ZEROFILL_CHUNK);
    memset(z, 0, ZEROFILL_CHUNK);
    int r = 0;
    for (uint64_t off = 0; off < size && r == 0;) {
        size_t n = size - off < ZEROFILL_CHUNK ? (size_t)(size - off) : ZEROFILL_CHUNK;
        ssize_t w = pwrite(fd, z, n, (off_t)off);
        if (w <= 0)
            r = w < 0 ? neg_errno() : -EIO;
        else
            off += (uint64_t)w;
    }
    free(z);
    return r;
}

/* Checks that an aligned direct write and read work on this file (some file systems accept the
 * flag and refuse the I/O). Uses block 0, which holds no data yet. */
static int probe_direct(int fd)
{
    void *b = xalloc_aligned(TIER_DISK_ALIGN, TIER_DISK_ALIGN);
    memset(b, 0, TIER_DISK_ALIGN);
    int r = 0;
    if (pwrite(fd, b, TIER_DISK_ALIGN, 0) != (ssize_t)TIER_DISK_ALIGN ||
        pread(fd, b, TIER_DISK_ALIGN, 0) != (ssize_t)TIER_DISK_ALIGN)
        r = neg_errno();
    free(b);
    return r;
}

static void finish(struct tier_disk *t, struct tier_job *j, int res)
{
    j->result = res;
    j->done_ns = clk_now_ns();
    t->done(t->ctx, j);
}

/* Full synchronous transfer (fallback path). */
static int transfer_sync(struct tier_disk *t, struct tier_job *j)
{
    uint64_t off = (uint64_t)j->slot * t->block_bytes, done = 0;
    while (done < t->block_bytes) {
        ssize_t n = j->write ? pwrite(t->fd, (uint8_t *)j->buf + done, t->block_bytes - done,
                                      (off_t)(off + done))
                             : pread(t->fd, (uint8_t *)j->buf + done, t->block_bytes - done,
                                     (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? neg_errno() : -EIO;
        done += (uint64_t)n;
    }
    return 0;
}

static void *thread_sync(void *arg)
{
    struct tier_disk *t = arg;
    struct tier_job *j;
    while ((j = jobq_pop_wait(&t->q)))
        finish(t, j, transfer_sync(t, j));
    return NULL;
}

static void arm_poll(struct tier_disk *t)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
    io_uring_prep_poll_add(sqe, t->efd, POLLIN);
    io_uring_sqe_set_data(sqe, NULL);
}

static void *thread_uring(void *arg)
{
    struct tier_disk *t = arg;
    unsigned inflight = 0; /* block transfers */
    arm_poll(t);
    io_uring_submit(&t->ring);
    for (;;) {
        /* this thread is the only consumer: a job counted queued is still there to pop */
        bool stop = jobq_stopped(&t->q) && jobq_len(&t->q) == 0 && inflight == 0;
        unsigned added = 0;
        while (!stop && inflight < t->qd && jobq_len(&t->q) > 0) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
            if (!sqe)
                break;
            struct tier_job *j = jobq_trypop(&t->q);
            assert(j);
            uint64_t off = (uint64_t)j->slot * t->block_bytes;
            if (j->write)
                io_uring_prep_write(sqe, t->fd, j->buf, (unsigned)t->block_bytes, off);
            else
                io_uring_prep_read(sqe, t->fd, j->buf, (unsigned)t->block_bytes, off);
            io_uring_sqe_set_data(sqe, j);
            inflight++;
            added++;
        }
        if (stop)
            break;
        if (added)
            io_uring_submit(&t->ring);
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&t->ring, &cqe);
        if (r == -EINTR)
            continue;
        if (r < 0)
            break;
        unsigned head, seen = 0;
        bool rearm = false;
        io_uring_for_each_cqe(&t->ring, head, cqe)
        {
            struct tier_job *j = io_uring_cqe_get_data(cqe);
            seen++;
            if (!j) {
                uint64_t v;
                if (read(t->efd, &v, sizeof(v)) < 0) {
                    /* nothing to drain: the counter was already read */
                }
                rearm = true;
                continue;
            }
            inflight--;
            int res = cqe->res < 0 ? cqe->res : (uint64_t)cqe->res == t->block_bytes ? 0 : -EIO;
            finish(t, j, res);
        }
        io_uring_cq_advance(&t->ring, seen);
        if (rearm) {
            arm_poll(t);
            io_uring_submit(&t->ring);
        }
    }
    return NULL;
}

static int make_file(struct tier_disk *t, const struct tier_disk_opts *o, struct diag *d)
{
    int r = fileio_mkdir_p(o->dir);
    if (r < 0)
        return diag_set(d, r, 0, 0, "cannot create disk cache directory %s: %s", o->dir,
                        strerror(-r));
    size_t dl = strlen(o->dir);
    snprintf(t->path, sizeof(t->path), "%s%sdynamo-kvbm-disk-cache-XXXXXX", o->dir,
             dl && o->dir[dl - 1] == '/' ? "" : "/");
    t->fd = mkostemp(t->path, O_CLOEXEC);
    if (t->fd < 0) {
        r = neg_errno();
        return diag_set(d, r, 0, 0, "mkostemp %s: %s", t->path, strerror(-r));
    }
    /* unlinked before anything can fail, so a failed start leaves no partly allocated file */
    if (unlink(t->path) < 0) {
        r = neg_errno();
        return diag_set(d, r, 0, 0, "unlink %s: %s", t->path, strerror(-r));
    }
    struct statfs sf;
    t->in_ram = fstatfs(t->fd, &sf) == 0 && ((unsigned long)sf.f_type == TMPFS_MAGIC ||
                                             (unsigned long)sf.f_type == RAMFS_MAGIC);
    uint64_t size;
    if (__builtin_mul_overflow(o->n_blocks, o->block_bytes, &size) || size > INT64_MAX)
        return diag_set(d, -EOVERFLOW, 0, 0, "disk cache size overflows");
    if (fallocate(t->fd, 0, 0, (off_t)size) == 0) {
        t->prealloc = "fallocate";
    } else if (errno == EOPNOTSUPP && o->zerofill_fallback) {
        t->prealloc = "zerofill";
        r = zerofill(t->fd, size);
        if (r < 0)
            return diag_set(d, r, 0, 0, "zero-filling %s: %s", t->path, strerror(-r));
    } else if (errno == EOPNOTSUPP) {
        t->prealloc = "sparse";
        if (ftruncate(t->fd, (off_t)size) < 0) {
            r = neg_errno();
            return diag_set(d, r, 0, 0, "ftruncate %s: %s", t->path, strerror(-r));
        }
    } else {
        r = neg_errno();
        return diag_set(d, r, 0, 0, "fallocate %llu bytes for %s: %s", (unsigned long long)size,
                        t->path, strerror(-r));
    }
    if (o->o_direct && t->in_ram) {
        t->o_direct_err = -EOPNOTSUPP; /* accepted or not, memory is not storage */
    } else if (o->o_direct) {
        int fl = fcntl(t->fd, F_GETFL);
        if (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_DIRECT) < 0) {
            t->o_direct_err = neg_errno();
        } else if ((t->o_direct_err = probe_direct(t->fd)) < 0) {
            fcntl(t->fd, F_SETFL, fl);
        } else {
            t->o_direct = true;
        }
    }
    return 0;
}

int tier_disk_open(const struct tier_disk_opts *o, tier_done_fn *done, void *ctx,
                   struct tier_disk **ret, struct diag *d)
{
    if (o->block_bytes == 0 || o->block_bytes % TIER_DISK_ALIGN || o->block_bytes > (1u << 30) ||
        o->n_blocks == 0)
        return diag_set(d, -EINVAL, 0, 0,
                        "disk tier needs blocks that are a non-zero multiple of %u bytes",
                        TIER_DISK_ALIGN);
    struct tier_disk *t = xcalloc(1, sizeof(*t));
    t->fd = t->efd = -1;
    t->n_blocks = o->n_blocks;
    t->block_bytes = o->block_bytes;
    t->done = done;
    t->ctx = ctx;
    t->qd = o->queue_depth ? o->queue_depth : 32;
    if (t->qd > TIER_DISK_MAX_QD)
        t->qd = TIER_DISK_MAX_QD;
    jobq_init(&t->q, offsetof(struct tier_job, next));
    int r = make_file(t, o, d);
    if (r < 0)
        goto fail;
    if (o->force_pread) {
        t->uring_err = -EOPNOTSUPP;
    } else {
        t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        t->uring_err = t->efd < 0 ? neg_errno() : io_uring_queue_init(t->qd + 2, &t->ring, 0);
        t->uring = t->uring_err == 0;
    }
    r = -pthread_create(&t->thread, NULL, t->uring ? thread_uring : thread_sync, t);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot start the disk I/O thread");
        if (t->uring)
            io_uring_queue_exit(&t->ring);
        goto fail;
    }
    *ret = t;
    return 0;
fail:
    if (t->fd >= 0)
        close(t->fd);
    if (t->efd >= 0)
        close(t->efd);
    jobq_fini(&t->q);
    free(t);
    return r;
}

void tier_disk_submit(struct tier_disk *t, struct tier_job *job)
{
    job->next = NULL;
    job->submit_ns = clk_now_ns();
    jobq_push(&t->q, job);
    if (t->uring) {
        uint64_t one = 1;
        if (write(t->efd, &one, sizeof(one)) < 0) {
            /* the counter is saturated: the thread is already woken */
        }
    }
}

void tier_disk_close(struct tier_disk *t)
{
    if (!t)
        return;
    jobq_stop(&t->q);
    if (t->uring) {
        uint64_t one = 1;
        if (write(t->efd, &one, sizeof(one)) < 0) {
            /* already signalled */
        }
    }
    pthread_join(t->thread, NULL);
    if (t->uring)
        io_uring_queue_exit(&t->ring);
    if (t->efd >= 0)
        close(t->efd);
    close(t->fd);
    jobq_fini(&t->q);
    free(t);
}

bool tier_disk_o_direct(const struct tier_disk *t)
{
    return t->o_direct;
}

bool tier_disk_in_ram(const struct tier_disk *t)
{
    return t->in_ram;
}

int tier_disk_o_direct_error(const struct tier_disk *t)
{
    return t->o_direct_err;
}

bool tier_disk_io_uring(const struct tier_disk *t)
{
    return t->uring;
}

int tier_disk_uring_error(const struct tier_disk *t)
{
    return t->uring_err;
}

const char *tier_disk_path(const struct tier_disk *t)
{
    return t->path;
}

const char *tier_disk_prealloc(const struct tier_disk *t)
{
    return t->prealloc;
}

int tier_disk_fd(const struct tier_disk *t)
{
    return t->fd;
}

/* ---- as a tier_ops plug-in ---------------------------------------------------------------- */

struct plugged {
    struct tier_disk *t; /* first: tier_disk_close of a plugged tier */
    tier_done_fn *done;
    void *ctx;
    uint64_t block_bytes;
    bool inject_verify_fail;
};

/* I/O thread: verifies a read, frees the bounce buffer, hands the job to the owner. */
static void plugged_done(void *ctx, struct tier_job *j)
{
    struct plugged *p = ctx;
    if (!j->write && j->result == 0 &&
        (p->inject_verify_fail || !kvdata_verify(j->hash, j->bounce, p->block_bytes)))
        j->result = -EBADMSG;
    if (j->bounce) {
        free(j->bounce);
        j->bounce = NULL;
        j->buf = NULL;
    }
    p->done(p->ctx, j);
}

static int plugged_open(const struct tier_opts *o, tier_done_fn *done, void *ctx, void **ret,
                        struct diag *d)
{
    struct plugged *p = xcalloc(1, sizeof(*p));
    *p = (struct plugged){ .done = done,
                           .ctx = ctx,
                           .block_bytes = o->block_bytes,
                           .inject_verify_fail = o->inject_verify_fail };
    struct tier_disk_opts to = { .dir = o->dir,
                                 .n_blocks = o->n_blocks,
                                 .block_bytes = o->block_bytes,
                                 .o_direct = o->o_direct,
                                 .zerofill_fallback = o->zerofill_fallback,
                                 .force_pread = o->force_pread,
                                 .queue_depth = o->queue_depth };
    int r = tier_disk_open(&to, plugged_done, p, &p->t, d);
    if (r < 0) {
        free(p);
        return r;
    }
    *ret = p;
    return 0;
}

static void plugged_submit(void *t, struct tier_job *j)
{
    struct plugged *p = t;
    assert(!j->bounce);
    if (!j->buf) {
        j->bounce = xalloc_aligned(TIER_DISK_ALIGN, p->block_bytes);
        if (j->write)
            kvdata_fill(j->hash, j->bounce, p->block_bytes);
        j->buf = j->bounce;
    }
    assert(j->write || j->bounce); /* reads always land in the tier's own buffer */
    tier_disk_submit(p->t, j);
}

static void *plugged_block(void *t, uint32_t slot)
{
    (void)t;
    (void)slot;
    return NULL;
}

static void plugged_facts(const void *t, struct tier_facts *ret)
{
    const struct plugged *p = t;
    *ret = (struct tier_facts){ .o_direct = p->t->o_direct,
                                .o_direct_err = p->t->o_direct_err,
                                .io_uring = p->t->uring,
                                .in_ram = p->t->in_ram,
                                .path = p->t->path,
                                .prealloc = p->t->prealloc };
}

static void plugged_close(void *t)
{
    struct plugged *p = t;
    if (!p)
        return;
    tier_disk_close(p->t);
    free(p);
}

const struct tier_ops tier_disk_ops = {
    .name = "disk",
    .open = plugged_open,
    .submit = plugged_submit,
    .block = plugged_block,
    .facts = plugged_facts,
    .close = plugged_close,
};
