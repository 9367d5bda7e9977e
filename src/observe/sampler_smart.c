/* SPDX-License-Identifier: Apache-2.0 */
/* The SMART sampler: the NVMe SMART / Health log of the KV tier's controller (admin ioctl,
 * else nvme-cli), hwmon temperatures and the PCIe link, read at start and at stop, and their
 * difference (bytes, thermal events). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/devinfo.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "observe/nvmeid.h"
#include "observe/sampler.h"

/* Per phase: the log at each edge (ioctl only: a phase edge must not wait for nvme-cli). */
struct smart_phase {
    bool begin_ok;
    struct smart_log begin;
};

#define NVME_CLI_TIMEOUT (10ULL * CLK_NS_PER_S)

static json_t *smart_snapshot(struct observe *o, struct smart_log *ret, bool *ret_ok)
{
    *ret_ok = false;
    if (o->no_smart)
        return sampler_unavailable("SMART disabled by the caller (--no-smart)");
    if (!o->dev_ok)
        return sampler_unavailable(o->dev_reason);
    if (!o->nvme_ctrl[0]) {
        char r[320];
        snprintf(r, sizeof(r), "device %s is not an NVMe device (no SMART / Health log)",
                 o->device);
        return sampler_unavailable(r);
    }
    char ctrl[512];
    snprintf(ctrl, sizeof(ctrl), "%s/%s", o->dev_root, o->nvme_ctrl);
    uint8_t page[SMART_LOG_BYTES];
    struct smart_log s;
    const char *method = NULL, *variant = NULL;
    char why[600] = "";
    int r = smart_read_ioctl(ctrl, page);
    if (r == 0 && smart_decode(page, sizeof(page), &s) == 0) {
        method = "ioctl";
    } else {
        int off = snprintf(why, sizeof(why), "admin ioctl on %s: %s", ctrl, strerror(-r));
        if (o->nvme_cli && o->nvme_cli[0]) {
            int c = smart_read_nvme_cli(o->nvme_cli, ctrl, NVME_CLI_TIMEOUT, &s, &variant);
            if (c == 0)
                method = "nvme-cli";
            else if (off > 0 && (size_t)off < sizeof(why))
                snprintf(why + off, sizeof(why) - (size_t)off, "; %s smart-log: %s", o->nvme_cli,
                         strerror(-c));
        }
    }
    if (!method)
        return sampler_unavailable(why);
    json_t *j = json_object();
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(j, "status", json_string("ok"));
    json_object_set_new(j, "method", json_string(method));
    if (variant)
        json_object_set_new(j, "nvme_cli_encoding", json_string(variant));
    json_object_set_new(j, "controller", json_string(ctrl));
    json_object_set_new(j, "t_unix_ns", json_integer((json_int_t)sampler_wall_ns(o)));
    json_object_set_new(j, "log", smart_to_json(&s));
    /* hwmon temperatures (millidegree C) */
    char hw[512];
    snprintf(hw, sizeof(hw), "%s/class/nvme/%s", o->sys_root, o->nvme_ctrl);
    json_t *temps = json_object();
    for (int h = 0; h < 8; h++) {
        for (int k = 1; k <= 9; k++) {
            char p[700];
            snprintf(p, sizeof(p), "%s/hwmon%d/temp%d_input", hw, h, k);
            FILE *f = fopen(p, "re");
            if (!f)
                continue;
            long long mc;
            if (fscanf(f, "%lld", &mc) == 1) {
                char key[32];
                snprintf(key, sizeof(key), "temp%d_c", k);
                json_object_set_new(temps, key, json_real((double)mc / 1000.0));
            }
            fclose(f);
        }
    }
    json_object_set_new(j, "hwmon", temps);
    json_t *di = devinfo_json(o->sys_root, o->device);
    json_object_set(j, "pcie_link", json_object_get(di, "pcie_link"));
    json_decref(di);
    *ret = s;
    *ret_ok = true;
    return j;
}

/* The controller's identity (id-ctrl, id-ns of the device's namespace, write cache, APST,
 * thermal thresholds) into os/nvme_id.json, or the reason it could not be read. */
