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
#include "cli/log.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "run/doctor.h"

struct doctor_cli {
    const char *stack, *model, *workload, *out, *profiles, *hardware, *disk_cache_dir;
    const char *url, *kvbm_metrics_url, *frontend_metrics_url, *served_model;
    uint64_t g1_blocks, ready_timeout_ns, max_requests, pid;
    bool json;
};

#define O(f) offsetof(struct doctor_cli, f)
static const struct opt_def doctor_opts[] = {
    { "stack", 's', OPT_STR, O(stack), "builtin", OPT_UNBOUNDED, NULL, "What",
      "stack profile name (builtin, dynamo-trtllm, external) or a .yaml path" },
    { "model", 'm', OPT_STR, O(model), "llama8b_fp8", OPT_UNBOUNDED, NULL, "What",
      "model profile name" },
    { "workload", 'w', OPT_STR, O(workload), "A", OPT_UNBOUNDED, NULL, "What",
      "workload family for the forced B2p replay" },
    { "out", 'o', OPT_STR, O(out), "results", OPT_UNBOUNDED, NULL, "Output",
      "results directory; doctor_<stamp>/ is created inside" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print doctor.json on stdout" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "profiles directory" },
    { "hardware", 0, OPT_STR, O(hardware), NULL, OPT_UNBOUNDED, NULL, "Profiles",
      "hardware profile for the builtin engine" },
    { "disk-cache-dir", 0, OPT_STR, O(disk_cache_dir), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "KVBM disk cache directory on the SSD (default: <out>/doctor_<stamp>/.kvtier-kvcache)" },
    { "g1-blocks", 0, OPT_U64, O(g1_blocks), NULL, OPT_UNBOUNDED, NULL, "Tiers",
      "device KV blocks of the builtin engine" },
    { "max-requests", 0, OPT_U64, O(max_requests), NULL, OPT_UNBOUNDED, NULL, "Run",
      "cap on requests per phase of the forced replay" },
    { "ready-timeout", 0, OPT_DURATION_NS, O(ready_timeout_ns), NULL, OPT_UNBOUNDED, NULL, "Run",
      "how long to wait for the stack to become ready" },
    CLIOPT_ROWS_EXTERNAL_STACK(struct doctor_cli),
    OPT_END,
};
#undef O

static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    log_info("%s", line);
}

int cmd_doctor_main(int argc, char **argv)
{
    struct doctor_cli c = { 0 };
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
    struct bundle_config bc;
    bundle_config_init(&bc);
    char *pdir = profile_dir(c.profiles);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    bc.profiles_dir = pdir;
    bc.stack = c.stack;
    bc.model = c.model;
    bc.workload = c.workload;
    bc.dataset = "S";
    bc.hardware = c.hardware;
    bc.out_dir = c.out;
    bc.disk_cache_dir = c.disk_cache_dir;
    bc.g1_blocks = c.g1_blocks;
    bc.max_requests = c.max_requests;
    bc.ready_timeout_ns = c.ready_timeout_ns;
    bc.url = c.url;
    bc.kvbm_metrics_url = c.kvbm_metrics_url;
    bc.frontend_metrics_url = c.frontend_metrics_url;
    bc.served_model = c.served_model;
    bc.observe_pid = (pid_t)c.pid;
    bc.kvtier_path = exe;
    bc.note = print_note;
    bc.interrupt_flag = clisig_catch(CLISIG_SET_INT_TERM, CLISIG_REPEAT_IGNORE);
    json_t *res = NULL;
    struct diag d = { 0 };
    rc = doctor_run(&bc, &res, &d);
    free(pdir);
    if (rc < 0) {
        log_diag(&d);
        return rc == -ENOENT || rc == -EINVAL ? CLIOPT_EXIT_USAGE : CLIOPT_EXIT_FAIL;
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
