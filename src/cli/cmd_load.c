/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier load: drive an OpenAI-compatible streaming endpoint from a plan, a Mooncake trace or
 * a synthetic spec, open or closed loop, measuring every request from its intended send time.
 * Writes <out>/records.jsonl, <out>/summary.json and <out>/profile_export.jsonl (docs/load.md).
 * Ctrl-C, SIGTERM and SIGHUP stop sending, cancel what is in flight and still write everything
 * measured. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/jsonx.h"
#include "loadgen/loadgen.h"
#include "loadgen/reqplan.h"

/* The options land in the run's own configuration (lg, through the table's offsets) where it
 * has a field for them; the rest pick the request source or are inverted or parsed here. */
struct load_cfg {
    struct loadgen_config lg;
    const char *plan, *trace;
    uint64_t tokens_per_hash_id;
    double trace_speedup;
    bool prompt_ids;
    uint64_t isl, osl, requests, warmup;
    bool no_exact_output, no_usage;
    const char *extra_body;
    bool quiet, json;
    struct opt_marks set; /* which options were given */
};

/* OPT_ENUM stores an int, OPT_SIZE_BYTES a uint64_t */
static_assert(sizeof(enum loadgen_endpoint) == sizeof(int), "endpoint is stored as an int");
static_assert(sizeof(enum loadgen_arrival) == sizeof(int), "arrival is stored as an int");
static_assert(sizeof(size_t) == sizeof(uint64_t), "recv_buffer_bytes is stored as a uint64_t");

static const struct opt_choice endpoints[] = {
    { "plan", "what the plan header says (chat if it says nothing)" },
    { "chat", "POST /v1/chat/completions with messages" },
    { "completions", "POST /v1/completions with a prompt (text or token ids)" },
    { NULL, NULL },
};

static const struct opt_choice arrivals[] = {
    { "plan", "the plan's offsets or phase schedules (default)" },
    { "constant", "open loop, interval 1/rate" },
    { "poisson", "open loop, exponential gaps (default with --rate)" },
    { "gamma", "open loop, gamma gaps with shape --burstiness" },
    { "closed", "closed loop, --concurrency requests in flight" },
    { NULL, NULL },
};

