/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition of the engine's metrics (see metrics.h). Histograms use Dynamo's
 * log-spaced bucket boundaries with two significant figures plus 0 (kvbm.md §8). */
#include "engine/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum kind { K_COUNTER, K_GAUGE, K_GAUGE_DOUBLE, K_SECONDS_TOTAL };

struct desc {
    const char *name;
    enum kind kind;
    const char *help;
};

/* Index = enum metrics_id. Names are complete (KVBM counters have no _total). */
static const struct desc descs[METRICS__COUNT] = {
    [METRICS_KVBM_MATCHED_TOKENS] = { "kvbm_matched_tokens", K_COUNTER,
                                      "Tokens found in host and disk beyond the device hit" },
    [METRICS_KVBM_OFFLOAD_D2H] = { "kvbm_offload_blocks_d2h", K_COUNTER,
                                   "Blocks offloaded device to host (G1->G2), at issue" },
    [METRICS_KVBM_OFFLOAD_H2D] = { "kvbm_offload_blocks_h2d", K_COUNTER,
                                   "Blocks offloaded host to disk (G2->G3), at issue" },
    [METRICS_KVBM_OFFLOAD_D2D] = { "kvbm_offload_blocks_d2d", K_COUNTER,
                                   "Blocks offloaded device to disk (G1->G3, disk-only mode)" },
    [METRICS_KVBM_ONBOARD_H2D] = { "kvbm_onboard_blocks_h2d", K_COUNTER,
                                   "Blocks onboarded host to device (G2->G1), at issue" },
    [METRICS_KVBM_ONBOARD_D2D] = { "kvbm_onboard_blocks_d2d", K_COUNTER,
                                   "Blocks onboarded disk to device (G3->G1), at issue" },
    [METRICS_KVBM_HOST_HIT_RATE] = { "kvbm_host_cache_hit_rate", K_GAUGE_DOUBLE,
                                     "Host cache hit rate over the recent request window" },
    [METRICS_KVBM_DISK_HIT_RATE] = { "kvbm_disk_cache_hit_rate", K_GAUGE_DOUBLE,
                                     "Disk cache hit rate over the recent request window" },
    [METRICS_CFG_KVBM_ENABLED] = { "kvtier_engine_kvbm_enabled", K_GAUGE,
                                   "1 when any KVBM tier is configured (else B0)" },
    [METRICS_CFG_KVBM_METRICS_ENABLED] = { "kvtier_engine_kvbm_metrics_enabled", K_GAUGE,
                                           "1 when DYN_KVBM_METRICS enables the kvbm_* families" },
    [METRICS_CFG_G1_CAPACITY] = { "kvtier_engine_g1_capacity_blocks", K_GAUGE,
                                  "Device (G1) KV pool capacity in blocks" },
    [METRICS_CFG_G2_CAPACITY] = { "kvtier_engine_g2_capacity_blocks", K_GAUGE,
                                  "Host (G2) tier capacity in blocks" },
    [METRICS_CFG_G3_CAPACITY] = { "kvtier_engine_g3_capacity_blocks", K_GAUGE,
                                  "Disk (G3) tier capacity in blocks" },
    [METRICS_CFG_BYTES_PER_BLOCK] = { "kvtier_engine_bytes_per_block", K_GAUGE,
                                      "KV bytes per block" },
    [METRICS_CFG_TOKENS_PER_BLOCK] = { "kvtier_engine_tokens_per_block", K_GAUGE,
                                       "Tokens per KV block" },
    [METRICS_CFG_FILTER_ENABLED] = { "kvtier_engine_disk_offload_filter_enabled", K_GAUGE,
                                     "1 when the G2->G3 frequency filter is on" },
    [METRICS_CFG_BYPASS_CPU] = { "kvtier_engine_disk_only_mode", K_GAUGE,
                                 "1 in disk-only (bypass CPU) mode" },
    [METRICS_CFG_O_DIRECT_REQUESTED] = { "kvtier_engine_disk_o_direct_requested", K_GAUGE,
                                         "1 unless DYN_KVBM_DISK_DISABLE_O_DIRECT is set" },
    [METRICS_CFG_O_DIRECT] = { "kvtier_engine_disk_o_direct", K_GAUGE,
                               "1 when the disk cache file is really open with O_DIRECT" },
    [METRICS_CFG_IO_URING] = { "kvtier_engine_disk_io_uring", K_GAUGE,
                               "1 when disk I/O runs through io_uring, 0 pread/pwrite" },
    [METRICS_CFG_MAX_NUM_SEQS] = { "kvtier_engine_max_num_seqs", K_GAUGE,
                                   "Maximum sequences per iteration" },
    [METRICS_CFG_MAX_NUM_TOKENS] = { "kvtier_engine_max_num_tokens", K_GAUGE,
                                     "Token budget per iteration" },
    [METRICS_G1_ACTIVE] = { "kvtier_engine_g1_active_blocks", K_GAUGE,
                            "G1 blocks held by running sequences" },
    [METRICS_G1_OCCUPIED] = { "kvtier_engine_g1_occupied_blocks", K_GAUGE,
                              "G1 blocks in use or cached" },
    [METRICS_G2_OCCUPIED] = { "kvtier_engine_g2_occupied_blocks", K_GAUGE,
                              "G2 blocks holding data" },
    [METRICS_G3_OCCUPIED] = { "kvtier_engine_g3_occupied_blocks", K_GAUGE,
                              "G3 blocks holding data" },
    [METRICS_RUNNING] = { "kvtier_engine_running_requests", K_GAUGE, "Sequences scheduled" },
    [METRICS_WAITING] = { "kvtier_engine_waiting_requests", K_GAUGE,
                          "Requests waiting for admission" },
    [METRICS_ONBOARDING] = { "kvtier_engine_onboarding_requests", K_GAUGE,
                             "Requests parked while blocks are onboarded" },
    [METRICS_G2_WRITTEN_BYTES] = { "kvtier_engine_g2_written_bytes_total", K_COUNTER,
                                   "Bytes written into the host tier" },
    [METRICS_G2_READ_BYTES] = { "kvtier_engine_g2_read_bytes_total", K_COUNTER,
                                "Bytes read from the host tier" },
    [METRICS_G3_WRITTEN_BYTES] = { "kvtier_engine_g3_written_bytes_total", K_COUNTER,
                                   "Bytes written to the disk cache file" },
    [METRICS_G3_READ_BYTES] = { "kvtier_engine_g3_read_bytes_total", K_COUNTER,
                                "Bytes read from the disk cache file" },
    [METRICS_VERIFY_FAILURES] = { "kvtier_engine_verify_failures_total", K_COUNTER,
                                  "Blocks read back with wrong contents (treated as misses)" },
    [METRICS_SKIP_HOST_FULL] = { "kvtier_engine_offload_skipped_host_full_total", K_COUNTER,
                                 "G1->G2 offloads skipped: every host block in use" },
    [METRICS_SKIP_DISK_FULL] = { "kvtier_engine_offload_skipped_disk_full_total", K_COUNTER,
                                 "Offloads to disk skipped: every disk block in use" },
    [METRICS_DISK_WRITE_ERRORS] = { "kvtier_engine_disk_write_errors_total", K_COUNTER,
                                    "Disk writes that failed (block dropped)" },
    [METRICS_DISK_READ_ERRORS] = { "kvtier_engine_disk_read_errors_total", K_COUNTER,
                                   "Disk reads that failed (treated as misses)" },
    [METRICS_FILTER_REJECTED] = { "kvtier_engine_disk_filter_rejected_total", K_COUNTER,
                                  "Host blocks the frequency filter kept off the disk" },
    [METRICS_G1_EVICTIONS] = { "kvtier_engine_g1_evictions_total", K_COUNTER,
                               "Cached G1 blocks evicted" },
    [METRICS_G2_EVICTIONS] = { "kvtier_engine_g2_evictions_total", K_COUNTER,
                               "Cached G2 blocks evicted" },
    [METRICS_G3_EVICTIONS] = { "kvtier_engine_g3_evictions_total", K_COUNTER,
                               "Cached G3 blocks evicted" },
    [METRICS_ONBOARD_WAIT_NS] = { "kvtier_engine_onboard_wait_seconds_sum", K_SECONDS_TOTAL,
                                  "Time requests spent parked for onboarding" },
    [METRICS_ONBOARD_WAITS] = { "kvtier_engine_onboard_wait_seconds_count", K_COUNTER,
                                "Requests that were parked for onboarding" },
    [METRICS_ITERATIONS] = { "kvtier_engine_iterations_total", K_COUNTER,
                             "Scheduler iterations run" },
    [METRICS_STEP_NS] = { "kvtier_engine_modelled_step_seconds_total", K_SECONDS_TOTAL,
                          "Sum of modelled step times" },
    [METRICS_BOOKKEEPING_NS] = { "kvtier_engine_bookkeeping_seconds_total", K_SECONDS_TOTAL,
                                 "Real scheduler CPU time spent on bookkeeping" },
    [METRICS_PREFILL_TOKENS] = { "kvtier_engine_prefill_tokens_total", K_COUNTER,
                                 "Prompt tokens computed" },
    [METRICS_DECODE_TOKENS] = { "kvtier_engine_decode_tokens_total", K_COUNTER,
                                "Tokens generated" },
    [METRICS_DEVICE_HIT_TOKENS] = { "kvtier_engine_device_hit_tokens_total", K_COUNTER,
                                    "Prompt tokens reused from the G1 prefix cache" },
};

