/* SPDX-License-Identifier: Apache-2.0 */
/* The GPU sampler: NVML (loaded at run time) utilisation, memory, power, clocks, temperature
 * and throttle reasons per GPU; whether any GPU throttled feeds the noise record. */
#include <inttypes.h>
#include <stdio.h>

#include "observe/sampler.h"

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    if (o->no_gpu) {
        sampler_source(o, "gpu", false, "GPU telemetry disabled by the caller (--no-gpu)", NULL);
    } else {
        int r = gpu_open(&o->gpu, o->nvml_path, o->gpu_reason);
        o->gpu_ok = r == 0;
        json_t *x = json_object();
        if (o->gpu_ok)
            json_object_set_new(x, "count", json_integer(o->gpu.count));
        sampler_source(o, "gpu", o->gpu_ok, o->gpu_reason, x);
    }

    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    const char *tcols_nointv = t->tcols_nointv;
    bool throttled = false;
    if (!o->gpu_ok)
        return;
    for (unsigned i = 0; i < o->gpu.count; i++) {
        struct gpu_sample s;
        if (gpu_sample(&o->gpu, i, &s) < 0)
            continue;
        char names[GPU_REASON_MAX];
        gpu_reason_names(s.reasons, names, sizeof(names));
        bool th = s.has_reasons && gpu_reasons_throttled(s.reasons);
        throttled = throttled || th;
        char c[8][32];
        sampler_row(o, csv, "%s%u,\"%s\",%s,%s,%s,%s,%s,%s,%s,%s%" PRIx64 ",%s,%d\n", tcols_nointv,
                    i, s.name, s.has_util ? (snprintf(c[0], 32, "%u", s.util_pct), c[0]) : "",
                    s.has_util ? (snprintf(c[1], 32, "%u", s.mem_util_pct), c[1]) : "",
                    s.has_mem ? (snprintf(c[2], 32, "%" PRIu64, s.mem_used_bytes), c[2]) : "",
                    s.has_mem ? (snprintf(c[3], 32, "%" PRIu64, s.mem_total_bytes), c[3]) : "",
                    s.has_power ? (snprintf(c[4], 32, "%u", s.power_mw), c[4]) : "",
                    s.has_clock ? (snprintf(c[5], 32, "%u", s.sm_clock_mhz), c[5]) : "",
                    s.has_temp ? (snprintf(c[6], 32, "%u", s.temp_c), c[6]) : "",
                    s.has_reasons ? "0x" : "", s.has_reasons ? s.reasons : 0,
                    s.has_reasons ? names : "", th ? 1 : 0);
    }
    t->gpu_throttled = throttled;
}

static void fini(struct observe *o, void *state)
{
    gpu_close(&o->gpu);
}

const struct sampler_ops sampler_gpu_ops = {
    .name = "gpu",
    .csv_name = "gpu.csv",
    .csv_header = "t_unix_ns,t_s,gpu,name,util_pct,mem_util_pct,mem_used_bytes,mem_total_bytes,"
                  "power_mw,sm_clock_mhz,temp_c,reasons_hex,reasons,throttled",
    .setup = setup,
    .sample = sample,
    .fini = fini,
};
