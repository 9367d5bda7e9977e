/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier bundle (also installed as run_bundle): plan, launch, phased run, self-describing
 * bundles, gates and verdicts (src/run/bundle.h, docs/bundle.md). Exit codes: 0 every bundle
 * run_valid, 1 runtime failure, 2 usage (unknown mode/model/workload names list the valid
 * ones), 3 finished but some bundle is not run_valid (or the run was interrupted). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/cliopt_rows.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/dryrun.h"
#include "cli/log.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "run/bundle.h"
#include "stack/stack.h"

/* The options write straight into the runner's config, as fio points its option offsets into
 * the engine's struct; only options whose form differs from the config's field (a mode list,
 * yes/no and choice switches, the repeat count, a pid, a file to read) have fields here. */
struct bundle_cli {
    struct bundle_config bc;
    const char *mode, *profiles, *thresholds;
    uint64_t repeats, pid;
    int drop_caches, cgroup, storage_kind, tail, steady, hit_rate;
    bool json;
    int endpoint;
};

static const struct opt_choice endpoints[] = {
    { "chat", "/v1/chat/completions with messages (the model's chat template)" },
    { "completions", "/v1/completions with the prompt's token ids (exact with --tokenizer)" },
    { NULL, NULL },
};
static const struct opt_choice yes_no[] = { { "yes", "on" }, { "no", "off" }, { NULL, NULL } };
static const struct opt_choice auto_yes_no[] = { { "auto", "on for real stacks, off for builtin" },
                                                 { "yes", "on" },
                                                 { "no", "off" },
                                                 { NULL, NULL } };
static const struct opt_choice tails[] = {
    { "p95", "size replay/steady for a supported p95 (72 requests) and gate on it" },
    { "p99", "size them for a supported p99 (368 requests) and gate on it" },
    { "p50", "size them for a supported median (6 requests) and gate on it: a claim about the "
             "median, not a tail, for short runs such as the demo" },
    { NULL, NULL },
};
static const struct opt_choice storage_kinds[] = {
    { "local_nvme", "the KV tier on a local NVMe (this phase of the plan)" },
    { "shared_nvmeof", "a shared NVMe-oF tier (future phases)" },
    { NULL, NULL },
};

