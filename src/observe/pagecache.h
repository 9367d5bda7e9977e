/* SPDX-License-Identifier: Apache-2.0 */
/* Page-cache state of the KV disk files: the files the serving processes hold open under the
 * KV directory, found through /proc/PID/fd (unlinked files included, as KVBM unlinks its
 * cache file), their O_DIRECT state from /proc/PID/fdinfo flags (tested with the build
 * target's O_DIRECT, which differs between x86-64 and aarch64) and their resident pages
 * (cachestat(2) on 6.5+, else mincore(2) on a shared mapping). Input to PAGE_CACHE_SUSPECT. */
#ifndef KVTIER_OBSERVE_PAGECACHE_H
#define KVTIER_OBSERVE_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define PAGECACHE_MAX_FILES         1024
#define PAGECACHE_PATH_MAX          1024
#define PAGECACHE_FDINFO_MAX        (64u << 10)
#define PAGECACHE_MINCORE_MAX_BYTES (1ULL << 40) /* files larger are not mapped for mincore */

struct pagecache_file {
    pid_t pid;
    int fd;
    char path[PAGECACHE_PATH_MAX]; /* link target without " (deleted)" */
    bool deleted;
    unsigned flags; /* fdinfo flags (octal in the file) */
    bool o_direct;  /* flags & O_DIRECT of this build target */
    uint64_t size_bytes;
    bool residency_known;
    const char *method; /* "cachestat", "mincore" or "none" (static string) */
    uint64_t cached_pages, total_pages, dirty_pages, writeback_pages, evicted_pages;
};

/* Parses fdinfo text: flags (octal), pos, mnt_id, ino. -EINVAL when "flags:" is missing.
 * Outputs may be NULL except ret_flags. */
int pagecache_parse_fdinfo(const char *text, size_t len, unsigned *ret_flags, uint64_t *ret_pos,
                           int *ret_mnt_id, uint64_t *ret_ino);
/* Whether fdinfo flags say O_DIRECT on this build target. */
bool pagecache_flags_direct(unsigned flags);
/* Lists the regular files under kv_dir that pids hold open (one entry per distinct file;
 * a file is O_DIRECT when any descriptor on it is), and their residency when measure is true.
 * Returns the count (<= max) or a negative errno when nothing could be listed. */
int pagecache_scan(const char *proc_root, const pid_t *pids, size_t n_pids, const char *kv_dir,
                   bool measure, struct pagecache_file *ret, size_t max);
/* Residency of an open file descriptor: cachestat, else mincore. 0 or negative errno. */
int pagecache_residency_fd(int fd, struct pagecache_file *f);
/* Files as a JSON object {files: [...], o_direct_all, cached_pages, total_pages, ...} (owned). */
json_t *pagecache_json(const struct pagecache_file *files, size_t n);

#endif