static const double b_ttft[] = { 0,   0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47,
                                 1.0, 2.2,    4.7,    10,   22,    48,    100, 220,  480 };
static const double b_itl[] = { 0,     0.001, 0.0019, 0.0036, 0.0067, 0.013, 0.024,
                                0.045, 0.084, 0.16,   0.3,    0.56,   1.1,   2.0 };
static const double b_dur[] = { 0, 1.0, 2.0, 4.0, 8.0, 16, 32, 64, 130, 260, 510 };
static const double b_tok[] = { 0,    10,   22,   47,    100,   220,   470,
                                1000, 2200, 4700, 10000, 22000, 47000, 100000 };

struct hdesc {
    const char *name;
    const double *b;
    size_t nb;
    const char *help;
};

static const struct hdesc hdescs[METRICS_H__COUNT] = {
    [METRICS_H_TTFT] = { "time_to_first_token_seconds", b_ttft, 18, "Time to first token" },
    [METRICS_H_ITL] = { "inter_token_latency_seconds", b_itl, 14, "Inter-token latency" },
    [METRICS_H_DURATION] = { "request_duration_seconds", b_dur, 11, "Request duration" },
    [METRICS_H_ISL] = { "input_sequence_tokens", b_tok, 14, "Input sequence length" },
    [METRICS_H_OSL] = { "output_sequence_tokens", b_tok, 14, "Output sequence length" },
    [METRICS_H_CACHED] = { "cached_tokens", b_tok, 14, "Prompt tokens served from cache" },
};

