/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier doctor: control-surface checks of a stack (src/run/doctor.h) -- disk tier switch
 * visible in the worker, metrics reachable, KV-attributable disk I/O in a forced B2p replay,
 * >= 32k context served, real streaming -- and the blocker dossier when something fails.
 * Exit codes: 0 all checks pass, 1 runtime failure, 2 usage, 3 a check failed (dossier written). */
#include <errno.h>
#include <limits.h>
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
#include "run/doctor.h"

/* The options write straight into the runner's config (see cmd_bundle.c). */
struct doctor_cli {
    struct bundle_config bc;
    const char *profiles;
    uint64_t pid;
    bool json;
};

#define O(f)    offsetof(struct doctor_cli, f)
#define B(f, t) CLIOPT_ROWS_OFFSET(struct doctor_cli, bc.f, t)
static const struct opt_def doctor_opts[] = {
    { "stack", 's', OPT_STR, B(stack, const char *), "builtin", OPT_UNBOUNDED, NULL, "What",
      "stack profile name (builtin, dynamo-trtllm, external) or a .yaml path" },
    { "model", 'm', OPT_STR, B(model, const char *), "llama8b_fp8", OPT_UNBOUNDED, NULL, "What",
      "model profile name" },
    { "workload", 'w', OPT_STR, B(workload, const char *), "A", OPT_UNBOUNDED, NULL, "What",
      "workload family for the forced B2p replay" },
    { "tokenizer", 0, OPT_STR, B(tokenizer_path, const char *), NULL, OPT_UNBOUNDED, NULL, "What",
      "tokenizer.json that sizes the >= 32k prompt and plans the checks' bundles (default: "
      "tokenizer.json in the stack profile's paths.model_path when there is one, else the "
      "prompt is sized by the server's count)" },
    { "out", 'o', OPT_STR, B(out_dir, const char *), "results", OPT_UNBOUNDED, NULL, "Output",
      "results directory; doctor_<stamp>/ is created inside" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print doctor.json on stdout" },
    { "dry-run", 0, OPT_BOOL, B(dry_run, bool), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the B1 and B2p launches (commands, environment with secrets masked, engine-args "
      "YAML, tier sizes) and start nothing" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "profiles directory" },
    { "hardware", 0, OPT_STR, B(hardware, const char *), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "hardware profile for the builtin engine" },
    { "disk-cache-dir", 0, OPT_STR, B(disk_cache_dir, const char *), NULL, OPT_UNBOUNDED, NULL,
      "Tiers",
      "directory on the SSD for the KV disk tier; kvtier works in its own marked subdirectory "
      "kvtier-kvcache there (default: <out>/doctor_<stamp>/.kvtier-kvcache)" },
    { "g1-blocks", 0, OPT_U64, B(g1_blocks, uint64_t), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "device KV blocks of the builtin engine" },
    { "max-requests", 0, OPT_U64, B(max_requests, uint64_t), NULL, OPT_UNBOUNDED, NULL, "Run",
      "cap on requests per phase of the forced replay" },
    { "ready-timeout", 0, OPT_DURATION_NS, B(ready_timeout_ns, uint64_t), NULL, OPT_UNBOUNDED, NULL,
      "Run", "how long to wait for the stack to become ready" },
    CLIOPT_ROWS_EXTERNAL_STACK(struct doctor_cli, bc, pid),
    OPT_END,
};
#undef B
#undef O

static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    log_info("%s", line);
}

int cmd_doctor_main(int argc, char **argv)
{
    struct doctor_cli c = { 0 };
    bundle_config_init(&c.bc); /* options without a default keep the runner's */
    int rc =
        cliopt_parse_noargs("doctor", doctor_opts, argc, argv, &c,
                            "kvtier doctor --stack dynamo-trtllm --model llama8b_fp8",
                            "Checks the control surface of a stack: the disk tier switch is "
                            "visible in the running worker, metrics are reachable, a forced B2p "
                            "replay shows KV-attributable disk I/O, a >= 32k context is served, "
                            "and the server really streams. Writes doctor.json, and "
                            "blocker_dossier.{md,json} when a check fails.");
    if (rc >= 0)
        return rc;
    struct bundle_config *bc = &c.bc;
    char *pdir = profile_dir(c.profiles);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    bc->profiles_dir = pdir;
    bc->dataset = "S";
    /* the checks read the warmup, pressure and replay phases only (the B2p replay's disk
     * reads); the steady phase would add its length to both bundles and judge nothing */
    bc->skip_steady = true;
    bc->observe_pid = (pid_t)c.pid;
    bc->kvtier_path = exe;
    bc->note = print_note;
    bc->interrupt_flag = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_IGNORE);
    json_t *res = NULL;
    struct diag d = { 0 };
    rc = doctor_run(bc, &res, &d);
    free(pdir);
    if (rc < 0) {
        log_diag(&d);
        return rc == -ENOENT || rc == -EINVAL ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
    }
    if (bc->dry_run) {
        dryrun_print(res, c.json);
        json_decref(res);
        return CLIOPT_EXIT_OK;
    }
    if (c.json) {
        char *s = json_dumps(res, JSON_INDENT(2));
        puts(s);
        free(s);
    } else {
        size_t i;
        json_t *ch;
        json_array_foreach (json_object_get(res, "checks"), i, ch)
            printf("%-4s %-22s %s\n", jsonx_bool(ch, "ok", false) ? "ok" : "FAIL",
                   jsonx_str(ch, "check", "?"), jsonx_str(ch, "summary", ""));
        printf("doctor: %s\n", jsonx_str(res, "dir", ""));
        if (!jsonx_bool(res, "all_ok", false))
            printf("blocker dossier: %s\n", jsonx_str(res, "dossier", ""));
    }
    int exit_code = jsonx_bool(res, "all_ok", false) ? CLIOPT_EXIT_OK : CLIOPT_EXIT_INVALID;
    json_decref(res);
    return exit_code;
}
