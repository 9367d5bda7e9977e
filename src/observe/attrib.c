/* SPDX-License-Identifier: Apache-2.0 */
/* fanotify-based attribution (see attrib.h). Every event carries an open descriptor of the
 * file; its path comes from /proc/self/fd and the descriptor is closed at once. Identical
 * events are merged by the kernel, so counts are events, not I/O operations. */
#include "observe/attrib.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

struct afile {
    char *path;
    uint64_t reads, writes, opens, by_server, by_other;
};

struct attrib {
    int fd;
    char *dir; /* realpath of kv_dir */
    const char *kind;
    struct afile *files;
    size_t n_files, cap_files;
    struct attrib_totals t;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

enum attrib_confidence attrib_confidence(const struct attrib_evidence *ev, double *ret_share)
{
    uint64_t dtot = ev->device_read_bytes + ev->device_write_bytes;
    uint64_t stot = min_u64(ev->server_read_bytes, ev->device_read_bytes) +
                    min_u64(ev->server_write_bytes, ev->device_write_bytes);
    if (!ev->device_ok || dtot == 0) {
        *ret_share = NAN;
        return ATTRIB_LOW;
    }
    double share = (double)stot / (double)dtot;
    assert(share >= 0 && share <= 1);
    *ret_share = share;
    if (share >= 0.9 && ev->kv_clean)
        return ATTRIB_HIGH;
    return share >= 0.5 ? ATTRIB_MEDIUM : ATTRIB_LOW;
}

const char *attrib_confidence_name(enum attrib_confidence c)
{
    static const char *const names[] = { "low", "medium", "high" };
    assert((unsigned)c < sizeof(names) / sizeof(names[0]));
    return names[c];
}

int attrib_start(const char *kv_dir, struct attrib **ret, char *reason)
{
    char *dir = realpath(kv_dir, NULL);
    if (!dir) {
        int e = errno;
        snprintf(reason, ATTRIB_REASON_MAX, "%s: %s", kv_dir, strerror(e));
        return -e;
    }
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
                           O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(reason, ATTRIB_REASON_MAX, "fanotify_init refused: %s%s", strerror(e),
                 e == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
        free(dir);
        return -e;
    }
    uint64_t mask = FAN_ACCESS | FAN_MODIFY | FAN_OPEN | FAN_CLOSE_WRITE;
    /* A KV directory that is its own file system (the recommended layout) gets a filesystem
     * mark: every file on it, unlinked ones included. On a shared file system (the root fs),
     * a filesystem mark would deliver every access of every process (a cost paid per event),
     * so the directory itself is marked and its children's events are reported. */
    struct stat sd, sp;
    char *parent = xalloc_printf("%s/..", dir);
    bool own_fs = !strcmp(dir, "/") ||
                  (stat(dir, &sd) == 0 && stat(parent, &sp) == 0 && sd.st_dev != sp.st_dev);
    free(parent);
    const char *kind = own_fs ? "filesystem" : "directory";
    int r = own_fs ? fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, dir)
                   : fanotify_mark(fd, FAN_MARK_ADD, mask | FAN_EVENT_ON_CHILD, AT_FDCWD, dir);
    if (r < 0 && own_fs) {
        kind = "mount";
        r = fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, dir);
    }
    if (r < 0) {
        int e = errno;
        snprintf(reason, ATTRIB_REASON_MAX, "fanotify_mark (%s) on %s refused: %s", kind, dir,
                 strerror(e));
        close(fd);
        free(dir);
        return -e;
    }
    struct attrib *a = xcalloc(1, sizeof(*a));
    a->fd = fd;
    a->dir = dir;
    a->kind = kind;
    reason[0] = 0;
    *ret = a;
    return 0;
}

static bool in_tree(const pid_t *pids, size_t n, pid_t p)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == p)
            return true;
    return false;
}

static struct afile *file_get(struct attrib *a, const char *path)
{
    for (size_t i = 0; i < a->n_files; i++)
        if (!strcmp(a->files[i].path, path))
            return &a->files[i];
    if (a->n_files >= ATTRIB_MAX_FILES)
        return NULL;
    xalloc_grow((void **)&a->files, &a->cap_files, a->n_files + 1, sizeof(*a->files));
    struct afile *f = &a->files[a->n_files++];
    memset(f, 0, sizeof(*f));
    f->path = xstrdup(path);
    return f;
}

int attrib_poll(struct attrib *a, const pid_t *pids, size_t n_pids)
{
    char buf[16384] __attribute__((aligned(8)));
    size_t dl = strlen(a->dir);
    int handled = 0;
    pid_t self = getpid();
    for (;;) {
        ssize_t n = read(a->fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
        while (FAN_EVENT_OK(m, n)) {
            if (m->mask & FAN_Q_OVERFLOW)
                a->t.overflows++;
            if (m->fd >= 0) {
                char lp[64], path[PATH_MAX];
                snprintf(lp, sizeof(lp), "/proc/self/fd/%d", m->fd);
                ssize_t pl = readlink(lp, path, sizeof(path) - 1);
                close(m->fd);
                if (pl > 0 && m->pid != self) {
                    path[pl] = 0;
                    bool server = in_tree(pids, n_pids, m->pid);
                    bool kv = !strncmp(path, a->dir, dl) && (path[dl] == '/' || path[dl] == 0);
                    if (kv) {
                        struct afile *f = file_get(a, path);
                        if (f) {
                            f->reads += (m->mask & FAN_ACCESS) != 0;
                            f->writes += (m->mask & FAN_MODIFY) != 0;
                            f->opens += (m->mask & FAN_OPEN) != 0;
                            f->by_server += server;
                            f->by_other += !server;
                        }
                        *(server ? &a->t.kv_events_server : &a->t.kv_events_other) += 1;
                    } else {
                        *(server ? &a->t.other_events_server : &a->t.other_events) += 1;
                    }
                    handled++;
                }
            }
            m = FAN_EVENT_NEXT(m, n);
        }
    }
    return handled;
}

void attrib_totals(const struct attrib *a, struct attrib_totals *ret)
{
    *ret = a->t;
}

json_t *attrib_files_json(const struct attrib *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_files; i++) {
        const struct afile *f = &a->files[i];
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(f->path));
        json_object_set_new(o, "read_events", json_integer((json_int_t)f->reads));
        json_object_set_new(o, "write_events", json_integer((json_int_t)f->writes));
        json_object_set_new(o, "open_events", json_integer((json_int_t)f->opens));
        json_object_set_new(o, "events_by_server", json_integer((json_int_t)f->by_server));
        json_object_set_new(o, "events_by_other", json_integer((json_int_t)f->by_other));
        json_array_append_new(arr, o);
    }
    return arr;
}

const char *attrib_mark_kind(const struct attrib *a)
{
    return a->kind;
}

void attrib_free(struct attrib *a)
{
    if (!a)
        return;
    close(a->fd);
    for (size_t i = 0; i < a->n_files; i++)
        free(a->files[i].path);
    free(a->files);
    free(a->dir);
    free(a);
}
