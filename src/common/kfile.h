/* SPDX-License-Identifier: Apache-2.0 */
/* Kept descriptors for files re-read at every sample (/proc and /sys): the first read opens,
 * later reads are pread(fd, ..., 0) on the same descriptor, which regenerates procfs/sysfs
 * content without the open/close system calls. A read that fails (the process
 * exited, the file vanished) closes and forgets the descriptor. Not thread-safe: one cache per
 * thread. */
#ifndef KVTIER_COMMON_KFILE_H
#define KVTIER_COMMON_KFILE_H

#include <stddef.h>

#include "common/buf.h"

#define KFILE_MAX 512 /* descriptors kept; past it the cache is emptied and starts over */

/* A reader of a whole small file into out (reset first); 0 or negative errno. */
typedef int kfile_reader_fn(void *ctx, const char *path, struct buf *out);

struct kfile_entry {
    char *path;
    int fd;
};

struct kfile {
    struct kfile_entry *e;
    size_t n, cap;
};

void kfile_init(struct kfile *k);
void kfile_fini(struct kfile *k);
/* kfile_reader_fn over a struct kfile (ctx). Bounded by out->max_bytes (-EMSGSIZE). */
int kfile_read(void *ctx, const char *path, struct buf *out);
/* kfile_reader_fn without caching (open, read, close); ctx unused. */
int kfile_read_once(void *ctx, const char *path, struct buf *out);

#endif
