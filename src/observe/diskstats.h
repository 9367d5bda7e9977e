/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/diskstats: parsing (14, 18 or 20 columns, as the kernel version gives), the iostat -x
 * figures of an interval with sysstat's formulas (32-bit wrap of the millisecond fields, reset
 * detection), and mapping a file system path or major:minor to its whole-disk row (partitions
 * and device-mapper devices map to the disk below). */
#ifndef KVTIER_OBSERVE_DISKSTATS_H
#define KVTIER_OBSERVE_DISKSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISKSTATS_NAME_MAX 64 /* device name bytes incl. NUL */
#define DISKSTATS_FIELDS   17 /* statistics after major minor name */
#define DISKSTATS_FILE_MAX (4u << 20)

/* Indices into diskstats_dev.f (kernel field numbers minus one). */
enum diskstats_field {
    DISKSTATS_RD_IOS,
    DISKSTATS_RD_MERGES,
    DISKSTATS_RD_SEC,
    DISKSTATS_RD_TICKS,
    DISKSTATS_WR_IOS,
    DISKSTATS_WR_MERGES,
    DISKSTATS_WR_SEC,
    DISKSTATS_WR_TICKS,
    DISKSTATS_IN_FLIGHT,
    DISKSTATS_TOT_TICKS,
    DISKSTATS_RQ_TICKS,
    DISKSTATS_DC_IOS,
    DISKSTATS_DC_MERGES,
    DISKSTATS_DC_SEC,
    DISKSTATS_DC_TICKS,
    DISKSTATS_FL_IOS,
    DISKSTATS_FL_TICKS,
};

struct diskstats_dev {
    unsigned major, minor;
    char name[DISKSTATS_NAME_MAX];
    unsigned nfields;             /* statistics present: 4 (old partitions), 11, 15 or 17 */
    uint64_t f[DISKSTATS_FIELDS]; /* absent fields are 0 */
};

/* iostat -x figures of one interval (sysstat rd_stats.c / iostat.c formulas). */
struct diskstats_rates {
    double r_per_s, w_per_s, d_per_s, f_per_s;
    double rkb_per_s, wkb_per_s, dkb_per_s;
    double rrqm_per_s, wrqm_per_s, drqm_per_s;
    double rrqm_pct, wrqm_pct, drqm_pct;
    double r_await_ms, w_await_ms, d_await_ms, f_await_ms;
    double rareq_kb, wareq_kb, dareq_kb;
    double aqu_sz, util_pct;
    uint64_t read_bytes, write_bytes, discard_bytes; /* deltas, sectors x 512 */
    uint64_t read_ios, write_ios;                    /* deltas */
    bool reset; /* some counter went backwards (device removed/re-added): its rates are 0 */
};

/* Parses one /proc/diskstats line. -EINVAL when fewer than 4 statistics or malformed. */
int diskstats_parse_line(const char *line, struct diskstats_dev *ret);
/* Finds device `name` in diskstats text (len bytes). 0, -ENOENT, -EINVAL. */
int diskstats_find(const char *text, size_t len, const char *name, struct diskstats_dev *ret);
/* Reads <proc_root>/diskstats and finds `name`. 0, -ENOENT, or a read errno. */
int diskstats_read(const char *proc_root, const char *name, struct diskstats_dev *ret);
/* Figures between two readings itv_s seconds apart (itv_s > 0). */
void diskstats_rates(const struct diskstats_dev *prev, const struct diskstats_dev *cur,
                     double itv_s, struct diskstats_rates *ret);
/* Whole-disk name for a block device number using <sys_root>/dev/block/MAJ:MIN: a partition
 * maps to its parent, a dm device to (the whole disk of) its first slave. 0, -ENOENT. */
int diskstats_disk_of_devnum(const char *sys_root, unsigned major, unsigned minor, char *ret_name,
                             size_t len);
/* Whole-disk name holding path's file system (stat st_dev; anonymous devices such as btrfs or
 * overlayfs resolved through <proc_root>/self/mountinfo). 0, -ENOENT, or stat's errno. */
int diskstats_disk_of_path(const char *proc_root, const char *sys_root, const char *path,
                           char *ret_name, size_t len);

#endif
