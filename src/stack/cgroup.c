/* SPDX-License-Identifier: Apache-2.0 */
/* Cgroup placement and io.max / blkio throttling with a recorded degraded path (cgroup.h). */
#include "stack/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(s);
    int r = write(fd, s, n) == (ssize_t)n ? 0 : -errno;
    close(fd);
    return r;
}

static bool has_word(const char *path, const char *word)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    bool found = false;
    if (fileio_read_all(path, 1 << 16, &b) >= 0) {
        const char *s = buf_str(&b);
        size_t wl = strlen(word);
        for (const char *p = s; (p = strstr(p, word)); p += wl) {
            bool start = p == s || p[-1] == ' ' || p[-1] == '\n';
            bool end = p[wl] == 0 || p[wl] == ' ' || p[wl] == '\n';
            if (start && end) {
                found = true;
                break;
            }
        }
    }
    buf_fini(&b);
    return found;
}

static void reason(struct cgroup_place *p, const char *fmt, const char *a, int err)
{
    size_t l = strlen(p->reason);
    if (l >= sizeof(p->reason) - 2)
        return;
    char one[256];
    snprintf(one, sizeof(one), fmt, a, strerror(-err));
    snprintf(p->reason + l, sizeof(p->reason) - l, "%s%s", l ? "; " : "", one);
}

static int try_v2(const char *base, const char *name, struct cgroup_place *p)
{
    char *ctl = fileio_join(base, "cgroup.controllers");
    bool io = has_word(ctl, "io");
    free(ctl);
    if (!io) {
        reason(p, "cgroup v2 at %s has no io controller (%s)", base, -EOPNOTSUPP);
        return -EOPNOTSUPP;
    }
    char *sub = fileio_join(base, "cgroup.subtree_control");
    int r = has_word(sub, "io") ? 0 : write_str(sub, "+io");
    free(sub);
    if (r < 0) {
        reason(p, "cannot enable +io in %s/cgroup.subtree_control: %s", base, r);
        return r;
    }
    char *dir = fileio_join(base, name);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        reason(p, "cannot create cgroup %s: %s", dir, r);
        free(dir);
        return r;
    }
    p->kind = CGROUP_V2;
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    snprintf(p->procs, sizeof(p->procs), "%s/cgroup.procs", dir);
    free(dir);
    return 0;
}

static int try_v1(const char *root, const char *name, struct cgroup_place *p)
{
    char *blk = fileio_join(root, "blkio");
    char *probe = fileio_join(blk, "blkio.throttle.read_bps_device");
    int r = access(probe, W_OK) == 0 ? 0 : -errno;
    free(probe);
    if (r < 0) {
        reason(p, "no writable cgroup v1 blkio hierarchy at %s: %s", blk, r);
        free(blk);
        return r;
    }
    char *dir = fileio_join(blk, name);
    free(blk);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        reason(p, "cannot create blkio cgroup %s: %s", dir, r);
        free(dir);
        return r;
    }
    p->kind = CGROUP_V1_BLKIO;
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    snprintf(p->procs, sizeof(p->procs), "%s/cgroup.procs", dir);
    free(dir);
    return 0;
}

static void apply_limits(struct cgroup_place *p)
{
    char line[128];
    int r = 0;
    if (p->kind == CGROUP_V2) {
        char rb[32], wb[32];
        snprintf(rb, sizeof(rb), p->rbps ? "%llu" : "max", (unsigned long long)p->rbps);
        snprintf(wb, sizeof(wb), p->wbps ? "%llu" : "max", (unsigned long long)p->wbps);
        snprintf(line, sizeof(line), "%s rbps=%s wbps=%s", p->device, rb, wb);
        char *f = fileio_join(p->dir, "io.max");
        r = write_str(f, line);
        if (r < 0)
            reason(p, "io.max rejected the limits in %s: %s", p->dir, r);
        free(f);
        p->buffered_limited = r == 0;
    } else if (p->kind == CGROUP_V1_BLKIO) {
        static const char *files[2] = { "blkio.throttle.read_bps_device",
                                        "blkio.throttle.write_bps_device" };
        uint64_t v[2] = { p->rbps, p->wbps };
        for (int i = 0; i < 2 && r == 0; i++) {
            if (!v[i])
                continue;
            snprintf(line, sizeof(line), "%s %llu", p->device, (unsigned long long)v[i]);
            char *f = fileio_join(p->dir, files[i]);
            r = write_str(f, line);
            if (r < 0)
                reason(p, "v1 throttle rejected the limit in %s: %s", f, r);
            free(f);
        }
        if (r == 0)
            reason(p,
                   "cgroup v1 blkio throttle limits direct I/O only, not buffered "
                   "writeback (%s)",
                   p->dir, -EOPNOTSUPP);
    }
    p->limits_applied = r == 0;
}

