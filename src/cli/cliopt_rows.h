/* SPDX-License-Identifier: Apache-2.0 */
/* Option-table rows that several subcommands share because they are the same option: same
 * name, type, default, group and meaning. Each macro expands to rows for a struct opt_def
 * table (src/common/opt.h) whose offsets point into the command's config struct. */
#ifndef KVTIER_CLI_CLIOPT_ROWS_H
#define KVTIER_CLI_CLIOPT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "common/opt.h"

/* offsetof(type, field) that fails to compile unless the field has type ftype, so a shared row
 * can never write a value of the wrong width into a command's struct. */
#define CLIOPT_ROWS_OFFSET(type, field, ftype) \
    (offsetof(type, field) +                   \
     0 * sizeof(                               \
             char[__builtin_types_compatible_p(__typeof__(((type *)0)->field), ftype) ? 1 : -1]))

/* A row with no short name, no default and no bounds, for a const char * (STR) or uint64_t
 * (U64) field. */
#define CLIOPT_ROWS_STR(type, field, name, group, help)                                       \
    {                                                                                         \
        name, 0, OPT_STR, CLIOPT_ROWS_OFFSET(type, field, const char *), NULL, OPT_UNBOUNDED, \
            NULL, group, help                                                                 \
    }
#define CLIOPT_ROWS_U64(type, field, name, group, help)                                         \
    {                                                                                           \
        name, 0, OPT_U64, CLIOPT_ROWS_OFFSET(type, field, uint64_t), NULL, OPT_UNBOUNDED, NULL, \
            group, help                                                                         \
    }

/* The "External stack" group of commands that run a stack through bundle_config (bundle,
 * doctor): an already running stack's URLs, served model name and worker pid. sub names the
 * struct bundle_config inside type (its const char *url, *kvbm_metrics_url,
 * *frontend_metrics_url and *served_model are written directly); pidfield is a uint64_t of type
 * (checked at compile time). */
#define CLIOPT_ROWS_EXTERNAL_STACK(type, sub, pidfield)                                           \
    CLIOPT_ROWS_STR(type, sub.url, "url", "External stack",                                       \
                    "base URL of an already running stack (stack external)"),                     \
        CLIOPT_ROWS_STR(type, sub.kvbm_metrics_url, "kvbm-metrics-url", "External stack",         \
                        "KVBM /metrics URL (default: the profile's, e.g. :6880)"),                \
        CLIOPT_ROWS_STR(type, sub.frontend_metrics_url, "frontend-metrics-url", "External stack", \
                        "frontend /metrics URL (default: <url>/metrics)"),                        \
        CLIOPT_ROWS_STR(type, sub.served_model, "served-model", "External stack",                 \
                        "model name the server lists in /v1/models (default: the profile's)"),    \
        CLIOPT_ROWS_U64(type, pidfield, "pid", "External stack",                                  \
                        "worker pid whose environment and I/O to observe (external stacks)")

#endif
