/* SPDX-License-Identifier: Apache-2.0 */
/* One request as it happened, and its two serialisations: the records.jsonl line (keys of
 * ARCHITECTURE.md §6 plus compact per-chunk gaps) and the AIPerf-style profile_export.jsonl
 * line. Times are CLOCK_MONOTONIC ns; 0 means "never happened" and is written as null. */
#ifndef KVTIER_LOADGEN_LOADREC_H
#define KVTIER_LOADGEN_LOADREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum loadrec_error {
    LOADREC_OK = 0,
    LOADREC_CONNECT,      /* could not connect / resolve */
    LOADREC_TIMEOUT,      /* no first token or no end in time */
    LOADREC_HTTP_4XX,     /* 4xx status (429 included) */
    LOADREC_HTTP_5XX,     /* 5xx status */
    LOADREC_STREAM_ERROR, /* reset, truncated stream, malformed SSE/JSON, error event */
    LOADREC_CANCELLED,    /* stopped by the user or by the drain deadline */
    LOADREC_REFUSED,      /* never sent: longer than the engine accepts (loadgen_config
                             .max_context_tokens); error_detail says by how much */
    LOADREC_ERROR__COUNT,
};

struct loadrec {
    const char *id;         /* borrowed */
    const char *phase;      /* borrowed */
    const char *session_id; /* borrowed, may be NULL */
    uint32_t turn;
    uint64_t t_intended_ns, t_sent_ns, t_first_byte_ns, t_first_token_ns, t_first_content_ns,
        t_last_token_ns, t_end_ns;
    uint64_t t_slot_ns; /* open loop with a concurrency cap: when the slot this request took
                           freed, if every slot was taken since before its intended time;
                           0 = it never waited for the cap */
    int64_t prompt_tokens, completion_tokens, cached_tokens; /* from usage; -1 = absent */
    int64_t plan_input_tokens, plan_output_tokens;           /* -1 = unknown */
    uint64_t client_tokens; /* token-bearing chunks counted by the client (usage deltas when
                               the server sends per-chunk usage) */
    long http_status;       /* 0 = no response */
    enum loadrec_error error;
    char error_detail[160];     /* "" when none */
    uint64_t connect_ns;        /* TCP connect of a new connection; 0 = reused keep-alive */
    int64_t retry_after_s;      /* Retry-After of a 429/503, -1 = none */
    const uint64_t *gaps_ns;    /* borrowed; gap before each token-bearing chunk after the first */
    const uint32_t *gap_tokens; /* borrowed; tokens carried by that chunk */
    size_t n_gaps;
    uint64_t anchor_mono_ns, anchor_unix_ns; /* clock anchor for wall-clock stamps */
};

/* "connect" ... "cancelled", or NULL for LOADREC_OK. */
const char *loadrec_error_name(enum loadrec_error e);
/* The records.jsonl object (owned). */
json_t *loadrec_json(const struct loadrec *r);
/* The AIPerf-style profile_export.jsonl object (owned): metadata, metrics {tag: {value, unit}},
 * error. AIPerf measures from the actual send, so time_to_first_token here does too; the
 * kvtier intended-time figures are added as *_from_intended. */
json_t *loadrec_profile_json(const struct loadrec *r, uint64_t session_num);
/* Per-request derived metrics in ms (NaN when not defined). */
double loadrec_ttft_ms(const struct loadrec *r);      /* first token - intended */
double loadrec_ttft_sent_ms(const struct loadrec *r); /* first token - sent */
double loadrec_ttfc_ms(const struct loadrec *r);      /* first content - intended */
double loadrec_e2e_ms(const struct loadrec *r);       /* last token - intended */
double loadrec_tpot_ms(const struct loadrec *r);      /* (last - first token) / (n - 1) */
double loadrec_lag_ms(const struct loadrec *r);       /* sent - intended */
/* sent - the later of intended and t_slot_ns: the client's own lateness, without the time the
 * request waited for the workload's concurrency cap (which client_lag includes) */
double loadrec_send_lag_ms(const struct loadrec *r);
/* Output tokens: usage completion_tokens, else the client's count. */
uint64_t loadrec_output_tokens(const struct loadrec *r);

#endif
