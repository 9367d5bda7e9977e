/* SPDX-License-Identifier: Apache-2.0 */
/* The SMART sampler: the NVMe SMART / Health log of the KV tier's controller (admin ioctl,
 * else nvme-cli), hwmon temperatures and the PCIe link, read at start and at stop, and their
 * difference (bytes, thermal events). */
#include <stdio.h>
#include <string.h>

#include "common/devinfo.h"
#include "common/jsonx.h"
#include "observe/sampler.h"

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

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
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

const struct sampler_ops sampler_smart_ops = {
    .name = "smart",
    .setup = setup,
    .finish = finish,
};