void metrics_init(struct metrics *m, const char *model)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->model, sizeof(m->model), "%s", model);
}

void metrics_set_double(struct metrics *m, enum metrics_id id, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    metrics_set(m, id, bits);
}

double metrics_get_double(const struct metrics *m, enum metrics_id id)
{
    uint64_t bits = metrics_get(m, id);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

void metrics_observe(struct metrics *m, enum metrics_hist_id id, double v, uint64_t times)
{
    const struct hdesc *d = &hdescs[id];
    struct metrics_hist *h = &m->h[id];
    size_t i = 0;
    while (i < d->nb && v > d->b[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], times, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, times, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed), nw;
    do {
        double s;
        memcpy(&s, &old, sizeof(s));
        s += v * (double)times;
        memcpy(&nw, &s, sizeof(nw));
    } while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
}

void metrics_request_done(struct metrics *m, enum metrics_endpoint ep, bool stream,
                          enum metrics_error err)
{
    atomic_fetch_add_explicit(&m->requests[ep][stream ? 1 : 0][err], 1, memory_order_relaxed);
}

void metrics_set_info(struct metrics *m, const char *labels)
{
    snprintf(m->info, sizeof(m->info), "%s", labels);
}

void metrics_escape_label(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    for (; *in && o + 3 < out_len; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = 0;
}

/* Formats a double the way Prometheus clients do (integers without exponent). */
static void fmt_num(double v, char *out, size_t len)
{
    if (isnan(v))
        snprintf(out, len, "NaN");
    else if (isinf(v))
        snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, len, "%.17g", v);
}

static int render_one(const struct metrics *m, enum metrics_id id, struct buf *out)
{
    const struct desc *d = &descs[id];
    const char *type = d->kind == K_COUNTER || d->kind == K_SECONDS_TOTAL ? "counter" : "gauge";
    char num[48];
    uint64_t raw = metrics_get(m, id);
    if (d->kind == K_GAUGE_DOUBLE)
        fmt_num(metrics_get_double(m, id), num, sizeof(num));
    else if (d->kind == K_SECONDS_TOTAL)
        fmt_num((double)raw / 1e9, num, sizeof(num));
    else
        snprintf(num, sizeof(num), "%llu", (unsigned long long)raw);
    /* _sum/_count pairs belong to a summary family declared once before _sum */
    if (id == METRICS_ONBOARD_WAIT_NS)
        return buf_printf(out,
                          "# HELP kvtier_engine_onboard_wait_seconds %s\n"
                          "# TYPE kvtier_engine_onboard_wait_seconds summary\n%s %s\n",
                          d->help, d->name, num);
    if (id == METRICS_ONBOARD_WAITS)
        return buf_printf(out, "%s %s\n", d->name, num);
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", d->name, d->help, d->name, type,
                      d->name, num);
}

