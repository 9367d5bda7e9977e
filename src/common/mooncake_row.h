/* SPDX-License-Identifier: Apache-2.0 */
/* The one parser of Mooncake trace rows (kvcache-ai/Mooncake FAST25 format, loadgen.md §5.1),
 * shared by kvtier plan's trace import (workload/mooncake.c) and kvtier load --trace
 * (loadgen/reqplan.c): one JSON object per line with timestamp (ms, may be fractional;
 * optional, 0 when absent), input_length, output_length and hash_ids (one id per block of
 * tokens_per_hash tokens; equal ids = reusable KV), optionally session_id and delay (ms, think
 * time of a later turn) as AIPerf writes them. Parsing is strict: every row must satisfy
 * (n - 1) x tokens_per_hash < input_length <= n x tokens_per_hash for its n hash ids. Pure,
 * any thread; fuzzed by tests/fuzz/fuzz_mooncake_row.c. */
#ifndef KVTIER_COMMON_MOONCAKE_ROW_H
#define KVTIER_COMMON_MOONCAKE_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"

#define MOONCAKE_ROW_LINE_MAX_BYTES (1u << 20) /* one row */
#define MOONCAKE_ROW_HASH_IDS_MAX   65536u     /* hash ids of one row */
#define MOONCAKE_ROW_TOKENS_MAX     (1u << 20) /* input_length and output_length: 1 .. this */
#define MOONCAKE_ROW_TPH_DEFAULT    512u       /* Mooncake's tokens per hash id */

struct mooncake_row {
    double timestamp_ms;                  /* >= 0; 0 when absent */
    uint64_t input_length, output_length; /* tokens */
    uint64_t *hash_ids;                   /* owned */
    size_t n_hash;
    char session_id[64]; /* "" when absent */
    uint64_t delay_ms;   /* 0 when absent */
};

/* Parses one line (len bytes, no newline needed; line borrowed) with tokens_per_hash tokens
 * per hash id (0 = MOONCAKE_ROW_TPH_DEFAULT). -EINVAL with d naming the field, -EMSGSIZE past
 * MOONCAKE_ROW_LINE_MAX_BYTES or MOONCAKE_ROW_HASH_IDS_MAX; d->line is kept as the caller set
 * it. *ret is filled on success (owned: release with mooncake_row_fini). */
int mooncake_row_parse(const char *line, size_t len, uint32_t tokens_per_hash,
                       struct mooncake_row *ret, struct diag *d);
/* Frees the hash ids and zeroes r; safe on a zeroed row. */
void mooncake_row_fini(struct mooncake_row *r);
/* Whether line (len bytes) holds only blanks: such lines are skipped, not rows. */
bool mooncake_row_blank(const char *line, size_t len);

#endif
