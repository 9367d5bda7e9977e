/* SPDX-License-Identifier: Apache-2.0 */
/* Block-layer I/O attribution (compiled with clang -target bpf, CO-RE, loaded by bpfio.c).
 * The programs are BTF-typed (tp_btf, fentry): kernel structures are read by direct loads with
 * CO-RE relocations, not bpf_probe_read, which keeps each run at a few hundred ns.
 *
 * A request on the watched disk is charged to (process, file, direction) when it completes:
 * - the file: where the kernel's BTF describes struct iomap_dio and iomap's direct-I/O
 *   completion handler is known, a direct-I/O bio names its file itself (bi_private is its
 *   iomap_dio, which holds the kiocb), read at queue time with no other hook. Else a direct-I/O
 *   read or write tags its thread for the duration of __iomap_dio_rw
 *   (ext4, xfs and btrfs submit their direct-I/O bios there, in the caller's thread, also under
 *   io_uring); a direct-I/O bio queued by a tagged thread carries the tag. Any other bio whose
 *   first page belongs to a file's page cache (readahead, writeback) is charged to that file.
 *   The file is the inode number and the super block's device, which stay valid after the file
 *   is unlinked.
 * - the process: the thread group that queued the bio (for writeback, the flusher thread).
 * - device latency: issue to block_rq_complete; queue time: the request's start time (set by
 *   the block layer when it is allocated, I/O accounting on) to issue. The issue time is the
 *   block layer's own (request io_start_time_ns, stamped at issue when the queue keeps I/O
 *   statistics, as writeback throttling makes it do); where it does not, the block_rq_issue
 *   hook writes it into the bio's entry. User space attaches that hook only then.
 * Work per request is kept small (the budget is 1% of a core at 10k I/O per second): one
 * bio-table insert at queue, one lookup and one delete at completion, one per-CPU counter
 * lookup; the file of a direct I/O costs four probe reads at queue (the thread-tag fallback: one
 * task-storage access at the start of a direct I/O, no exit hook where the direct-I/O
 * completion handler is known).
 * Counters and log2 histograms live in one per-CPU hash map that user space reads at phase
 * marks. */
/* The kernel's types come first, the libbpf headers build on them. */
/* clang-format off */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "observe/bpfio_shared.h"
/* clang-format on */

char LICENSE[] SEC("license") = "GPL";

/* The watched disk (kernel dev_t encoding: major << 20 | minor), set before load. */
const volatile __u32 target_major = 0;
const volatile __u32 target_minor = 0;
/* Address of iomap_dio_bio_end_io (from /proc/kallsyms), 0 when unknown. */
const volatile __u64 dio_end_io = 0;
/* Address of bio_chain_endio, the handler of the front part of a split bio: 0 when unknown. */
const volatile __u64 chain_end_io = 0;

#define file_tag bpfio_file /* shared layout */

#define bio_info bpfio_bio /* shared with the user-space sweeper */

/* The file of the direct I/O a thread is in (ino 0: none). Task storage: cheaper than a hash
 * keyed by thread id, and freed with the task. */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct file_tag);
} task_tag SEC(".maps");

/* Bios queued and not yet completed as the first bio of a request: who queued them, and the
 * issue time once a request headed by them is dispatched. The entries of bios that never head a
 * request (merged into one) are not deleted here: user space sweeps entries older than a few
 * seconds at each snapshot (bpfio_snapshot). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, BPFIO_MAX_BIOS);
    __type(key, __u64); /* struct bio * */
    __type(value, struct bio_info);
} bio_tag SEC(".maps");

/* Per-CPU counters: completions add without atomics; user space sums the CPUs. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, BPFIO_MAX_KEYS);
    __type(key, struct bpfio_key);
    __type(value, struct bpfio_val);
} stats SEC(".maps");

/* [0] completions not charged because the stats table was full, [1] completions whose first
 * bio is unknown (queued before the programs attached, or its queue hook did not run), charged
 * to no process or file, [2] completions without an issue time (latency left out), [3] bios not
 * remembered because the bio table was full. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

/* Sweep generation: user space bumps it at each snapshot and deletes bio entries two
 * generations old (bios merged into a request they do not head are never looked up again). */
__u64 sweep_gen;

/* Template for a new table entry (too large for the BPF stack). */
struct bpfio_val zero_val;

/* Counters are added atomically although they are per CPU: a tracing program is not
 * re-entered in the same context, but one running in task or softirq context can be
 * interrupted by its own run in hard-interrupt context on the same CPU (a completion inside a
 * completion), and a plain read-modify-write would then lose one of the two updates (a whole
 * request's bytes: seen as KV bytes missing against /proc/diskstats under load). An
 * uncontended atomic add on a CPU's own line costs a few ns. */
#define ADD(p, n) __sync_fetch_and_add((p), (n))

