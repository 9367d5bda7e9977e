/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe Identify Controller / Namespace decoding and reading (nvmeid.h). Offsets from the NVMe
 * Base Specification 2.0, figures "Identify Controller Data Structure" and "Identify Namespace
 * Data Structure"; all fields little-endian. */
#include "observe/nvmeid.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/xalloc.h"

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* An ASCII field padded with spaces, copied printable-only and trimmed. */
static void ascii(const uint8_t *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\0'))
        k--;
    out[k] = '\0';
}

static void power_state(const uint8_t *d, struct nvmeid_power_state *ps)
{
    uint16_t mp = le16(d);
    uint8_t flags = d[3];
    /* MXPS (bit 0) selects 0.0001 W units instead of 0.01 W */
    ps->max_power_w = (double)mp * ((flags & 1) ? 0.0001 : 0.01);
    ps->non_operational = (flags & 2) != 0;
    ps->entry_latency_us = le32(d + 4);
    ps->exit_latency_us = le32(d + 8);
}

int nvmeid_decode_ctrl(const uint8_t *page, size_t len, struct nvmeid_ctrl *ret)
{
    if (len < NVMEID_PAGE_BYTES)
        return -EINVAL;
    struct nvmeid_ctrl c;
    memset(&c, 0, sizeof(c));
    c.vid = le16(page + 0);
    c.ssvid = le16(page + 2);
    ascii(page + 4, 20, c.serial);
    ascii(page + 24, 40, c.model);
    ascii(page + 64, 8, c.firmware);
    c.mdts = page[77];
    c.version = le32(page + 80);
    c.n_power_states = (unsigned)page[263] + 1;
    c.apst_supported = page[265] & 1;
    c.wctemp_k = le16(page + 266);
    c.cctemp_k = le16(page + 268);
    c.tnvmcap_bytes = le64(page + 280);
    c.hctm_supported = le16(page + 322) & 1;
    c.mntmt_k = le16(page + 324);
    c.mxtmt_k = le16(page + 326);
    c.namespaces = le32(page + 516);
    c.vwc_present = page[525] & 1;
    if (c.n_power_states > NVMEID_PSD_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < c.n_power_states; i++)
        power_state(page + 2048 + 32 * i, &c.ps[i]);
    *ret = c;
    return 0;
}

int nvmeid_decode_ns(const uint8_t *page, size_t len, struct nvmeid_ns *ret)
{
    if (len < NVMEID_PAGE_BYTES)
        return -EINVAL;
    struct nvmeid_ns n;
    memset(&n, 0, sizeof(n));
    n.size_blocks = le64(page + 0);
    n.capacity_blocks = le64(page + 8);
    n.used_blocks = le64(page + 16);
    n.n_lbaf = (unsigned)page[25] + 1;
    /* FLBAS: bits 3:0 the low index, bits 6:5 the high bits when more than 16 formats */
    n.lbaf_used = (page[26] & 0x0f) | (n.n_lbaf > 16 ? (unsigned)(page[26] >> 5 & 3) << 4 : 0);
    if (n.n_lbaf > NVMEID_LBAF_MAX || n.lbaf_used >= n.n_lbaf)
        return -EINVAL;
    for (unsigned i = 0; i < n.n_lbaf; i++) {
        const uint8_t *f = page + 128 + 4 * i;
        n.lbaf[i].metadata_bytes = le16(f);
        n.lbaf[i].lba_shift = f[2];
        n.lbaf[i].relative_performance = f[3] & 3;
    }
    *ret = n;
    return 0;
}

static json_t *temp_json(uint16_t k)
{
    return k ? json_real((double)k - 273.15) : json_null();
}

static json_t *tri(int v)
{
    return v < 0 ? json_null() : json_boolean(v);
}

static json_t *ns_json(const struct nvmeid_ns *ns)
{
    json_t *j = json_object();
    const struct nvmeid_lbaf *f = &ns->lbaf[ns->lbaf_used];
    uint64_t lba = f->lba_shift < 64 ? 1ULL << f->lba_shift : 0;
    json_object_set_new(j, "size_bytes", json_integer((json_int_t)(ns->size_blocks * lba)));
    json_object_set_new(j, "lba_bytes", json_integer((json_int_t)lba));
    json_object_set_new(j, "lba_metadata_bytes", json_integer(f->metadata_bytes));
    json_object_set_new(j, "lba_format_index", json_integer(ns->lbaf_used));
    json_t *fs = json_array();
    for (unsigned i = 0; i < ns->n_lbaf; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "lba_bytes",
                            json_integer(ns->lbaf[i].lba_shift < 64
                                             ? (json_int_t)(1ULL << ns->lbaf[i].lba_shift)
                                             : 0));
        json_object_set_new(e, "metadata_bytes", json_integer(ns->lbaf[i].metadata_bytes));
        json_object_set_new(e, "relative_performance",
                            json_integer(ns->lbaf[i].relative_performance));
        json_array_append_new(fs, e);
    }
    json_object_set_new(j, "lba_formats", fs);
    return j;
}

