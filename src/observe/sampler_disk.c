/* SPDX-License-Identifier: Apache-2.0 */
/* The device sampler: /proc/diskstats of the KV tier's block device as iostat -x columns, and
 * the phase's device bytes, IOs and latencies (32-bit wrap of the ms fields handled by
 * diskstats_rates). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/devinfo.h"
#include "common/xalloc.h"
#include "observe/sampler.h"

/* The busiest sample interval of the open phase (its peak rates). */
struct disk_peak {
    double read_bytes_per_s, write_bytes_per_s, r_per_s, w_per_s;
};

static void resolve_device(struct observe *o, const struct observe_config *cfg)
{
    if (cfg->device) {
        struct diskstats_dev d;
        snprintf(o->device, sizeof(o->device), "%s", cfg->device);
        if (diskstats_read(o->proc_root, o->device, &d) == 0) {
            o->dev_ok = true;
        } else {
            snprintf(o->dev_reason, sizeof(o->dev_reason), "device %s not found in %s/diskstats",
                     o->device, o->proc_root);
        }
        return;
    }
    if (!cfg->kv_dir) {
        snprintf(o->dev_reason, sizeof(o->dev_reason),
                 "no device named and no KV directory to resolve it from");
        return;
    }
    int r = diskstats_disk_of_path(o->proc_root, o->sys_root, cfg->kv_dir, o->device,
                                   sizeof(o->device));
    if (r < 0) {
        snprintf(o->dev_reason, sizeof(o->dev_reason), "cannot resolve the block device of %s: %s",
                 cfg->kv_dir, strerror(-r));
        return;
    }
    struct diskstats_dev d;
    if (diskstats_read(o->proc_root, o->device, &d) == 0)
        o->dev_ok = true;
    else
        snprintf(o->dev_reason, sizeof(o->dev_reason), "device %s (from %s) not in diskstats",
                 o->device, cfg->kv_dir);
}

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    *ret_state = xcalloc(1, sizeof(struct disk_peak));
    resolve_device(o, cfg);
    if (cfg->device && !o->dev_ok)
        return -ENOENT;
    json_t *x = json_object();
    json_object_set_new(x, "name", o->device[0] ? json_string(o->device) : json_null());
    if (o->dev_ok)
        json_object_set_new(x, "info", devinfo_json(o->sys_root, o->device));
    sampler_source(o, "diskstats", o->dev_ok, o->dev_reason, x);
    if (o->dev_ok &&
        devinfo_nvme_ctrl(o->sys_root, o->device, o->nvme_ctrl, sizeof(o->nvme_ctrl)) < 0)
        o->nvme_ctrl[0] = 0;
    return 0;
}

void sampler_disk_row(struct observe *o, FILE *csv, const char *tcols, const char *name,
                      const struct diskstats_rates *dr, uint64_t in_flight)
{
    sampler_row(
        o, csv,
        "%s%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,"
        "%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%d\n",
        tcols, name, dr->r_per_s, dr->w_per_s, dr->rkb_per_s, dr->wkb_per_s, dr->rrqm_per_s,
        dr->wrqm_per_s, dr->rrqm_pct, dr->wrqm_pct, dr->r_await_ms, dr->w_await_ms, dr->aqu_sz,
        dr->rareq_kb, dr->wareq_kb, dr->util_pct, dr->d_per_s, dr->dkb_per_s, dr->drqm_per_s,
        dr->drqm_pct, dr->d_await_ms, dr->dareq_kb, dr->f_per_s, dr->f_await_ms, dr->read_bytes,
        dr->write_bytes, dr->discard_bytes, in_flight, dr->reset ? 1 : 0);
}