#define O(f) offsetof(struct bundle_cli, f)
/* a field of struct bundle_config, with its type checked against the option's */
#define B(f, t) CLIOPT_ROWS_OFFSET(struct bundle_cli, bc.f, t)
static const struct opt_def bundle_opts[] = {
    { "stack", 's', OPT_STR, B(stack, const char *), "builtin", OPT_UNBOUNDED, NULL, "What",
      "stack profile name (profiles/stacks: builtin, dynamo-trtllm, external) or a .yaml path" },
    { "model", 'm', OPT_STR, B(model, const char *), "llama8b_fp8", OPT_UNBOUNDED, NULL, "What",
      "model profile name (profiles/models)" },
    { "workload", 'w', OPT_STR, B(workload, const char *), "A", OPT_UNBOUNDED, NULL, "What",
      "workload family A-D (W1-W4 accepted as aliases)" },
    { "dataset", 0, OPT_STR, B(dataset, const char *), "S", OPT_UNBOUNDED, NULL, "What",
      "dataset tier: S (<= 8k input tokens) or L (>= 32k)" },
    { "mode", 0, OPT_STR, O(mode), "B2", OPT_UNBOUNDED, NULL, "What",
      "serving mode(s): B0, B1, B2, B2p, B3, C; a comma list interleaves them in seeded "
      "random blocks" },
    { "tokenizer", 0, OPT_STR, B(tokenizer_path, const char *), NULL, OPT_UNBOUNDED, NULL, "What",
      "tokenizer.json to plan token-exact prompts with (default: tokenizer.json in the stack "
      "profile's paths.model_path when there is one, else the approximate tokenizer)" },
    { "endpoint", 0, OPT_ENUM, O(endpoint), "chat", OPT_UNBOUNDED, endpoints, "What",
      "request body of the plan" },
    { "repeats", 'r', OPT_U64, O(repeats), "1", 1, 100, NULL, "What",
      "bundles per mode (each its own bundle; >= 3 needed for decision grade)" },
    { "seed", 0, OPT_U64, B(seed, uint64_t), "1", OPT_UNBOUNDED, NULL, "What",
      "seed of the plan and of the block order" },
    { "out", 'o', OPT_STR, B(out_dir, const char *), "results", OPT_UNBOUNDED, NULL, "Output",
      "results directory; a group directory is created inside" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the group summary as JSON on stdout" },
    { "dry-run", 0, OPT_BOOL, B(dry_run, bool), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print per mode the exact commands, environment (secrets masked), engine-args YAML and "
      "tier sizes, and start nothing" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "profiles directory (default: $KVTIER_PROFILES or the installed/source profiles)" },
    { "hardware", 0, OPT_STR, B(hardware, const char *), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "hardware profile for the builtin engine (default: the stack profile's)" },
    { "disk-cache-dir", 0, OPT_STR, B(disk_cache_dir, const char *), NULL, OPT_UNBOUNDED, NULL,
      "Tiers",
      "directory on the SSD under test for the KV disk tier; kvtier works in its own marked "
      "subdirectory kvtier-kvcache there and deletes only KV cache files in it "
      "(default: <out>/.kvtier-kvcache)" },
    { "cpu-cache-gb", 0, OPT_DOUBLE, B(cpu_cache_gb, double), NULL, 0, 1e6, NULL, "Tiers",
      "host (G2) tier size in decimal GB (default: stack profile tiers)" },
    { "disk-cache-gb", 0, OPT_DOUBLE, B(disk_cache_gb, double), NULL, 0, 1e7, NULL, "Tiers",
      "disk (G3) tier size in decimal GB (default: stack profile tiers)" },
    { "cpu-cache-blocks", 0, OPT_U64, B(cpu_cache_blocks, uint64_t), NULL, OPT_UNBOUNDED, NULL,
      "Tiers", "host tier size in blocks (DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS)" },
    { "disk-cache-blocks", 0, OPT_U64, B(disk_cache_blocks, uint64_t), NULL, OPT_UNBOUNDED, NULL,
      "Tiers", "disk tier size in blocks (DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS)" },
    { "g1-blocks", 0, OPT_U64, B(g1_blocks, uint64_t), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "device (G1) KV blocks of the builtin engine (default: stack profile tiers, else the "
      "engine's computed capacity)" },
    { "disable-o-direct", 0, OPT_BOOL, B(disable_o_direct, bool), NULL, OPT_UNBOUNDED, NULL,
      "Tiers",
      "set DYN_KVBM_DISK_DISABLE_O_DIRECT (troubleshooting; recorded, makes PAGE_CACHE_SUSPECT "
      "likely)" },
    { "c-disk-fraction", 0, OPT_DOUBLE, B(c_disk_fraction, double), NULL, 0, 1, NULL, "Mode C",
      "mode C disk cache as a fraction of B2's (default: stack profile mode_c)" },
    { "c-read-bps", 0, OPT_SIZE_BYTES, B(c_read_bps, uint64_t), NULL, OPT_UNBOUNDED, NULL, "Mode C",
      "mode C cgroup read limit in bytes/s (io.max rbps, v1 blkio fallback)" },
    { "c-write-bps", 0, OPT_SIZE_BYTES, B(c_write_bps, uint64_t), NULL, OPT_UNBOUNDED, NULL,
      "Mode C", "mode C cgroup write limit in bytes/s (io.max wbps, v1 blkio fallback)" },
    { "c-levels", 0, OPT_STR, B(c_levels, const char *), NULL, OPT_UNBOUNDED, NULL, "Mode C",
      "Mode C ladder: read limits as % of the --probe read ceiling or bytes/s (\"25%,50%,100%\"), "
      "each level one arm (C@25%) of the interleaved group, with a monotonicity test" },
    { "drop-caches", 0, OPT_ENUM, O(drop_caches), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "sync and drop the page cache before each run where permitted (recorded)" },
    { "cgroup", 0, OPT_ENUM, O(cgroup), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "place the stack in its own cgroup for I/O accounting (always tried for mode C)" },
    { "ready-timeout", 0, OPT_DURATION_NS, B(ready_timeout_ns, uint64_t), NULL, OPT_UNBOUNDED, NULL,
      "Run", "how long to wait for /health, /v1/models and metrics (default: profile, else 120s)" },
    { "interval", 0, OPT_DURATION_NS, B(interval_ns, uint64_t), "1s", OPT_UNBOUNDED, NULL, "Run",
      "sampler interval" },
    { "settle-quiet", 0, OPT_DURATION_NS, B(settle_quiet_ns, uint64_t), "2s", OPT_UNBOUNDED, NULL,
      "Run",
      "between phases, wait until KVBM's offload counters, the server's and the KV device's "
      "writes were quiet this long" },
    { "settle-timeout", 0, OPT_DURATION_NS, B(settle_timeout_ns, uint64_t), "30s", OPT_UNBOUNDED,
      NULL, "Run", "bound on each settle wait (SETTLE_TIMEOUT when reached); 0 = no settling" },
    { "settle-device-bps", 0, OPT_SIZE_BYTES, B(settle_device_bps, uint64_t), "4MiB", OPT_UNBOUNDED,
      NULL, "Run",
      "KV device writes at or below this many bytes/s count as quiet while settling (a shared "
      "disk's background writes)" },
    { "hit-rate", 0, OPT_ENUM, O(hit_rate), "auto", OPT_UNBOUNDED, auto_yes_no, "Run",
      "after each phase, wait for KVBM's next hit-rate refresh (its stats interval, 5 s by "
      "default) and record the host and disk hit-rate gauges" },
    { "max-requests", 0, OPT_U64, B(max_requests, uint64_t), NULL, OPT_UNBOUNDED, NULL, "Run",
      "cap on requests per phase (planner; default: workload profile)" },
    { "rate-scale", 0, OPT_DOUBLE, B(rate_scale, double), NULL, 0, 1000, NULL, "Run",
      "multiplier on every phase's planned rate" },
    { "steady", 0, OPT_ENUM, O(steady), "yes", OPT_UNBOUNDED, yes_no, "Run",
      "run the workload's steady phase (mixed reuse after replay); no = warmup, pressure and "
      "replay only, for short runs whose claim is the replay phase's" },
    { "tail", 0, OPT_ENUM, O(tail), "p95", OPT_UNBOUNDED, tails, "Run",
      "headline TTFT quantile: the plan sizes the measured phases to support it and "
      "TAIL_UNDERSAMPLED flags a replay phase that does not" },
    { "device", 0, OPT_STR, B(device, const char *), NULL, OPT_UNBOUNDED, NULL, "Storage",
      "block device to observe (default: the disk holding --disk-cache-dir)" },
    { "probe", 0, OPT_STR, B(probe_path, const char *), NULL, OPT_UNBOUNDED, NULL, "Storage",
      "probe.json from kvtier probe: the SSD ceiling recorded in the manifest" },
    { "storage-kind", 0, OPT_ENUM, O(storage_kind), "local_nvme", OPT_UNBOUNDED, storage_kinds,
      "Storage", "storage tier kind recorded in the manifest" },
    CLIOPT_ROWS_EXTERNAL_STACK(struct bundle_cli, bc, pid),
    { "thresholds", 0, OPT_STR, O(thresholds), NULL, OPT_UNBOUNDED, NULL, "Gates",
      "YAML/JSON file overriding gate thresholds (keys as in docs/bundle.md)" },
    OPT_END,
};
#undef B
#undef O

static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    log_info("%s", line);
}

