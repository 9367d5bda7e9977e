/* SPDX-License-Identifier: Apache-2.0 */
/* How much faster than real time the twin runs (issue 17 target: >= 100x for the 8B profile on
 * one core): Llama-3.1-8B FP8 on the DGX Spark profile, the whatif context-reuse workload
 * (8k-token contexts, 64 users, 16 in flight, pressure to 1.25 x (G1 + G2)), modes B1 and B2p.
 * Prints the virtual time the run covers, the CPU time it took (this thread only) and their
 * ratio. Usage: bench_twin_speed [PROFILES_DIR] (default $KVTIER_PROFILES or ./profiles). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/profile.h"
#include "common/xalloc.h"
#include "twin/twin.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("KVTIER_PROFILES");
    if (!dir)
        dir = "profiles";
    struct model_profile m;
    struct hw_profile h;
    struct diag d = { 0 };
    struct twin_config c;
    if (profile_load_model(dir, "llama8b_fp8", &m, &d) < 0 ||
        profile_load_hw(dir, "dgx_spark_gb10", &h, &d) < 0 ||
        twin_config_init(&c, &m, &h, &d) < 0) {
        fprintf(stderr, "bench_twin_speed: %s: %s\n", d.file, d.msg);
        return 2;
    }
    uint64_t bpb = profile_bytes_per_block(&m);
    c.kvbm = true;
    c.g2_blocks = (uint64_t)(8e9 / (double)bpb);
    struct twin_synth s = { .context = 8192,
                            .query = 128,
                            .output = 128,
                            .users = 64,
                            .concurrency = 16,
                            .max_pressure = 4000,
                            .g1_g2_blocks = c.g1_blocks + c.g2_blocks,
                            .tokens_per_block = 32,
                            .seed = 1 };
    struct twin_plan p;
    twin_plan_synthetic(&s, &p);
    struct twin_out *out = xcalloc(p.n_req, sizeof(*out));
    const char *modes[2] = { "B1", "B2p" };
    double total_virtual = 0, total_cpu = 0;
    for (int k = 0; k < 2; k++) {
        c.g3_blocks = k ? (uint64_t)(256e9 / (double)bpb) : 0;
        c.filter = false;
        struct twin_stats st;
        double t0 = cpu_now();
        if (twin_run(&c, &p, out, &st, &d) < 0) {
            fprintf(stderr, "bench_twin_speed: %s\n", d.msg);
            return 1;
        }
        double cpu = cpu_now() - t0, virt = (double)st.elapsed_ns / 1e9;
        struct twin_metrics mt;
        twin_metrics_predicted(&p, out, "replay", &mt);
        printf("%-4s %zu requests, %" PRIu64 " iterations: %.0f s of virtual time in %.3f s CPU "
               "= %.0fx real time (replay TTFT p50 %.0f ms)\n",
               modes[k], p.n_req, st.iterations, virt, cpu, virt / cpu, mt.ttft_p50_ms);
        total_virtual += virt;
        total_cpu += cpu;
    }
    printf(
        "twin speed, llama8b_fp8 on dgx_spark_gb10, one core: %.0fx real time (target >= 100x)\n",
        total_virtual / total_cpu);
    free(out);
    twin_plan_free(&p);
    return total_virtual / total_cpu >= 100 ? 0 : 1;
}
