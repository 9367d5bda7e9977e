/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v2 io.stat and v1 blkio parsing (see cgio.h). */
#include "observe/cgio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/xalloc.h"

static struct cgio_dev *dev_get(struct cgio_dev *devs, size_t *n, size_t max, unsigned maj,
                                unsigned min)
{
    for (size_t i = 0; i < *n; i++)
        if (devs[i].major == maj && devs[i].minor == min)
            return &devs[i];
    if (*n >= max)
        return NULL;
    struct cgio_dev *d = &devs[(*n)++];
    *d = (struct cgio_dev){ .major = maj, .minor = min };
    return d;
}

static bool parse_u64(const char *s, size_t n, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t nv = v * 10 + (uint64_t)(s[i] - '0');
        if (nv / 10 != v)
            return false;
        v = nv;
    }
    *ret = v;
    return true;
}

static bool parse_devnum(const char *s, size_t n, unsigned *maj, unsigned *min)
{
    const char *colon = memchr(s, ':', n);
    uint64_t a, b;
    if (!colon || !parse_u64(s, (size_t)(colon - s), &a) ||
        !parse_u64(colon + 1, n - (size_t)(colon - s) - 1, &b) || a > 0xfffff || b > 0xfffff)
        return false;
    *maj = (unsigned)a;
    *min = (unsigned)b;
    return true;
}

int cgio_parse_v2(const char *text, size_t len, struct cgio_dev *devs, size_t max)
{
    size_t n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *q = p;
        size_t tok = 0;
        struct cgio_dev *d = NULL;
        while (q < le) {
            while (q < le && *q == ' ')
                q++;
            const char *s = q;
            while (q < le && *q != ' ')
                q++;
            if (q == s)
                break;
            size_t tl = (size_t)(q - s);
            if (tok++ == 0) {
                unsigned maj, min;
                if (!parse_devnum(s, tl, &maj, &min))
                    return -EINVAL;
                d = dev_get(devs, &n, max, maj, min);
                if (!d)
                    return -EMSGSIZE;
                continue;
            }
            const char *eq = memchr(s, '=', tl);
            if (!eq)
                continue;
            size_t kl = (size_t)(eq - s);
            uint64_t v;
            if (!parse_u64(eq + 1, tl - kl - 1, &v))
                continue; /* iocost/latency keys carry decimals: not ours */
            static const char *const keys[] = {
                "rbytes", "wbytes", "rios", "wios", "dbytes", "dios"
            };
            uint64_t *slots[] = {
                &d->rbytes, &d->wbytes, &d->rios, &d->wios, &d->dbytes, &d->dios
            };
            for (size_t k = 0; k < 6; k++)
                if (strlen(keys[k]) == kl && !memcmp(s, keys[k], kl))
                    *slots[k] = v;
        }
        p = eol ? eol + 1 : end;
    }
    return (int)n;
}

static int parse_v1_one(const char *text, size_t len, struct cgio_dev *devs, size_t *n, size_t max,
                        bool bytes)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        char line[256];
        size_t ll = (size_t)(le - p);
        p = eol ? eol + 1 : end;
        if (ll == 0 || ll >= sizeof(line))
            continue;
        memcpy(line, le - ll, ll);
        line[ll] = 0;
        char dev[64], op[32];
        unsigned long long v;
        int k = sscanf(line, "%63s %31s %llu", dev, op, &v);
        if (k == 2 && !strcmp(dev, "Total"))
            continue;
        if (k < 3)
            continue;
        unsigned maj, min;
        if (!parse_devnum(dev, strlen(dev), &maj, &min))
            return -EINVAL;
        struct cgio_dev *d = dev_get(devs, n, max, maj, min);
        if (!d)
            return -EMSGSIZE;
        if (!strcmp(op, "Read"))
            *(bytes ? &d->rbytes : &d->rios) = v;
        else if (!strcmp(op, "Write"))
            *(bytes ? &d->wbytes : &d->wios) = v;
        else if (!strcmp(op, "Discard"))
            *(bytes ? &d->dbytes : &d->dios) = v;
    }
    return 0;
}

int cgio_parse_v1(const char *bytes_text, size_t bytes_len, const char *ios_text, size_t ios_len,
                  struct cgio_dev *devs, size_t max)
{
    size_t n = 0;
    int r = 0;
    if (bytes_text)
        r = parse_v1_one(bytes_text, bytes_len, devs, &n, max, true);
    if (r == 0 && ios_text)
        r = parse_v1_one(ios_text, ios_len, devs, &n, max, false);
    return r < 0 ? r : (int)n;
}

int cgio_read(const char *dir, struct cgio_dev *devs, size_t max, int *ret_version)
{
    struct buf a, b;
    buf_init(&a, CGIO_FILE_MAX);
    buf_init(&b, CGIO_FILE_MAX);
    char *p2 = fileio_join(dir, "io.stat");
    char *pb = fileio_join(dir, "blkio.throttle.io_service_bytes_recursive");
    char *pi = fileio_join(dir, "blkio.throttle.io_serviced_recursive");
    int r = fileio_read_all(p2, CGIO_FILE_MAX, &a);
    if (r >= 0) {
        r = cgio_parse_v2(buf_str(&a), a.len, devs, max);
        if (r >= 0)
            *ret_version = 2;
        goto out;
    }
    r = fileio_read_all(pb, CGIO_FILE_MAX, &a);
    if (r < 0)
        goto out;
    if (fileio_read_all(pi, CGIO_FILE_MAX, &b) < 0)
        buf_reset(&b);
    r = cgio_parse_v1(buf_str(&a), a.len, buf_str(&b), b.len, devs, max);
    if (r >= 0)
        *ret_version = 1;
out:
    free(p2);
    free(pb);
    free(pi);
    buf_fini(&a);
    buf_fini(&b);
    return r;
}

static bool file_exists(const char *dir, const char *leaf)
{
    char *p = fileio_join(dir, leaf);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

int cgio_dir_of_pid(const char *proc_root, const char *sys_root, pid_t pid, char **ret)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root ? proc_root : "/proc", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    const char *sys = sys_root ? sys_root : "/sys";
    char line[CGIO_PATH_MAX];
    char *v2 = NULL, *v1 = NULL;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = 0;
        const char *ctrls = c1 + 1, *cg = c2 + 1;
        if (!strcmp(line, "0") && !*ctrls) {
            const char *bases[] = { "fs/cgroup", "fs/cgroup/unified" };
            for (size_t i = 0; i < 2 && !v2; i++) {
                char *d = xalloc_printf("%s/%s%s", sys, bases[i], cg);
                if (file_exists(d, "io.stat"))
                    v2 = d;
                else
                    free(d);
            }
        } else if (strstr(ctrls, "blkio") && !v1) {
            char *d = xalloc_printf("%s/fs/cgroup/blkio%s", sys, cg);
            if (file_exists(d, "blkio.throttle.io_service_bytes_recursive"))
                v1 = d;
            else
                free(d);
        }
    }
    fclose(f);
    if (v2) {
        free(v1);
        *ret = v2;
        return 0;
    }
    if (v1) {
        *ret = v1;
        return 0;
    }
    return -ENOENT;
}
