/* SPDX-License-Identifier: Apache-2.0 */
/* Remote device and network evidence from a Prometheus node_exporter (plan P8): a node the
 * harness does not run on (a storage server, the far end of NVMe-oF) exposes its
 * /proc/diskstats and /proc/net/dev through node_exporter's diskstats and netdev collectors;
 * this module turns one scraped page back into the same counters the local readers produce, so
 * diskstats_rates gives the same os_iostat columns with the same formulas (docs/observe.md).
 *
 * node_exporter -> /proc/diskstats field (os-io.md §2):
 *   node_disk_reads_completed_total          rd_ios
 *   node_disk_reads_merged_total             rd_merges
 *   node_disk_read_bytes_total / 512         rd_sectors
 *   node_disk_read_time_seconds_total * 1e3  rd_ticks (ms)
 *   node_disk_writes_completed_total, node_disk_writes_merged_total,
 *   node_disk_written_bytes_total / 512, node_disk_write_time_seconds_total * 1e3   (writes)
 *   node_disk_io_now                         in_flight
 *   node_disk_io_time_seconds_total * 1e3    io_ticks
 *   node_disk_io_time_weighted_seconds_total * 1e3   time_in_queue
 *   node_disk_discards_completed_total, node_disk_discards_merged_total,
 *   node_disk_discarded_sectors_total, node_disk_discard_time_seconds_total * 1e3   (discards)
 *   node_disk_flush_requests_total, node_disk_flush_requests_time_seconds_total * 1e3 (flushes)
 * and node_network_{receive,transmit}_{bytes,packets,errs,drop}_total per device label for
 * /proc/net/dev. Millisecond fields are rounded to the nearest millisecond. */
#ifndef KVTIER_OBSERVE_NODEEXP_H
#define KVTIER_OBSERVE_NODEEXP_H

#include <stddef.h>
#include <stdint.h>

#include "common/prom.h"
#include "observe/diskstats.h"
#include "observe/netdev.h"

#define NODEEXP_ERR_MAX 256

/* The counters of block device `device` (label device="...") from a parsed page. 0; -ENOENT
 * when the page has no node_disk_reads_completed_total for it (no such device, or the
 * diskstats collector is off). Fields the exporter does not publish stay 0 and nfields says
 * how many the page covered (11, 15 or 17, as /proc/diskstats). */
int nodeexp_disk(const struct prom_page *p, const char *device, struct diskstats_dev *ret);
/* Every interface of the netdev collector, at most max. The count, or -ENOENT when the page
 * has no node_network_receive_bytes_total. */
int nodeexp_netdev(const struct prom_page *p, struct netdev_iface *ret, size_t max);
/* GETs url (a node_exporter /metrics endpoint) and parses it strictly. 0; a negative errno
 * with err (NODEEXP_ERR_MAX bytes) saying what failed. *ret owned (prom_page_fini). */
int nodeexp_scrape(const char *url, uint64_t timeout_ns, struct prom_page *ret, char *err);

#endif
