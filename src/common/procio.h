/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process I/O: /proc/PID/io parsed by key, the delay-accounting block I/O ticks of
 * /proc/PID/stat (pidstat's iodelay), and the serving process tree (descendants of root pids,
 * processes found by name or by a listening TCP port). */
#ifndef KVTIER_COMMON_PROCIO_H
#define KVTIER_COMMON_PROCIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/kfile.h"

#define PROCIO_FILE_MAX 4096 /* /proc/PID/io and /proc/PID/stat are far smaller */
#define PROCIO_COMM_MAX 64
#define PROCIO_MAX_TREE 4096 /* processes followed in one serving tree */

enum procio_key {
    PROCIO_RCHAR,
    PROCIO_WCHAR,
    PROCIO_SYSCR,
    PROCIO_SYSCW,
    PROCIO_READ_BYTES,
    PROCIO_WRITE_BYTES,
    PROCIO_CANCELLED_WRITE_BYTES,
    PROCIO_KEY__COUNT
};

struct procio {
    uint64_t v[PROCIO_KEY__COUNT];
    unsigned have; /* bit i set when key i was present */
};

/* Key names as /proc prints them ("rchar", ..., "cancelled_write_bytes"). */
const char *procio_key_name(enum procio_key k);
/* The byte counters of /proc/PID/io (what a run bundle records per phase). */
#define PROCIO_BYTE_KEYS                                                       \
    ((1u << PROCIO_RCHAR) | (1u << PROCIO_WCHAR) | (1u << PROCIO_READ_BYTES) | \
     (1u << PROCIO_WRITE_BYTES) | (1u << PROCIO_CANCELLED_WRITE_BYTES))

/* {key: value} (owned) of the keys in mask (bit i = enum procio_key i) that io has, in
 * /proc's order. */
json_t *procio_json(const struct procio *io, unsigned mask);
/* Parses /proc/PID/io text. Unknown keys are ignored. -EINVAL when no known key appears. */
int procio_parse(const char *text, size_t len, struct procio *ret);
/* Reads <proc_root>/PID/io. -ENOENT (gone), -EACCES (not ours: "unknown", never zero). */
int procio_read(const char *proc_root, pid_t pid, struct procio *ret);
/* From /proc/PID/stat text: comm (bounded copy), ppid and delayacct_blkio_ticks (field 42).
 * -EINVAL malformed. Outputs may be NULL. */
int procio_parse_stat(const char *text, size_t len, char *ret_comm, size_t comm_len,
                      pid_t *ret_ppid, uint64_t *ret_blkio_ticks);
/* Field 22 of /proc/PID/stat: the process start time in clock ticks after boot. 0 or
 * -EINVAL. */
int procio_parse_starttime(const char *text, size_t len, uint64_t *ret_ticks);
int procio_read_stat(const char *proc_root, pid_t pid, char *ret_comm, size_t comm_len,
                     pid_t *ret_ppid, uint64_t *ret_blkio_ticks);
/* The roots and all their live descendants, sorted ascending, at most max. Returns the count
 * or a negative errno when /proc cannot be listed. */
int procio_tree(const char *proc_root, const pid_t *roots, size_t n_roots, pid_t *ret, size_t max);
/* The same, reading the stat files through reader (NULL = kfile_read_once). */
int procio_tree_with(const char *proc_root, const pid_t *roots, size_t n_roots, pid_t *ret,
                     size_t max, kfile_reader_fn *reader, void *ctx);
/* Processes whose comm equals name; count or negative errno. */
int procio_find_by_name(const char *proc_root, const char *name, pid_t *ret, size_t max);
/* The process holding a TCP socket listening on port (IPv4 or IPv6). 0, -ENOENT. */
int procio_find_by_port(const char *proc_root, unsigned port, pid_t *ret);

#endif
