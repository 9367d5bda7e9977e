/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers: atomic writes, bounded reads, directory creation. */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

int fileio_write_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = xalloc_printf("%s.tmp.%d", path, (int)getpid());
    int r = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
out:
    free(tmp);
    return r;
}

int fileio_read_all(const char *path, size_t max_bytes, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = 0;
    size_t start = out->len;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (out->len - start + (size_t)n > max_bytes) {
            r = -EMSGSIZE;
            break;
        }
        r = buf_append(out, chunk, (size_t)n);
        if (r < 0)
            break;
    }
    close(fd);
    return r;
}

int fileio_mkdir_p(const char *dir)
{
    char *p = xstrdup(dir);
    int r = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            r = -errno;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        r = -errno;
out:
    free(p);
    return r;
}

char *fileio_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la && a[la - 1] == '/')
        return xalloc_printf("%s%s", a, b);
    return xalloc_printf("%s/%s", a, b);
}

int fileio_trim_partial_line(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    char chunk[4096];
    off_t end = st.st_size;
    while (end > 0) {
        off_t from = end > (off_t)sizeof(chunk) ? end - (off_t)sizeof(chunk) : 0;
        size_t want = (size_t)(end - from);
        ssize_t n = pread(fd, chunk, want, from);
        if (n < 0)
            return -errno;
        if ((size_t)n != want)
            return -EIO;
        for (size_t i = want; i > 0; i--)
            if (chunk[i - 1] == '\n') {
                off_t keep = from + (off_t)i;
                return keep == st.st_size || ftruncate(fd, keep) == 0 ? 0 : -errno;
            }
        end = from;
    }
    return ftruncate(fd, 0) == 0 ? 0 : -errno;
}

int fileio_close_lines(FILE **f)
{
    if (!*f)
        return 0;
    int rc = ferror(*f) ? -EIO : 0;
    int fd = dup(fileno(*f)); /* the file outlives the stream for the trim */
    if (fclose(*f) != 0)
        rc = -errno;
    *f = NULL;
    if (rc < 0 && fd >= 0)
        fileio_trim_partial_line(fd);
    if (fd >= 0)
        close(fd);
    return rc;
}