static __always_inline void count_lost(__u32 i)
{
    __u64 *v = bpf_map_lookup_elem(&lost, &i);
    if (v)
        ADD(v, 1);
}

static __always_inline bool on_target(struct gendisk *disk)
{
    if (!disk)
        return false;
    return (__u32)disk->major == target_major && (__u32)disk->first_minor == target_minor;
}

/* Tags the thread with the file of its direct I/O. Not filtered by disk: a file system on a
 * stacked device (dm-crypt, LVM) has another disk than the one watched, and the tag is cheap
 * (one task-storage access per direct I/O); bio_queue decides per bio. */
static __always_inline void tag_set(struct kiocb *iocb)
{
    struct file_tag *t = bpf_task_storage_get(&task_tag, bpf_get_current_task_btf(), 0,
                                              BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!t)
        return;
    struct inode *ino = iocb->ki_filp->f_inode;
    t->ino = ino ? ino->i_ino : 0;
    t->sdev = ino ? ino->i_sb->s_dev : 0;
}

SEC("fentry/__iomap_dio_rw")
int BPF_PROG(dio_enter, struct kiocb *iocb)
{
    tag_set(iocb);
    return 0;
}

SEC("fexit/__iomap_dio_rw")
int BPF_PROG(dio_exit, struct kiocb *iocb)
{
    struct file_tag *t = bpf_task_storage_get(&task_tag, bpf_get_current_task_btf(), 0, 0);
    if (t)
        t->ino = 0;
    return 0;
}

/* Where fentry is refused: the iomap_dio_rw_begin tracepoint fires in the same place, but
 * nothing marks the end, so the tag stays on the thread; bio_queue then trusts it only for bios
 * whose completion handler is iomap's direct-I/O one (dio_end_io), which no other path sets. */
SEC("tp_btf/iomap_dio_rw_begin")
int BPF_PROG(dio_begin, struct kiocb *iocb)
{
    tag_set(iocb);
    return 0;
}

/* The file whose page cache holds the bio's first page (readahead, writeback); 0 when none. */
static __always_inline void page_owner(struct bio *bio, struct file_tag *t)
{
    struct bio_vec *bv = bio->bi_io_vec;
    if (!bv)
        return;
    struct page *pg = bv->bv_page;
    if (!pg)
        return;
    /* the low bits of page->mapping flag anonymous and movable pages: read it as a number
     * (the verifier allows no arithmetic on a kernel pointer), then the rest by probe reads */
    __u64 mv = (__u64)BPF_CORE_READ(pg, mapping);
    if (!mv || (mv & 3))
        return;
    struct inode *host = BPF_CORE_READ((struct address_space *)mv, host);
    if (!host)
        return;
    t->ino = BPF_CORE_READ(host, i_ino);
    t->sdev = BPF_CORE_READ(host, i_sb, s_dev);
}

/* Casts a kernel address to a typed pointer that the verifier lets the program load through
 * directly (untrusted: a fault reads 0), which costs a few ns a field where a probe read costs
 * tens. Kernel 6.2+; weak, and used only by bio_queue_dio, which is not loaded without it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* The iomap_dio of a direct-I/O bio, or of the bio that a split-off front part is chained to
 * (bi_private); NULL for any other bio. */
static __always_inline struct iomap_dio *dio_of(struct bio *bio)
{
    __u64 end = (__u64)bio->bi_end_io;
    void *priv = bio->bi_private; /* a void pointer: a number to the verifier */
    if (chain_end_io && end == chain_end_io && priv) {
        struct bio *parent = bpf_rdonly_cast(priv, bpf_core_type_id_kernel(struct bio));
        end = (__u64)parent->bi_end_io;
        priv = parent->bi_private;
    }
    if (!dio_end_io || end != dio_end_io || !priv)
        return NULL;
    return bpf_rdonly_cast(priv, bpf_core_type_id_kernel(struct iomap_dio));
}

/* The file of a direct I/O: its iomap_dio -> kiocb -> file -> inode. */
static __always_inline void dio_file(struct iomap_dio *dio, struct file_tag *t)
{
    struct inode *ino = dio->iocb->ki_filp->f_inode;
    if (!ino)
        return;
    t->ino = ino->i_ino;
    t->sdev = ino->i_sb->s_dev;
}

/* A synchronous direct I/O (its submitter waits for it: pread, pwrite) names both its file and
 * its process, the waiting task, for as long as its bios are in flight: nothing needs to be
 * remembered at queue time. Fills *t and *tgid; false for any other bio. */
static __always_inline bool sync_dio_owner(struct bio *bio, struct file_tag *t, __u32 *tgid)
{
    struct iomap_dio *dio = dio_of(bio);
    if (!dio || !dio->wait_for_completion)
        return false;
    struct task_struct *w = dio->submit.waiter;
    if (!w)
        return false;
    *tgid = (__u32)w->tgid;
    dio_file(dio, t);
    return true;
}

