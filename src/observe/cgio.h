/* SPDX-License-Identifier: Apache-2.0 */
/* Cgroup block I/O accounting: cgroup v2 io.stat ("MAJ:MIN rbytes= wbytes= rios= wios= dbytes=
 * dios=", extra keys ignored, idle devices as bare MAJ:MIN) and cgroup v1 blkio
 * (blkio.throttle.io_service_bytes_recursive / io_serviced_recursive: "MAJ:MIN Read N"), and
 * locating a process's cgroup from /proc/PID/cgroup. */
#ifndef KVTIER_OBSERVE_CGIO_H
#define KVTIER_OBSERVE_CGIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGIO_FILE_MAX (1u << 20)
#define CGIO_MAX_DEVS 256
#define CGIO_PATH_MAX 4096

struct cgio_dev {
    unsigned major, minor;
    uint64_t rbytes, wbytes, rios, wios, dbytes, dios;
};

/* Parses io.stat text into devs (at most max). Count or -EINVAL on a malformed line,
 * -EMSGSIZE past max. */
int cgio_parse_v2(const char *text, size_t len, struct cgio_dev *devs, size_t max);
/* Parses v1 blkio bytes and ios texts (either may be NULL) into devs. Count or -EINVAL. */
int cgio_parse_v1(const char *bytes_text, size_t bytes_len, const char *ios_text, size_t ios_len,
                  struct cgio_dev *devs, size_t max);
/* Reads a cgroup directory: io.stat when present (version 2), else v1 blkio files. Returns the
 * count, *ret_version = 1 or 2; -ENOENT when neither file exists. */
int cgio_read(const char *dir, struct cgio_dev *devs, size_t max, int *ret_version);
/* The cgroup directory for pid that has block I/O accounting: v2 "0::/p" under
 * <sys_root>/fs/cgroup (or .../unified) when io.stat exists there, else the v1 blkio
 * hierarchy. Owned path in *ret. -ENOENT when none. */
int cgio_dir_of_pid(const char *proc_root, const char *sys_root, pid_t pid, char **ret);

#endif
