/* SPDX-License-Identifier: Apache-2.0 */
/* File-level I/O attribution with fanotify: a filesystem mark when the KV directory is its own
 * file system, else a mark on the directory (its children), counts read, write and open events
 * per file and per pid (no byte counts; those
 * come from /proc/PID/io). Needs CAP_SYS_ADMIN; where refused, the caller falls back to /proc
 * and fdinfo scanning and says so. */
#ifndef KVTIER_OBSERVE_ATTRIB_H
#define KVTIER_OBSERVE_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define ATTRIB_MAX_FILES  4096
#define ATTRIB_MAX_PIDS   1024
#define ATTRIB_REASON_MAX 256

/* Totals that phase marks difference. */
struct attrib_totals {
    uint64_t kv_events_server;    /* events on KV files by the serving tree */
    uint64_t kv_events_other;     /* events on KV files by any other process */
    uint64_t other_events_server; /* server events on other files of the same file system */
    uint64_t other_events;        /* everything else on the file system */
    uint64_t overflows;           /* FAN_Q_OVERFLOW seen (events lost) */
};

struct attrib;

/* What the confidence of a phase's attribution rests on. */
struct attrib_evidence {
    bool device_ok; /* the device was sampled at both phase edges */
    uint64_t device_read_bytes, device_write_bytes;
    uint64_t server_read_bytes, server_write_bytes; /* the serving tree's /proc/PID/io */
    bool kv_clean; /* fanotify saw no other process on the KV files, or (no fanotify) every
                    * KV file the server holds open is O_DIRECT */
};

enum attrib_confidence { ATTRIB_LOW, ATTRIB_MEDIUM, ATTRIB_HIGH };

/* The attribution rule, pure: the server's share of the device's bytes (each direction capped
 * at the device's count) is *ret_share, or NaN when the device moved nothing or was not
 * sampled. HIGH when the share is >= 0.9 and the KV files are clean, MEDIUM when it is >= 0.5,
 * else LOW. */
enum attrib_confidence attrib_confidence(const struct attrib_evidence *ev, double *ret_share);
const char *attrib_confidence_name(enum attrib_confidence c);

/* Places the mark for kv_dir. 0; -EPERM/-EACCES not permitted, -ENOSYS no fanotify, -EINVAL
 * mark type refused; reason (ATTRIB_REASON_MAX bytes) says which. *ret owned. */
int attrib_start(const char *kv_dir, struct attrib **ret, char *reason);
/* Drains pending events without blocking; pids[] is the current serving tree (borrowed).
 * Returns the number of events handled. Sampler thread. */
int attrib_poll(struct attrib *a, const pid_t *pids, size_t n_pids);
void attrib_totals(const struct attrib *a, struct attrib_totals *ret);
/* Per-file table as JSON (owned): [{path, reads, writes, opens, by_server, by_other}]. */
json_t *attrib_files_json(const struct attrib *a);
/* "filesystem" (the KV directory is its own file system), "mount", or "directory" (the KV
 * directory's children only, on a shared file system). */
const char *attrib_mark_kind(const struct attrib *a);
void attrib_free(struct attrib *a);

#endif
