/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier plan: write a deterministic request plan (raw/requests.jsonl format) for a workload
 * family and dataset, a model and a seed, with the pressure phase sized against the tier
 * capacities (given in blocks, or derived from a mode on a hardware profile); or import a
 * Mooncake trace; optionally export the plan as Mooncake JSONL. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "workload/capacity.h"
#include "workload/mooncake.h"
#include "workload/workload.h"

/* Options that configure plan generation land in wo (struct workload_options) through the
 * table's offsets; the rest choose the inputs, the capacities and the outputs. */
struct plan_cfg {
    struct workload_options wo;
    const char *workload, *dataset, *model, *out, *profiles;
    const char *mode, *hardware, *export_mooncake, *export_from;
    uint64_t seed, g1, g2, g3, trace_tph; /* trace_tph: wo's field is 32-bit */
    double cpu_gb, disk_gb;
    int tail;             /* --tail: 0 p95, 1 p99, 2 none (wo.tail_quantile) */
    struct opt_marks set; /* which options were given */
};

static const struct opt_choice tails[] = {
    { "p95", "size replay and steady for a supported p95 (72 requests)" },
    { "p99", "size them for a supported p99 (368 requests)" },
    { "none", "keep the profile's counts" },
    { NULL, NULL },
};

/* OPT_ENUM stores an int */
static_assert(sizeof(enum workload_endpoint) == sizeof(int), "endpoint is stored as an int");

static const struct opt_choice endpoints[] = {
    { "chat", "messages for /v1/chat/completions (the server applies the template)" },
    { "completions", "prompt_token_ids (exact tokenizer) or rendered prompt text" },
    { NULL, NULL },
};

