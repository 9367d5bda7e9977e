/* SPDX-License-Identifier: Apache-2.0 */
/* Option parsing with help and usage errors for subcommands (see cliopt.h). */
#include "cli/cliopt.h"

#include <stdio.h>
#include <string.h>

#include "cli/log.h"

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
