/* SPDX-License-Identifier: Apache-2.0 */
/* System noise indicators for the SYSTEM_NOISE and THERMAL_THROTTLE gates: PSI (cpu, io,
 * memory), load average and blocked processes, CPU frequency against its maximum, thermal
 * zones and active cooling devices, dirty and writeback memory. Each reader fills what the
 * machine has and marks the rest absent. */
#ifndef KVTIER_OBSERVE_NOISE_H
#define KVTIER_OBSERVE_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kfile.h"

#define NOISE_FILE_MAX (64u << 10)
#define NOISE_MAX_CPUS 1024 /* cpufreq directories read */

enum noise_psi_res { NOISE_PSI_CPU, NOISE_PSI_IO, NOISE_PSI_MEMORY, NOISE_PSI__COUNT };

struct noise_psi {
    bool present;
    double some_avg10, some_avg60, full_avg10, full_avg60; /* percent */
    uint64_t some_total_us, full_total_us;
    bool has_full;
};

struct noise_sample {
    struct noise_psi psi[NOISE_PSI__COUNT];
    bool load_present;
    double load1, load5, load15;
    bool stat_present;
    uint64_t procs_running, procs_blocked;
    double cpufreq_ratio;     /* mean scaling_cur_freq / cpuinfo_max_freq; NaN if absent */
    double cpufreq_cap_ratio; /* mean scaling_max_freq / cpuinfo_max_freq; NaN if absent */
    double thermal_max_c;     /* hottest thermal zone; NaN if none */
    unsigned cooling_active;  /* cooling devices with cur_state > 0 */
    bool meminfo_present;
    uint64_t dirty_bytes, writeback_bytes, cached_bytes;
};

/* Parses /proc/pressure/<res> text. -EINVAL when the "some" line is missing. */
int noise_parse_psi(const char *text, size_t len, struct noise_psi *ret);
/* Parses /proc/meminfo text for Dirty, Writeback, Cached (kB -> bytes). -EINVAL if none. */
int noise_parse_meminfo(const char *text, size_t len, uint64_t *ret_dirty, uint64_t *ret_wb,
                        uint64_t *ret_cached);
/* Reads every indicator under the roots through reader (NULL = kfile_read_once). Never
 * fails; absent sources are marked. */
void noise_read(const char *proc_root, const char *sys_root, kfile_reader_fn *reader, void *ctx,
                struct noise_sample *ret);
/* PSI stall share over an interval in percent: delta total_us / interval. */
double noise_psi_pct(uint64_t prev_total_us, uint64_t cur_total_us, double itv_s);

#endif