json_t *nvmeid_json(const struct nvmeid_ctrl *c, const struct nvmeid_ns *ns, int wce_enabled,
                    int apst_enabled, int temp_threshold_k)
{
    json_t *j = json_object();
    char v[32];
    json_object_set_new(j, "model", json_string(c->model));
    json_object_set_new(j, "serial", json_string(c->serial));
    json_object_set_new(j, "firmware", json_string(c->firmware));
    snprintf(v, sizeof(v), "0x%04x", c->vid);
    json_object_set_new(j, "pci_vendor_id", json_string(v));
    snprintf(v, sizeof(v), "%u.%u.%u", c->version >> 16, c->version >> 8 & 0xff, c->version & 0xff);
    json_object_set_new(j, "nvme_version", json_string(v));
    json_object_set_new(j, "mdts", json_integer(c->mdts));
    json_object_set_new(j, "total_capacity_bytes", json_integer((json_int_t)c->tnvmcap_bytes));
    json_object_set_new(j, "namespaces", json_integer(c->namespaces));
    json_object_set_new(j, "volatile_write_cache_present", json_boolean(c->vwc_present));
    json_object_set_new(j, "volatile_write_cache_enabled", tri(wce_enabled));
    json_object_set_new(j, "apst_supported", json_boolean(c->apst_supported));
    json_object_set_new(j, "apst_enabled", tri(apst_enabled));
    json_object_set_new(j, "warning_temp_c", temp_json(c->wctemp_k));
    json_object_set_new(j, "critical_temp_c", temp_json(c->cctemp_k));
    json_object_set_new(j, "temp_threshold_c",
                        temp_threshold_k < 0 ? json_null() : temp_json((uint16_t)temp_threshold_k));
    json_object_set_new(j, "host_thermal_management_supported", json_boolean(c->hctm_supported));
    json_object_set_new(j, "thermal_management_min_c", temp_json(c->mntmt_k));
    json_object_set_new(j, "thermal_management_max_c", temp_json(c->mxtmt_k));
    json_t *ps = json_array();
    for (unsigned i = 0; i < c->n_power_states; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "max_power_w", json_real(c->ps[i].max_power_w));
        json_object_set_new(e, "non_operational", json_boolean(c->ps[i].non_operational));
        json_object_set_new(e, "entry_latency_us", json_integer(c->ps[i].entry_latency_us));
        json_object_set_new(e, "exit_latency_us", json_integer(c->ps[i].exit_latency_us));
        json_array_append_new(ps, e);
    }
    json_object_set_new(j, "power_states", ps);
    json_object_set_new(j, "namespace", ns ? ns_json(ns) : json_null());
    return j;
}

/* One admin command; the completion's result dword in *ret_result when asked. */
static int admin(int fd, uint8_t opcode, uint32_t nsid, uint32_t cdw10, void *buf, uint32_t len,
                 uint32_t *ret_result)
{
    struct nvme_admin_cmd c = {
        .opcode = opcode,
        .nsid = nsid,
        .addr = (uint64_t)(uintptr_t)buf,
        .data_len = len,
        .cdw10 = cdw10,
    };
    int r = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c);
    if (r < 0)
        return -errno;
    if (r > 0)
        return -EIO;
    if (ret_result)
        *ret_result = c.result;
    return 0;
}

/* Get Features (opcode 0Ah) of one feature id: its result dword, or -1 when refused. */
static int64_t feature(int fd, uint32_t fid)
{
    uint32_t res = 0;
    return admin(fd, 0x0a, 0, fid, NULL, 0, &res) == 0 ? (int64_t)res : -1;
}

int nvmeid_read(const char *ctrl_path, unsigned nsid, json_t **ret)
{
    int fd = open(ctrl_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *page = xcalloc(2, NVMEID_PAGE_BYTES);
    struct nvmeid_ctrl c;
    struct nvmeid_ns ns;
    bool have_ns = false;
    int r = admin(fd, 0x06, 0, 0x01, page, NVMEID_PAGE_BYTES, NULL);
    if (r == 0)
        r = nvmeid_decode_ctrl(page, NVMEID_PAGE_BYTES, &c);
    if (r < 0)
        goto out;
    if (nsid &&
        admin(fd, 0x06, nsid, 0x00, page + NVMEID_PAGE_BYTES, NVMEID_PAGE_BYTES, NULL) == 0 &&
        nvmeid_decode_ns(page + NVMEID_PAGE_BYTES, NVMEID_PAGE_BYTES, &ns) == 0)
        have_ns = true;
    /* features 06h volatile write cache (bit 0 WCE), 0Ch APST (bit 0 APSTE), 04h temperature
     * threshold of the composite sensor, over-temperature (bits 15:0 Kelvin) */
    int64_t vwc = c.vwc_present ? feature(fd, 0x06) : -1;
    int64_t apst = c.apst_supported ? feature(fd, 0x0c) : -1;
    int64_t tmp = feature(fd, 0x04);
    *ret = nvmeid_json(&c, have_ns ? &ns : NULL, vwc < 0 ? -1 : (int)(vwc & 1),
                       apst < 0 ? -1 : (int)(apst & 1), tmp < 0 ? -1 : (int)(tmp & 0xffff));
out:
    free(page);
    close(fd);
    return r;
}
