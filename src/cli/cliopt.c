/* SPDX-License-Identifier: Apache-2.0 */
/* Option parsing with help and usage errors for subcommands (see cliopt.h). */
#include "cli/cliopt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/log.h"
#include "common/diag.h"
#include "common/yamlx.h"

int cliopt_parse(const char *cmd, const struct opt_def *defs, int argc, char **argv, void *cfg,
                 const char *usage, const char *summary, int *ret_optind)
{
    struct diag d = { 0 };
    bool help = false;
    int optind_ = 1;
    if (argc > 1 && !strcmp(argv[1], "--help-markdown")) {
        struct buf b;
        buf_init(&b, 0);
        opt_help_markdown(defs, cmd, &b);
        fputs(buf_str(&b), stdout);
        buf_fini(&b);
        return CLIOPT_EXIT_OK;
    }
    if (opt_parse(defs, argc, argv, cfg, &help, &optind_, &d) < 0) {
        log_diag(&d);
        fprintf(stderr, "Try 'kvtier %s --help'.\n", cmd);
        return CLIOPT_EXIT_USAGE;
    }
    if (help) {
        struct buf b;
        buf_init(&b, 0);
        opt_help(defs, usage, summary, &b);
        fputs(buf_str(&b), stdout);
        buf_fini(&b);
        return CLIOPT_EXIT_OK;
    }
    *ret_optind = optind_;
    return -1;
}

int cliopt_parse_noargs(const char *cmd, const struct opt_def *defs, int argc, char **argv,
                        void *cfg, const char *usage, const char *summary)
{
    int optind_ = 1;
    int rc = cliopt_parse(cmd, defs, argc, argv, cfg, usage, summary, &optind_);
    if (rc >= 0)
        return rc;
    if (optind_ < argc) {
        log_error("unexpected argument '%s'", argv[optind_]);
        return CLIOPT_EXIT_USAGE;
    }
    return -1;
}

static const char *value_kind(const json_t *v)
{
    return json_is_array(v)    ? "a list"
           : json_is_string(v) ? "a string (is it YAML or JSON?)"
           : json_is_null(v)   ? "an empty document"
                               : "a scalar";
}

int cliopt_load_thresholds(const char *path, struct gate_thresholds *t)
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
    return r < 0 ? -EINVAL : 0;
}