static const char *workload_alias(const char *w)
{
    static const char *const map[][2] = {
        { "W1", "A" }, { "W2", "B" }, { "W3", "C" }, { "W4", "D" }
    };
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(w, map[i][0]))
            return map[i][1];
    return w;
}

static int parse_modes(const char *list, struct bundle_config *bc)
{
    char *dup = xstrdup(list);
    char *save = NULL;
    int r = 0;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum mode_id id;
        if (mode_parse(t, &id) < 0) {
            log_error("unknown mode '%s' (valid: %s)", t, mode_names_list());
            r = -EINVAL;
            break;
        }
        bool dup_mode = false;
        for (size_t i = 0; i < bc->n_modes; i++)
            dup_mode |= bc->modes[i] == id;
        if (dup_mode) {
            log_error("mode %s given twice in --mode", mode_name(id));
            r = -EINVAL;
            break;
        }
        bc->modes[bc->n_modes++] = id;
    }
    free(dup);
    if (r == 0 && bc->n_modes == 0) {
        log_error("--mode is empty (valid: %s)", mode_names_list());
        r = -EINVAL;
    }
    return r;
}

static const char *value_kind(const json_t *v)
{
    return json_is_array(v)    ? "a list"
           : json_is_string(v) ? "a string (is it YAML or JSON?)"
           : json_is_null(v)   ? "an empty document"
                               : "a scalar";
}

static json_t *argv_json(int argc, char **argv)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string("kvtier"));
    bool redact = false;
    for (int i = 0; i < argc; i++) {
        json_array_append_new(a, json_string(redact ? "<redacted>" : argv[i]));
        redact = !strncmp(argv[i], "--", 2) && stack_is_secret_name(argv[i]);
    }
    return a;
}

/* --thresholds FILE over t: 0, or an error logged (exit 2 follows). */
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
    if (r < 0 && !bad)
        log_error("%s: thresholds must be a mapping of threshold names to numbers (keys as in "
                  "docs/bundle.md), not %s",
                  path, value_kind(j));
    else if (r == -ERANGE)
        log_error("%s: threshold '%s' must be a finite number >= 0", path, bad);
    else if (r < 0)
        log_error("%s: unknown or non-numeric threshold '%s'", path, bad);
    json_decref(j);
    return r;
}

