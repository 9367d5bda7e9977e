/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduler bookkeeping per iteration with 256 running sequences (Llama-3.1-8B FP8 on the DGX
 * Spark profile, 512-token prompts, 128 output tokens each, KVBM host tier on): the real CPU
 * time the scheduler spends per iteration (admission, batching, block registration,
 * write-through offload with real host-memory writes, token formatting) against the modelled
 * step time. Runs with --speedup 10 so it finishes quickly; the comparison uses the unscaled
 * step. Target: bookkeeping under 5% of the modelled step. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clk.h"
#include "common/xalloc.h"
#include "engine/config.h"
#include "engine/metrics.h"
#include "engine/sched.h"

static const char *env_get(void *ctx, const char *name)
{
    if (ctx && !strcmp(name, "DYN_KVBM_CPU_CACHE_GB"))
        return "2";
    return NULL;
}

static int run(bool host);

int main(void)
{
    return run(false) || run(true);
}

static int run(bool host)
{
    const char *dir = getenv("KVTIER_PROFILES") ? getenv("KVTIER_PROFILES") : "profiles";
    struct model_profile m;
    struct hw_profile h;
    struct diag d = { 0 };
    if (profile_load_model(dir, "llama8b_fp8", &m, &d) < 0 ||
        profile_load_hw(dir, "dgx_spark_gb10", &h, &d) < 0) {
        fprintf(stderr, "bench_engine_sched: %s (set KVTIER_PROFILES)\n", d.msg);
        return 1;
    }
    struct config_kvbm k;
    config_kvbm_from_env(env_get, host ? "on" : NULL, profile_bytes_per_block(&m), &k);
    struct tokenizer *tok = tokenizer_new_approx(m.vocab);
    static struct metrics met;
    metrics_init(&met, "bench");
    const double speedup = 10;
    struct sched_opts o = { .model = &m,
                            .hw = &h,
                            .kvbm = &k,
                            .tok = tok,
                            .metrics = &met,
                            .served_model = "bench",
                            .g1_blocks = profile_g1_blocks(&h, &m),
                            .max_num_seqs = 256,
                            .max_num_tokens = 8192,
                            .speedup = speedup };
    struct sched *s;
    if (sched_new(&o, &s, &d) < 0) {
        fprintf(stderr, "bench_engine_sched: %s\n", d.msg);
        return 1;
    }
    sched_start(s);
    const unsigned n = 256, plen = 512, out = 128;
    struct sreq **rs = xcalloc(n, sizeof(*rs));
    for (unsigned i = 0; i < n; i++) {
        struct sreq *r = sreq_new();
        r->prompt = xmalloc(plen * sizeof(uint32_t));
        for (unsigned t = 0; t < plen; t++)
            r->prompt[t] = (i * 7919 + t * 31) % 100000;
        r->n_prompt = plen;
        r->max_tokens = out;
        r->ignore_eos = true;
        r->stream = true;
        r->arrival_ns = clk_now_ns();
        snprintf(r->id_str, sizeof(r->id_str), "cmpl-%u", i);
        rs[i] = r;
        sched_submit(s, r);
    }
    /* wait until all finished */
    for (;;) {
        unsigned done = 0;
        for (unsigned i = 0; i < n; i++) {
            pthread_mutex_lock(&rs[i]->mu);
            done += rs[i]->done;
            buf_reset(&rs[i]->out);
            pthread_mutex_unlock(&rs[i]->mu);
        }
        if (done == n)
            break;
        clk_sleep_ns(50 * CLK_NS_PER_MS);
    }
    uint64_t it = metrics_get(&met, METRICS_ITERATIONS);
    double bk = (double)metrics_get(&met, METRICS_BOOKKEEPING_NS) / (double)it;
    double step = (double)metrics_get(&met, METRICS_STEP_NS) * speedup / (double)it;
    printf("scheduler: 256 sequences x (512 prompt + 128 output) tokens, llama8b_fp8 on "
           "dgx_spark_gb10, %s\n",
           host ? "B1: host tier 2 GB (real 2 MiB block writes)" : "B0: no KVBM tier");
    printf("  iterations %" PRIu64 ", decode tokens %" PRIu64 ", d2h offloads %" PRIu64
           ", host bytes written %" PRIu64 " (copy thread), skipped host-pool-full %" PRIu64 "\n",
           it, metrics_get(&met, METRICS_DECODE_TOKENS),
           metrics_get(&met, METRICS_KVBM_OFFLOAD_D2H), metrics_get(&met, METRICS_G2_WRITTEN_BYTES),
           metrics_get(&met, METRICS_SKIP_HOST_FULL));
    printf("  bookkeeping per iteration %.3f ms, modelled step %.3f ms -> %.2f%% of the step "
           "(target < 5%%)\n",
           bk / 1e6, step / 1e6, 100 * bk / step);
    sched_free(s);
    for (unsigned i = 0; i < n; i++)
        sreq_unref(rs[i]);
    free(rs);
    tokenizer_free(tok);
    return 0;
}
