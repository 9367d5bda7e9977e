/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/io, /proc/PID/stat and process-tree discovery (see procio.h).
 *
 * /proc/PID/io of a process counts its threads, its exited threads and the children it has
 * already reaped, but not live or unreaped children: the tree is walked and summed by the
 * caller. The tree is rebuilt from every /proc/N/stat's ppid. */
#include "common/procio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

static const char *const key_names[PROCIO_KEY__COUNT] = {
    "rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes",
};

const char *procio_key_name(enum procio_key k)
{
    return (unsigned)k < PROCIO_KEY__COUNT ? key_names[k] : "?";
}

json_t *procio_json(const struct procio *io, unsigned mask)
{
    json_t *o = json_object();
    for (unsigned k = 0; k < PROCIO_KEY__COUNT; k++)
        if (mask & io->have & (1u << k))
            json_object_set_new(o, key_names[k], json_integer((json_int_t)io->v[k]));
    return o;
}

int procio_parse(const char *text, size_t len, struct procio *ret)
{
    struct procio io = { 0 };
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            size_t kl = (size_t)(colon - p);
            for (int k = 0; k < PROCIO_KEY__COUNT; k++) {
                if (strlen(key_names[k]) != kl || memcmp(p, key_names[k], kl))
                    continue;
                const char *q = colon + 1;
                while (q < le && *q == ' ')
                    q++;
                uint64_t v = 0;
                bool digits = false;
                while (q < le && *q >= '0' && *q <= '9') {
                    uint64_t nv = v * 10 + (uint64_t)(*q - '0');
                    if (nv / 10 != v)
                        return -EINVAL; /* overflow */
                    v = nv;
                    digits = true;
                    q++;
                }
                if (digits) {
                    io.v[k] = v;
                    io.have |= 1u << k;
                }
            }
        }
        p = eol ? eol + 1 : end;
    }
    if (!io.have)
        return -EINVAL;
    *ret = io;
    return 0;
}

static int read_small(const char *proc_root, pid_t pid, const char *leaf, char *buf, size_t len,
                      size_t *ret_n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%d/%s", proc_root ? proc_root : "/proc", (int)pid, leaf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    ssize_t n = read(fd, buf, len - 1);
    int r = n < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r == -ESRCH ? -ENOENT : r;
    buf[n] = 0;
    *ret_n = (size_t)n;
    return 0;
}

int procio_read(const char *proc_root, pid_t pid, struct procio *ret)
{
    char buf[PROCIO_FILE_MAX];
    size_t n = 0;
    int r = read_small(proc_root, pid, "io", buf, sizeof(buf), &n);
    if (r < 0)
        return r;
    return procio_parse(buf, n, ret);
}

int procio_parse_stat(const char *text, size_t len, char *ret_comm, size_t comm_len,
                      pid_t *ret_ppid, uint64_t *ret_blkio_ticks)
{
    const char *open_p = memchr(text, '(', len);
    const char *close_p = NULL;
    for (size_t i = len; i-- > 0;)
        if (text[i] == ')') {
            close_p = text + i;
            break;
        }
    if (!open_p || !close_p || close_p < open_p)
        return -EINVAL;
    /* Fields after the comm: 3 state, 4 ppid, ..., 42 delayacct_blkio_ticks. */
    const char *p = close_p + 1, *end = text + len;
    unsigned field = 2;
    long long ppid = -1;
    unsigned long long ticks = 0;
    bool have_ticks = false;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            break;
        field++;
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (field == 4 || field == 42) {
            char tmp[32];
            size_t n = (size_t)(p - s);
            if (n == 0 || n >= sizeof(tmp))
                return -EINVAL;
            memcpy(tmp, s, n);
            tmp[n] = 0;
            char *e;
            if (field == 4) {
                ppid = strtoll(tmp, &e, 10);
                if (*e)
                    return -EINVAL;
            } else {
                ticks = strtoull(tmp, &e, 10);
                if (*e)
                    return -EINVAL;
                have_ticks = true;
            }
        }
    }
    if (ppid < 0)
        return -EINVAL;
    if (ret_comm && comm_len) {
        size_t n = (size_t)(close_p - open_p - 1);
        if (n >= comm_len)
            n = comm_len - 1;
        memcpy(ret_comm, open_p + 1, n);
        ret_comm[n] = 0;
    }
    if (ret_ppid)
        *ret_ppid = (pid_t)ppid;
    if (ret_blkio_ticks)
        *ret_blkio_ticks = have_ticks ? ticks : 0;
    return 0;
}

int procio_parse_starttime(const char *text, size_t len, uint64_t *ret_ticks)
{
    const char *close_p = NULL;
    for (size_t i = len; i-- > 0;)
        if (text[i] == ')') {
            close_p = text + i;
            break;
        }
    if (!close_p)
        return -EINVAL;
    const char *p = close_p + 1, *end = text + len;
    for (unsigned field = 3; p < end; field++) {
        while (p < end && *p == ' ')
            p++;
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (p == s)
            break;
        if (field == 22) {
            uint64_t v = 0;
            for (const char *q = s; q < p; q++) {
                if (*q < '0' || *q > '9' || v > UINT64_MAX / 10)
                    return -EINVAL;
                v = v * 10 + (uint64_t)(*q - '0');
            }
            *ret_ticks = v;
            return 0;
        }
    }
    return -EINVAL;
}

