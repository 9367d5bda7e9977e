/* SPDX-License-Identifier: Apache-2.0 */
/* Shared command-line handling for subcommands: parse an option table, print --help or
 * --help-markdown, and turn usage errors into exit code 2 with a clear message. */
#ifndef KVTIER_CLI_CLIOPT_H
#define KVTIER_CLI_CLIOPT_H

#include "common/opt.h"
#include "run/gate.h"

enum cliopt_exit {
    CLIOPT_EXIT_OK = 0,
    CLIOPT_EXIT_FAIL = 1,
    CLIOPT_EXIT_USAGE = 2,
    CLIOPT_EXIT_INVALID = 3
};

/* Parses argv into cfg. Returns -1 to continue, or an exit code the command must return now
 * (0 after --help, 2 after a usage error, already reported). *ret_optind gets the first
 * positional argument. */
int cliopt_parse(const char *cmd, const struct opt_def *defs, int argc, char **argv, void *cfg,
                 const char *usage, const char *summary, int *ret_optind);
/* cliopt_parse() for a command that takes no positional arguments: a positional argument is
 * a usage error ("unexpected argument 'X'", exit code 2). Returns -1 to continue, or an exit
 * code the command must return now (already reported). */
int cliopt_parse_noargs(const char *cmd, const struct opt_def *defs, int argc, char **argv,
                        void *cfg, const char *usage, const char *summary);

/* --thresholds FILE (YAML or JSON) over t: 0, or -EINVAL with the problem logged (not a
 * mapping, an unknown or non-numeric key, a negative or non-finite value; exit 2 follows). */
int cliopt_load_thresholds(const char *path, struct gate_thresholds *t);

#endif