/* A bio queued for the watched disk: its owner (process, file) into the bio table. by_bio: the
 * file of a direct I/O comes from the bio itself (dio_owner), else from the thread's tag. */
static __always_inline void queue_bio(struct bio *bio, bool by_bio)
{
    if (!on_target(bio->bi_bdev->bd_disk))
        return;
    struct bio_info bi = {};
    bi.tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
    bi.gen = sweep_gen;
    bi.size = bio->bi_iter.bi_size;
    bool dio = dio_end_io && (__u64)bio->bi_end_io == dio_end_io;
    if (by_bio) {
        struct iomap_dio *d = dio ? dio_of(bio) : NULL;
        if (d && d->wait_for_completion)
            return; /* completion reads all from the bio (sync_dio_owner) */
        if (d)
            dio_file(d, &bi.tag); /* asynchronous: the submitter is only known here */
        else
            page_owner(bio, &bi.tag);
    } else {
        /* the thread's tag only for iomap's direct-I/O bios (where that handler is known):
         * other bios skip the task-storage access */
        struct file_tag *t = !dio_end_io || dio
                                 ? bpf_task_storage_get(&task_tag, bpf_get_current_task_btf(), 0, 0)
                                 : NULL;
        if (t && t->ino)
            bi.tag = *t;
        else
            page_owner(bio, &bi.tag);
    }
    __u64 k = (__u64)bio;
    if (bpf_map_update_elem(&bio_tag, &k, &bi, BPF_ANY) < 0)
        count_lost(3);
}

/* Where the thread hooks tag direct I/O (fentry or tracepoint file hooks, or none). */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(bio_queue, struct bio *bio)
{
    queue_bio(bio, false);
    return 0;
}

/* Where a direct-I/O bio names its file (the "bio" file hooks): no thread hook runs. */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(bio_queue_dio, struct bio *bio)
{
    queue_bio(bio, true);
    return 0;
}

/* A bio split to the device's limits: the front part is a new bio chained to the original
 * (bi_private), and it is the one a request will carry, so it inherits the original's tag. */
SEC("tp_btf/block_split")
int BPF_PROG(bio_split, struct bio *split)
{
    __u64 parent = (__u64)split->bi_private;
    struct bio_info *bi = parent ? bpf_map_lookup_elem(&bio_tag, &parent) : NULL;
    if (!bi)
        return 0;
    struct bio_info copy = *bi;
    copy.size = split->bi_iter.bi_size; /* the front; the original keeps the remainder */
    bi->size = bi->size > copy.size ? bi->size - copy.size : 0;
    __u64 k = (__u64)split;
    bpf_map_update_elem(&bio_tag, &k, &copy, BPF_ANY);
    return 0;
}

/* Dispatch (again, when the driver could not take the request the first time): the issue time
 * is written into the first bio's entry, which completion reads and deletes. */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(rq_issue, struct request *rq)
{
    __u64 bk = (__u64)rq->bio;
    if (!bk || !on_target(rq->q->disk)) /* flushes carry no bio */
        return 0;
    struct bio_info *bi = bpf_map_lookup_elem(&bio_tag, &bk);
    if (!bi) /* counted at completion */
        return 0;
    bi->issue_ns = bpf_ktime_get_ns();
    return 0;
}

/* floor(log2(us)) for us >= 1 (0 for 0 and 1), by halving steps; capped at the last bucket. */
static __always_inline __u32 log2_bucket(__u64 us)
{
    __u32 b = 0;
    if (us >> 32) {
        us >>= 32;
        b += 32;
    }
    if (us >> 16) {
        us >>= 16;
        b += 16;
    }
    if (us >> 8) {
        us >>= 8;
        b += 8;
    }
    if (us >> 4) {
        us >>= 4;
        b += 4;
    }
    if (us >> 2) {
        us >>= 2;
        b += 2;
    }
    if (us >> 1)
        b += 1;
    return b < BPFIO_HIST_BUCKETS ? b : BPFIO_HIST_BUCKETS - 1;
}

/* The counters of a key, created on first use; NULL when the table is full. */
static __always_inline struct bpfio_val *val_of(struct bpfio_key *key)
{
    struct bpfio_val *v = bpf_map_lookup_elem(&stats, key);
    if (v)
        return v;
    bpf_map_update_elem(&stats, key, &zero_val, BPF_NOEXIST);
    v = bpf_map_lookup_elem(&stats, key);
    if (!v)
        count_lost(0);
    return v;
}

static __always_inline void key_of(const struct bio_info *bi, __u32 op, struct bpfio_key *key)
{
    key->tgid = bi->tgid;
    key->op = op;
    key->ino = bi->tag.ino;
    key->ino_dev = bi->tag.sdev;
}

