/* SPDX-License-Identifier: Apache-2.0 */
/* Block-layer I/O attribution with eBPF (os-io.md §6, plan P5): every read and write request
 * that completes on the watched disk is charged to the process that queued it and, where the
 * kernel lets us see it, to the file (inode and file-system device, valid for unlinked files
 * too), with bytes, device latency (issue to completion) and queue time (allocation to issue)
 * as log2 histograms. The programs (bpf/bpfio.bpf.c, CO-RE) attach through BTF (tp_btf and
 * fentry/fexit), so tracefs is not needed; loading needs root or CAP_BPF + CAP_PERFMON.
 *
 * The loader (bpfio_start, bpfio_snapshot) needs the kernel; everything that turns two
 * snapshots into a phase's figures (bpfio_phase_compute, bpfio_phase_json) is pure and unit
 * tested on tables built by hand. Where the build has no eBPF support (no bpftool, clang or
 * kernel BTF at build time) bpfio_start returns -ENOTSUP with the reason. */
#ifndef KVTIER_OBSERVE_BPFIO_H
#define KVTIER_OBSERVE_BPFIO_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "observe/bpfio_shared.h"

#define BPFIO_REASON_MAX 256

/* One entry of the table: who, which file, which direction, and its counters. */
struct bpfio_entry {
    struct bpfio_key key;
    struct bpfio_val val;
};

/* A copy of the whole table at one instant (entries sorted by key). */
struct bpfio_snap {
    struct bpfio_entry *e;
    size_t n;
    uint64_t lost_full;      /* completions not charged: the table was full */
    uint64_t lost_early;     /* completions of requests issued before the programs attached */
    uint64_t untagged_issue; /* requests issued with no queued bio known (process unknown) */
    uint64_t bio_table_full; /* bios not remembered: the bio table was full */
};

/* A file the KV tier uses, as user space sees it (major/minor of st_dev, st_ino). */
struct bpfio_ident {
    unsigned major, minor;
    uint64_t ino;
};

/* What a phase's requests were, split three ways. Latencies are log2-bucket bounds in
 * microseconds: the quantile lies in [lo, hi). */
struct bpfio_class {
    uint64_t read_bytes, write_bytes, read_ios, write_ios;
};

struct bpfio_quantile {
    bool known; /* false when the class had no request in the phase */
    double lo_us, hi_us;
};

struct bpfio_phase {
    struct bpfio_class device;       /* every request on the disk */
    struct bpfio_class kv;           /* requests on the KV files (any process) */
    struct bpfio_class server_other; /* serving processes, other files or none */
    struct bpfio_class other;        /* every other process */
    uint64_t kv_by_other_bytes;      /* KV-file bytes queued by processes outside the server */
    struct bpfio_quantile kv_read_lat_p50, kv_read_lat_p99, kv_write_lat_p99;
    struct bpfio_quantile kv_read_queue_p99, device_read_lat_p99;
    double kv_read_lat_mean_us, kv_read_queue_mean_us;
    uint64_t lost;    /* completions the table could not charge in the phase */
    uint64_t unowned; /* completions charged to no process or file (owner unknown) */
    uint64_t untimed; /* completions without an issue time (not in the latencies) */
};

struct bpfio;

/* Loads and attaches the programs for the disk major:minor (the whole disk, as in
 * /proc/diskstats). file_tagging (may be NULL) says whether the file hooks attached; without
 * them requests are charged to processes only. 0; -EPERM/-EACCES not permitted, -ENOTSUP
 * built without eBPF, -ENOENT a hook is missing from the kernel, other negative errno from
 * libbpf; reason (BPFIO_REASON_MAX bytes) says which. *ret owned. */
int bpfio_start(unsigned major, unsigned minor, struct bpfio **ret, bool *ret_file_tagging,
                char *reason);
/* The same with one kind of file hooks only, by name ("bio", "fentry", "tracepoint", "none";
 * see bpfio_hooks): the tests and the benchmark compare them. NULL tries them in that order,
 * as bpfio_start does; -EINVAL for an unknown name. */
int bpfio_start_hooks(unsigned major, unsigned minor, const char *hooks, struct bpfio **ret,
                      bool *ret_file_tagging, char *reason);
/* Copies the table (sampler thread or phase mark). 0 or negative errno. *ret filled; free
 * with bpfio_snap_fini. */
int bpfio_snapshot(struct bpfio *b, struct bpfio_snap *ret);
void bpfio_snap_fini(struct bpfio_snap *s);
/* Run time of the attached programs since start (needs kernel.bpf_stats_enabled=1, else
 * -ENODATA): total ns spent in them and number of runs. */
int bpfio_prog_stats(const struct bpfio *b, uint64_t *ret_run_ns, uint64_t *ret_runs);
#define BPFIO_PROGS 9 /* programs in the object (not all load on every kernel) */
struct bpfio_prog_stat {
    const char *name; /* the program's name in bpf/bpfio.bpf.c (valid while b is) */
    uint64_t run_ns, runs;
    uint64_t misses; /* runs the kernel skipped: the program was already running on that CPU
                      * (a completion interrupting a completion); counted with stats off too */
};
/* The same per loaded program (at most max): the number filled, or negative errno. */
int bpfio_prog_stats_each(const struct bpfio *b, struct bpfio_prog_stat *ret, size_t max);
/* How a direct I/O's file is seen: "bio" (read from the bio at queue: no thread hook),
 "fentry" or "tracepoint" (a thread tag set by that hook), "none" (static string). */
const char *bpfio_hooks(const struct bpfio *b);
/* Detaches every attached program (on false; the programs and their tables stay loaded) or
 * attaches again those it detached (on true): the overhead benchmark's A/B windows without a
 * reload between them. 0 or negative errno (the first attach that failed). */
int bpfio_set_attached(struct bpfio *b, bool on);
void bpfio_free(struct bpfio *b);

/* Sorts a table by key (bpfio_snapshot does this; tests building tables by hand call it). */
void bpfio_snap_sort(struct bpfio_snap *s);
/* The phase between two snapshots of the same run (end counters minus begin counters, key by
 * key). kv lists the KV files (borrowed); server the serving tree's pids (borrowed). */
void bpfio_phase_compute(const struct bpfio_snap *begin, const struct bpfio_snap *end,
                         const struct bpfio_ident *kv, size_t n_kv, const pid_t *server,
                         size_t n_server, struct bpfio_phase *ret);
/* A phase as JSON (owned), with the one-line statement "X of the device's Y bytes were the KV
 * files', read at a p99 device latency of Z us". */
json_t *bpfio_phase_json(const struct bpfio_phase *p);
/* The quantile q (0..1) of a log2-us histogram as its bucket bounds. */
struct bpfio_quantile bpfio_hist_quantile(const uint64_t *hist, double q);

#endif