static void write_identity(struct observe *o)
{
    json_t *id = NULL;
    int r = -ENODEV;
    char ctrl[512];
    unsigned nsid = 0;
    if (o->nvme_ctrl[0] && !o->no_smart) {
        snprintf(ctrl, sizeof(ctrl), "%s/%s", o->dev_root, o->nvme_ctrl);
        const char *n = strrchr(o->device, 'n');
        nsid = n && n > o->device ? (unsigned)strtoul(n + 1, NULL, 10) : 1;
        r = nvmeid_read(ctrl, nsid, &id);
    }
    json_t *j = json_object();
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    if (r == 0) {
        json_object_set_new(j, "status", json_string("ok"));
        json_object_set_new(j, "controller", json_string(ctrl));
        json_object_set_new(j, "nsid", json_integer(nsid));
        json_object_set_new(j, "identity", id);
    } else {
        char why[600];
        snprintf(why, sizeof(why), "%s",
                 o->no_smart        ? "SMART and identify disabled by the caller (--no-smart)"
                 : !o->nvme_ctrl[0] ? "not an NVMe device (no Identify data)"
                                    : strerror(-r));
        json_object_set_new(j, "status", json_string("unavailable"));
        json_object_set_new(j, "reason", json_string(why));
    }
    sampler_write_json(o, o->os_dir, "nvme_id.json", j);
    json_decref(j);
}

/* The log now through the ioctl; false when there is none. */
static bool read_now(struct observe *o, struct smart_log *ret)
{
    if (o->no_smart || !o->nvme_ctrl[0])
        return false;
    char ctrl[512];
    uint8_t page[SMART_LOG_BYTES];
    snprintf(ctrl, sizeof(ctrl), "%s/%s", o->dev_root, o->nvme_ctrl);
    return smart_read_ioctl(ctrl, page) == 0 && smart_decode(page, sizeof(page), ret) == 0;
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    struct smart_phase *p = state;
    if (!end)
        p->begin_ok = read_now(o, &p->begin);
}

/* The phase's SMART: temperatures at both edges, thermal-management transitions and time,
 * data written (endurance) and whether the controller throttled (THERMAL_THROTTLE). */
static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    struct smart_phase *p = state;
    struct smart_log end;
    json_t *j;
    if (!p->begin_ok || !read_now(o, &end)) {
        j = sampler_unavailable(o->nvme_ctrl[0] ? "no SMART log by ioctl at the phase edges"
                                                : "not an NVMe device");
    } else {
        j = smart_delta_json(&p->begin, &end);
        json_object_set_new(j, "status", json_string("ok"));
        uint32_t t1 = end.thm_temp1_trans_count - p->begin.thm_temp1_trans_count;
        uint32_t t2 = end.thm_temp2_trans_count - p->begin.thm_temp2_trans_count;
        uint32_t s1 = end.thm_temp1_total_time_s - p->begin.thm_temp1_total_time_s;
        uint32_t s2 = end.thm_temp2_total_time_s - p->begin.thm_temp2_total_time_s;
        bool crit = (end.critical_warning & 0x02) != 0;
        json_object_set_new(j, "thermal_throttled", json_boolean(t1 || t2 || s1 || s2 || crit));
        json_object_set_new(j, "thermal_throttle_s", json_integer((json_int_t)s1 + s2));
    }
    json_object_set_new(d, "smart", j);
}

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    *ret_state = xcalloc(1, sizeof(struct smart_phase));
    write_identity(o);
    bool ok;
    json_t *pre = smart_snapshot(o, &o->smart_pre, &ok);
    o->smart_pre_ok = ok;
    json_t *s = json_object();
    json_object_set_new(s, "method",
                        json_object_get(pre, "method") ? json_incref(json_object_get(pre, "method"))
                                                       : json_null());
    sampler_source(o, "smart", ok, jsonx_str(pre, "reason", NULL), s);
    int r = sampler_write_json(o, o->os_dir, "nvme_smart_pre.json", pre);
    json_decref(pre);
    if (r < 0)
        return r;
    return 0;
}

static void finish(struct observe *o, void *state)
{
    bool ok;
    struct smart_log post;
    json_t *pj = smart_snapshot(o, &post, &ok);
    sampler_write_json(o, o->os_dir, "nvme_smart_post.json", pj);
    json_t *dj;
    if (ok && o->smart_pre_ok) {
        dj = json_object();
        json_object_set_new(dj, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(dj, "status", json_string("ok"));
        json_object_set_new(dj, "delta", smart_delta_json(&o->smart_pre, &post));
    } else {
        dj = sampler_unavailable(ok ? "no SMART reading at start" : jsonx_str(pj, "reason", "?"));
    }
    sampler_write_json(o, o->os_dir, "nvme_smart_delta.json", dj);
    json_decref(dj);
    json_decref(pj);
}

static void fini(struct observe *o, void *state)
{
    free(state);
}

const struct sampler_ops sampler_smart_ops = {
    .name = "smart",
    .setup = setup,
    .snapshot = snapshot,
    .delta = delta,
    .finish = finish,
    .fini = fini,
};