int procio_read_stat(const char *proc_root, pid_t pid, char *ret_comm, size_t comm_len,
                     pid_t *ret_ppid, uint64_t *ret_blkio_ticks)
{
    char buf[PROCIO_FILE_MAX];
    size_t n = 0;
    int r = read_small(proc_root, pid, "stat", buf, sizeof(buf), &n);
    if (r < 0)
        return r;
    return procio_parse_stat(buf, n, ret_comm, comm_len, ret_ppid, ret_blkio_ticks);
}

struct pp {
    pid_t pid, ppid;
};

static int list_procs_with(const char *proc_root, struct pp **ret, size_t *ret_n,
                           kfile_reader_fn *reader, void *ctx)
{
    struct buf b;
    buf_init(&b, PROCIO_FILE_MAX);
    DIR *d = opendir(proc_root ? proc_root : "/proc");
    if (!d)
        return -errno;
    struct pp *a = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char *e;
        long v = strtol(de->d_name, &e, 10);
        if (*e || v <= 0)
            continue;
        pid_t ppid;
        char path[512];
        snprintf(path, sizeof(path), "%s/%ld/stat", proc_root ? proc_root : "/proc", v);
        if (reader(ctx, path, &b) < 0 ||
            procio_parse_stat(buf_str(&b), b.len, NULL, 0, &ppid, NULL) < 0)
            continue;
        xalloc_grow((void **)&a, &cap, n + 1, sizeof(*a));
        a[n].pid = (pid_t)v;
        a[n].ppid = ppid;
        n++;
    }
    closedir(d);
    buf_fini(&b);
    *ret = a;
    *ret_n = n;
    return 0;
}

static int list_procs(const char *proc_root, struct pp **ret, size_t *ret_n)
{
    return list_procs_with(proc_root, ret, ret_n, kfile_read_once, NULL);
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

static bool has_pid(const pid_t *a, size_t n, pid_t p)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == p)
            return true;
    return false;
}

int procio_tree(const char *proc_root, const pid_t *roots, size_t n_roots, pid_t *ret, size_t max)
{
    return procio_tree_with(proc_root, roots, n_roots, ret, max, NULL, NULL);
}

int procio_tree_with(const char *proc_root, const pid_t *roots, size_t n_roots, pid_t *ret,
                     size_t max, kfile_reader_fn *reader, void *ctx)
{
    struct pp *all = NULL;
    size_t n_all = 0, n = 0;
    int r = list_procs_with(proc_root, &all, &n_all, reader ? reader : kfile_read_once, ctx);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n_roots && n < max; i++)
        if (!has_pid(ret, n, roots[i]))
            for (size_t j = 0; j < n_all; j++)
                if (all[j].pid == roots[i]) {
                    ret[n++] = roots[i];
                    break;
                }
    /* Breadth-first over the ppid relation: each pass adds children of members. */
    for (size_t head = 0; head < n && n < max; head++)
        for (size_t j = 0; j < n_all && n < max; j++)
            if (all[j].ppid == ret[head] && !has_pid(ret, n, all[j].pid))
                ret[n++] = all[j].pid;
    free(all);
    qsort(ret, n, sizeof(*ret), cmp_pid);
    return (int)n;
}

int procio_find_by_name(const char *proc_root, const char *name, pid_t *ret, size_t max)
{
    struct pp *all = NULL;
    size_t n_all = 0, n = 0;
    int r = list_procs(proc_root, &all, &n_all);
    if (r < 0)
        return r;
    for (size_t j = 0; j < n_all && n < max; j++) {
        char comm[PROCIO_COMM_MAX];
        if (procio_read_stat(proc_root, all[j].pid, comm, sizeof(comm), NULL, NULL) == 0 &&
            !strcmp(comm, name))
            ret[n++] = all[j].pid;
    }
    free(all);
    return (int)n;
}

/* Inode of a socket listening on port, from /proc/net/tcp or tcp6. */
static int listen_inode(const char *proc_root, const char *leaf, unsigned port, unsigned long *ret)
{
    char *path = fileio_join(proc_root ? proc_root : "/proc", leaf);
    FILE *f = fopen(path, "re");
    free(path);
    if (!f)
        return -errno;
    char line[512];
    int r = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        char local[128];
        unsigned st;
        unsigned long inode;
        if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
            continue;
        char *colon = strrchr(local, ':');
        if (!colon || st != 0x0A)
            continue;
        if ((unsigned)strtoul(colon + 1, NULL, 16) == port) {
            *ret = inode;
            r = 0;
            break;
        }
    }
    fclose(f);
    return r;
}

int procio_find_by_port(const char *proc_root, unsigned port, pid_t *ret)
{
    unsigned long inode;
    if (listen_inode(proc_root, "net/tcp", port, &inode) < 0 &&
        listen_inode(proc_root, "net/tcp6", port, &inode) < 0)
        return -ENOENT;
    char want[64];
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    struct pp *all = NULL;
    size_t n_all = 0;
    int r = list_procs(proc_root, &all, &n_all);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t j = 0; j < n_all && r < 0; j++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%d/fd", proc_root ? proc_root : "/proc", (int)all[j].pid);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            char lp[1024], target[128];
            snprintf(lp, sizeof(lp), "%s/%s", dir, de->d_name);
            ssize_t n = readlink(lp, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            if (!strcmp(target, want)) {
                *ret = all[j].pid;
                r = 0;
                break;
            }
        }
        closedir(d);
    }
    free(all);
    return r;
}