int metrics_render_kvbm(const struct metrics *m, bool kvbm, struct buf *out)
{
    int r = 0;
    for (int id = 0; id < METRICS__COUNT && r == 0; id++) {
        if (id <= METRICS_KVBM_DISK_HIT_RATE && !kvbm)
            continue;
        r = render_one(m, (enum metrics_id)id, out);
    }
    if (r == 0 && m->info[0])
        r = buf_printf(out,
                       "# HELP kvtier_engine_info Effective engine configuration\n"
                       "# TYPE kvtier_engine_info gauge\nkvtier_engine_info{%s} 1\n",
                       m->info);
    return r;
}

static int render_hist(const struct metrics *m, enum metrics_hist_id id, const char *lbl,
                       struct buf *out)
{
    const struct hdesc *d = &hdescs[id];
    const struct metrics_hist *h = &m->h[id];
    int r = buf_printf(out, "# HELP dynamo_frontend_%s %s\n# TYPE dynamo_frontend_%s histogram\n",
                       d->name, d->help, d->name);
    uint64_t cum = 0;
    char num[48];
    for (size_t i = 0; i <= d->nb && r == 0; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < d->nb)
            fmt_num(d->b[i], num, sizeof(num));
        else
            snprintf(num, sizeof(num), "+Inf");
        r = buf_printf(out, "dynamo_frontend_%s_bucket{%s,le=\"%s\"} %llu\n", d->name, lbl, num,
                       (unsigned long long)cum);
    }
    double sum;
    uint64_t bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    memcpy(&sum, &bits, sizeof(sum));
    fmt_num(sum, num, sizeof(num));
    if (r == 0)
        r = buf_printf(out, "dynamo_frontend_%s_sum{%s} %s\ndynamo_frontend_%s_count{%s} %llu\n",
                       d->name, lbl, num, d->name, lbl, (unsigned long long)cum);
    return r;
}

int metrics_render_frontend(const struct metrics *m, struct buf *out)
{
    static const char *const eps[] = { "chat_completions", "completions" };
    static const char *const errs[] = { "", "validation", "not_found", "internal", "cancelled" };
    char model[300], lbl[320];
    metrics_escape_label(m->model, model, sizeof(model));
    snprintf(lbl, sizeof(lbl), "model=\"%s\"", model);
    int r = buf_printf(out, "# HELP dynamo_frontend_requests_total Requests processed\n"
                            "# TYPE dynamo_frontend_requests_total counter\n");
    for (int e = 0; e < METRICS_EP__COUNT; e++)
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < METRICS_ERR__COUNT && r == 0; k++) {
                uint64_t n = atomic_load_explicit(&m->requests[e][s][k], memory_order_relaxed);
                if (!n)
                    continue;
                r = buf_printf(out,
                               "dynamo_frontend_requests_total{%s,endpoint=\"%s\",request_type="
                               "\"%s\",status=\"%s\",error_type=\"%s\"} %llu\n",
                               lbl, eps[e], s ? "stream" : "unary", k ? "error" : "success",
                               errs[k], (unsigned long long)n);
            }
    struct {
        const char *name, *help;
        int64_t v;
    } g[] = {
        { "inflight_requests", "Requests in flight",
          atomic_load_explicit(&m->inflight, memory_order_relaxed) },
        { "queued_requests", "Requests waiting for the engine",
          atomic_load_explicit(&m->queued, memory_order_relaxed) },
        { "disconnected_clients", "Clients that disconnected before the end",
          atomic_load_explicit(&m->disconnected, memory_order_relaxed) },
        { "model_total_kv_blocks", "KV blocks of the device pool",
          (int64_t)m->model_total_kv_blocks },
        { "model_max_num_seqs", "Maximum sequences per iteration", (int64_t)m->model_max_num_seqs },
        { "model_max_num_batched_tokens", "Token budget per iteration",
          (int64_t)m->model_max_num_batched_tokens },
        { "model_context_length", "Maximum sequence length", (int64_t)m->model_context_length },
        { "model_kv_cache_block_size", "Tokens per KV block", (int64_t)m->model_block_size },
        { "model_migration_limit", "Request migration limit", 0 },
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]) && r == 0; i++)
        r = buf_printf(out,
                       "# HELP dynamo_frontend_%s %s\n# TYPE dynamo_frontend_%s gauge\n"
                       "dynamo_frontend_%s{%s} %lld\n",
                       g[i].name, g[i].help, g[i].name, g[i].name, lbl, (long long)g[i].v);
    if (r == 0)
        r = buf_printf(
            out,
            "# HELP dynamo_frontend_output_tokens_total Output tokens generated\n"
            "# TYPE dynamo_frontend_output_tokens_total counter\n"
            "dynamo_frontend_output_tokens_total{%s} %llu\n",
            lbl, (unsigned long long)atomic_load_explicit(&m->output_tokens, memory_order_relaxed));
    for (int h = 0; h < METRICS_H__COUNT && r == 0; h++)
        r = render_hist(m, (enum metrics_hist_id)h, lbl, out);
    return r;
}
