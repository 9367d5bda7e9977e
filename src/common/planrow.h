/* SPDX-License-Identifier: Apache-2.0 */
/* The one reader of request plans (raw/requests.jsonl, the format of docs/contracts.md), shared
 * by kvtier load (loadgen/reqplan.c, which sends the prompt bodies) and the twin
 * (twin/twin_plan.c, which replays block hashes and lengths and needs no body): one line
 * splitter, one set of limits, one message style (file:line, 'field "key": what'), one fuzz
 * target (tests/fuzz/fuzz_planrow.c, through both users).
 *
 * Lines are JSON objects; blank lines are skipped. A line with a "kind" is a header: the first
 * "kvtier.plan" header gives the endpoint and the phases (a second one is an error), other kinds
 * are skipped. Every other line is one request, handed to the caller's function as a struct
 * planrow. Unknown keys are ignored. Options say what a user cannot do without: the load
 * generator needs a body (messages, prompt or prompt_token_ids), the twin needs hash_ids and
 * input/output token counts of at least 1 and the header's phases before any request. Without
 * a header that lists phases, a request's "phase" (default "main") adds a phase; with one, it
 * must name one of them. Pure, any thread (one reader per thread). */
#ifndef KVTIER_COMMON_PLANROW_H
#define KVTIER_COMMON_PLANROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/diag.h"

#define PLANROW_LINE_MAX_BYTES (64u << 20) /* one plan line */
#define PLANROW_FILE_MAX_BYTES (4ull << 30)
#define PLANROW_MAX_REQUESTS   10000000u
#define PLANROW_MAX_PHASES     64
#define PLANROW_ID_MAX         128        /* id and session_id, with the NUL */
#define PLANROW_TOKENS_MAX     (4u << 20) /* largest input or output length accepted */
#define PLANROW_HASH_IDS_MAX   PLANROW_TOKENS_MAX
#define PLANROW_PHASE_NAME_MAX 64

enum planrow_endpoint {
    PLANROW_ENDPOINT_NONE = 0, /* the header does not say */
    PLANROW_ENDPOINT_CHAT,
    PLANROW_ENDPOINT_COMPLETIONS,
};

struct planrow_phase {
    char name[PLANROW_PHASE_NAME_MAX];
    char arrival[12];         /* plan, constant, poisson, gamma or closed; "" = unspecified */
    double rate_per_s;        /* 0 = not given */
    double burstiness;        /* 0 = not given */
    uint64_t concurrency;     /* closed loop; 0 = not given */
    uint64_t max_concurrency; /* open-loop cap; 0 = none */
    uint64_t duration_ns;     /* 0 = none */
    uint64_t requests;        /* count limit, 0 = none */
};

/* One request line. The JSON values are borrowed from the line and valid during the call;
 * hash_ids belongs to the reader unless the function takes it (and sets it to NULL). */
struct planrow {
    char id[PLANROW_ID_MAX];         /* a string, or an integer written in decimal */
    uint32_t phase;                  /* index into the reader's phases */
    char session_id[PLANROW_ID_MAX]; /* "" = none */
    uint32_t turn;                   /* 0 for a session's first turn */
    int64_t t_offset_ns;             /* intended send from the phase start; -1 = none */
    uint64_t think_time_ns;
    bool carry_history;
    uint64_t input_tokens, output_tokens; /* 0 = not given */
    json_t *messages;                     /* non-empty array of objects with a role, or NULL */
    json_t *prompt;                       /* string or NULL */
    json_t *prompt_token_ids;             /* non-empty array of integers >= 0, or NULL */
    uint64_t *hash_ids;                   /* NULL when absent */
    uint32_t n_hash_ids;
};

struct planrow_opts {
    bool need_body;   /* messages, prompt or prompt_token_ids (kvtier load) */
    bool need_replay; /* hash_ids, input_tokens and output_tokens >= 1 (the twin) */
    bool need_header; /* a kvtier.plan header listing the phases comes before any request */
};

/* Reader state, caller storage (planrow_reader_init / planrow_reader_fini). */
struct planrow_reader {
    struct planrow_opts opts;
    struct planrow_phase phases[PLANROW_MAX_PHASES];
    size_t n_phases;
    enum planrow_endpoint endpoint;
    json_t *header; /* owned: the kvtier.plan header, NULL before it */
    json_t *ids;    /* owned: request id -> line it was first seen on */
    size_t n_requests;
};

/* Called once per request line; a negative return stops the read and is returned (fill d). */
typedef int (*planrow_fn)(void *arg, struct planrow *row, unsigned line, struct diag *d);

void planrow_reader_init(struct planrow_reader *rd, const struct planrow_opts *o);
void planrow_reader_fini(struct planrow_reader *rd);
/* Reads plan text (len bytes) named name (for diagnostics), calling fn for every request.
 * 0, or -EINVAL / -EMSGSIZE with d at name:line naming the field; a plan without requests is
 * an error ("no requests", line 0). */
int planrow_read(struct planrow_reader *rd, const char *text, size_t len, const char *name,
                 planrow_fn fn, void *arg, struct diag *d);
/* Index of the phase named name, or -1. */
int planrow_phase_index(const struct planrow_reader *rd, const char *name);
/* Reads a plan (or trace) file into out, bounded by PLANROW_FILE_MAX_BYTES; d names the file. */
int planrow_load_text(const char *path, struct buf *out, struct diag *d);

#endif
