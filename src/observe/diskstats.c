/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/diskstats parser, iostat -x arithmetic and device resolution (see diskstats.h).
 *
 * Counter arithmetic: the request and sector counters are unsigned long (64-bit on the
 * targets); the millisecond fields 4, 8, 10, 11, 15, 17 are printed from 32-bit unsigned ints
 * and wrap at 2^32 ms, so their deltas are taken modulo 2^32. A 64-bit counter that goes
 * backwards means the device was removed and re-added: the interval is flagged and its rates
 * are forced to 0, as sysstat does. */
#include "observe/diskstats.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/units.h"
#include "common/xalloc.h"

int diskstats_parse_line(const char *line, struct diskstats_dev *ret)
{
    struct diskstats_dev d = { 0 };
    unsigned long long v[DISKSTATS_FIELDS] = { 0 };
    char name[DISKSTATS_NAME_MAX];
    int n = sscanf(line,
                   "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
                   "%llu %llu %llu %llu",
                   &d.major, &d.minor, name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                   &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16]);
    if (n < 7)
        return -EINVAL;
    int nf = n - 3;
    /* sysstat: >= 14 columns full format; 7 columns = old partition format (4 stats:
     * reads, read sectors, writes, write sectors). */
    if (nf == 4) {
        d.f[DISKSTATS_RD_IOS] = v[0];
        d.f[DISKSTATS_RD_SEC] = v[1];
        d.f[DISKSTATS_WR_IOS] = v[2];
        d.f[DISKSTATS_WR_SEC] = v[3];
    } else if (nf >= 11) {
        for (int i = 0; i < nf; i++)
            d.f[i] = v[i];
    } else {
        return -EINVAL;
    }
    /* Normalise the count to a kernel layout. */
    d.nfields = nf >= 17 ? 17 : nf >= 15 ? 15 : nf >= 11 ? 11 : 4;
    if (d.nfields == 11 || d.nfields == 15)
        for (unsigned i = d.nfields; i < DISKSTATS_FIELDS; i++)
            d.f[i] = 0;
    memcpy(d.name, name, sizeof(name));
    *ret = d;
    return 0;
}

int diskstats_find(const char *text, size_t len, const char *name, struct diskstats_dev *ret)
{
    const char *p = text, *end = text + len;
    char line[512];
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = 0;
            struct diskstats_dev d;
            if (diskstats_parse_line(line, &d) == 0) {
                if (!strcmp(d.name, name)) {
                    *ret = d;
                    return 0;
                }
            }
        }
        p = eol ? eol + 1 : end;
    }
    return -ENOENT;
}

int diskstats_read(const char *proc_root, const char *name, struct diskstats_dev *ret)
{
    struct buf b;
    buf_init(&b, DISKSTATS_FILE_MAX);
    char *path = fileio_join(proc_root ? proc_root : "/proc", "diskstats");
    int r = fileio_read_all(path, DISKSTATS_FILE_MAX, &b);
    if (r >= 0)
        r = diskstats_find((const char *)b.data ? buf_str(&b) : "", b.len, name, ret);
    free(path);
    buf_fini(&b);
    return r;
}

static bool is_ms_field(int i)
{
    return i == DISKSTATS_RD_TICKS || i == DISKSTATS_WR_TICKS || i == DISKSTATS_TOT_TICKS ||
           i == DISKSTATS_RQ_TICKS || i == DISKSTATS_DC_TICKS || i == DISKSTATS_FL_TICKS;
}

void diskstats_rates(const struct diskstats_dev *prev, const struct diskstats_dev *cur,
                     double itv_s, struct diskstats_rates *ret)
{
    struct diskstats_rates r = { 0 };
    double d[DISKSTATS_FIELDS] = { 0 };
    for (int i = 0; i < DISKSTATS_FIELDS; i++) {
        if (i == DISKSTATS_IN_FLIGHT)
            continue;
        if (is_ms_field(i)) {
            d[i] = (double)(uint32_t)((uint32_t)cur->f[i] - (uint32_t)prev->f[i]);
        } else if (cur->f[i] >= prev->f[i]) {
            d[i] = (double)(cur->f[i] - prev->f[i]);
        } else {
            r.reset = true;
        }
    }
    if (r.reset || itv_s <= 0) {
        *ret = r;
        return;
    }
    double t = itv_s;
    r.r_per_s = d[DISKSTATS_RD_IOS] / t;
    r.w_per_s = d[DISKSTATS_WR_IOS] / t;
    r.d_per_s = d[DISKSTATS_DC_IOS] / t;
    r.f_per_s = d[DISKSTATS_FL_IOS] / t;
    r.rkb_per_s = d[DISKSTATS_RD_SEC] / t / 2;
    r.wkb_per_s = d[DISKSTATS_WR_SEC] / t / 2;
    r.dkb_per_s = d[DISKSTATS_DC_SEC] / t / 2;
    r.rrqm_per_s = d[DISKSTATS_RD_MERGES] / t;
    r.wrqm_per_s = d[DISKSTATS_WR_MERGES] / t;
    r.drqm_per_s = d[DISKSTATS_DC_MERGES] / t;
    double rm = d[DISKSTATS_RD_MERGES] + d[DISKSTATS_RD_IOS];
    double wm = d[DISKSTATS_WR_MERGES] + d[DISKSTATS_WR_IOS];
    double dm = d[DISKSTATS_DC_MERGES] + d[DISKSTATS_DC_IOS];
    r.rrqm_pct = rm > 0 ? d[DISKSTATS_RD_MERGES] / rm * 100 : 0;
    r.wrqm_pct = wm > 0 ? d[DISKSTATS_WR_MERGES] / wm * 100 : 0;
    r.drqm_pct = dm > 0 ? d[DISKSTATS_DC_MERGES] / dm * 100 : 0;
    r.r_await_ms = d[DISKSTATS_RD_IOS] > 0 ? d[DISKSTATS_RD_TICKS] / d[DISKSTATS_RD_IOS] : 0;
    r.w_await_ms = d[DISKSTATS_WR_IOS] > 0 ? d[DISKSTATS_WR_TICKS] / d[DISKSTATS_WR_IOS] : 0;
    r.d_await_ms = d[DISKSTATS_DC_IOS] > 0 ? d[DISKSTATS_DC_TICKS] / d[DISKSTATS_DC_IOS] : 0;
    r.f_await_ms = d[DISKSTATS_FL_IOS] > 0 ? d[DISKSTATS_FL_TICKS] / d[DISKSTATS_FL_IOS] : 0;
    r.rareq_kb = d[DISKSTATS_RD_IOS] > 0 ? d[DISKSTATS_RD_SEC] / d[DISKSTATS_RD_IOS] / 2 : 0;
    r.wareq_kb = d[DISKSTATS_WR_IOS] > 0 ? d[DISKSTATS_WR_SEC] / d[DISKSTATS_WR_IOS] / 2 : 0;
    r.dareq_kb = d[DISKSTATS_DC_IOS] > 0 ? d[DISKSTATS_DC_SEC] / d[DISKSTATS_DC_IOS] / 2 : 0;
    r.aqu_sz = d[DISKSTATS_RQ_TICKS] / t / 1000;
    r.util_pct = d[DISKSTATS_TOT_TICKS] / t / 10;
    if (r.util_pct > 100)
        r.util_pct = 100;
    r.read_bytes = units_sat_u64(d[DISKSTATS_RD_SEC] * 512);
    r.write_bytes = units_sat_u64(d[DISKSTATS_WR_SEC] * 512);
    r.discard_bytes = units_sat_u64(d[DISKSTATS_DC_SEC] * 512);
    r.read_ios = units_sat_u64(d[DISKSTATS_RD_IOS]);
    r.write_ios = units_sat_u64(d[DISKSTATS_WR_IOS]);
    *ret = r;
}