static const struct opt_def plan_opts[] = {
    { "workload", 'w', OPT_STR, offsetof(struct plan_cfg, workload), "A", OPT_UNBOUNDED, NULL,
      "Plan", "workload family: A copilot, B agent loop, C RAG summarization, D mixed" },
    { "dataset", 'd', OPT_STR, offsetof(struct plan_cfg, dataset), "S", OPT_UNBOUNDED, NULL, "Plan",
      "dataset tier: S (<= 8k input tokens) or L (>= 32k, needs a long-context engine)" },
    { "model", 'm', OPT_STR, offsetof(struct plan_cfg, model), "llama8b_fp8", OPT_UNBOUNDED, NULL,
      "Plan", "model profile name (profiles/models)" },
    { "seed", 's', OPT_U64, offsetof(struct plan_cfg, seed), "1", OPT_UNBOUNDED, NULL, "Plan",
      "seed: the same inputs give a byte-identical plan" },
    { "out", 'o', OPT_STR, offsetof(struct plan_cfg, out), "requests.jsonl", OPT_UNBOUNDED, NULL,
      "Plan", "output plan file (JSONL: header line, then one request per line)" },
    { "profiles", 0, OPT_STR, offsetof(struct plan_cfg, profiles), NULL, OPT_UNBOUNDED, NULL,
      "Plan", "profile directory (default $KVTIER_PROFILES or the installed profiles)" },
    { "endpoint", 'e', OPT_ENUM, offsetof(struct plan_cfg, wo.endpoint), "chat", OPT_UNBOUNDED,
      endpoints, "Plan", "request body the plan carries" },
    { "rate-scale", 0, OPT_DOUBLE, offsetof(struct plan_cfg, wo.rate_scale), "1", 0.01, 100.0, NULL,
      "Plan", "multiply every phase's arrival rate (pressure stays <= 4 requests/s)" },
    { "max-requests", 0, OPT_U64, offsetof(struct plan_cfg, wo.max_requests), "0", 0, 200000, NULL,
      "Plan", "cap on requests (sessions) per phase; 0 = the profile's counts" },
    { "tail", 0, OPT_ENUM, offsetof(struct plan_cfg, tail), "p95", OPT_UNBOUNDED, tails, "Plan",
      "headline quantile the measured phases are sized to support at 95% confidence "
      "(--max-requests still caps; the header's \"tail\" says whether it holds)" },
    { "tokenizer", 't', OPT_STR, offsetof(struct plan_cfg, wo.tokenizer_path), NULL, OPT_UNBOUNDED,
      NULL, "Text", "tokenizer.json of the model (exact counts); absent = approximate tokenizer" },
    { "corpus", 0, OPT_STR, offsetof(struct plan_cfg, wo.corpus_dir), NULL, OPT_UNBOUNDED, NULL,
      "Text",
      "directory of text files to draw prompts from (e.g. a repository); default built-in" },
    { "g1-blocks", 0, OPT_U64, offsetof(struct plan_cfg, g1), "0", OPT_UNBOUNDED, NULL, "Capacity",
      "device KV pool in blocks (overrides the mode's value)" },
    { "g2-blocks", 0, OPT_U64, offsetof(struct plan_cfg, g2), "0", OPT_UNBOUNDED, NULL, "Capacity",
      "host (CPU) KV tier in blocks (overrides the mode's value)" },
    { "g3-blocks", 0, OPT_U64, offsetof(struct plan_cfg, g3), "0", OPT_UNBOUNDED, NULL, "Capacity",
      "disk KV tier in blocks (overrides the mode's value)" },
    { "mode", 0, OPT_STR, offsetof(struct plan_cfg, mode), "B2", OPT_UNBOUNDED, NULL, "Capacity",
      "serving mode whose tiers size the pressure phase: B0 B1 B2 B2p B3 C" },
    { "hardware", 0, OPT_STR, offsetof(struct plan_cfg, hardware), "dgx_spark_gb10", OPT_UNBOUNDED,
      NULL, "Capacity", "hardware profile for G1 (profiles/hardware)" },
    { "cpu-cache-gb", 0, OPT_DOUBLE, offsetof(struct plan_cfg, cpu_gb), "16", 0, 1e6, NULL,
      "Capacity", "DYN_KVBM_CPU_CACHE_GB of the mode (decimal GB)" },
    { "disk-cache-gb", 0, OPT_DOUBLE, offsetof(struct plan_cfg, disk_gb), "256", 0, 1e7, NULL,
      "Capacity", "DYN_KVBM_DISK_CACHE_GB of the mode (decimal GB)" },
    { "trace", 0, OPT_STR, offsetof(struct plan_cfg, wo.trace_path), NULL, OPT_UNBOUNDED, NULL,
      "Trace", "import a Mooncake JSONL trace instead of a workload family" },
    { "trace-tokens-per-hash", 0, OPT_U64, offsetof(struct plan_cfg, trace_tph), "512", 1, 65536,
      NULL, "Trace", "tokens per Mooncake hash id (Mooncake uses 512)" },
    { "export-mooncake", 0, OPT_STR, offsetof(struct plan_cfg, export_mooncake), NULL,
      OPT_UNBOUNDED, NULL, "Trace", "also write the plan as Mooncake JSONL to this file" },
    { "export-from", 0, OPT_STR, offsetof(struct plan_cfg, export_from), NULL, OPT_UNBOUNDED, NULL,
      "Trace", "export an existing plan (with --export-mooncake) instead of planning" },
    OPT_END_MARKS(struct plan_cfg, set),
};

static int exit_for(int rc)
{
    return rc == -EINVAL || rc == -ENOENT || rc == -EMSGSIZE ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
}

static int do_export(const char *plan, const char *out)
{
    struct diag d = { 0 };
    int rc = mooncake_export(plan, out, &d);
    if (rc < 0) {
        log_diag(&d);
        return exit_for(rc);
    }
    log_info("wrote %d Mooncake rows to %s", rc, out);
    return 0;
}

