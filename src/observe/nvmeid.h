/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe identity of the KV tier's SSD, the equivalent of `nvme id-ctrl` and `nvme id-ns` plus the
 * features a storage reviewer asks about: model, serial, firmware, capacity, the namespace's LBA
 * formats and the one in use, volatile write cache (present and enabled), autonomous power state
 * transitions (supported and enabled), thermal thresholds (warning, critical, host-controlled
 * thermal management) and power states. Decoding works on the raw 4096-byte Identify pages
 * (NVMe Base Specification 2.0, Identify Controller CNS 01h and Identify Namespace CNS 00h) and
 * is fuzzed; reading needs the admin ioctl on the controller's character device (root). */
#ifndef KVTIER_OBSERVE_NVMEID_H
#define KVTIER_OBSERVE_NVMEID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NVMEID_PAGE_BYTES 4096
#define NVMEID_LBAF_MAX   64
#define NVMEID_PSD_MAX    32

struct nvmeid_power_state {
    double max_power_w;
    bool non_operational;
    uint32_t entry_latency_us, exit_latency_us;
};

struct nvmeid_ctrl {
    uint16_t vid, ssvid;
    char serial[21], model[41], firmware[9]; /* trailing spaces removed */
    uint32_t version;                        /* VER: major << 16 | minor << 8 | tertiary */
    uint8_t mdts;                            /* max data transfer, 2^n minimum pages; 0 none */
    bool apst_supported;                     /* APSTA bit 0 */
    bool vwc_present;                        /* VWC bit 0 */
    uint16_t wctemp_k, cctemp_k;             /* warning / critical composite temperature */
    bool hctm_supported;                     /* HCTMA bit 0 */
    uint16_t mntmt_k, mxtmt_k;               /* thermal management temperature range */
    uint64_t tnvmcap_bytes;                  /* low 64 bits of the 128-bit total capacity */
    uint32_t namespaces;                     /* NN */
    unsigned n_power_states;                 /* NPSS + 1 */
    struct nvmeid_power_state ps[NVMEID_PSD_MAX];
};

struct nvmeid_lbaf {
    uint16_t metadata_bytes;
    uint8_t lba_shift; /* data size 2^lba_shift bytes */
    uint8_t relative_performance;
};

struct nvmeid_ns {
    uint64_t size_blocks, capacity_blocks, used_blocks;
    unsigned n_lbaf;    /* NLBAF + 1 */
    unsigned lbaf_used; /* FLBAS index */
    struct nvmeid_lbaf lbaf[NVMEID_LBAF_MAX];
};

/* Decodes Identify Controller / Identify Namespace pages (len >= 4096). -EINVAL when shorter
 * or when a count in the page is out of range. */
int nvmeid_decode_ctrl(const uint8_t *page, size_t len, struct nvmeid_ctrl *ret);
int nvmeid_decode_ns(const uint8_t *page, size_t len, struct nvmeid_ns *ret);
/* Identity as JSON (owned); ns may be NULL. Features read with Get Features are passed as -1
 * when unknown (not read or refused): wce_enabled (volatile write cache enabled),
 * apst_enabled, temp_threshold_k (the controller's over-temperature threshold). */
json_t *nvmeid_json(const struct nvmeid_ctrl *c, const struct nvmeid_ns *ns, int wce_enabled,
                    int apst_enabled, int temp_threshold_k);
/* Reads both pages and the three features through the admin ioctl of ctrl_path ("/dev/nvme0")
 * for namespace nsid, and returns the JSON (owned) in *ret. 0; -EACCES/-EPERM without root,
 * -ENOENT no such device, -ENOTTY not NVMe, -EIO an NVMe status. */
int nvmeid_read(const char *ctrl_path, unsigned nsid, json_t **ret);

#endif