static int disk_of_sysdir(const char *sys_root, const char *dir, char *ret_name, size_t len,
                          int depth)
{
    char *real = realpath(dir, NULL);
    int r = 0;
    if (!real)
        return -errno;
    char *part = fileio_join(real, "partition");
    char *slaves = fileio_join(real, "slaves");
    struct stat st;
    if (stat(part, &st) == 0) {
        char *slash = strrchr(real, '/');
        if (slash)
            *slash = 0;
    } else if (depth < 8 && stat(slaves, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* Device mapper or md: follow the first slave. */
        char first[256] = "";
        char *dev = NULL;
        struct dirent *de;
        DIR *dp = opendir(slaves);
        if (dp) {
            while ((de = readdir(dp)))
                if (de->d_name[0] != '.' && (first[0] == 0 || strcmp(de->d_name, first) < 0))
                    snprintf(first, sizeof(first), "%s", de->d_name);
            closedir(dp);
        }
        if (first[0]) {
            dev = fileio_join(slaves, first);
            r = disk_of_sysdir(sys_root, dev, ret_name, len, depth + 1);
            free(dev);
            goto out;
        }
    }
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    if (strlen(base) >= len) {
        r = -ENAMETOOLONG;
        goto out;
    }
    memcpy(ret_name, base, strlen(base) + 1);
out:
    free(part);
    free(slaves);
    free(real);
    return r;
}

int diskstats_disk_of_devnum(const char *sys_root, unsigned major, unsigned minor, char *ret_name,
                             size_t len)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "dev/block/%u:%u", major, minor);
    char *dir = fileio_join(sys_root ? sys_root : "/sys", rel);
    int r = disk_of_sysdir(sys_root, dir, ret_name, len, 0);
    free(dir);
    return r == -ENOENT || r == -ENOTDIR ? -ENOENT : r;
}

/* Anonymous st_dev (btrfs, overlayfs): the source of the longest mount covering path. */
static int devnum_from_mountinfo(const char *proc_root, const char *path, unsigned *maj,
                                 unsigned *min)
{
    char *mi = fileio_join(proc_root ? proc_root : "/proc", "self/mountinfo");
    FILE *f = fopen(mi, "re");
    free(mi);
    if (!f)
        return -errno;
    char line[4096];
    size_t best = 0;
    int r = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        char mnt[1024], src[1024];
        char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
            continue;
        if (sscanf(sep + 3, "%*s %1023s", src) != 1)
            continue;
        size_t ml = strlen(mnt);
        bool covers =
            !strcmp(mnt, "/") || (!strncmp(path, mnt, ml) && (path[ml] == '/' || path[ml] == 0));
        if (!covers || ml < best || strncmp(src, "/dev/", 5))
            continue;
        struct stat st;
        if (stat(src, &st) == 0 && S_ISBLK(st.st_mode)) {
            best = ml;
            *maj = major(st.st_rdev);
            *min = minor(st.st_rdev);
            r = 0;
        }
    }
    fclose(f);
    return r;
}

int diskstats_disk_of_path(const char *proc_root, const char *sys_root, const char *path,
                           char *ret_name, size_t len)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    unsigned maj = major(st.st_dev), min = minor(st.st_dev);
    if (maj == 0) {
        char *real = realpath(path, NULL);
        int r = real ? devnum_from_mountinfo(proc_root, real, &maj, &min) : -errno;
        free(real);
        if (r < 0)
            return r;
    }
    return diskstats_disk_of_devnum(sys_root, maj, min, ret_name, len);
}
