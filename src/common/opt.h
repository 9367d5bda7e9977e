/* SPDX-License-Identifier: Apache-2.0 */
/* Option tables: each subcommand declares its options once as an array of struct opt_def; the
 * table drives getopt_long parsing, defaults, range validation, grouped --help text, the
 * Markdown reference (docs/options.md) and the effective-configuration JSON stored in bundles.
 * Values are parsed by common/units.c exactly like user input, defaults included. */
#ifndef KVTIER_COMMON_OPT_H
#define KVTIER_COMMON_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/diag.h"

enum opt_type {
    OPT_BOOL,        /* bool; flag without argument */
    OPT_U64,         /* uint64_t; "1.5k" allowed */
    OPT_DOUBLE,      /* double */
    OPT_STR,         /* const char *; borrowed from argv or the default literal */
    OPT_DURATION_NS, /* uint64_t ns; "250ms", bare = seconds */
    OPT_SIZE_BYTES,  /* uint64_t bytes; "4KiB", "2M" */
    OPT_RATE_PER_S,  /* double per second; "2k", "100/s" */
    OPT_ENUM,        /* int index into choices */
    OPT__MARKS,      /* only in a table's terminator: where cfg keeps its struct opt_marks */
};

#define OPT_MAX 64 /* options in a table that keeps marks */

/* Which options of a table were set explicitly (command line or opt_set), bit i = defs[i].
 * Caller storage: a field of the config struct, named by the table's terminator. */
struct opt_marks {
    uint64_t bits;
};

struct opt_choice {
    const char *name;
    const char *help;
};

struct opt_def {
    const char *name; /* --long-name; also the JSON key */
    char short_name;  /* 0 if none */
    enum opt_type type;
    size_t offset;                    /* offsetof() into the subcommand's config struct */
    const char *def;                  /* default as text, parsed like input; NULL = unset/0 */
    double min, max;                  /* inclusive numeric bounds; min > max = unbounded */
    const struct opt_choice *choices; /* OPT_ENUM only, NULL-name terminated */
    const char *group;                /* help section, e.g. "Load" */
    const char *help;                 /* one line; names the unit */
};

#define OPT_UNBOUNDED 1, 0
#define OPT_END      \
    {                \
        .name = NULL \
    }
/* The terminator of a table whose config struct cfg_type keeps its marks in field (a
 * struct opt_marks), so opt_was_set can answer. */
#define OPT_END_MARKS(cfg_type, field)                                        \
    {                                                                         \
        .name = NULL, .type = OPT__MARKS, .offset = offsetof(cfg_type, field) \
    }

/* Applies defaults, then parses argv (getopt_long, permutation off). Positional arguments are
 * left at argv[*ret_optind..]. "--help" sets *ret_help = true and stops. Errors: -EINVAL with
 * diag naming the option and the problem (with a "did you mean --x?" hint for unknown names).
 * cfg is the config struct the offsets point into. Not thread-safe (getopt state). */
int opt_parse(const struct opt_def *defs, int argc, char **argv, void *cfg, bool *ret_help,
              int *ret_optind, struct diag *d);
/* Sets one option by name from text, as the command line would (used for YAML profiles). */
int opt_set(const struct opt_def *defs, void *cfg, const char *name, const char *value,
            struct diag *d);
/* Appends grouped help text for the table to out. */
void opt_help(const struct opt_def *defs, const char *usage, const char *summary, struct buf *out);
/* Appends a Markdown table describing the options to out. */
void opt_help_markdown(const struct opt_def *defs, const char *cmd, struct buf *out);
/* Returns the effective configuration as a new JSON object (owned). */
json_t *opt_to_json(const struct opt_def *defs, const void *cfg);
/* Whether the named option was given on the command line or by opt_set (not just defaulted).
 * The table must end in OPT_END_MARKS and hold at most OPT_MAX options, and name must be one of
 * its options: anything else is a programmer error and asserts. */
bool opt_was_set(const struct opt_def *defs, const void *cfg, const char *name);

#endif