void sampler_disk_json(json_t *dev, const struct diskstats_rates *dr)
{
    json_object_set_new(dev, "read_bytes", sampler_j_u64(dr->read_bytes));
    json_object_set_new(dev, "write_bytes", sampler_j_u64(dr->write_bytes));
    json_object_set_new(dev, "discard_bytes", sampler_j_u64(dr->discard_bytes));
    json_object_set_new(dev, "read_ios", sampler_j_u64(dr->read_ios));
    json_object_set_new(dev, "write_ios", sampler_j_u64(dr->write_ios));
    json_object_set_new(dev, "rkB/s", json_real(dr->rkb_per_s));
    json_object_set_new(dev, "wkB/s", json_real(dr->wkb_per_s));
    json_object_set_new(dev, "r_await", json_real(dr->r_await_ms));
    json_object_set_new(dev, "w_await", json_real(dr->w_await_ms));
    json_object_set_new(dev, "rareq-sz", json_real(dr->rareq_kb));
    json_object_set_new(dev, "wareq-sz", json_real(dr->wareq_kb));
    json_object_set_new(dev, "aqu-sz", json_real(dr->aqu_sz));
    json_object_set_new(dev, "%util", json_real(dr->util_pct));
    json_object_set_new(dev, "reset", json_boolean(dr->reset));
}

static void peak_update(struct disk_peak *p, const struct diskstats_rates *dr)
{
    double rb = dr->rkb_per_s * 1024, wb = dr->wkb_per_s * 1024;
    p->read_bytes_per_s = rb > p->read_bytes_per_s ? rb : p->read_bytes_per_s;
    p->write_bytes_per_s = wb > p->write_bytes_per_s ? wb : p->write_bytes_per_s;
    p->r_per_s = dr->r_per_s > p->r_per_s ? dr->r_per_s : p->r_per_s;
    p->w_per_s = dr->w_per_s > p->w_per_s ? dr->w_per_s : p->w_per_s;
}

static int read_disk(struct observe *o, struct diskstats_dev *ret)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/diskstats", o->proc_root);
    int r = sampler_kread(o, path);
    return r < 0 ? r : diskstats_find(buf_str(&o->rbuf), o->rbuf.len, o->device, ret);
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    struct diskstats_dev disk;
    bool disk_ok = o->dev_ok && read_disk(o, &disk) == 0;
    struct diskstats_rates dr = { 0 };
    t->disk_ok = disk_ok && o->disk_prev_ok && t->itv_s > 0;
    if (t->disk_ok) {
        diskstats_rates(&o->disk_prev, &disk, t->itv_s, &dr);
        sampler_disk_row(o, csv, t->tcols, o->device, &dr, disk.f[DISKSTATS_IN_FLIGHT]);
        if (!dr.reset)
            peak_update(state, &dr);
    }
    t->disk = dr;
    o->disk_prev = disk;
    o->disk_prev_ok = disk_ok;
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    s->disk_ok = o->disk_prev_ok;
    s->disk = o->disk_prev;
    if (!end)
        memset(state, 0, sizeof(struct disk_peak));
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    json_t *dev = json_object();
    struct diskstats_rates dr = { 0 };
    bool dev_ok = b->disk_ok && e->disk_ok && f->dur_s > 0;
    json_object_set_new(dev, "name", o->device[0] ? json_string(o->device) : json_null());
    json_object_set_new(dev, "status", json_string(dev_ok ? "ok" : "unavailable"));
    if (dev_ok) {
        diskstats_rates(&b->disk, &e->disk, f->dur_s, &dr);
        sampler_disk_json(dev, &dr);
        const struct disk_peak *pk = state;
        json_object_set_new(dev, "peak_read_bytes_per_s", json_real(pk->read_bytes_per_s));
        json_object_set_new(dev, "peak_write_bytes_per_s", json_real(pk->write_bytes_per_s));
        json_object_set_new(dev, "peak_r_per_s", json_real(pk->r_per_s));
        json_object_set_new(dev, "peak_w_per_s", json_real(pk->w_per_s));
    } else {
        json_object_set_new(dev, "reason",
                            json_string(o->dev_ok ? "device sample missing" : o->dev_reason));
    }
    json_object_set_new(d, "device", dev);
    f->dev_ok = dev_ok;
    f->dr = dr;
}

static void fini(struct observe *o, void *state)
{
    free(state);
}

const struct sampler_ops sampler_disk_ops = {
    .name = "diskstats",
    .csv_name = "os_iostat.csv",
    .csv_header = SAMPLER_IOSTAT_HEADER,
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .fini = fini,
};
