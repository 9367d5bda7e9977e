/* SPDX-License-Identifier: Apache-2.0 */
/* GPU telemetry through NVML loaded at run time (dlopen of libnvidia-ml.so.1), so kvtier has
 * no link-time dependency on the NVIDIA driver: utilization, memory used, power, SM clock,
 * temperature and clocks-event (throttle) reasons per GPU. Depends only on libc and libdl, so
 * it also builds alone on a bare GPU machine (tests/gpu/gpu_smoke.c). No allocation. */
#ifndef KVTIER_OBSERVE_GPU_H
#define KVTIER_OBSERVE_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPU_MAX        16
#define GPU_NAME_MAX   96
#define GPU_REASON_MAX 256

/* NVML clocks-event reason bits (nvml.h nvmlClocksEventReason*). */
#define GPU_REASON_IDLE           0x1ULL
#define GPU_REASON_APP_CLOCKS     0x2ULL
#define GPU_REASON_SW_POWER_CAP   0x4ULL
#define GPU_REASON_HW_SLOWDOWN    0x8ULL
#define GPU_REASON_SYNC_BOOST     0x10ULL
#define GPU_REASON_SW_THERMAL     0x20ULL
#define GPU_REASON_HW_THERMAL     0x40ULL
#define GPU_REASON_HW_POWER_BRAKE 0x80ULL
#define GPU_REASON_DISPLAY_CLOCK  0x100ULL

struct gpu_sample {
    unsigned index;
    char name[GPU_NAME_MAX];
    bool has_util, has_mem, has_power, has_clock, has_temp, has_reasons;
    unsigned util_pct, mem_util_pct;
    uint64_t mem_used_bytes, mem_total_bytes;
    unsigned power_mw;
    unsigned sm_clock_mhz;
    unsigned temp_c;
    uint64_t reasons; /* GPU_REASON_* bits */
};

/* Caller storage; fields are private. */
struct gpu {
    void *lib;
    unsigned count;
    void *handles[GPU_MAX];
    int (*init)(void);
    int (*shutdown)(void);
    int (*get_count)(unsigned *);
    int (*get_handle)(unsigned, void **);
    int (*get_name)(void *, char *, unsigned);
    int (*get_util)(void *, void *);
    int (*get_mem)(void *, void *);
    int (*get_power)(void *, unsigned *);
    int (*get_clock)(void *, int, unsigned *);
    int (*get_temp)(void *, int, unsigned *);
    int (*get_reasons)(void *, unsigned long long *);
    const char *(*error_string)(int);
};

/* Loads NVML from lib_path (NULL or "" = "libnvidia-ml.so.1"), initialises it and enumerates GPUs.
 * 0; -ENOENT library not found, -ENOSYS a required symbol is missing, -EIO nvmlInit failed,
 * -ENODEV no GPU. reason (GPU_REASON_MAX bytes) explains a failure. g is left closed on
 * failure. Not thread-safe with itself. */
int gpu_open(struct gpu *g, const char *lib_path, char *reason);
/* Reads one GPU (index < g->count); fields NVML refuses (not supported on the device) are
 * marked absent. 0 or -EIO when the device handle fails entirely. */
int gpu_sample(struct gpu *g, unsigned index, struct gpu_sample *ret);
/* "sw_power_cap|hw_thermal" etc. into buf ("none" when 0). */
void gpu_reason_names(uint64_t reasons, char *buf, size_t len);
/* Whether reasons include a thermal or power throttle (input to THERMAL_THROTTLE/noise). */
bool gpu_reasons_throttled(uint64_t reasons);
/* Shuts NVML down and unloads it; safe on a closed or zeroed gpu. */
void gpu_close(struct gpu *g);

#endif
