/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/net/dev parser (see netdev.h). */
#include "observe/netdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"

int netdev_parse(const char *text, size_t len, struct netdev_iface *ret, size_t max)
{
    const char *s = text, *end = text + len;
    size_t n = 0;
    char line[512];
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t ll = (size_t)((eol ? eol : end) - s);
        const char *start = s;
        s = eol ? eol + 1 : end;
        if (ll >= sizeof(line))
            return -EINVAL;
        memcpy(line, start, ll);
        line[ll] = 0;
        char *colon = strchr(line, ':');
        if (!colon || strchr(line, '|'))
            continue; /* header lines */
        *colon = 0;
        char *name = line;
        while (*name == ' ')
            name++;
        if (!*name || strlen(name) >= NETDEV_NAME_MAX)
            return -EINVAL;
        unsigned long long v[16];
        if (sscanf(
                colon + 1,
                "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                &v[11], &v[12], &v[13], &v[14], &v[15]) != 16)
            return -EINVAL;
        if (n >= max)
            return -EMSGSIZE;
        struct netdev_iface *f = &ret[n++];
        memset(f, 0, sizeof(*f));
        memcpy(f->name, name, strlen(name) + 1);
        f->rx_bytes = v[0];
        f->rx_packets = v[1];
        f->rx_errs = v[2];
        f->rx_drop = v[3];
        f->tx_bytes = v[8];
        f->tx_packets = v[9];
        f->tx_errs = v[10];
        f->tx_drop = v[11];
    }
    return (int)n;
}

int netdev_read(const char *proc_root, struct netdev_iface *ret, size_t max)
{
    struct buf b;
    buf_init(&b, NETDEV_FILE_MAX);
    char *p = fileio_join(proc_root ? proc_root : "/proc", "net/dev");
    int r = fileio_read_all(p, NETDEV_FILE_MAX, &b);
    if (r >= 0)
        r = netdev_parse(buf_str(&b), b.len, ret, max);
    free(p);
    buf_fini(&b);
    return r;
}
