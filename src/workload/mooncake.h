/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake trace rows (kvcache-ai/Mooncake FAST25 format, loadgen.md §5.1): one JSON object per
 * line with timestamp (ms), input_length, output_length and hash_ids (one id per block of
 * tokens_per_hash tokens; equal ids = reusable KV), optionally session_id and delay (ms, think
 * time of a later turn) as AIPerf writes them. Parsing is strict: every row must satisfy
 * (n - 1) x tokens_per_hash < input_length <= n x tokens_per_hash for its n hash ids. */
#ifndef KVTIER_WORKLOAD_MOONCAKE_H
#define KVTIER_WORKLOAD_MOONCAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"

struct mooncake_row {
    uint64_t timestamp_ms;
    uint64_t input_length, output_length; /* tokens */
    uint64_t *hash_ids;                   /* owned */
    size_t n_hash;
    char session_id[64]; /* "" when absent */
    uint64_t delay_ms;   /* 0 when absent */
};

/* Parses one line (len bytes, no newline needed). -EINVAL with d naming the field (d->line is
 * left to the caller), -EMSGSIZE past WORKLOAD_TRACE_LINE_MAX_BYTES or
 * WORKLOAD_TRACE_MAX_HASH_IDS. *ret filled on success (release with mooncake_row_fini). */
int mooncake_parse_line(const char *line, size_t len, uint32_t tokens_per_hash,
                        struct mooncake_row *ret, struct diag *d);
void mooncake_row_fini(struct mooncake_row *r);

#endif
