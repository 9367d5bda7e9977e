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

/* {read: {...}, write: {...}, source} (owned); each direction: achieved_bytes_per_s,
 * achieved_iops, request_bytes, peak_bytes_per_s, peak_iops, ceiling {rw, block_size_bytes,
 * bw_bytes_per_s, iops}, bw_fraction, peak_bw_fraction, iops_fraction; a direction with no
 * request in the phase is null. {status: "unavailable", reason} when ceilings is not a
 * non-empty array (no probe) or the delta has no duration. Both borrowed. */
json_t *efficiency_phase(const json_t *os_delta, const json_t *ceilings);

#endif
