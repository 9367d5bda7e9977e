/* SPDX-License-Identifier: Apache-2.0 */
/* Noise indicator readers (see noise.h). */
#include "observe/noise.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

int noise_parse_psi(const char *text, size_t len, struct noise_psi *ret)
{
    struct noise_psi p = { 0 };
    char line[256];
    const char *s = text, *end = text + len;
    bool some = false;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((eol ? eol : end) - s);
        if (n < sizeof(line)) {
            memcpy(line, s, n);
            line[n] = 0;
            char kind[8];
            double a10, a60, a300;
            unsigned long long total;
            if (sscanf(line, "%7s avg10=%lf avg60=%lf avg300=%lf total=%llu", kind, &a10, &a60,
                       &a300, &total) == 5) {
                if (!strcmp(kind, "some")) {
                    p.some_avg10 = a10;
                    p.some_avg60 = a60;
                    p.some_total_us = total;
                    some = true;
                } else if (!strcmp(kind, "full")) {
                    p.full_avg10 = a10;
                    p.full_avg60 = a60;
                    p.full_total_us = total;
                    p.has_full = true;
                }
            }
        }
        s = eol ? eol + 1 : end;
    }
    if (!some)
        return -EINVAL;
    p.present = true;
    *ret = p;
    return 0;
}

int noise_parse_meminfo(const char *text, size_t len, uint64_t *ret_dirty, uint64_t *ret_wb,
                        uint64_t *ret_cached)
{
    const char *s = text, *end = text + len;
    char line[256];
    int found = 0;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((eol ? eol : end) - s);
        if (n < sizeof(line)) {
            memcpy(line, s, n);
            line[n] = 0;
            char key[64];
            unsigned long long kb;
            if (sscanf(line, "%63[^:]: %llu", key, &kb) == 2) {
                if (!strcmp(key, "Dirty")) {
                    *ret_dirty = kb * 1024;
                    found++;
                } else if (!strcmp(key, "Writeback")) {
                    *ret_wb = kb * 1024;
                    found++;
                } else if (!strcmp(key, "Cached")) {
                    *ret_cached = kb * 1024;
                    found++;
                }
            }
        }
        s = eol ? eol + 1 : end;
    }
    return found ? 0 : -EINVAL;
}

struct rd {
    kfile_reader_fn *fn;
    void *ctx;
    struct buf b;
};

static int slurp(struct rd *r, const char *root, const char *leaf)
{
    char *p = fileio_join(root, leaf);
    int rc = r->fn(r->ctx, p, &r->b);
    free(p);
    return rc;
}

static bool read_u64(struct rd *r, const char *path, uint64_t *ret)
{
    unsigned long long v;
    if (r->fn(r->ctx, path, &r->b) < 0 || sscanf(buf_str(&r->b), "%llu", &v) != 1)
        return false;
    *ret = v;
    return true;
}

static bool read_i64(struct rd *r, const char *path, long long *ret)
{
    return r->fn(r->ctx, path, &r->b) >= 0 && sscanf(buf_str(&r->b), "%lld", ret) == 1;
}

static void read_cpufreq(struct rd *rd, const char *sys, struct noise_sample *s)
{
    char *dir = fileio_join(sys, "devices/system/cpu");
    DIR *d = opendir(dir);
    double sum = 0, capsum = 0;
    unsigned n = 0, ncap = 0, seen = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) && seen < NOISE_MAX_CPUS) {
            if (strncmp(de->d_name, "cpu", 3) || de->d_name[3] < '0' || de->d_name[3] > '9')
                continue;
            seen++;
            char p[1024];
            uint64_t cur, max, cap;
            snprintf(p, sizeof(p), "%s/%s/cpufreq/cpuinfo_max_freq", dir, de->d_name);
            if (!read_u64(rd, p, &max) || max == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s/cpufreq/scaling_cur_freq", dir, de->d_name);
            if (read_u64(rd, p, &cur)) {
                sum += (double)cur / (double)max;
                n++;
            }
            snprintf(p, sizeof(p), "%s/%s/cpufreq/scaling_max_freq", dir, de->d_name);
            if (read_u64(rd, p, &cap)) {
                capsum += (double)cap / (double)max;
                ncap++;
            }
        }
        closedir(d);
    }
    free(dir);
    s->cpufreq_ratio = n ? sum / n : NAN;
    s->cpufreq_cap_ratio = ncap ? capsum / ncap : NAN;
}

