/* SPDX-License-Identifier: Apache-2.0 */
/* The layout shared by the eBPF program (bpf/bpfio.bpf.c) and its loader (bpfio.c): one
 * counters entry per (process, file, direction) of the watched disk. Plain fixed-width types
 * only, so the same header compiles for the BPF target and for user space. */
#ifndef KVTIER_OBSERVE_BPFIO_SHARED_H
#define KVTIER_OBSERVE_BPFIO_SHARED_H

#define BPFIO_HIST_BUCKETS 32    /* log2 microsecond buckets: [0,2) us, [2,4) us, ... */
#define BPFIO_MAX_KEYS     8192  /* (process, file, direction) entries the table holds */
#define BPFIO_MAX_BIOS     65536 /* queued bios remembered until their request is issued */

struct bpfio_key {
    __u32 tgid;    /* thread group that queued the bio */
    __u32 op;      /* 0 read, 1 write */
    __u64 ino;     /* inode number of the file; 0 = not attributed to a file */
    __u32 ino_dev; /* the file's super block device, kernel encoding (major << 20 | minor) */
    __u32 pad;
};

/* A file: inode number and super block device (kernel encoding); 0/0 = none. */
struct bpfio_file {
    __u64 ino;
    __u32 sdev;
    __u32 pad;
};

/* A queued bio's owner, kept until a request headed by it completes (bio table). */
struct bpfio_bio {
    struct bpfio_file tag;
    __u32 tgid;
    __u32 size;     /* bytes when queued (a split front: its part) */
    __u64 gen;      /* sweep generation when queued */
    __u64 issue_ns; /* last dispatch of a request headed by this bio; 0 = not yet */
};

struct bpfio_val {
    __u64 ios;
    __u64 bytes;
    __u64 lat_sum_ns;   /* issue -> completion */
    __u64 queue_sum_ns; /* allocation -> issue */
    __u64 lat_hist[BPFIO_HIST_BUCKETS];
    __u64 queue_hist[BPFIO_HIST_BUCKETS];
};

#endif
