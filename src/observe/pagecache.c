/* SPDX-License-Identifier: Apache-2.0 */
/* KV file discovery, O_DIRECT state and residency (see pagecache.h). */
#include "observe/pagecache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/xalloc.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* same number on x86-64 and arm64 (6.5+) */
#endif

struct cachestat_range_k {
    uint64_t off, len;
};

struct cachestat_k {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

int pagecache_parse_fdinfo(const char *text, size_t len, unsigned *ret_flags, uint64_t *ret_pos,
                           int *ret_mnt_id, uint64_t *ret_ino)
{
    const char *s = text, *end = text + len;
    bool have_flags = false;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((eol ? eol : end) - s);
        char line[128];
        if (n < sizeof(line)) {
            memcpy(line, s, n);
            line[n] = 0;
            unsigned long long v;
            int iv;
            if (sscanf(line, "flags: %llo", &v) == 1 && v <= 0xffffffffULL) {
                *ret_flags = (unsigned)v;
                have_flags = true;
            } else if (sscanf(line, "pos: %llu", &v) == 1 && ret_pos) {
                *ret_pos = v;
            } else if (sscanf(line, "mnt_id: %d", &iv) == 1 && ret_mnt_id) {
                *ret_mnt_id = iv;
            } else if (sscanf(line, "ino: %llu", &v) == 1 && ret_ino) {
                *ret_ino = v;
            }
        }
        s = eol ? eol + 1 : end;
    }
    return have_flags ? 0 : -EINVAL;
}

bool pagecache_flags_direct(unsigned flags)
{
    return (flags & (unsigned)O_DIRECT) != 0;
}

int pagecache_residency_fd(int fd, struct pagecache_file *f)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    f->size_bytes = (uint64_t)st.st_size;
    long pg = sysconf(_SC_PAGESIZE);
    f->total_pages = (f->size_bytes + (uint64_t)pg - 1) / (uint64_t)pg;
    struct cachestat_range_k range = { 0, 0 };
    struct cachestat_k cs = { 0 };
    if (syscall(__NR_cachestat, fd, &range, &cs, 0) == 0) {
        f->cached_pages = cs.nr_cache;
        f->dirty_pages = cs.nr_dirty;
        f->writeback_pages = cs.nr_writeback;
        f->evicted_pages = cs.nr_evicted;
        f->method = "cachestat";
        f->residency_known = true;
        return 0;
    }
    if (f->size_bytes == 0) {
        f->method = "mincore";
        f->residency_known = true;
        return 0;
    }
    if (f->size_bytes > PAGECACHE_MINCORE_MAX_BYTES)
        return -EFBIG;
    void *m = mmap(NULL, f->size_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    unsigned char *vec = xmalloc(f->total_pages);
    int r = 0;
    if (mincore(m, f->size_bytes, vec) < 0) {
        r = -errno;
    } else {
        uint64_t c = 0;
        for (uint64_t i = 0; i < f->total_pages; i++)
            c += vec[i] & 1;
        f->cached_pages = c;
        f->method = "mincore";
        f->residency_known = true;
    }
    free(vec);
    munmap(m, f->size_bytes);
    return r;
}

static bool under_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

static int read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = 0;
    return (int)n;
}

