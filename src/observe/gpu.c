/* SPDX-License-Identifier: Apache-2.0 */
/* NVML through dlopen (see gpu.h). Only libc and libdl: this file must stay compilable alone
 * (cc -Isrc src/observe/gpu.c tests/gpu/gpu_smoke.c -ldl). The NVML structures used are
 * declared here with NVML's layouts (nvmlUtilization_t, nvmlMemory_t). */
#include "observe/gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct nvml_utilization {
    unsigned gpu, memory;
};

struct nvml_memory {
    unsigned long long total, free, used;
};

#define NVML_SUCCESS         0
#define NVML_CLOCK_SM        1
#define NVML_TEMPERATURE_GPU 0

static void *sym(void *lib, const char *a, const char *b)
{
    void *p = dlsym(lib, a);
    if (!p && b)
        p = dlsym(lib, b);
    return p;
}

int gpu_open(struct gpu *g, const char *lib_path, char *reason)
{
    memset(g, 0, sizeof(*g));
    const char *path = lib_path && *lib_path ? lib_path : "libnvidia-ml.so.1";
    g->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!g->lib) {
        const char *e = dlerror();
        snprintf(reason, GPU_REASON_MAX, "NVML not loadable (%s): %s", path, e ? e : "?");
        return -ENOENT;
    }
    *(void **)&g->init = sym(g->lib, "nvmlInit_v2", "nvmlInit");
    *(void **)&g->shutdown = sym(g->lib, "nvmlShutdown", NULL);
    *(void **)&g->get_count = sym(g->lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    *(void **)&g->get_handle =
        sym(g->lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    *(void **)&g->get_name = sym(g->lib, "nvmlDeviceGetName", NULL);
    *(void **)&g->get_util = sym(g->lib, "nvmlDeviceGetUtilizationRates", NULL);
    *(void **)&g->get_mem = sym(g->lib, "nvmlDeviceGetMemoryInfo", NULL);
    *(void **)&g->get_power = sym(g->lib, "nvmlDeviceGetPowerUsage", NULL);
    *(void **)&g->get_clock = sym(g->lib, "nvmlDeviceGetClockInfo", NULL);
    *(void **)&g->get_temp = sym(g->lib, "nvmlDeviceGetTemperature", NULL);
    *(void **)&g->get_reasons = sym(g->lib, "nvmlDeviceGetCurrentClocksEventReasons",
                                    "nvmlDeviceGetCurrentClocksThrottleReasons");
    *(void **)&g->error_string = sym(g->lib, "nvmlErrorString", NULL);
    if (!g->init || !g->shutdown || !g->get_count || !g->get_handle) {
        snprintf(reason, GPU_REASON_MAX, "%s lacks nvmlInit/nvmlDeviceGetCount/GetHandleByIndex",
                 path);
        dlclose(g->lib);
        memset(g, 0, sizeof(*g));
        return -ENOSYS;
    }
    int r = g->init();
    if (r != NVML_SUCCESS) {
        snprintf(reason, GPU_REASON_MAX, "nvmlInit failed: %s (%d)",
                 g->error_string ? g->error_string(r) : "?", r);
        dlclose(g->lib);
        memset(g, 0, sizeof(*g));
        return -EIO;
    }
    unsigned n = 0;
    r = g->get_count(&n);
    if (r != NVML_SUCCESS || n == 0) {
        snprintf(reason, GPU_REASON_MAX, "NVML reports no GPU (%s)",
                 r != NVML_SUCCESS && g->error_string ? g->error_string(r) : "count 0");
        g->shutdown();
        dlclose(g->lib);
        memset(g, 0, sizeof(*g));
        return -ENODEV;
    }
    if (n > GPU_MAX)
        n = GPU_MAX;
    for (unsigned i = 0; i < n; i++)
        if (g->get_handle(i, &g->handles[i]) != NVML_SUCCESS)
            g->handles[i] = NULL;
    g->count = n;
    reason[0] = 0;
    return 0;
}

int gpu_sample(struct gpu *g, unsigned index, struct gpu_sample *ret)
{
    if (!g->lib || index >= g->count || !g->handles[index])
        return -EIO;
    void *h = g->handles[index];
    struct gpu_sample s = { .index = index };
    if (g->get_name && g->get_name(h, s.name, sizeof(s.name)) != NVML_SUCCESS)
        s.name[0] = 0;
    s.name[sizeof(s.name) - 1] = 0;
    struct nvml_utilization u;
    if (g->get_util && g->get_util(h, &u) == NVML_SUCCESS) {
        s.has_util = true;
        s.util_pct = u.gpu;
        s.mem_util_pct = u.memory;
    }
    struct nvml_memory m;
    if (g->get_mem && g->get_mem(h, &m) == NVML_SUCCESS) {
        s.has_mem = true;
        s.mem_used_bytes = m.used;
        s.mem_total_bytes = m.total;
    }
    if (g->get_power && g->get_power(h, &s.power_mw) == NVML_SUCCESS)
        s.has_power = true;
    if (g->get_clock && g->get_clock(h, NVML_CLOCK_SM, &s.sm_clock_mhz) == NVML_SUCCESS)
        s.has_clock = true;
    if (g->get_temp && g->get_temp(h, NVML_TEMPERATURE_GPU, &s.temp_c) == NVML_SUCCESS)
        s.has_temp = true;
    unsigned long long rs;
    if (g->get_reasons && g->get_reasons(h, &rs) == NVML_SUCCESS) {
        s.has_reasons = true;
        s.reasons = rs;
    }
    *ret = s;
    return 0;
}

void gpu_reason_names(uint64_t reasons, char *buf, size_t len)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } names[] = {
        { GPU_REASON_IDLE, "idle" },
        { GPU_REASON_APP_CLOCKS, "app_clocks" },
        { GPU_REASON_SW_POWER_CAP, "sw_power_cap" },
        { GPU_REASON_HW_SLOWDOWN, "hw_slowdown" },
        { GPU_REASON_SYNC_BOOST, "sync_boost" },
        { GPU_REASON_SW_THERMAL, "sw_thermal" },
        { GPU_REASON_HW_THERMAL, "hw_thermal" },
        { GPU_REASON_HW_POWER_BRAKE, "hw_power_brake" },
        { GPU_REASON_DISPLAY_CLOCK, "display_clock" },
    };
    size_t off = 0;
    if (len == 0)
        return;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(reasons & names[i].bit))
            continue;
        int w = snprintf(buf + off, len - off, "%s%s", off ? "|" : "", names[i].name);
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
    }
    if (off == 0)
        snprintf(buf, len, "%s", reasons ? "other" : "none");
}

bool gpu_reasons_throttled(uint64_t reasons)
{
    return (reasons & (GPU_REASON_SW_POWER_CAP | GPU_REASON_HW_SLOWDOWN | GPU_REASON_SW_THERMAL |
                       GPU_REASON_HW_THERMAL | GPU_REASON_HW_POWER_BRAKE)) != 0;
}

void gpu_close(struct gpu *g)
{
    if (!g || !g->lib)
        return;
    if (g->shutdown)
        g->shutdown();
    dlclose(g->lib);
    memset(g, 0, sizeof(*g));
}
