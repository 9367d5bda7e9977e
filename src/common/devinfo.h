/* SPDX-License-Identifier: Apache-2.0 */
/* Identity of a block device from sysfs: model, firmware, serial, capacity, rotational,
 * transport, the NVMe controller behind a namespace and the negotiated PCIe link (speed and
 * width, current and maximum) of the nearest PCI function above it. */
#ifndef KVTIER_COMMON_DEVINFO_H
#define KVTIER_COMMON_DEVINFO_H

#include <stddef.h>

#include <jansson.h>

/* JSON object (owned) for block device `name` under sys_root (NULL = "/sys"); fields the
 * system does not expose are null. Never fails: an unknown device gives {"name", "present":
 * false}. */
json_t *devinfo_json(const char *sys_root, const char *name);
/* NVMe controller name ("nvme0") of namespace block device `name` into ret. 0 or -ENOENT
 * (not NVMe). */
int devinfo_nvme_ctrl(const char *sys_root, const char *name, char *ret, size_t len);

#endif
