/* SPDX-License-Identifier: Apache-2.0 */
/* The network sampler: /proc/net/dev counters and rates per interface (a remote KV tier or the
 * frontend's traffic shows here). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "observe/sampler.h"

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    struct netdev_iface ifs[4];
    int nn = netdev_read(o->proc_root, ifs, 4);
    sampler_source(o, "net_dev", nn >= 0 || nn == -EMSGSIZE, "no /proc/net/dev", NULL);
    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    double itv = t->itv_s;
    const char *tcols = t->tcols;
    struct netdev_iface *cur = xcalloc(NETDEV_MAX_IFACES, sizeof(*cur));
    char path[512];
    snprintf(path, sizeof(path), "%s/net/dev", o->proc_root);
    int n = sampler_kread(o, path);
    if (n >= 0)
        n = netdev_parse(buf_str(&o->rbuf), o->rbuf.len, cur, NETDEV_MAX_IFACES);
    if (n < 0) {
        free(cur);
        return;
    }
    for (int i = 0; i < n && o->have_last && itv > 0; i++) {
        const struct netdev_iface *p = NULL;
        for (size_t k = 0; k < o->n_net_prev; k++)
            if (!strcmp(o->net_prev[k].name, cur[i].name))
                p = &o->net_prev[k];
        double rx =
            p && cur[i].rx_bytes >= p->rx_bytes ? (double)(cur[i].rx_bytes - p->rx_bytes) / itv : 0;
        double tx =
            p && cur[i].tx_bytes >= p->tx_bytes ? (double)(cur[i].tx_bytes - p->tx_bytes) / itv : 0;
        sampler_row(o, csv,
                    "%s%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f\n",
                    tcols, cur[i].name, cur[i].rx_bytes, cur[i].tx_bytes, cur[i].rx_packets,
                    cur[i].tx_packets, cur[i].rx_errs, cur[i].tx_errs, cur[i].rx_drop,
                    cur[i].tx_drop, rx, tx);
    }
    free(o->net_prev);
    o->net_prev = cur;
    o->n_net_prev = (size_t)n;
}

static void fini(struct observe *o, void *state)
{
    free(o->net_prev);
    o->net_prev = NULL;
}

const struct sampler_ops sampler_net_ops = {
    .name = "net_dev",
    .csv_name = "net_dev.csv",
    .csv_header = "t_unix_ns,t_s,interval_s,iface,rx_bytes,tx_bytes,rx_packets,tx_packets,rx_errs,"
                  "tx_errs,rx_drop,tx_drop,rx_bytes_per_s,tx_bytes_per_s",
    .setup = setup,
    .sample = sample,
    .fini = fini,
};
