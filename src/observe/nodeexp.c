/* SPDX-License-Identifier: Apache-2.0 */
/* node_exporter pages back into /proc/diskstats and /proc/net/dev counters (nodeexp.h). */
#include "observe/nodeexp.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/httpget.h"

/* A sample of metric `name` with the single label device="dev"; NaN when absent. */
static double dev_value(const struct prom_page *p, const char *name, const char *dev)
{
    char key[PROM_NAME_MAX_BYTES + DISKSTATS_NAME_MAX + 16];
    snprintf(key, sizeof(key), "%s{device=\"%s\"}", name, dev);
    const struct prom_sample *s = prom_find(p, key);
    return s ? s->value : NAN;
}

/* One diskstats field from a metric: a count, bytes / 512 (sectors) or seconds * 1000 (ms). */
struct field_map {
    const char *metric;
    enum diskstats_field field;
    double scale;
};

static const struct field_map disk_fields[] = {
    { "node_disk_reads_completed_total", DISKSTATS_RD_IOS, 1 },
    { "node_disk_reads_merged_total", DISKSTATS_RD_MERGES, 1 },
    { "node_disk_read_bytes_total", DISKSTATS_RD_SEC, 1.0 / 512 },
    { "node_disk_read_time_seconds_total", DISKSTATS_RD_TICKS, 1e3 },
    { "node_disk_writes_completed_total", DISKSTATS_WR_IOS, 1 },
    { "node_disk_writes_merged_total", DISKSTATS_WR_MERGES, 1 },
    { "node_disk_written_bytes_total", DISKSTATS_WR_SEC, 1.0 / 512 },
    { "node_disk_write_time_seconds_total", DISKSTATS_WR_TICKS, 1e3 },
    { "node_disk_io_now", DISKSTATS_IN_FLIGHT, 1 },
    { "node_disk_io_time_seconds_total", DISKSTATS_TOT_TICKS, 1e3 },
    { "node_disk_io_time_weighted_seconds_total", DISKSTATS_RQ_TICKS, 1e3 },
    { "node_disk_discards_completed_total", DISKSTATS_DC_IOS, 1 },
    { "node_disk_discards_merged_total", DISKSTATS_DC_MERGES, 1 },
    { "node_disk_discarded_sectors_total", DISKSTATS_DC_SEC, 1 },
    { "node_disk_discard_time_seconds_total", DISKSTATS_DC_TICKS, 1e3 },
    { "node_disk_flush_requests_total", DISKSTATS_FL_IOS, 1 },
    { "node_disk_flush_requests_time_seconds_total", DISKSTATS_FL_TICKS, 1e3 },
};

int nodeexp_disk(const struct prom_page *p, const char *device, struct diskstats_dev *ret)
{
    if (isnan(dev_value(p, "node_disk_reads_completed_total", device)))
        return -ENOENT;
    struct diskstats_dev d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s", device);
    d.nfields = 11;
    for (size_t i = 0; i < sizeof(disk_fields) / sizeof(disk_fields[0]); i++) {
        double v = dev_value(p, disk_fields[i].metric, device);
        if (isnan(v) || v < 0)
            continue;
        d.f[disk_fields[i].field] = (uint64_t)llround(v * disk_fields[i].scale);
        /* /proc/diskstats has 11, 15 (discards) or 17 (flushes) statistics */
        unsigned f = (unsigned)disk_fields[i].field, have = f >= 15 ? 17 : f >= 11 ? 15 : 11;
        if (have > d.nfields)
            d.nfields = have;
    }
    *ret = d;
    return 0;
}

/* Copies the device label value of a node_network_* key into out; false when it has none. */
static bool device_label(const char *key, char *out, size_t len)
{
    const char *l = strstr(key, "device=\"");
    if (!l)
        return false;
    l += 8;
    const char *e = strchr(l, '"');
    if (!e || (size_t)(e - l) >= len)
        return false;
    memcpy(out, l, (size_t)(e - l));
    out[e - l] = '\0';
    return true;
}

int nodeexp_netdev(const struct prom_page *p, struct netdev_iface *ret, size_t max)
{
    static const char *const rx = "node_network_receive_bytes_total";
    size_t n = 0;
    bool any = false;
    for (size_t i = 0; i < p->n && n < max; i++) {
        const char *k = p->s[i].key;
        if (strncmp(k, rx, strlen(rx)) != 0 || k[strlen(rx)] != '{')
            continue;
        any = true;
        struct netdev_iface f;
        memset(&f, 0, sizeof(f));
        if (!device_label(k, f.name, sizeof(f.name)))
            continue;
        const struct {
            const char *metric;
            uint64_t *dst;
        } m[] = {
            { "node_network_receive_bytes_total", &f.rx_bytes },
            { "node_network_receive_packets_total", &f.rx_packets },
            { "node_network_receive_errs_total", &f.rx_errs },
            { "node_network_receive_drop_total", &f.rx_drop },
            { "node_network_transmit_bytes_total", &f.tx_bytes },
            { "node_network_transmit_packets_total", &f.tx_packets },
            { "node_network_transmit_errs_total", &f.tx_errs },
            { "node_network_transmit_drop_total", &f.tx_drop },
        };
        for (size_t j = 0; j < sizeof(m) / sizeof(m[0]); j++) {
            double v = dev_value(p, m[j].metric, f.name);
            *m[j].dst = isnan(v) || v < 0 ? 0 : (uint64_t)llround(v);
        }
        ret[n++] = f;
    }
    return any ? (int)n : -ENOENT;
}

int nodeexp_scrape(const char *url, uint64_t timeout_ns, struct prom_page *ret, char *err)
{
    struct buf body;
    buf_init(&body, HTTPGET_BODY_MAX_BYTES);
    struct httpget_result res;
    memset(&res, 0, sizeof(res));
    int r = httpget(url, timeout_ns, &body, &res);
    if (r < 0) {
        snprintf(err, NODEEXP_ERR_MAX, "%.96s: %.150s", url, res.err[0] ? res.err : strerror(-r));
        goto out;
    }
    if (res.status != 200) {
        snprintf(err, NODEEXP_ERR_MAX, "%.96s: HTTP %ld", url, res.status);
        r = -EPROTO;
        goto out;
    }
    struct diag d;
    memset(&d, 0, sizeof(d));
    r = prom_parse((const char *)body.data, body.len, ret, &d);
    if (r < 0)
        snprintf(err, NODEEXP_ERR_MAX, "%.96s: line %u: %.140s", url, d.line, d.msg);
out:
    buf_fini(&body);
    return r < 0 ? r : 0;
}