static void read_thermal(struct rd *rd, const char *sys, struct noise_sample *s)
{
    char *dir = fileio_join(sys, "class/thermal");
    DIR *d = opendir(dir);
    s->thermal_max_c = NAN;
    s->cooling_active = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            char p[1024];
            if (!strncmp(de->d_name, "thermal_zone", 12)) {
                long long mc;
                snprintf(p, sizeof(p), "%s/%s/temp", dir, de->d_name);
                if (read_i64(rd, p, &mc)) {
                    double c = (double)mc / 1000.0;
                    if (isnan(s->thermal_max_c) || c > s->thermal_max_c)
                        s->thermal_max_c = c;
                }
            } else if (!strncmp(de->d_name, "cooling_device", 14)) {
                uint64_t cur;
                snprintf(p, sizeof(p), "%s/%s/cur_state", dir, de->d_name);
                if (read_u64(rd, p, &cur) && cur > 0)
                    s->cooling_active++;
            }
        }
        closedir(d);
    }
    free(dir);
}

void noise_read(const char *proc_root, const char *sys_root, kfile_reader_fn *reader, void *ctx,
                struct noise_sample *ret)
{
    const char *proc = proc_root ? proc_root : "/proc";
    const char *sys = sys_root ? sys_root : "/sys";
    struct noise_sample s = { 0 };
    struct rd rd = { .fn = reader ? reader : kfile_read_once, .ctx = ctx };
    buf_init(&rd.b, NOISE_FILE_MAX);
    struct buf *bp = &rd.b;
    static const char *const psi_leaf[NOISE_PSI__COUNT] = { "pressure/cpu", "pressure/io",
                                                            "pressure/memory" };
    for (int i = 0; i < NOISE_PSI__COUNT; i++)
        if (slurp(&rd, proc, psi_leaf[i]) >= 0)
            noise_parse_psi(buf_str(bp), bp->len, &s.psi[i]);
    if (slurp(&rd, proc, "loadavg") >= 0 &&
        sscanf(buf_str(bp), "%lf %lf %lf", &s.load1, &s.load5, &s.load15) == 3)
        s.load_present = true;
    if (slurp(&rd, proc, "stat") >= 0) {
        const char *t = buf_str(bp);
        const char *r = strstr(t, "\nprocs_running ");
        const char *k = strstr(t, "\nprocs_blocked ");
        unsigned long long v;
        if (r && sscanf(r + 15, "%llu", &v) == 1) {
            s.procs_running = v;
            s.stat_present = true;
        }
        if (k && sscanf(k + 15, "%llu", &v) == 1)
            s.procs_blocked = v;
    }
    if (slurp(&rd, proc, "meminfo") >= 0 &&
        noise_parse_meminfo(buf_str(bp), bp->len, &s.dirty_bytes, &s.writeback_bytes,
                            &s.cached_bytes) == 0)
        s.meminfo_present = true;
    read_cpufreq(&rd, sys, &s);
    read_thermal(&rd, sys, &s);
    buf_fini(&rd.b);
    *ret = s;
}

double noise_psi_pct(uint64_t prev_total_us, uint64_t cur_total_us, double itv_s)
{
    if (cur_total_us < prev_total_us || itv_s <= 0)
        return 0;
    double pct = (double)(cur_total_us - prev_total_us) / (itv_s * 1e6) * 100.0;
    return pct > 100 ? 100 : pct;
}