static void print_group(const json_t *group, bool json)
{
    if (json) {
        char *s = json_dumps(group, JSON_INDENT(2));
        puts(s);
        free(s);
        return;
    }
    printf("group: %s\n", jsonx_str(group, "group_dir", ""));
    size_t i;
    json_t *b;
    json_array_foreach (json_object_get(group, "bundles"), i, b) {
        char *codes = jsonx_dump_line(json_object_get(b, "reason_codes"));
        /* no replay TTFT (the engine never started): say so, not 0.0 ms (issue 11 #14) */
        char ttft[48] = "n/a";
        double p50 = jsonx_num(b, "replay_ttft_p50_ms", NAN);
        if (isfinite(p50))
            snprintf(ttft, sizeof(ttft), "%.1f ms", p50);
        printf("  %-4s r%02lld  run_valid=%-5s decision_grade=%-5s replay TTFT p50 %s  %s\n  "
               "%s\n",
               jsonx_str(b, "mode", "?"), (long long)jsonx_i64(b, "repeat", 0),
               jsonx_bool(b, "run_valid", false) ? "true" : "false",
               jsonx_bool(b, "decision_grade", false) ? "true" : "false", ttft, codes,
               jsonx_str(b, "dir", ""));
        free(codes);
    }
}

int cmd_bundle_main(int argc, char **argv)
{
    struct bundle_cli c = { 0 };
    bundle_config_init(&c.bc); /* options without a default keep the runner's */
    int rc = cliopt_parse_noargs(
        "bundle", bundle_opts, argc, argv, &c,
        "kvtier bundle --stack builtin --model tiny --workload A --dataset S --mode B1,B2 "
        "[--repeats N] [--out results/]",
        "Runs phased, self-describing run bundles: plans the workload for the mode's tier "
        "capacities, launches the stack with the mode's exact environment, runs warmup/"
        "pressure/replay/steady with metric and OS snapshots at every phase boundary, reads "
        "the configuration back from the running worker, and judges each bundle "
        "(verdict.json: run_valid, decision_grade, reason codes). Also installed as run_bundle.");
    if (rc >= 0)
        return rc;
    /* the effective options as given (before aliases are resolved), for the manifest */
    json_t *opts = opt_to_json(bundle_opts, &c);
    json_t *cmdline = argv_json(argc, argv);
    struct bundle_config *bc = &c.bc;
    char *pdir = profile_dir(c.profiles);
    bc->profiles_dir = pdir;
    bc->workload = workload_alias(bc->workload);
    bc->repeats = (unsigned)c.repeats;
    bc->drop_caches = c.drop_caches == 0;
    bc->use_cgroup = c.cgroup == 0;
    bc->hit_rate = c.hit_rate;
    bc->storage_kind = storage_kinds[c.storage_kind].name;
    bc->observe_pid = (pid_t)c.pid;
    bc->note = print_note;
    bc->command_line = cmdline;
    bc->options = opts;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    bc->kvtier_path = exe;
    json_t *group = NULL;
    int exit_code = CLIOPT_EXIT_OK;
    if (parse_modes(c.mode, bc) < 0 ||
        (c.thresholds && load_thresholds(c.thresholds, &bc->thresholds) < 0)) {
        exit_code = CLIOPT_EXIT_USAGE;
        goto out;
    }
    bc->tail_quantile = c.tail == 1 ? 0.99 : c.tail == 2 ? 0.50 : 0.95;
    bc->skip_steady = c.steady == 1;
    bc->thresholds.tail_quantile = bc->tail_quantile;
    bc->endpoint = (enum workload_endpoint)c.endpoint;
    if (bc->dry_run) {
        struct diag dd = { 0 };
        json_t *doc = NULL;
        if (bundle_dry_run(bc, &doc, &dd) < 0) {
            log_diag(&dd);
            exit_code = CLIOPT_EXIT_USAGE;
            goto out;
        }
        dryrun_print(doc, c.json);
        json_decref(doc);
        goto out;
    }
    bc->interrupt_flag = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_KILL_LATER);
    struct diag d = { 0 };
    rc = bundle_run(bc, &group, &d);
    clisig_restore();
    if (rc < 0) {
        log_diag(&d);
        /* a configuration error before anything ran is usage; once bundles ran (group set),
         * a file that could not be written is a runtime failure */
        exit_code =
            !group && (rc == -ENOENT || rc == -EINVAL) ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
        goto out;
    }
    print_group(group, c.json);
    if (jsonx_bool(group, "interrupted", false))
        log_warn("interrupted: the bundles written so far are complete and marked RUN_INTERRUPTED");
    if (!jsonx_bool(group, "all_run_valid", false))
        exit_code = CLIOPT_EXIT_INVALID;
out:
    json_decref(group);
    json_decref(cmdline);
    json_decref(opts);
    free(pdir);
    return exit_code;
}
