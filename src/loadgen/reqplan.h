/* SPDX-License-Identifier: Apache-2.0 */
/* Request plans in memory: read from the JSONL plan format of docs/contracts.md by the one plan
 * reader, common/planrow.h (unknown keys are ignored; a bad line is an error naming file:line
 * and the field; every request needs a body, its hash_ids are left to the twin), imported
 * from a Mooncake trace (timestamp ms, input_length, output_length, hash_ids), or synthetic
 * (--isl/--osl/--requests). Generated prompts are deterministic words per hash id, so equal
 * hash ids give equal text (and equal token ids with prompt_ids), and are only materialised
 * when a request body is built. */
#ifndef KVTIER_LOADGEN_REQPLAN_H
#define KVTIER_LOADGEN_REQPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/diag.h"
#include "common/planrow.h"
#include "loadgen/loadgen.h"

/* The limits of the one plan reader (common/planrow.h), also applied to traces and synthetic
 * plans. */
#define REQPLAN_LINE_MAX_BYTES PLANROW_LINE_MAX_BYTES
#define REQPLAN_FILE_MAX_BYTES PLANROW_FILE_MAX_BYTES
#define REQPLAN_MAX_REQUESTS   PLANROW_MAX_REQUESTS
#define REQPLAN_MAX_PHASES     PLANROW_MAX_PHASES
#define REQPLAN_ID_MAX         PLANROW_ID_MAX
#define REQPLAN_TOKENS_MAX     PLANROW_TOKENS_MAX
#define REQPLAN_PHASE_NAME_MAX PLANROW_PHASE_NAME_MAX

struct reqplan_request {
    char *id;                 /* owned; sent as X-Request-Id */
    uint32_t phase;           /* index into phases */
    char *session_id;         /* owned or NULL */
    uint32_t turn;            /* 0 for a session's first turn */
    int64_t t_offset_ns;      /* intended send from phase start; -1 = none */
    uint64_t think_time_ns;   /* turn > 0: intended = previous end + think */
    bool carry_history;       /* prepend earlier turns and the replies actually received */
    uint64_t input_tokens;    /* planned prompt tokens (0 = unknown) */
    uint64_t output_tokens;   /* requested output tokens (0 = server default) */
    int64_t prev_turn;        /* index of the session's previous turn, -1 */
    int64_t next_turn;        /* index of the session's next turn, -1 */
    json_t *messages;         /* owned array or NULL */
    char *prompt;             /* owned or NULL */
    json_t *prompt_token_ids; /* owned array or NULL */
    uint64_t *hash_ids;       /* owned; generated prompt blocks (trace, synthetic) or NULL */
    uint32_t n_hash_ids;
    uint32_t tokens_per_hash_id; /* words (or ids) per generated block */
};

struct reqplan_phase {
    char name[REQPLAN_PHASE_NAME_MAX];
    enum loadgen_arrival arrival; /* PLAN = unspecified */
    double rate_per_s;
    double burstiness;
    uint64_t concurrency;     /* closed loop */
    uint64_t max_concurrency; /* open-loop cap, 0 = none */
    uint64_t duration_ns;     /* 0 = none */
    uint64_t requests;        /* count limit, 0 = none */
    size_t *reqs;             /* owned; request indices in plan order */
    size_t n_reqs;
};

struct reqplan {
    struct reqplan_phase *phases; /* owned */
    size_t n_phases;
    struct reqplan_request *reqs; /* owned */
    size_t n_reqs;
    enum loadgen_endpoint endpoint; /* from the header; PLAN = not said */
    bool prompt_ids;                /* generated prompts are token ids (completions) */
    json_t *header;                 /* owned header object or NULL */
};

struct reqplan_trace_opts {
    uint32_t tokens_per_hash_id; /* tokens per hash id block (Mooncake: 512) */
    double speedup;              /* timestamps divided by this; 0 = 1 */
    uint64_t max_requests;       /* 0 = all rows */
    const char *phase;           /* phase name; NULL = "main" */
    bool prompt_ids;             /* send token ids (completions) instead of text */
};

struct reqplan_synth_opts {
    uint64_t requests; /* measured requests */
    uint64_t warmup;   /* extra requests in a "warmup" phase before them */
    uint64_t isl, osl; /* input words (tokens) and output tokens */
    uint64_t seed;
    const char *phase; /* NULL = "main" */
    bool prompt_ids;
};

/* Parses plan text (len bytes) named name (for diagnostics). *ret owned (reqplan_free).
 * Errors: -EINVAL / -EMSGSIZE with d at name:line naming the field. */
int reqplan_parse(const char *text, size_t len, const char *name, struct reqplan **ret,
                  struct diag *d);
/* Loads a plan file (bounded by REQPLAN_FILE_MAX_BYTES). */
int reqplan_load(const char *path, struct reqplan **ret, struct diag *d);
/* Parses Mooncake trace text; each row becomes one open-loop request of one phase. */
int reqplan_parse_trace(const char *text, size_t len, const char *name,
                        const struct reqplan_trace_opts *o, struct reqplan **ret, struct diag *d);
int reqplan_load_trace(const char *path, const struct reqplan_trace_opts *o, struct reqplan **ret,
                       struct diag *d);
/* A synthetic plan: unique prompts of isl words asking for osl tokens (no shared prefix). */
int reqplan_synthetic(const struct reqplan_synth_opts *o, struct reqplan **ret);
/* NULL-safe. */
void reqplan_free(struct reqplan *p);
/* Index of the phase named name, or -1. */
int reqplan_phase_index(const struct reqplan *p, const char *name);

/* What a request body needs besides the plan line. */
struct reqplan_body_opts {
    const char *model;        /* borrowed */
    bool chat;                /* chat (messages) or completions (prompt) */
    bool exact_output;        /* min_tokens and ignore_eos */
    bool include_usage;       /* stream_options.include_usage */
    bool prompt_ids;          /* generated prompts as token ids (completions only) */
    const json_t *extra_body; /* borrowed; merged last (non-standard fields) */
};

/* Builds the JSON body of request r (borrowed) into out: standard OpenAI fields only (model,
 * messages or prompt, max_tokens, stream, stream_options) plus min_tokens/ignore_eos when
 * exact_output, plus extra_body. history (borrowed, may be NULL) is a JSON array of earlier
 * chat messages, or for completions an object {"prompt": text} prepended to the prompt.
 * 0 or -EMSGSIZE. Any thread. */
int reqplan_body(const struct reqplan_request *r, const struct reqplan_body_opts *o,
                 const json_t *history, struct buf *out);
/* The prompt of r as messages (chat) or as text/ids (completions), as the body would carry it:
 * a new owned JSON value (array of messages, string, or array of ids). */
json_t *reqplan_prompt_json(const struct reqplan_request *r, bool chat, bool prompt_ids);

#endif
