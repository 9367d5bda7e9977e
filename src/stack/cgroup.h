/* SPDX-License-Identifier: Apache-2.0 */
/* Cgroup placement of a stack: a per-run cgroup for I/O accounting and, for mode C, I/O
 * throttling. cgroup v2 with the io controller gets io.max (rbps/wbps on the whole disk); a
 * hybrid or v1 host falls back to the v1 blkio throttle files (which limit direct I/O but not
 * buffered writeback; os-io.md §4). Anything not permitted degrades to "no cgroup" with the
 * reason recorded: never an error that stops a run. Roots are injectable for tests. */
#ifndef KVTIER_STACK_CGROUP_H
#define KVTIER_STACK_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

enum cgroup_kind { CGROUP_NONE, CGROUP_V2, CGROUP_V1_BLKIO };

struct cgroup_place {
    enum cgroup_kind kind;
    char dir[512];         /* the created cgroup directory ("" when none) */
    char procs[560];       /* its cgroup.procs file */
    char device[32];       /* "MAJ:MIN" of the whole disk the limits apply to ("" if none) */
    uint64_t rbps, wbps;   /* limits asked for (0 = none) */
    bool limits_applied;   /* the limit files accepted the values */
    bool buffered_limited; /* whether buffered writeback is throttled too (v2 only) */
    char reason[320];      /* why placement or limits are degraded ("" when all went well) */
};

/* Sets up cgroup <name> under root ("/sys/fs/cgroup" when NULL): v2 if the io controller is
 * available (enabling +io in the parent's subtree_control), else v1 blkio, else none. When
 * rbps/wbps are non-zero and device is a "MAJ:MIN" string, writes the limits. Always fills ret;
 * returns 0, or 1 when placement or limits degraded (ret->reason says why). */
int cgroup_setup(const char *root, const char *name, const char *device, uint64_t rbps,
                 uint64_t wbps, struct cgroup_place *ret);
/* Per-run cgroups are named CGROUP_RUN_PREFIX "<runner pid>-<mode>-r<NN>". */
#define CGROUP_RUN_PREFIX "kvtier-"

/* Removes the per-run cgroups (under root, root/unified and root/blkio; "/sys/fs/cgroup" when
 * root is NULL) whose runner is gone (killed before its teardown): kills what still runs in
 * them (cgroup.kill, else SIGKILL per pid) and removes the directory. Returns how many were
 * removed; what cannot be read or removed is skipped. */
int cgroup_reap_stale(const char *root);
/* Moves any stragglers to the parent and removes the cgroup directory; safe on NONE. */
void cgroup_teardown(struct cgroup_place *p);
/* The placement as a manifest object. Owned. */
json_t *cgroup_json(const struct cgroup_place *p);
/* Whole-disk "MAJ:MIN" of the block device holding path (partitions mapped to their disk via
 * sys_root/dev/block, "/sys" when NULL). 0, or -ENOENT when not on a block device (tmpfs). */
int cgroup_disk_of_path(const char *sys_root, const char *path, char *ret, unsigned ret_len);

#endif
