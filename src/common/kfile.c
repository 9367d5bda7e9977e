/* SPDX-License-Identifier: Apache-2.0 */
/* Kept-descriptor file reads (see kfile.h). */
#include "common/kfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/xalloc.h"

void kfile_init(struct kfile *k)
{
    memset(k, 0, sizeof(*k));
}

static void drop(struct kfile *k, size_t i)
{
    close(k->e[i].fd);
    free(k->e[i].path);
    k->e[i] = k->e[--k->n];
}

void kfile_fini(struct kfile *k)
{
    while (k->n)
        drop(k, k->n - 1);
    free(k->e);
    memset(k, 0, sizeof(*k));
}

/* procfs and sysfs fill a read as far as whole records fit: a read shorter than the chunk by
 * more than a page is the end of the file, so most files cost one pread. */
#define CHUNK (64u << 10)

static int read_fd(int fd, struct buf *out)
{
    static __thread char tmp[CHUNK];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, tmp, sizeof(tmp), off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == ESRCH ? -ENOENT : -errno;
        }
        if (n == 0)
            return 0;
        int r = buf_append(out, tmp, (size_t)n);
        if (r < 0)
            return r;
        off += n;
        if ((size_t)n + 4096 < sizeof(tmp))
            return 0;
    }
}

int kfile_read(void *ctx, const char *path, struct buf *out)
{
    struct kfile *k = ctx;
    buf_reset(out);
    size_t i;
    for (i = 0; i < k->n; i++)
        if (!strcmp(k->e[i].path, path))
            break;
    if (i == k->n) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOTDIR ? -ENOENT : -errno;
        if (k->n >= KFILE_MAX)
            while (k->n)
                drop(k, k->n - 1);
        xalloc_grow((void **)&k->e, &k->cap, k->n + 1, sizeof(*k->e));
        i = k->n++;
        k->e[i].path = xstrdup(path);
        k->e[i].fd = fd;
    }
    int r = read_fd(k->e[i].fd, out);
    if (r < 0 && r != -EMSGSIZE)
        drop(k, i);
    return r;
}

int kfile_read_once(void *ctx, const char *path, struct buf *out)
{
    (void)ctx;
    buf_reset(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    int r = read_fd(fd, out);
    close(fd);
    return r;
}
