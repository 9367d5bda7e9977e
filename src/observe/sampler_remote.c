/* SPDX-License-Identifier: Apache-2.0 */
/* The remote sampler (plan P8): the device and network evidence of a node kvtier does not run
 * on, from its Prometheus node_exporter (observe/nodeexp.h), as os_iostat_remote.csv with the
 * columns and formulas of os_iostat.csv and a phase object remote_device shaped like device.
 * It also records the storage tier kind: local_nvme expects the local device; shared_nvmeof and
 * nfs expect the remote one, and say so when it is missing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "observe/nodeexp.h"
#include "observe/sampler.h"

struct remote {
    char *url, *device;
    bool ok; /* the latest scrape gave the device */
    struct diskstats_dev prev, at_begin;
    bool prev_ok, begin_ok;
    struct netdev_iface net_begin[16], net_prev[16];
    int n_net_begin, n_net_prev;
    char err[NODEEXP_ERR_MAX];
};

/* Scrapes once: the device's counters (and the interfaces) or the reason in r->err. */
static int scrape(struct observe *o, struct remote *r, struct diskstats_dev *dev,
                  struct netdev_iface *net, int *n_net)
{
    struct prom_page p;
    int rc = nodeexp_scrape(r->url, o->scrape_timeout_ns, &p, r->err);
    if (rc < 0)
        return rc;
    rc = nodeexp_disk(&p, r->device, dev);
    if (rc < 0)
        snprintf(r->err, sizeof(r->err), "%.96s: no node_disk_* series for device %.64s", r->url,
                 r->device);
    *n_net = nodeexp_netdev(&p, net, 16);
    prom_page_fini(&p);
    return rc;
}

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    const char *kind = cfg->storage_tier ? cfg->storage_tier : "local_nvme";
    json_t *x = json_object();
    json_object_set_new(x, "kind", json_string(kind));
    json_object_set_new(x, "endpoint",
                        cfg->storage_endpoint ? json_string(cfg->storage_endpoint) : json_null());
    bool remote_expected = strcmp(kind, "local_nvme") != 0;
    json_object_set_new(
        x, "expects",
        json_string(remote_expected ? "remote device (node_exporter)" : "local device"));
    if (!cfg->node_exporter_url) {
        json_object_set_new(x, "remote", json_null());
        sampler_source(
            o, "storage_tier", !remote_expected,
            remote_expected ? "the tier is remote and no --node-exporter was given" : NULL, x);
        return SAMPLER_NO_CSV;
    }
    struct remote *r = xcalloc(1, sizeof(*r));
    r->url = xstrdup(cfg->node_exporter_url);
    r->device = xstrdup(cfg->remote_device ? cfg->remote_device : o->device);
    r->prev_ok = scrape(o, r, &r->prev, r->net_prev, &r->n_net_prev) == 0;
    json_object_set_new(x, "remote", json_pack("{s:s, s:s}", "url", r->url, "device", r->device));
    sampler_source(o, "storage_tier", true, NULL, x);
    sampler_source(o, "node_exporter", r->prev_ok, r->err, NULL);
    *ret_state = r;
    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    struct remote *r = state;
    if (!r)
        return;
    struct diskstats_dev cur;
    struct netdev_iface net[16];
    int n_net = 0;
    r->ok = scrape(o, r, &cur, net, &n_net) == 0;
    if (r->ok && r->prev_ok && t->itv_s > 0) {
        struct diskstats_rates dr;
        diskstats_rates(&r->prev, &cur, t->itv_s, &dr);
        sampler_disk_row(o, csv, t->tcols, r->device, &dr, cur.f[DISKSTATS_IN_FLIGHT]);
    }
    if (r->ok) {
        r->prev = cur;
        memcpy(r->net_prev, net, sizeof(net));
        r->n_net_prev = n_net;
    }
    r->prev_ok = r->ok;
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    struct remote *r = state;
    if (!r || end)
        return;
    r->at_begin = r->prev;
    r->begin_ok = r->prev_ok;
    memcpy(r->net_begin, r->net_prev, sizeof(r->net_begin));
    r->n_net_begin = r->n_net_prev;
}

static json_t *net_delta(const struct remote *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->n_net_prev; i++)
        for (int j = 0; j < r->n_net_begin; j++) {
            if (strcmp(r->net_prev[i].name, r->net_begin[j].name))
                continue;
            json_array_append_new(
                a, json_pack("{s:s, s:o, s:o}", "name", r->net_prev[i].name, "rx_bytes",
                             sampler_j_u64(sampler_sat_sub(r->net_prev[i].rx_bytes,
                                                           r->net_begin[j].rx_bytes)),
                             "tx_bytes",
                             sampler_j_u64(sampler_sat_sub(r->net_prev[i].tx_bytes,
                                                           r->net_begin[j].tx_bytes))));
        }
    return a;
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    struct remote *r = state;
    if (!r)
        return;
    json_t *dev = json_object();
    json_object_set_new(dev, "name", json_string(r->device));
    json_object_set_new(dev, "source", json_string(r->url));
    bool ok = r->begin_ok && r->prev_ok && f->dur_s > 0;
    json_object_set_new(dev, "status", json_string(ok ? "ok" : "unavailable"));
    if (ok) {
        struct diskstats_rates dr;
        diskstats_rates(&r->at_begin, &r->prev, f->dur_s, &dr);
        sampler_disk_json(dev, &dr);
        json_object_set_new(dev, "net", net_delta(r));
    } else {
        json_object_set_new(dev, "reason", json_string(r->err[0] ? r->err : "no sample"));
    }
    json_object_set_new(d, "remote_device", dev);
}

static void fini(struct observe *o, void *state)
{
    struct remote *r = state;
    if (!r)
        return;
    free(r->url);
    free(r->device);
    free(r);
}

const struct sampler_ops sampler_remote_ops = {
    .name = "remote",
    .csv_name = "os_iostat_remote.csv",
    .csv_header = SAMPLER_IOSTAT_HEADER,
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .fini = fini,
};