/* Fills cap from --mode/--hardware, then applies explicit --gN-blocks. */
static int capacities(const struct plan_cfg *cfg, const char *pdir, struct workload_capacity *cap,
                      char *src, size_t src_len)
{
    struct diag d = { 0 };
    struct model_profile m;
    struct hw_profile h;
    bool explicit_all = opt_was_set(plan_opts, cfg, "g1-blocks") &&
                        opt_was_set(plan_opts, cfg, "g2-blocks") &&
                        opt_was_set(plan_opts, cfg, "g3-blocks");
    *cap = (struct workload_capacity){ 0 };
    if (explicit_all) {
        snprintf(src, src_len, "given on the command line (--g1/--g2/--g3-blocks)");
    } else {
        int rc = profile_load_model(pdir, cfg->model, &m, &d);
        if (rc == 0)
            rc = profile_load_hw(pdir, cfg->hardware, &h, &d);
        if (rc == 0)
            rc = capacity_from_mode(cfg->mode, &h, &m, cfg->cpu_gb, cfg->disk_gb, cap, src, src_len,
                                    &d);
        if (rc < 0) {
            log_diag(&d);
            return exit_for(rc);
        }
    }
    if (opt_was_set(plan_opts, cfg, "g1-blocks"))
        cap->g1_blocks = cfg->g1;
    if (opt_was_set(plan_opts, cfg, "g2-blocks"))
        cap->g2_blocks = cfg->g2;
    if (opt_was_set(plan_opts, cfg, "g3-blocks"))
        cap->g3_blocks = cfg->g3;
    if (!explicit_all &&
        (opt_was_set(plan_opts, cfg, "g1-blocks") || opt_was_set(plan_opts, cfg, "g2-blocks") ||
         opt_was_set(plan_opts, cfg, "g3-blocks"))) {
        size_t n = strlen(src);
        snprintf(src + n, src_len - n, "; overridden on the command line");
    }
    cap->source = src;
    return -1;
}

int cmd_plan_main(int argc, char **argv)
{
    struct plan_cfg cfg = { 0 };
    workload_options_init(&cfg.wo);
    int rc = cliopt_parse_noargs(
        "plan", plan_opts, argc, argv, &cfg,
        "kvtier plan --workload A|B|C|D --dataset S|L --model NAME --seed N "
        "--out FILE [capacity options]",
        "Write a deterministic, token-exact request plan with warmup, pressure, "
        "replay and steady phases.");
    if (rc >= 0)
        return rc;
    if (cfg.export_from) {
        if (!cfg.export_mooncake) {
            log_error("--export-from needs --export-mooncake FILE");
            return CLIOPT_EXIT_USAGE;
        }
        return do_export(cfg.export_from, cfg.export_mooncake);
    }
    char *pdir = profile_dir(cfg.profiles);
    char src[600];
    struct workload_capacity cap;
    rc = capacities(&cfg, pdir, &cap, src, sizeof(src));
    if (rc >= 0) {
        free(pdir);
        return rc;
    }
    cfg.wo.trace_tokens_per_hash = (uint32_t)cfg.trace_tph;
    cfg.wo.tail_quantile = cfg.tail == 0 ? 0.95 : cfg.tail == 1 ? 0.99 : 0;
    if (!cfg.wo.tokenizer_path)
        log_warn("no --tokenizer: tokenizer: approx (counts and block alignment hold for "
                 "kvtier serve's approximate tokenizer, not for a real model)");
    struct diag d = { 0 };
    json_t *h = NULL;
    rc = workload_plan_write(pdir, cfg.workload, cfg.dataset, cfg.model, cfg.seed, &cap, &cfg.wo,
                             cfg.out, &h, &d);
    free(pdir);
    if (rc < 0) {
        log_diag(&d);
        return exit_for(rc);
    }
    const json_t *pr = json_object_get(h, "pressure");
    log_info("wrote %s: %llu requests, workload %s dataset %s model %s seed %llu, tokenizer %s",
             cfg.out, (unsigned long long)jsonx_u64(h, "requests", 0), jsonx_str(h, "workload", ""),
             jsonx_str(h, "dataset", ""), cfg.model, (unsigned long long)cfg.seed,
             jsonx_str(h, "tokenizer", "?"));
    if (pr) {
        log_info("pressure: %s", jsonx_str(pr, "arithmetic", ""));
        if (!jsonx_bool(pr, "feasible", false))
            log_warn("pressure is not sufficient: %s", jsonx_str(pr, "note", ""));
    }
    json_decref(h);
    if (cfg.export_mooncake)
        return do_export(cfg.out, cfg.export_mooncake);
    return 0;
}
