/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier matrix: the conductor of a plan (profiles/plans/NAME.yaml, docs/matrix.md). A plan names
 * rows (model x workload x dataset x modes x repeats: `runs`, `mechanism`, `optional`) and the
 * Style 1 sweeps / Style 2 searches it asks for (`sweeps`, `searches`). Each row is checked for
 * feasibility with the arithmetic in words (Dataset L against the engine's context, the
 * pressure sizing against the tier capacities, the model against the dataset's request sizes),
 * given an estimated wall time, and run as one kvtier subcommand child process (bundle, sweep or
 * slo) through its documented CLI into <out>/rows/<id>/. matrix.json records each row's state
 * and is rewritten atomically after every change, so an interrupted matrix resumes: finished
 * rows are kept and skipped, a partial row is moved aside and redone. Rows that cannot be
 * decision-grade are not silently skipped: a Dataset L row on an engine below 32k gets a
 * blocker dossier (BLOCKER.md + blocker.json), an infeasible row says why.
 * Library code: progress goes through a callback; children are kvtier itself. */
#ifndef KVTIER_RUN_MATRIX_H
#define KVTIER_RUN_MATRIX_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define MATRIX_SCHEMA_VERSION 1
#define MATRIX_MAX_ROWS       256
#define MATRIX_PLAN_MAX_BYTES (1u << 20) /* largest plan file read */

/* Row states in matrix.json. */
#define MATRIX_STATE_PENDING     "pending"     /* not started */
#define MATRIX_STATE_RUNNING     "running"     /* started; a matrix.json left so was interrupted */
#define MATRIX_STATE_DONE        "done"        /* the child finished and wrote its outputs */
#define MATRIX_STATE_FAILED      "failed"      /* the child failed (exit code recorded) */
#define MATRIX_STATE_INTERRUPTED "interrupted" /* stopped by Ctrl-C; redone on the next run */
#define MATRIX_STATE_BLOCKED     "blocked"     /* blocker dossier written (Dataset L context) */
#define MATRIX_STATE_INFEASIBLE  "infeasible"  /* cannot be decision-grade; arithmetic given */
#define MATRIX_STATE_WAITING     "waiting"     /* the subcommand it needs is not available */
#define MATRIX_STATE_SKIPPED     "skipped"     /* optional row not asked for (--optional) */

/* Loads and validates the plan at path (YAML) against the profiles: every model, workload,
 * dataset, mode and stack must exist. Returns 0 and *ret (owned): {name, path, stack, dataset,
 * seed, repeats, rows: [{id, kind, model, workload, dataset, modes: [..], repeats, seed,
 * max_requests, rate_scale, bundle_args: [..], tokenizer, endpoint, sweep/slo arguments}]}.
 * A plan's `tokenizer:` and `endpoint:` (top level or per row, the row's winning) reach every
 * child as --tokenizer/--endpoint; a relative tokenizer path is taken from the plan's directory.
 * Errors: -ENOENT (the file or a profile is missing; d names it and lists the valid names), -EINVAL
 * (d names the plan path, the row such as "runs[2]" and the field). Caller's thread. */
int matrix_plan_load(const char *path, const char *profiles_dir, json_t **ret, struct diag *d);
/* matrix_plan_load on plan text (len bytes, borrowed); path (borrowed) names it in diagnostics
 * and in the result. */
int matrix_plan_parse(const char *text, size_t len, const char *path, const char *profiles_dir,
                      json_t **ret, struct diag *d);

/* The command line's prompt options over the plan's (borrowed strings; NULL = keep the plan's):
 * tokenizer (a readable tokenizer.json, recorded absolute) and endpoint ("chat" or
 * "completions") set on the plan header and on every row, whose children get them as
 * --tokenizer/--endpoint. -ENOENT or -EINVAL with d. */
int matrix_plan_prompts(json_t *plan, const char *tokenizer, const char *endpoint, struct diag *d);

/* Adds to every row of plan (borrowed, modified in place) "feasibility" {feasible, state,
 * reasons: [..], arithmetic: {..}} and "estimate" {bundles, per_bundle_s, wall_s, how}. Builds
 * each row's request plan with the B2 tier capacities into tmp_dir (borrowed; created). Sweep
 * and search rows are "waiting" when kvtier_path (borrowed; NULL = assume present) does not
 * answer `<sweep|slo> --help` with exit 0. Returns the total estimated wall time in seconds of
 * the feasible rows (also set as plan.estimated_wall_s). Runs short child processes. */
double matrix_assess(const char *profiles_dir, const char *kvtier_path, json_t *plan,
                     const char *tmp_dir);

struct matrix_config {
    const char *profiles_dir;   /* borrowed */
    const char *plan_path;      /* borrowed; recorded */
    const char *out_dir;        /* borrowed; results root: matrix.json, rows/<id>/ */
    const char *kvtier_path;    /* borrowed; the kvtier binary run for each row */
    const char *disk_cache_dir; /* borrowed; passed to every bundle child; NULL = theirs */
    bool optional;              /* also run the plan's optional rows */
    bool drop_caches;           /* false passes --drop-caches no */
    const volatile sig_atomic_t *interrupt_flag; /* set by the cli's SIGINT/SIGTERM handler */
    void (*note)(void *ctx, const char *line);   /* progress lines (may be NULL) */
    void *note_ctx;
};

/* Runs (or resumes) the assessed plan into cfg->out_dir. Rows already "done" in an existing
 * matrix.json whose outputs are still present are skipped; others run in plan order. Returns 0
 * when every row reached a final state (done, blocked, infeasible, waiting, skipped; failed
 * rows included: see ret_doc), -EINTR when interrupted, or negative errno with d when the
 * output directory cannot be written. *ret_doc (owned) is the final matrix.json document. */
int matrix_run(const struct matrix_config *cfg, json_t *plan, json_t **ret_doc, struct diag *d);

/* The argv (owned JSON array of strings, argv[0] = kvtier) of row's child, writing into
 * row_dir (borrowed). NULL for a row kind that runs nothing. Pure. */
json_t *matrix_row_argv(const json_t *row, const json_t *plan, const struct matrix_config *cfg,
                        const char *row_dir);

#endif
