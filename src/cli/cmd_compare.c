/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier compare: A/B statistics between a baseline and a treatment bundle group (run/compare.h,
 * docs/compare.md). Writes the comparison JSON and its Markdown; exit 0 when the comparison is
 * decision-grade, 3 when it is not (insufficient repeats, bundles that are not decision-grade,
 * mismatched inputs allowed by flag), 2 for unusable input. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compare.h"
#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

struct compare_cli {
    const char *baseline, *treatment, *phase, *primary, *out, *md;
    double level, min_effect;
    uint64_t resamples, seed, repeats_min;
    bool allow_mismatch, json, quiet;
};

#define O(f) offsetof(struct compare_cli, f)
static const struct opt_def defs[] = {
    { "baseline", 'b', OPT_STR, O(baseline), NULL, OPT_UNBOUNDED, NULL, "Input",
      "baseline: a run bundle or a mode directory of repeats (<group>/<mode>), required" },
    { "treatment", 't', OPT_STR, O(treatment), NULL, OPT_UNBOUNDED, NULL, "Input",
      "treatment: a run bundle or a mode directory of repeats, required" },
    { "phase", 0, OPT_STR, O(phase), "replay", OPT_UNBOUNDED, NULL, "Input",
      "summary phase to compare (replay, pressure, warmup, steady, all)" },
    { "allow-mismatch", 0, OPT_BOOL, O(allow_mismatch), NULL, OPT_UNBOUNDED, NULL, "Input",
      "compare bundles of different models, workloads or plans (never decision-grade)" },
    { "primary", 0, OPT_STR, O(primary), "ttft_p95_ms", OPT_UNBOUNDED, NULL, "Statistics",
      "metric of the headline: ttft_p50_ms, ttft_p95_ms, ttft_p99_ms, e2e_p95_ms, itl_p50_ms, "
      "throughput_rps, output_tps, error_rate" },
    { "level", 0, OPT_DOUBLE, O(level), "0.95", 0.5, 0.999, NULL, "Statistics",
      "confidence level of the intervals; the rank test uses alpha = 1 - level" },
    { "resamples", 0, OPT_U64, O(resamples), "5000", 100, 100000, NULL, "Statistics",
      "bootstrap resamples" },
    { "seed", 0, OPT_U64, O(seed), "1", OPT_UNBOUNDED, NULL, "Statistics",
      "bootstrap seed (the same seed gives the same intervals)" },
    { "min-effect", 0, OPT_DOUBLE, O(min_effect), "0.05", 0, 10, NULL, "Statistics",
      "relative change below which a significant difference is called negligible (0.05 = 5%)" },
    { "repeats-min", 0, OPT_U64, O(repeats_min), "3", 1, 1000, NULL, "Statistics",
      "valid repeats per side needed for a decision" },
    { "out", 'o', OPT_STR, O(out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "comparison JSON (written atomically); its Markdown goes beside it as .md" },
    { "md", 0, OPT_STR, O(md), NULL, OPT_UNBOUNDED, NULL, "Output",
      "Markdown path (default: --out with .json replaced by .md)" },
    { "json", 0, OPT_BOOL, O(json), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print the comparison JSON on stdout instead of the table" },
    { "quiet", 'q', OPT_BOOL, O(quiet), NULL, OPT_UNBOUNDED, NULL, "Output",
      "print nothing but errors" },
    OPT_END,
};
#undef O

static char *md_path(const char *out)
{
    size_t n = strlen(out);
    char *p = xmalloc(n + 4);
    memcpy(p, out, n + 1);
    if (n > 5 && strcmp(out + n - 5, ".json") == 0)
        strcpy(p + n - 5, ".md");
    else
        strcat(p, ".md");
    return p;
}

int cmd_compare_main(int argc, char **argv)
{
    struct compare_cli c = { 0 };
    int rc = cliopt_parse_noargs(
        "compare", defs, argc, argv, &c,
        "kvtier compare --baseline DIR --treatment DIR [--out cmp.json]",
        "Compares a baseline and a treatment (bundle groups' mode directories, e.g. B1 and B2): "
        "per metric one value per valid repeat, a bootstrap interval of the ratio of means and "
        "a Mann-Whitney test, plus request-level TTFT quantiles pooled over the repeats "
        "(hierarchical bootstrap). Exit 0 when the comparison is decision-grade, 3 when not.");
    if (rc >= 0)
        return rc;
    if (!c.baseline || !c.treatment) {
        log_error("--baseline and --treatment are required");
        return CLIOPT_EXIT_USAGE;
    }
    struct compare_config cfg = {
        .baseline = c.baseline,
        .treatment = c.treatment,
        .phase = c.phase,
        .primary = c.primary,
        .level = c.level,
        .resamples = (unsigned)c.resamples,
        .seed = c.seed,
        .min_effect = c.min_effect,
        .repeats_min = (unsigned)c.repeats_min,
        .allow_mismatch = c.allow_mismatch,
    };
    json_t *doc = NULL;
    struct diag d = { 0 };
    int r = compare_run(&cfg, &doc, &d);
    if (r < 0) {
        log_diag(&d);
        return CLIOPT_EXIT_USAGE;
    }
    char *md = compare_markdown(doc);
    int exit_code =
        json_is_true(json_object_get(doc, "decision_grade")) ? CLIOPT_EXIT_OK : CLIOPT_EXIT_INVALID;
    if (c.out) {
        char *mp = c.md ? xstrdup(c.md) : md_path(c.out);
        int w = jsonx_write_file(c.out, doc);
        if (w < 0)
            log_error("%s: cannot write: %s", c.out, strerror(-w));
        int w2 = fileio_write_atomic(mp, md, strlen(md));
        if (w2 < 0)
            log_error("%s: cannot write: %s", mp, strerror(-w2));
        if (w < 0 || w2 < 0)
            exit_code = CLIOPT_EXIT_FAIL;
        else if (!c.quiet && !c.json)
            log_info("wrote %s and %s", c.out, mp);
        free(mp);
    }
    if (c.json) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (s)
            puts(s);
        free(s);
    } else if (!c.quiet) {
        fputs(md, stdout);
    }
    free(md);
    json_decref(doc);
    return exit_code;
}
