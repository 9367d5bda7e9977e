/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier: the command-line entry point. Dispatches to one file per subcommand; this is the
 * only main() of the project. Installed a second time as run_bundle (= kvtier bundle). */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cmds.h"
#include "cli/log.h"
#include "version.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "serve", cmd_serve_main, "run the emulated Dynamo + TRT-LLM + KVBM engine" },
    { "plan", cmd_plan_main, "write a deterministic request plan for a workload" },
    { "load", cmd_load_main, "drive an OpenAI-compatible endpoint, measuring from intended time" },
    { "observe", cmd_observe_main, "run the OS and metrics samplers on their own" },
    { "probe", cmd_probe_main, "measure the SSD ceiling with the KV tier's I/O shapes" },
    { "bundle", cmd_bundle_main, "run one phased, self-describing run bundle (run_bundle)" },
    { "compare", cmd_compare_main, "compare a baseline and a treatment bundle group" },
    { "sweep", cmd_sweep_main, "TTFT p50/p95/p99 with intervals against a load axis per mode" },
    { "slo", cmd_slo_main, "search the largest load that meets a latency SLO per mode" },
    { "matrix", cmd_matrix_main, "run an experiment matrix plan" },
    { "report", cmd_report_main, "build charts and the evidence pack from results" },
    { "doctor", cmd_doctor_main, "check the control surface of a stack" },
    { "tokenize", cmd_tokenize_main, "tokenize text from stdin" },
    { "calibrate", cmd_calibrate_main, "fit the twin's hardware profile from bundles or silicon" },
    { "whatif", cmd_whatif_main,
      "ask the twin where the SSD tier pays off, faster than real time" },
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kvtier COMMAND [OPTIONS]\n\nkvtier %s — evidence that an SSD KV-cache tier "
            "helps (or does not help) LLM inference.\n\nCommands:\n",
            KVTIER_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'kvtier COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C");
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    int shift = 1;
    const char *name = argc > 1 ? argv[1] : NULL;
    if (!strcmp(base, "run_bundle")) {
        name = "bundle";
        shift = 0;
    }
    if (!name || !strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return name ? 0 : 2;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("kvtier %s\n", KVTIER_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        static char prefix[64];
        snprintf(prefix, sizeof(prefix), "kvtier %s", name);
        log_setup(prefix, LOG_LEVEL_INFO);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = commands[i].fn(argc - shift, argv + shift);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "kvtier: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