int cgroup_setup(const char *root, const char *name, const char *device, uint64_t rbps,
                 uint64_t wbps, struct cgroup_place *ret)
{
    struct cgroup_place p = { .kind = CGROUP_NONE, .rbps = rbps, .wbps = wbps };
    if (!root)
        root = "/sys/fs/cgroup";
    snprintf(p.device, sizeof(p.device), "%s", device ? device : "");
    char *ctl = fileio_join(root, "cgroup.controllers");
    bool pure_v2 = access(ctl, R_OK) == 0;
    free(ctl);
    char *unified = fileio_join(root, "unified");
    const char *v2base = pure_v2 ? root : unified;
    char *probe = fileio_join(v2base, "cgroup.controllers");
    bool v2 = access(probe, R_OK) == 0;
    free(probe);
    int r = v2 ? try_v2(v2base, name, &p) : -ENOENT;
    if (r < 0 && !pure_v2)
        r = try_v1(root, name, &p);
    free(unified);
    if (r < 0)
        p.kind = CGROUP_NONE;
    if ((rbps || wbps) && p.kind != CGROUP_NONE) {
        if (!p.device[0])
            reason(&p, "no block device for the limits (%s): %s", "disk cache dir", -ENODEV);
        else
            apply_limits(&p);
    }
    *ret = p;
    bool degraded = p.kind == CGROUP_NONE || ((rbps || wbps) && !p.limits_applied);
    return degraded ? 1 : 0;
}

void cgroup_teardown(struct cgroup_place *p)
{
    if (p->kind == CGROUP_NONE || !p->dir[0])
        return;
    /* move stragglers to the parent so rmdir can succeed */
    struct buf b;
    buf_init(&b, 1 << 20);
    if (fileio_read_all(p->procs, 1 << 20, &b) >= 0 && b.len) {
        char *parent = xstrdup(p->dir);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            char *pp = fileio_join(parent, "cgroup.procs");
            char *save = NULL;
            for (char *t = strtok_r((char *)b.data, "\n", &save); t;
                 t = strtok_r(NULL, "\n", &save)) {
                char line[32];
                snprintf(line, sizeof(line), "%s\n", t);
                write_str(pp, line);
            }
            free(pp);
        }
        free(parent);
    }
    buf_fini(&b);
    rmdir(p->dir);
    p->dir[0] = 0;
    p->kind = CGROUP_NONE;
}

json_t *cgroup_json(const struct cgroup_place *p)
{
    static const char *kinds[] = { "none", "v2", "v1_blkio" };
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kinds[p->kind]));
    json_object_set_new(o, "path", p->dir[0] ? json_string(p->dir) : json_null());
    json_object_set_new(o, "device", p->device[0] ? json_string(p->device) : json_null());
    json_object_set_new(o, "io_max_rbps", json_integer((json_int_t)p->rbps));
    json_object_set_new(o, "io_max_wbps", json_integer((json_int_t)p->wbps));
    json_object_set_new(o, "limits_applied", json_boolean(p->limits_applied));
    json_object_set_new(o, "buffered_writeback_limited", json_boolean(p->buffered_limited));
    json_object_set_new(o, "degraded_reason", p->reason[0] ? json_string(p->reason) : json_null());
    return o;
}

int cgroup_disk_of_path(const char *sys_root, const char *path, char *ret, unsigned ret_len)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    unsigned maj = major(st.st_dev), min = minor(st.st_dev);
    if (maj == 0)
        return -ENOENT;
    char *link = xalloc_printf("%s/dev/block/%u:%u", sys_root ? sys_root : "/sys", maj, min);
    char *partition = xalloc_printf("%s/partition", link);
    if (access(partition, F_OK) == 0) {
        char *pdev = xalloc_printf("%s/../dev", link);
        struct buf b;
        buf_init(&b, 64);
        unsigned pmaj, pmin;
        if (fileio_read_all(pdev, 64, &b) >= 0 && sscanf(buf_str(&b), "%u:%u", &pmaj, &pmin) == 2) {
            maj = pmaj;
            min = pmin;
        }
        buf_fini(&b);
        free(pdev);
    }
    free(partition);
    free(link);
    snprintf(ret, ret_len, "%u:%u", maj, min);
    return 0;
}

/* Kills what is left in one stale cgroup directory and removes it; 1 when removed. */
static int reap_one(const char *dir)
{
    char *kill_file = fileio_join(dir, "cgroup.kill");
    bool killed = access(kill_file, W_OK) == 0 && write_str(kill_file, "1\n") == 0;
    free(kill_file);
    char *procs = fileio_join(dir, "cgroup.procs");
    for (int t = 0; t < 20; t++) {
        struct buf b;
        buf_init(&b, 1 << 20);
        bool empty = fileio_read_all(procs, 1 << 20, &b) < 0 || b.len == 0;
        if (!empty && !killed) {
            char *save = NULL;
            for (char *l = strtok_r((char *)b.data, "\n", &save); l;
                 l = strtok_r(NULL, "\n", &save))
                kill((pid_t)strtol(l, NULL, 10), SIGKILL);
        }
        buf_fini(&b);
        if (empty)
            break;
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    free(procs);
    return rmdir(dir) == 0 ? 1 : 0;
}

static int reap_under(const char *base)
{
    DIR *dp = opendir(base);
    if (!dp)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        char *end = NULL;
        if (strncmp(e->d_name, CGROUP_RUN_PREFIX, strlen(CGROUP_RUN_PREFIX)))
            continue;
        long pid = strtol(e->d_name + strlen(CGROUP_RUN_PREFIX), &end, 10);
        if (pid <= 0 || !end || *end != '-' || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue; /* its runner is alive: not stale */
        char *dir = fileio_join(base, e->d_name);
        n += reap_one(dir);
        free(dir);
    }
    closedir(dp);
    return n;
}

int cgroup_reap_stale(const char *root)
{
    if (!root)
        root = "/sys/fs/cgroup";
    char *unified = fileio_join(root, "unified");
    char *blkio = fileio_join(root, "blkio");
    int n = reap_under(root) + reap_under(unified) + reap_under(blkio);
    free(unified);
    free(blkio);
    return n;
}
