/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake traces in kvtier plan (loadgen.md §5.1): import, a walk over a trace file's rows
 * that turns timestamps into plan offsets and session rows into turns (the caller makes the
 * requests), and export, a plan's requests written back as Mooncake rows. Rows are parsed by the
 * one Mooncake row parser, common/mooncake_row.h. */
#ifndef KVTIER_WORKLOAD_MOONCAKE_H
#define KVTIER_WORKLOAD_MOONCAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/mooncake_row.h"

#define MOONCAKE_TRACE_MAX_BYTES ((size_t)1 << 32) /* a trace file */
#define MOONCAKE_PLAN_MAX_BYTES  ((size_t)1 << 34) /* a plan file to export */

/* One row of a trace as a plan request. */
struct mooncake_turn {
    const struct mooncake_row *row; /* borrowed; valid during the callback */
    unsigned line;                  /* 1-based line of the row in the trace */
    bool later;                     /* a later turn of a session seen on an earlier row */
    int64_t t_offset_ns;            /* from the first row's timestamp; -1 for a later turn */
    uint64_t think_time_ns;         /* a later turn's delay; 0 otherwise */
};

/* Called for each row in file order; a negative return stops the walk and is returned (fill d
 * with the reason; d->line is the row's line). */
typedef int mooncake_turn_fn(void *ctx, const struct mooncake_turn *t, struct diag *d);

/* Reads the trace at path (bounded by MOONCAKE_TRACE_MAX_BYTES) and calls fn (ctx borrowed)
 * for each row, with tokens_per_hash tokens per hash id (0 = 512). Blank lines are skipped.
 * Returns 0 and *ret_rows, or negative errno: -EINVAL a bad row or no rows (d names the file,
 * line and field), the error of a read, or fn's. */
int mooncake_import(const char *path, uint32_t tokens_per_hash, mooncake_turn_fn *fn, void *ctx,
                    uint64_t *ret_rows, struct diag *d);

/* Writes the requests of a plan as Mooncake JSONL (timestamp ms, input_length, output_length,
 * hash_ids, plus session_id and delay for later session turns) to out_path. hash ids are
 * renumbered densely from 0 in order of first appearance; tokens_per_hash is the plan's
 * tokens_per_block. Returns the number of rows written, or negative errno (d names the plan
 * file and line). */
int mooncake_export(const char *plan_path, const char *out_path, struct diag *d);

#endif