#define MERGED_BIOS_MAX 32 /* bios of one request charged one by one; the rest go to the first */

/* Completion. The request (one I/O, its device latency and queue time) is the first bio's;
 * its bytes are charged bio by bio, since a request may merge bios of several files or
 * processes. A partial completion (nr_bytes below the request's size) is charged to the
 * first bio. */
static __always_inline void complete_rq(struct request *rq, unsigned int nr_bytes, bool by_bio)
{
    struct bio *bio = rq->bio;
    __u64 bk = (__u64)bio;
    if (!bk || !on_target(rq->q->disk))
        return;
    __u32 op = rq->cmd_flags & 0xff;
    struct bio_info *bi = NULL;
    if (op != 0 && op != 1) { /* reads and writes only (discards apart) */
        if (bpf_map_lookup_elem(&bio_tag, &bk))
            bpf_map_delete_elem(&bio_tag, &bk);
        return;
    }
    /* A synchronous direct I/O's bio names its owner itself, and nothing was remembered for it
     * at queue: an entry under its address is a stale one of an earlier bio (one merged away
     * is left to the sweep), never to be used. Otherwise the entry made at queue; a hook that
     * did not run leaves none: the bytes are still charged, to no process or file, and the
     * latency is left out unless the block layer stamped the issue. */
    struct bio_info info = {};
    if (!by_bio || !sync_dio_owner(bio, &info.tag, &info.tgid)) {
        bi = bpf_map_lookup_elem(&bio_tag, &bk);
        if (bi)
            __builtin_memcpy(&info, bi, sizeof(info));
        else
            count_lost(1);
    }
    /* info is read from the stack from here on, whichever way it was filled: the verifier
     * refuses one load through a map value on one path and the stack on the other */
    asm volatile("" ::: "memory");
    struct bpfio_key key = {};
    key_of(&info, op, &key);
    /* the block layer's issue stamp (0 when the queue keeps no I/O statistics), else ours */
    __u64 issue = 0, start = rq->start_time_ns;
    if (bpf_core_field_exists(rq->io_start_time_ns))
        issue = rq->io_start_time_ns;
    if (!issue)
        issue = info.issue_ns;
    bool timed = issue != 0;
    if (!timed)
        count_lost(2);
    __u64 lat = timed ? bpf_ktime_get_ns() - issue : 0;
    __u64 q = timed && start && start < issue ? issue - start : 0;
    __u64 rest = nr_bytes;
    /* merged bios after the first: their own owners */
    struct bio *b = bio->bi_next;
    for (int i = 0; i < MERGED_BIOS_MAX && b && nr_bytes == rq->__data_len; i++) {
        __u64 k = (__u64)b;
        struct bio_info *mi = NULL;
        struct bio_info mine = {};
        bool own = by_bio && sync_dio_owner(b, &mine.tag, &mine.tgid);
        if (own) {
            mine.size = b->bi_iter.bi_size;
        } else if ((mi = bpf_map_lookup_elem(&bio_tag, &k))) {
            __builtin_memcpy(&mine, mi, sizeof(mine));
            own = true;
        }
        asm volatile("" ::: "memory"); /* as for info above */
        if (own && mine.size <= rest) {
            struct bpfio_key mk = {};
            key_of(&mine, op, &mk);
            struct bpfio_val *mv = val_of(&mk);
            if (mv)
                ADD(&mv->bytes, mine.size);
            rest -= mine.size;
            if (mi)
                bpf_map_delete_elem(&bio_tag, &k);
        }
        b = b->bi_next;
    }
    if (bi)
        bpf_map_delete_elem(&bio_tag, &bk);
    struct bpfio_val *v = val_of(&key);
    if (!v)
        return;
    ADD(&v->ios, 1);
    ADD(&v->bytes, rest);
    if (!timed)
        return;
    ADD(&v->lat_sum_ns, lat);
    ADD(&v->queue_sum_ns, q);
    __u32 lb = log2_bucket(lat / 1000), qb = log2_bucket(q / 1000);
    if (lb < BPFIO_HIST_BUCKETS) /* always; the verifier wants the bound */
        ADD(&v->lat_hist[lb], 1);
    if (qb < BPFIO_HIST_BUCKETS)
        ADD(&v->queue_hist[qb], 1);
    return;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
    complete_rq(rq, nr_bytes, false);
    return 0;
}

/* With the "bio" file hooks: a synchronous direct I/O's bios were not remembered at queue. */
SEC("tp_btf/block_rq_complete")
int BPF_PROG(rq_complete_dio, struct request *rq, int error, unsigned int nr_bytes)
{
    complete_rq(rq, nr_bytes, true);
    return 0;
}
