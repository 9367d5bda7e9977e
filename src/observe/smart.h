/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe SMART / Health Information log (LID 0x02): decoding the raw 512-byte page, reading it
 * through the NVMe admin ioctl (root) or from `nvme smart-log -o json` of nvme-cli 1.x (128-bit
 * counters as floats), 2.0-2.3 (strings) and 2.4+ (numbers), and the pre/post delta of a run
 * (data units as bytes, temperature, thermal transitions, media errors, wear). */
#ifndef KVTIER_OBSERVE_SMART_H
#define KVTIER_OBSERVE_SMART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SMART_LOG_BYTES       512
#define SMART_DATA_UNIT_BYTES 512000ULL  /* one data unit = 1000 x 512 B */
#define SMART_JSON_MAX_BYTES  (1u << 20) /* nvme-cli output accepted */
#define SMART_SENSORS         8

struct smart_log {
    uint8_t critical_warning;
    uint16_t temperature_k;                                            /* composite, Kelvin */
    uint8_t avail_spare, spare_thresh, percent_used, endurance_grp_cw; /* % */
    uint64_t data_units_read, data_units_written; /* low 64 bits of the 128-bit counters */
    uint64_t host_read_commands, host_write_commands;
    uint64_t controller_busy_time_min, power_cycles, power_on_hours, unsafe_shutdowns;
    uint64_t media_errors, num_err_log_entries;
    uint32_t warning_temp_time_min, critical_comp_time_min;
    uint16_t temp_sensor_k[SMART_SENSORS]; /* 0 = absent */
    uint32_t thm_temp1_trans_count, thm_temp2_trans_count;
    uint32_t thm_temp1_total_time_s, thm_temp2_total_time_s;
};

/* Decodes a little-endian log page (len >= 512). -EINVAL when shorter. */
int smart_decode(const uint8_t *page, size_t len, struct smart_log *ret);
/* Decodes nvme-cli's smart-log JSON (borrowed): every counter as number, real or decimal
 * string; critical_warning as a number or the verbose object; *ret_variant (may be NULL) gets
 * "float" (1.x), "string" (2.0-2.3) or "number" (2.4+) from the data_units_read encoding.
 * -EINVAL when a required key (data_units_read, data_units_written, temperature) is missing
 * or malformed. */
int smart_from_nvme_cli_json(const json_t *j, struct smart_log *ret, const char **ret_variant);
/* Parses nvme-cli output text (bounded by SMART_JSON_MAX_BYTES) and decodes it. */
int smart_from_nvme_cli_text(const char *text, size_t len, struct smart_log *ret,
                             const char **ret_variant);
/* The log as JSON (owned): raw fields plus data_*_bytes and temperature_c. */
json_t *smart_to_json(const struct smart_log *s);
/* post - pre as JSON (owned): data read/written bytes, host commands, media and error-log
 * deltas, thermal transition counts and times, warning/critical temperature minutes, wear
 * change, temperature pre/post, critical warning bits seen. */
json_t *smart_delta_json(const struct smart_log *pre, const struct smart_log *post);
/* NVMe admin Get Log Page (opcode 0x02, NSID 0xffffffff) on a controller character device
 * ("/dev/nvme0"). 0, -EACCES/-EPERM without root, -ENOENT, -ENOTTY not NVMe, -EIO on an NVMe
 * status. */
int smart_read_ioctl(const char *ctrl_path, uint8_t page[SMART_LOG_BYTES]);
/* Runs `<prog> smart-log <dev> -o json` (argv, no shell) with a timeout and decodes it. 0 or
 * -ENOENT (no such program), -ETIMEDOUT, -EIO (non-zero exit), -EINVAL (bad JSON). */
int smart_read_nvme_cli(const char *prog, const char *dev, uint64_t timeout_ns,
                        struct smart_log *ret, const char **ret_variant);

#endif