int pagecache_scan(const char *proc_root, const pid_t *pids, size_t n_pids, const char *kv_dir,
                   bool measure, struct pagecache_file *ret, size_t max)
{
    const char *proc = proc_root ? proc_root : "/proc";
    char *real = realpath(kv_dir, NULL);
    const char *dir = real ? real : kv_dir;
    size_t n = 0;
    int listed = 0;
    for (size_t i = 0; i < n_pids; i++) {
        char fddir[512];
        snprintf(fddir, sizeof(fddir), "%s/%d/fd", proc, (int)pids[i]);
        DIR *d = opendir(fddir);
        if (!d)
            continue;
        listed++;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char lp[1024], target[PAGECACHE_PATH_MAX];
            snprintf(lp, sizeof(lp), "%s/%s", fddir, de->d_name);
            ssize_t tl = readlink(lp, target, sizeof(target) - 1);
            if (tl <= 0 || target[0] != '/')
                continue;
            target[tl] = 0;
            bool deleted = false;
            static const char del[] = " (deleted)";
            size_t dl = sizeof(del) - 1;
            if ((size_t)tl > dl && !strcmp(target + tl - dl, del)) {
                target[tl - dl] = 0;
                deleted = true;
            }
            if (!under_dir(target, dir) && !(real && under_dir(target, kv_dir)))
                continue;
            char info[PAGECACHE_FDINFO_MAX];
            char ip[1024];
            snprintf(ip, sizeof(ip), "%s/%d/fdinfo/%s", proc, (int)pids[i], de->d_name);
            int il = read_text(ip, info, sizeof(info));
            unsigned flags = 0;
            uint64_t ino = 0;
            if (il < 0 || pagecache_parse_fdinfo(info, (size_t)il, &flags, NULL, NULL, &ino) < 0)
                continue;
            /* One entry per file: same path (and deleted state) means same file. */
            struct pagecache_file *f = NULL;
            for (size_t k = 0; k < n; k++)
                if (!strcmp(ret[k].path, target) && ret[k].deleted == deleted)
                    f = &ret[k];
            if (f) {
                f->o_direct = f->o_direct || pagecache_flags_direct(flags);
                continue;
            }
            if (n >= max)
                continue;
            f = &ret[n++];
            memset(f, 0, sizeof(*f));
            f->pid = pids[i];
            f->fd = (int)strtol(de->d_name, NULL, 10);
            memcpy(f->path, target, strlen(target) + 1);
            f->deleted = deleted;
            f->flags = flags;
            f->o_direct = pagecache_flags_direct(flags);
            f->method = "none";
            if (measure) {
                int fd = open(lp, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    pagecache_residency_fd(fd, f);
                    close(fd);
                }
            }
        }
        closedir(d);
    }
    free(real);
    if (!listed && n_pids)
        return -ENOENT;
    return (int)n;
}

json_t *pagecache_json(const struct pagecache_file *files, size_t n)
{
    json_t *o = json_object(), *arr = json_array();
    uint64_t cached = 0, total = 0, dirty = 0;
    bool all_direct = n > 0, known = n > 0;
    for (size_t i = 0; i < n; i++) {
        const struct pagecache_file *f = &files[i];
        json_t *j = json_object();
        json_object_set_new(j, "pid", json_integer(f->pid));
        json_object_set_new(j, "fd", json_integer(f->fd));
        json_object_set_new(j, "path", json_string(f->path));
        json_object_set_new(j, "deleted", json_boolean(f->deleted));
        char fl[16];
        snprintf(fl, sizeof(fl), "0%o", f->flags);
        json_object_set_new(j, "fdinfo_flags", json_string(fl));
        json_object_set_new(j, "o_direct", json_boolean(f->o_direct));
        json_object_set_new(j, "size_bytes", json_integer((json_int_t)f->size_bytes));
        json_object_set_new(j, "residency_method", json_string(f->method));
        if (f->residency_known) {
            json_object_set_new(j, "cached_pages", json_integer((json_int_t)f->cached_pages));
            json_object_set_new(j, "total_pages", json_integer((json_int_t)f->total_pages));
            json_object_set_new(j, "dirty_pages", json_integer((json_int_t)f->dirty_pages));
            json_object_set_new(j, "writeback_pages", json_integer((json_int_t)f->writeback_pages));
            cached += f->cached_pages;
            total += f->total_pages;
            dirty += f->dirty_pages;
        } else {
            known = false;
        }
        all_direct = all_direct && f->o_direct;
        json_array_append_new(arr, j);
    }
    json_object_set_new(o, "files", arr);
    json_object_set_new(o, "kv_files_open", json_integer((json_int_t)n));
    json_object_set_new(o, "o_direct_all", n ? json_boolean(all_direct) : json_null());
    json_object_set_new(o, "residency_known", json_boolean(known));
    json_object_set_new(o, "cached_pages", json_integer((json_int_t)cached));
    json_object_set_new(o, "total_pages", json_integer((json_int_t)total));
    json_object_set_new(o, "dirty_pages", json_integer((json_int_t)dirty));
    json_object_set_new(o, "resident_fraction",
                        total ? json_real((double)cached / (double)total) : json_null());
    return o;
}