#define O(f) offsetof(struct load_cfg, f)
static const struct opt_def load_opts[] = {
    { "url", 'u', OPT_STR, O(lg.url), "http://127.0.0.1:8000", OPT_UNBOUNDED, NULL, "Target",
      "base URL of the OpenAI-compatible server (path ignored)" },
    { "model", 'm', OPT_STR, O(lg.model), "kvtier", OPT_UNBOUNDED, NULL, "Target",
      "model name sent in every request" },
    { "endpoint", 0, OPT_ENUM, O(lg.endpoint), "plan", OPT_UNBOUNDED, endpoints, "Target",
      "API endpoint" },
    { "plan", 'p', OPT_STR, O(plan), NULL, OPT_UNBOUNDED, NULL, "Requests",
      "request plan (JSONL, docs/contracts.md) written by kvtier plan" },
    { "trace", 0, OPT_STR, O(trace), NULL, OPT_UNBOUNDED, NULL, "Requests",
      "Mooncake trace (JSONL: timestamp ms, input_length, output_length, hash_ids)" },
    { "tokens-per-hash-id", 0, OPT_U64, O(tokens_per_hash_id), "512", 1, 1 << 20, NULL, "Requests",
      "tokens per trace hash id block (Mooncake: 512)" },
    { "trace-speedup", 0, OPT_DOUBLE, O(trace_speedup), "1", 1e-6, 1e6, NULL, "Requests",
      "divide trace timestamps by this factor" },
    { "prompt-ids", 0, OPT_BOOL, O(prompt_ids), NULL, OPT_UNBOUNDED, NULL, "Requests",
      "send generated prompts as token ids (completions endpoint; token-exact)" },
    { "isl", 0, OPT_U64, O(isl), NULL, 0, 4 << 20, NULL, "Requests",
      "synthetic input length, tokens (words)" },
    { "osl", 0, OPT_U64, O(osl), NULL, 0, 4 << 20, NULL, "Requests",
      "synthetic output length, tokens (requested exactly)" },
    { "requests", 'n', OPT_U64, O(requests), NULL, 0, 1e7, NULL, "Requests",
      "synthetic measured request count" },
    { "warmup", 0, OPT_U64, O(warmup), "0", 0, 1e6, NULL, "Requests",
      "synthetic warm-up requests in a \"warmup\" phase (not in phases.all)" },
    { "rate", 'r', OPT_RATE_PER_S, O(lg.rate_per_s), NULL, 0, 1e7, NULL, "Load",
      "open-loop request rate, requests/s (overrides the plan)" },
    { "arrival", 0, OPT_ENUM, O(lg.arrival), "plan", OPT_UNBOUNDED, arrivals, "Load",
      "arrival process" },
    { "burstiness", 0, OPT_DOUBLE, O(lg.burstiness), "1", 1e-3, 1e3, NULL, "Load",
      "gamma shape: < 1 burstier, 1 = Poisson" },
    { "concurrency", 'c', OPT_U64, O(lg.concurrency), NULL, 0, 1e6, NULL, "Load",
      "closed loop: requests in flight" },
    { "ramp", 0, OPT_DURATION_NS, O(lg.ramp_ns), "0", OPT_UNBOUNDED, NULL, "Load",
      "closed loop: open the --concurrency slots evenly over this long (e.g. 1s); 0 = all at "
      "once" },
    { "max-concurrency", 0, OPT_U64, O(lg.max_concurrency), NULL, 0, 1e6, NULL, "Load",
      "cap on open-loop requests in flight; the wait is measured, not hidden" },
    { "duration", 'd', OPT_DURATION_NS, O(lg.duration_ns), NULL, OPT_UNBOUNDED, NULL, "Load",
      "per-phase limit on intended send times (e.g. 60s)" },
    { "max-requests", 0, OPT_U64, O(lg.max_requests), NULL, 0, 1e7, NULL, "Load",
      "per-phase limit on requests sent" },
    { "max-context", 0, OPT_U64, O(lg.max_context_tokens), NULL, 0, 1 << 24, NULL, "Load",
      "longest request (planned prompt + output tokens) the engine accepts: a longer one is "
      "never sent, recorded with error \"refused\" (kvtier bundle passes the live "
      "dynamo_frontend_model_context_length)" },
    { "seed", 's', OPT_U64, O(lg.seed), "1", OPT_UNBOUNDED, NULL, "Load",
      "seed of the arrival schedule (and synthetic prompts)" },
    { "timeout", 0, OPT_DURATION_NS, O(lg.request_timeout_ns), "600s", OPT_UNBOUNDED, NULL,
      "Timeouts", "whole-request timeout" },
    { "first-token-timeout", 0, OPT_DURATION_NS, O(lg.first_token_timeout_ns), "120s",
      OPT_UNBOUNDED, NULL, "Timeouts", "intended send to first token; 0 = off" },
    { "connect-timeout", 0, OPT_DURATION_NS, O(lg.connect_timeout_ns), "10s", OPT_UNBOUNDED, NULL,
      "Timeouts", "TCP connect timeout" },
    { "drain-timeout", 0, OPT_DURATION_NS, O(lg.drain_timeout_ns), "60s", OPT_UNBOUNDED, NULL,
      "Timeouts", "per phase: cancel what is still in flight this long after the last send" },
    { "warm-connections", 0, OPT_U64, O(lg.warm_connections), "0", 0, 1e6, NULL, "Connections",
      "keep-alive connections opened before t0; 0 = from the concurrency or rate" },
    { "recv-buffer", 0, OPT_SIZE_BYTES, O(lg.recv_buffer_bytes), "0", 0, 10 << 20, NULL,
      "Connections", "libcurl receive buffer per transfer, bytes; 0 = 16KiB" },
    { "busy-poll", 0, OPT_BOOL, O(lg.busy_poll), NULL, OPT_UNBOUNDED, NULL, "Connections",
      "poll the sockets without sleeping: no kernel wake-up latency in the stamps, one core at "
      "100 %" },
    { "no-exact-output", 0, OPT_BOOL, O(no_exact_output), NULL, OPT_UNBOUNDED, NULL, "Body",
      "do not send min_tokens/ignore_eos (output length is then the model's choice)" },
    { "no-usage", 0, OPT_BOOL, O(no_usage), NULL, OPT_UNBOUNDED, NULL, "Body",
      "do not ask for stream_options.include_usage" },
    { "extra-body", 0, OPT_STR, O(extra_body), NULL, OPT_UNBOUNDED, NULL, "Body",
      "JSON object of non-standard fields merged into every body (only if the server takes them)" },
    { "slo-ttft-ms", 0, OPT_DOUBLE, O(lg.slo.ttft_ms), "0", 0, 1e9, NULL, "SLO",
      "goodput: TTFT from intended send must be <= this, ms; 0 = no limit" },
    { "slo-tpot-ms", 0, OPT_DOUBLE, O(lg.slo.tpot_ms), "0", 0, 1e9, NULL, "SLO",
      "goodput: TPOT must be <= this, ms; 0 = no limit" },
    { "slo-e2e-ms", 0, OPT_DOUBLE, O(lg.slo.e2e_ms), "0", 0, 1e9, NULL, "SLO",
      "goodput: end-to-end latency from intended send <= this, ms; 0 = no limit" },
    { "client-lag-limit-ms", 0, OPT_DOUBLE, O(lg.client_lag_limit_ms), "1", 1e-3, 1e9, NULL, "SLO",
      "client lag (sent - intended) p99 above this flags a phase client_lag_exceeded, ms" },
    { "out", 'o', OPT_STR, O(lg.out_dir), NULL, OPT_UNBOUNDED, NULL, "Output",
      "output directory: records.jsonl, summary.json, profile_export.jsonl" },
    { "quiet", 'q', OPT_BOOL, O(quiet), NULL, OPT_UNBOUNDED, NULL, "Output",
      "no progress line and no closing summary on stderr" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the final summary as JSON on stdout" },
    OPT_END_MARKS(struct load_cfg, set),
};
#undef O

struct prog_ctx {
    bool tty;
    bool shown;
};

static void on_progress(void *ctx, const struct loadgen_progress *p)
{
    struct prog_ctx *c = ctx;
    if (!c->tty)
        return;
    char eta[32] = "-";
    if (!isnan(p->eta_s))
        snprintf(eta, sizeof(eta), "%.0fs", p->eta_s);
    char ttft[32] = "-";
    if (!isnan(p->ttft_p95_ms))
        snprintf(ttft, sizeof(ttft), "%.1fms", p->ttft_p95_ms);
    fprintf(stderr,
            "\r\033[K[%s] sent %llu  done %llu  errors %llu  in flight %llu  queued %llu  "
            "%.1f req/s  TTFT p95 %s  ETA %s",
            p->phase, (unsigned long long)p->sent_count, (unsigned long long)p->done_count,
            (unsigned long long)p->error_count, (unsigned long long)p->inflight_count,
            (unsigned long long)p->queued_count, p->rate_per_s, ttft, eta);
    c->shown = true;
}

static void on_phase_end(void *ctx, const char *phase, uint64_t t_ns)
{
    (void)t_ns;
    struct prog_ctx *c = ctx;
    if (c->tty && c->shown) {
        fputc('\n', stderr);
        c->shown = false;
    }
    (void)phase;
}

static void print_phase(const char *name, json_t *ph)
{
    json_t *t = json_object_get(ph, "ttft_ms");
    json_t *ts = json_object_get(ph, "ttft_sent_ms");
    json_t *lag = json_object_get(ph, "client_lag_ms");
    log_info("%s: %lld requests, %lld errors, %.1f req/s, %.1f tok/s; TTFT p50 %.2f p99 %.2f ms "
             "(from send p99 %.2f); client lag p99 %.3f ms",
             name, (long long)jsonx_i64(ph, "requests", 0), (long long)jsonx_i64(ph, "errors", 0),
             jsonx_num(ph, "throughput_rps", NAN), jsonx_num(ph, "output_tps", NAN),
             jsonx_num(t, "p50", NAN), jsonx_num(t, "p99", NAN), jsonx_num(ts, "p99", NAN),
             jsonx_num(lag, "p99", NAN));
    if (json_is_true(json_object_get(ph, "client_lag_exceeded")))
        log_warn("%s: client lag p99 %.3f ms is over %.3f ms: the client, not only the server, "
                 "shaped these figures",
                 name, jsonx_num(lag, "p99", NAN), jsonx_num(ph, "client_lag_limit_ms", NAN));
}

/* Checks the request source and the load model, and settles the arrival process in c->lg.
 * Returns -1 when they are consistent, else the exit code (the error is logged). */
static int check_load_model(struct load_cfg *c)
{
    int sources = (c->plan != NULL) + (c->trace != NULL) +
                  (opt_was_set(load_opts, c, "isl") || opt_was_set(load_opts, c, "requests"));
    if (sources != 1) {
        log_error("give exactly one of --plan, --trace, or --isl/--osl/--requests");
        return CLIOPT_EXIT_USAGE;
    }
    if (!c->lg.out_dir) {
        log_error("--out DIR is required");
        return CLIOPT_EXIT_USAGE;
    }
    bool rate_set = c->lg.rate_per_s > 0;
    if (rate_set && c->lg.concurrency) {
        log_error("--rate (open loop) and --concurrency (closed loop) exclude each other; cap an "
                  "open loop with --max-concurrency");
        return CLIOPT_EXIT_USAGE;
    }
    enum loadgen_arrival arr = c->lg.arrival;
    if (arr == LOADGEN_ARRIVAL_PLAN && rate_set)
        arr = LOADGEN_ARRIVAL_POISSON;
    if (arr == LOADGEN_ARRIVAL_PLAN && c->lg.concurrency)
        arr = LOADGEN_ARRIVAL_CLOSED;
    if (arr != LOADGEN_ARRIVAL_PLAN && arr != LOADGEN_ARRIVAL_CLOSED && !rate_set) {
        log_error("--arrival %s needs --rate", arrivals[arr].name);
        return CLIOPT_EXIT_USAGE;
    }
    if (arr == LOADGEN_ARRIVAL_CLOSED && rate_set) {
        log_error("--arrival closed takes --concurrency, not --rate");
        return CLIOPT_EXIT_USAGE;
    }
    c->lg.arrival = arr;
    return -1;
}

/* Parses --extra-body into *ret (owned; NULL when not given). Returns -1, or the exit code. */
static int parse_extra_body(const struct load_cfg *c, json_t **ret)
{
    *ret = NULL;
    if (!c->extra_body)
        return -1;
    json_error_t je;
    json_t *extra = json_loads(c->extra_body, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(extra)) {
        log_error("--extra-body: expected a JSON object (%s)", extra ? "not an object" : je.text);
        json_decref(extra);
        return CLIOPT_EXIT_USAGE;
    }
    *ret = extra;
    return -1;
}

/* Builds the request plan from --plan, --trace or the synthetic options into *ret (owned).
 * Returns -1, or the exit code (the error is logged). */
static int build_plan(struct load_cfg *c, struct reqplan **ret)
{
    struct diag d = { 0 };
    int rc;
    if (c->plan) {
        rc = reqplan_load(c->plan, ret, &d);
    } else if (c->trace) {
        struct reqplan_trace_opts to = {
            .tokens_per_hash_id = (uint32_t)c->tokens_per_hash_id,
            .speedup = c->trace_speedup,
            .prompt_ids = c->prompt_ids,
        };
        rc = reqplan_load_trace(c->trace, &to, ret, &d);
        if (c->prompt_ids && c->lg.endpoint == LOADGEN_ENDPOINT_PLAN)
            c->lg.endpoint = LOADGEN_ENDPOINT_COMPLETIONS;
    } else {
        if (!c->isl || !c->requests) {
            log_error("synthetic load needs --isl N and --requests N (and usually --osl N)");
            return CLIOPT_EXIT_USAGE;
        }
        struct reqplan_synth_opts so = { .requests = c->requests,
                                         .warmup = c->warmup,
                                         .isl = c->isl,
                                         .osl = c->osl,
                                         .seed = c->lg.seed,
                                         .prompt_ids = c->prompt_ids };
        rc = reqplan_synthetic(&so, ret);
        if (rc < 0)
            diag_set(&d, rc, 0, 0, "bad synthetic parameters");
        /* synthetic with neither rate nor concurrency: one request at a time */
        if (c->lg.arrival == LOADGEN_ARRIVAL_PLAN)
            c->lg.arrival = LOADGEN_ARRIVAL_CLOSED;
    }
    if (rc < 0) {
        log_diag(&d);
        return rc == -ENOENT ? CLIOPT_EXIT_FAIL : CLIOPT_EXIT_USAGE;
    }
    assert(*ret != NULL);
    return -1;
}

/* Prints the closing summary (stderr) and, with --json, the summary document (stdout); returns
 * the exit code. */
static int report(const struct load_cfg *c, json_t *summary)
{
    if (!c->quiet) {
        json_t *phases = json_object_get(summary, "phases");
        const char *k;
        json_t *v;
        json_object_foreach (phases, k, v) {
            print_phase(k, v);
        }
        log_info("wrote %s/records.jsonl, summary.json, profile_export.jsonl", c->lg.out_dir);
    }
    if (c->json) {
        char *s = json_dumps(summary, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
        if (s)
            puts(s);
        free(s);
    }
    if (json_is_true(json_object_get(summary, "interrupted"))) {
        log_warn("interrupted: what was measured is written; the run is incomplete");
        return CLIOPT_EXIT_INVALID;
    }
    return CLIOPT_EXIT_OK;
}

int cmd_load_main(int argc, char **argv)
{
    struct load_cfg c = { 0 };
    loadgen_config_init(&c.lg);
    int rc = cliopt_parse_noargs(
        "load", load_opts, argc, argv, &c,
        "kvtier load --url URL --out DIR (--plan F | --trace F | --isl N --osl N "
        "--requests N) [--rate R [--arrival A] | --concurrency N]",
        "Drive an OpenAI-compatible streaming endpoint and measure every request "
        "from its intended send time (no coordinated omission).");
    if (rc >= 0)
        return rc;
    if (c.lg.max_context_tokens)
        c.lg.max_context_source = "kvtier load --max-context";
    rc = check_load_model(&c);
    if (rc >= 0)
        return rc;
    json_t *extra = NULL;
    rc = parse_extra_body(&c, &extra);
    if (rc >= 0)
        return rc;
    struct reqplan *plan = NULL;
    rc = build_plan(&c, &plan);
    if (rc >= 0) {
        json_decref(extra);
        return rc;
    }
    c.lg.exact_output = !c.no_exact_output;
    c.lg.include_usage = !c.no_usage;
    c.lg.extra_body = extra;
    struct prog_ctx pc = { .tty = !c.quiet && log_is_tty() };
    struct loadgen_hooks hooks = { .ctx = &pc, .phase_end = on_phase_end, .progress = on_progress };
    /* First Ctrl-C, SIGTERM (timeout(1), a supervisor) or SIGHUP (a closed terminal): stop and
     * write what was measured. A second one more than a second later kills at once; copies of
     * the first that arrive together (a parent such as timeout(1) forwarding the signal to the
     * process and to its group) are ignored. */
    c.lg.interrupt_flag = clisig_catch(CLISIG_SET_INT_TERM_HUP, CLISIG_REPEAT_KILL_LATER);
    json_t *summary = NULL;
    struct diag d = { 0 };
    rc = loadgen_run(&c.lg, plan, &hooks, &summary, &d);
    clisig_restore();
    reqplan_free(plan);
    json_decref(extra);
    if (rc < 0) {
        if (pc.shown)
            fputc('\n', stderr);
        log_diag(&d);
        return rc == -EINVAL ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
    }
    rc = report(&c, summary);
    json_decref(summary);
    return rc;
}
