/* SPDX-License-Identifier: Apache-2.0 */
/* Network interface counters from /proc/net/dev (multi-node plans: KV or model traffic that
 * crosses the network). */
#ifndef KVTIER_OBSERVE_NETDEV_H
#define KVTIER_OBSERVE_NETDEV_H

#include <stddef.h>
#include <stdint.h>

#define NETDEV_MAX_IFACES 256
#define NETDEV_NAME_MAX   32
#define NETDEV_FILE_MAX   (256u << 10)

struct netdev_iface {
    char name[NETDEV_NAME_MAX];
    uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
};

/* Parses /proc/net/dev text (two header lines, then "iface: 16 counters"). Count, -EINVAL for
 * a malformed interface line, -EMSGSIZE past max. */
int netdev_parse(const char *text, size_t len, struct netdev_iface *ret, size_t max);
/* Reads <proc_root>/net/dev. */
int netdev_read(const char *proc_root, struct netdev_iface *ret, size_t max);

#endif
