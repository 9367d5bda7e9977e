/* SPDX-License-Identifier: Apache-2.0 */
/* GPU telemetry smoke driver (not part of the test suites): loads NVML through
 * src/observe/gpu.c exactly as the sampler does and prints what it reads, a few times one second
 * apart. Builds alone on a bare GPU machine:
 *   cc -std=gnu17 -O2 -Isrc -o gpu_smoke tests/gpu/gpu_smoke.c src/observe/gpu.c -ldl
 *   ./gpu_smoke [path/to/libnvidia-ml.so.1] [samples]
 * Exit status: 0 when at least one GPU was read, 1 when NVML is unavailable (the reason is
 * printed, as kvtier records it). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "observe/gpu.h"

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : NULL;
    int samples = argc > 2 ? atoi(argv[2]) : 3;
    struct gpu g;
    char reason[GPU_REASON_MAX];
    if (gpu_open(&g, lib, reason) < 0) {
        printf("unavailable: %s\n", reason);
        return 1;
    }
    printf("NVML loaded, %u GPU(s)\n", g.count);
    for (int k = 0; k < samples; k++) {
        for (unsigned i = 0; i < g.count; i++) {
            struct gpu_sample s;
            if (gpu_sample(&g, i, &s) < 0) {
                printf("gpu %u: handle failed\n", i);
                continue;
            }
            char names[GPU_REASON_MAX];
            gpu_reason_names(s.reasons, names, sizeof(names));
            printf("gpu %u %-24s util %s%u%% mem %s%llu/%llu MiB power %s%.1f W sm %s%u MHz "
                   "temp %s%u C reasons %s0x%llx (%s)%s\n",
                   i, s.name, s.has_util ? "" : "n/a ", s.util_pct, s.has_mem ? "" : "n/a ",
                   (unsigned long long)(s.mem_used_bytes >> 20),
                   (unsigned long long)(s.mem_total_bytes >> 20), s.has_power ? "" : "n/a ",
                   s.power_mw / 1000.0, s.has_clock ? "" : "n/a ", s.sm_clock_mhz,
                   s.has_temp ? "" : "n/a ", s.temp_c, s.has_reasons ? "" : "n/a ",
                   (unsigned long long)s.reasons, names,
                   gpu_reasons_throttled(s.reasons) ? " THROTTLED" : "");
        }
        if (k + 1 < samples)
            sleep(1);
    }
    gpu_close(&g);
    return 0;
}
