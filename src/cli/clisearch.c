/* SPDX-License-Identifier: Apache-2.0 */
/* Shared options and setup of kvtier sweep and kvtier slo (see clisearch.h). */
#include "cli/clisearch.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cliopt_rows.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "stack/stack.h"

static const struct opt_choice yes_no[] = { { "yes", "on" }, { "no", "off" }, { NULL, NULL } };
/* the order of enum workload_endpoint, as kvtier bundle's */
static const struct opt_choice endpoints[] = {
    { "chat", "/v1/chat/completions with messages (the model's chat template)" },
    { "completions", "/v1/completions with the prompt's token ids (exact with --tokenizer)" },
    { NULL, NULL },
};

#define O CLISEARCH_O
const struct opt_def clisearch_common_rows[] = {
    { "stack", 's', OPT_STR, O(stack), "builtin", OPT_UNBOUNDED, NULL, "What",
      "stack profile name (profiles/stacks: builtin, dynamo-trtllm, external) or a .yaml path" },
    { "model", 'm', OPT_STR, O(model), "llama8b_fp8", OPT_UNBOUNDED, NULL, "What",
      "model profile name (profiles/models)" },
    { "workload", 'w', OPT_STR, O(workload), "A", OPT_UNBOUNDED, NULL, "What",
      "workload family A-D" },
    { "dataset", 0, OPT_STR, O(dataset), "S", OPT_UNBOUNDED, NULL, "What",
      "dataset tier: S (<= 8k input tokens) or L (>= 32k)" },
    { "mode", 0, OPT_STR, O(mode), "B1,B2", OPT_UNBOUNDED, NULL, "What",
      "serving modes, comma-separated (B0, B1, B2, B2p, B3, C)" },
    { "tokenizer", 0, OPT_STR, O(tokenizer), NULL, OPT_UNBOUNDED, NULL, "What",
      "tokenizer.json every point plans token-exact prompts with (default: tokenizer.json in "
      "the stack profile's paths.model_path when there is one, else the approximate tokenizer)" },
    { "endpoint", 0, OPT_ENUM, O(endpoint), "chat", OPT_UNBOUNDED, endpoints, "What",
      "request body of every point's plan" },
    { "repeats", 'r', OPT_U64, O(repeats), "3", 1, 100, NULL, "What",
      "bundles per mode at each point (slo: at the bracket's ends); >= 3 for decision grade" },
    { "seed", 0, OPT_U64, O(seed), "1", OPT_UNBOUNDED, NULL, "What",
      "seed of the plans and of the block order" },
    { "axis", 0, OPT_STR, O(axis), "concurrency", OPT_UNBOUNDED, NULL, "Axis",
      "what varies: concurrency (closed loop, N in flight in every phase), rate (multiplier "
      "of the planned rates) or context" },
    { "phase", 0, OPT_STR, O(phase), "replay", OPT_UNBOUNDED, NULL, "Analysis",
      "summary phase judged (the compared metric's phase)" },
    { "baseline", 0, OPT_STR, O(baseline), NULL, OPT_UNBOUNDED, NULL, "Analysis",
      "mode the others are compared with (default: the first of --mode)" },
    { "out", 'o', OPT_STR, O(out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "output directory (required); probes/points live under it, and a rerun with the same "
      "directory reuses the finished ones" },
    { "gnuplot", 0, OPT_STR, O(gnuplot), "gnuplot", OPT_UNBOUNDED, NULL, "Output",
      "gnuplot program for the chart (absent: the script is written, nothing rendered)" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "profiles directory (default: $KVTIER_PROFILES or the installed/source profiles)" },
    { "hardware", 0, OPT_STR, O(hardware), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "hardware profile for the builtin engine (default: the stack profile's)" },
    { "disk-cache-dir", 0, OPT_STR, O(disk_cache_dir), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "KVBM disk cache directory (default: <point>/.kvtier-kvcache)" },
    { "cpu-cache-blocks", 0, OPT_U64, O(cpu_cache_blocks), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "host tier size in blocks" },
    { "disk-cache-blocks", 0, OPT_U64, O(disk_cache_blocks), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "disk tier size in blocks" },
    { "g1-blocks", 0, OPT_U64, O(g1_blocks), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "device (G1) KV blocks of the builtin engine" },
    { "drop-caches", 0, OPT_ENUM, O(drop_caches), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "sync and drop the page cache before each run where permitted" },
    { "cgroup", 0, OPT_ENUM, O(cgroup), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "place the stack in its own cgroup for I/O accounting" },
    { "ready-timeout", 0, OPT_DURATION_NS, O(ready_timeout_ns), NULL, OPT_UNBOUNDED, NULL, "Run",
      "how long to wait for the stack (default: profile, else 120s)" },
    { "interval", 0, OPT_DURATION_NS, O(interval_ns), "1s", OPT_UNBOUNDED, NULL, "Run",
      "sampler interval" },
    { "max-requests", 0, OPT_U64, O(max_requests), NULL, OPT_UNBOUNDED, NULL, "Run",
      "cap on requests per phase (planner; default: workload profile)" },
    { "steady", 0, OPT_ENUM, O(steady), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "run the workload's steady phase in every probe (no = warmup, pressure and replay only; "
      "the searched phase must then not be steady)" },
    { "rate-scale", 0, OPT_DOUBLE, O(rate_scale), NULL, 0, 1000, NULL, "Run",
      "multiply the workload's arrival rates (planner; the rate axis sets its own)" },
    { "settle-quiet", 0, OPT_DURATION_NS, O(settle_quiet_ns), "2s", OPT_UNBOUNDED, NULL, "Run",
      "between phases, wait until KVBM's offload counters, the server's and the KV device's "
      "writes were quiet this long (as kvtier bundle)" },
    { "settle-timeout", 0, OPT_DURATION_NS, O(settle_timeout_ns), "30s", OPT_UNBOUNDED, NULL, "Run",
      "bound on each settle wait (SETTLE_TIMEOUT when reached); 0 = no settling" },
    { "settle-device-bps", 0, OPT_SIZE_BYTES, O(settle_device_bps), "4MiB", OPT_UNBOUNDED, NULL,
      "Run", "KV device writes at or below this many bytes/s count as quiet while settling" },
    /* the rows of CLIOPT_ROWS_EXTERNAL_STACK, into this struct's own fields */
    CLIOPT_ROWS_STR(struct clisearch, url, "url", "External stack",
                    "base URL of an already running stack (stack external)"),
    CLIOPT_ROWS_STR(struct clisearch, kvbm_metrics_url, "kvbm-metrics-url", "External stack",
                    "KVBM /metrics URL (default: the profile's, e.g. :6880)"),
    CLIOPT_ROWS_STR(struct clisearch, frontend_metrics_url, "frontend-metrics-url",
                    "External stack", "frontend /metrics URL (default: <url>/metrics)"),
    CLIOPT_ROWS_STR(struct clisearch, served_model, "served-model", "External stack",
                    "model name the server lists in /v1/models (default: the profile's)"),
    CLIOPT_ROWS_U64(struct clisearch, pid, "pid", "External stack",
                    "worker pid whose environment and I/O to observe (external stacks)"),
    { "thresholds", 0, OPT_STR, O(thresholds), NULL, OPT_UNBOUNDED, NULL, "Gates",
      "YAML/JSON file overriding gate thresholds (keys as in docs/bundle.md)" },
    OPT_END,
};
#undef O

struct opt_def *clisearch_table(const struct opt_def *extra)
{
    size_t a = 0, b = 0;
    while (clisearch_common_rows[a].name)
        a++;
    while (extra[b].name)
        b++;
    struct opt_def *t = xcalloc(a + b + 1, sizeof(*t));
    memcpy(t, clisearch_common_rows, a * sizeof(*t));
    memcpy(t + a, extra, b * sizeof(*t));
    return t;
}

static int parse_modes(const char *list, struct bundle_config *bc)
{
    char *dup = xstrdup(list);
    char *save = NULL;
    int r = 0;
    for (char *t = strtok_r(dup, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
        enum mode_id id;
        if (mode_parse(t, &id) < 0) {
            log_error("--mode: unknown mode '%s' (valid: %s)", t, mode_names_list());
            r = -EINVAL;
            break;
        }
        for (size_t i = 0; i < bc->n_modes; i++)
            if (bc->modes[i] == id) {
                log_error("--mode: %s given twice", mode_name(id));
                r = -EINVAL;
            }
        if (r == 0)
            bc->modes[bc->n_modes++] = id;
    }
    free(dup);
    if (r == 0 && bc->n_modes == 0) {
        log_error("--mode is empty (valid: %s)", mode_names_list());
        r = -EINVAL;
    }
    return r;
}

static int load_thresholds(const char *path, struct gate_thresholds *t)
{
    json_t *j = NULL;
    struct diag d = { 0 };
    const char *bad = NULL;
    if (yamlx_load_file(path, &j, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    int r = gate_thresholds_from_json(j, t, &bad);
    if (r < 0)
        log_error("%s: unknown or non-numeric threshold '%s'", path, bad);
    json_decref(j);
    return r < 0 ? -EINVAL : 0;
}

int clisearch_check_phase(const struct clisearch *c)
{
    static const char *const phases[] = { "warmup", "pressure", "replay", "steady", NULL };
    bool known = false;
    for (size_t i = 0; phases[i]; i++)
        known |= !strcmp(phases[i], c->phase);
    if (!known) {
        log_error("--phase: unknown phase '%s' (valid: warmup, pressure, replay, steady)",
                  c->phase);
        return -EINVAL;
    }
    if (c->steady == 1 && !strcmp(c->phase, "steady")) {
        log_error("--phase steady with --steady no: the probes would not run the judged phase");
        return -EINVAL;
    }
    return 0;
}

int clisearch_bundle_config(const struct clisearch *c, const char *pdir, struct bundle_config *bc,
                            enum axis_kind *ret_axis)
{
    bundle_config_init(bc);
    bc->profiles_dir = pdir;
    bc->stack = c->stack;
    bc->model = c->model;
    bc->workload = c->workload;
    bc->dataset = c->dataset;
    bc->hardware = c->hardware;
    bc->seed = c->seed;
    bc->disk_cache_dir = c->disk_cache_dir;
    bc->cpu_cache_blocks = c->cpu_cache_blocks;
    bc->disk_cache_blocks = c->disk_cache_blocks;
    bc->g1_blocks = c->g1_blocks;
    bc->drop_caches = c->drop_caches == 0;
    bc->skip_steady = c->steady == 1;
    bc->use_cgroup = c->cgroup == 0;
    bc->ready_timeout_ns = c->ready_timeout_ns;
    bc->interval_ns = c->interval_ns;
    bc->max_requests = c->max_requests;
    bc->rate_scale = c->rate_scale;
    bc->settle_quiet_ns = c->settle_quiet_ns;
    bc->settle_timeout_ns = c->settle_timeout_ns;
    bc->settle_device_bps = c->settle_device_bps;
    bc->url = c->url;
    bc->kvbm_metrics_url = c->kvbm_metrics_url;
    bc->frontend_metrics_url = c->frontend_metrics_url;
    bc->served_model = c->served_model;
    bc->observe_pid = (pid_t)c->pid;
    bc->tokenizer_path = c->tokenizer;
    bc->endpoint = (enum workload_endpoint)c->endpoint;
    struct diag d = { 0 };
    if (axis_parse(c->axis, ret_axis, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    if (parse_modes(c->mode, bc) < 0)
        return -EINVAL;
    if (c->baseline) {
        enum mode_id id;
        bool listed = false;
        if (mode_parse(c->baseline, &id) == 0)
            for (size_t i = 0; i < bc->n_modes; i++)
                listed |= bc->modes[i] == id;
        if (!listed) {
            log_error("--baseline: '%s' is not one of --mode %s", c->baseline, c->mode);
            return -EINVAL;
        }
    }
    if (c->thresholds && load_thresholds(c->thresholds, &bc->thresholds) < 0)
        return -EINVAL;
    return 0;
}

json_t *clisearch_argv_json(const char *cmd, int argc, char **argv)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string("kvtier"));
    (void)cmd;
    bool redact = false;
    for (int i = 0; i < argc; i++) {
        json_array_append_new(a, json_string(redact ? "<redacted>" : argv[i]));
        redact = !strncmp(argv[i], "--", 2) && stack_is_secret_name(argv[i]);
    }
    return a;
}

int clisearch_write(const char *dir, const char *stem, const json_t *doc, char *md)
{
    char *jp = xalloc_printf("%s/%s.json", dir, stem), *mp = xalloc_printf("%s/%s.md", dir, stem);
    int r = jsonx_write_file(jp, (json_t *)doc);
    if (r < 0)
        log_error("%s: cannot write: %s", jp, strerror(-r));
    if (r == 0 && (r = fileio_write_atomic(mp, (const uint8_t *)md, strlen(md))) < 0)
        log_error("%s: cannot write: %s", mp, strerror(-r));
    free(jp);
    free(mp);
    free(md);
    return r;
}
