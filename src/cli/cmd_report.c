/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier report: `--bundle DIR` (re)draws one bundle's charts/ from its raw/ and os/ files;
 * `--results DIR --out PACK` writes the evidence pack (src/report/pack.h, docs/report.md).
 * Exit codes: 0 written; 1 a file could not be written; 2 bad input (no results folder, no
 * bundle in it, a malformed bundle file, engines mixed without --allow-mixed-engines, --out
 * naming a folder that is not a pack), the error naming the path. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "report/charts.h"
#include "report/pack.h"

struct report_cfg {
    const char *bundle;
    const char *results;
    const char *out;
    const char *gnuplot;
    bool allow_mixed;
};

static const struct opt_def report_opts[] = {
    { "bundle", 0, OPT_STR, offsetof(struct report_cfg, bundle), NULL, OPT_UNBOUNDED, NULL, "Input",
      "one run bundle directory whose charts/ to (re)draw" },
    { "results", 0, OPT_STR, offsetof(struct report_cfg, results), NULL, OPT_UNBOUNDED, NULL,
      "Input",
      "a results tree (kvtier matrix output, or any folder of bundles) for the evidence "
      "pack" },
    { "out", 'o', OPT_STR, offsetof(struct report_cfg, out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "evidence pack folder (with --results); written to a temporary sibling and renamed, a "
      "previous pack there is replaced" },
    { "allow-mixed-engines", 0, OPT_BOOL, offsetof(struct report_cfg, allow_mixed), NULL,
      OPT_UNBOUNDED, NULL, "Input",
      "pack bundles of the emulated engine and of a real stack together (refused otherwise)" },
    { "gnuplot", 0, OPT_STR, offsetof(struct report_cfg, gnuplot), "gnuplot", OPT_UNBOUNDED, NULL,
      "Output", "gnuplot program used to render PNG and SVG" },
    OPT_END,
};

static void pack_note(void *ctx, const char *line)
{
    (void)ctx;
    log_warn("%s", line);
}

static int report_pack(const struct report_cfg *cfg)
{
    if (!cfg->out) {
        log_error("--results needs --out PACK (the evidence pack folder)");
        return CLIOPT_EXIT_USAGE;
    }
    struct pack_config pc = { .results_dir = cfg->results,
                              .out_dir = cfg->out,
                              .gnuplot = cfg->gnuplot,
                              .allow_mixed_engines = cfg->allow_mixed,
                              .note = pack_note };
    struct pack_result res;
    struct diag d = { 0 };
    int r = pack_write(&pc, &res, &d);
    if (r < 0) {
        log_diag(&d);
        return r == -EIO ? CLIOPT_EXIT_FAIL : CLIOPT_EXIT_USAGE;
    }
    printf("engine: %s\n", res.emulated && res.real ? "mixed (emulated and real)"
                           : res.real               ? "real stack"
                                                    : "emulated (kvtier serve, builtin stack)");
    printf("headline: %s\n", res.headline);
    printf("decision-grade: %s\n", res.headline_decision_grade ? "yes" : "no");
    printf("%u bundles, %u mode rollups, %u records streamed, %u of 5 figures drawn (%u "
           "rendered)\n",
           res.bundles, res.mode_rows, res.records, res.figures, res.rendered);
    printf("index: %s\n", res.index_html);
    return CLIOPT_EXIT_OK;
}

int cmd_report_main(int argc, char **argv)
{
    struct report_cfg cfg = { 0 };
    int optind_ = 0;
    int rc = cliopt_parse("report", report_opts, argc, argv, &cfg,
                          "kvtier report --bundle DIR | --results DIR --out PACK",
                          "Draws a run bundle's charts (TTFT timeline, KVBM transfer rates, device "
                          "I/O, await vs TTFT) as gnuplot data, scripts, PNG and SVG; or writes "
                          "the evidence pack of a results tree: TECHBRIEF_EVIDENCE.md, METHOD.md, "
                          "RESULTS/ rollups, FIGURES/ (the five canonical charts) and index.html.",
                          &optind_);
    if (rc >= 0)
        return rc;
    if (!cfg.bundle && !cfg.results) {
        log_error("give --bundle DIR (or --results DIR for the evidence pack)");
        return CLIOPT_EXIT_USAGE;
    }
    if (!cfg.bundle)
        return report_pack(&cfg);
    struct charts_result res;
    struct diag d = { 0 };
    if (charts_render_bundle(cfg.bundle, cfg.gnuplot, &res, &d) < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_FAIL;
    }
    size_t i;
    json_t *n;
    json_array_foreach (res.notes, i, n)
        log_warn("%s", json_string_value(n));
    printf("%u charts written, %u rendered in %s/charts\n", res.written, res.rendered, cfg.bundle);
    json_decref(res.notes);
    return res.written ? CLIOPT_EXIT_OK : CLIOPT_EXIT_FAIL;
}
