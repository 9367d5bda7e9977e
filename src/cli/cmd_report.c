/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier report: charts for run bundles. `--bundle DIR` (re)draws one bundle's charts/ from
 * its raw/ and os/ files; the evidence pack over a results tree is not built yet and says so. */
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "report/charts.h"

struct report_cfg {
    const char *bundle;
    const char *results;
    const char *out;
    const char *gnuplot;
};

static const struct opt_def report_opts[] = {
    { "bundle", 0, OPT_STR, offsetof(struct report_cfg, bundle), NULL, OPT_UNBOUNDED, NULL, "Input",
      "one run bundle directory whose charts/ to (re)draw" },
    { "results", 0, OPT_STR, offsetof(struct report_cfg, results), NULL, OPT_UNBOUNDED, NULL,
      "Input", "a results tree for the evidence pack (not built yet)" },
    { "out", 'o', OPT_STR, offsetof(struct report_cfg, out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "evidence pack directory (with --results)" },
    { "gnuplot", 0, OPT_STR, offsetof(struct report_cfg, gnuplot), "gnuplot", OPT_UNBOUNDED, NULL,
      "Output", "gnuplot program used to render PNG and SVG" },
    OPT_END,
};

int cmd_report_main(int argc, char **argv)
{
    struct report_cfg cfg = { 0 };
    int optind_ = 0;
    int rc = cliopt_parse("report", report_opts, argc, argv, &cfg, "kvtier report --bundle DIR",
                          "Draws a run bundle's charts (TTFT timeline, KVBM transfer rates, device "
                          "I/O, await vs TTFT) as gnuplot data, scripts, PNG and SVG.",
                          &optind_);
    if (rc >= 0)
        return rc;
    if (!cfg.bundle && !cfg.results) {
        log_error("give --bundle DIR (or --results DIR for the evidence pack)");
        return CLIOPT_EXIT_USAGE;
    }
    if (!cfg.bundle) {
        log_error("the evidence pack (--results) is not implemented yet");
        return CLIOPT_EXIT_FAIL;
    }
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
