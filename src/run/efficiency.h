/* SPDX-License-Identifier: Apache-2.0 */
/* Storage efficiency of a phase (plan P5, issue "The SSD's own evidence" #3): the KV tier's
 * achieved read and write bandwidth and IOPS as a fraction of what `kvtier probe` measured the
 * SSD can do for the same direction and block size. Pure: an OS phase delta (observe's
 * phase_<name>_os_delta.json) and the probe's ceilings in, a JSON object out.
 *
 * Achieved figures come from the KV files' own requests when the eBPF attribution measured
 * them (attribution.ebpf.kv_files), else from the whole device; the average is over the
 * phase, the peak is the busiest sample interval of the device (device.peak_*), which is the
 * fairer comparison for bursty offload and onboard traffic. The ceiling is the probe's entry
 * for the direction (random, else sequential) whose block size is nearest to the phase's
 * average request size (in log scale). */
#ifndef KVTIER_RUN_EFFICIENCY_H
#define KVTIER_RUN_EFFICIENCY_H

#include <jansson.h>

#include "common/storprof.h"

/* {read: {...}, write: {...}, source} (owned); each direction: achieved_bytes_per_s,
 * achieved_iops, request_bytes, peak_bytes_per_s, peak_iops, ceiling {rw, block_size_bytes,
 * bw_bytes_per_s, iops}, bw_fraction, peak_bw_fraction, iops_fraction; a direction with no
 * request in the phase is null. {status: "unavailable", reason} when ceilings is not a
 * non-empty array (no probe) or the delta has no duration. Both borrowed. */
json_t *efficiency_phase(const json_t *os_delta, const json_t *ceilings);

/* The run's writes to the SSD and their share of its rated endurance (summary.json
 * storage.endurance): SMART data_units_written over the run (observe's nvme_smart_delta.json
 * document, borrowed; units of 1000 x 512 B, NVMe Base Specification) as bytes, divided by the
 * lowest rated endurance (bytes written) the storage profile p asserts. p NULL: bytes only, with
 * no_rating_reason. Owned: {status: "ok", data_units_written, bytes_written, unit_bytes,
 * granularity_bytes, rated_endurance_bytes, rated_source, share_of_rated, text} or {status:
 * "unavailable", reason}. */
json_t *efficiency_endurance(const json_t *smart_delta, const struct storprof *p,
                             const char *no_rating_reason);
/* summary.json "storage" of the bundle in dir (owned): the SSD's model (os/nvme_id.json, else
 * fallback_model from sysfs), the matching storage profile under profiles_dir/storage beside
 * the probe document (borrowed; may be NULL) as storprof_compare gives it, and the endurance
 * share of os/nvme_smart_delta.json. A malformed storage profile is recorded, not fatal. */
json_t *efficiency_storage(const char *dir, const char *profiles_dir, const json_t *probe,
                           const char *fallback_model);

#endif
