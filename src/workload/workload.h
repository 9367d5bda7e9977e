/* SPDX-License-Identifier: Apache-2.0 */
/* Request plans (raw/requests.jsonl, format in docs/contracts.md and docs/workloads.md): the
 * workload families A-D of profiles/workloads/, datasets S and L, sessions, the phases warmup,
 * pressure, replay and steady, pressure sized from the tier capacities, per-request reuse
 * opportunity, and Mooncake trace import (workload/mooncake.h). One plan is a pure function of its
 * inputs: the same inputs give a byte-identical file. Library code: never prints, never exits. */
#ifndef KVTIER_WORKLOAD_WORKLOAD_H
#define KVTIER_WORKLOAD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define WORKLOAD_SCHEMA_VERSION    1
#define WORKLOAD_L_MIN_SEQ_TOKENS  32768u     /* Dataset L needs an engine of >= 32k tokens */
#define WORKLOAD_MAX_REQUESTS      200000u    /* per plan */
#define WORKLOAD_MAX_PROMPT_TOKENS (1u << 20) /* per request */
#define WORKLOAD_CORPUS_MAX_BYTES  (64u << 20)

enum workload_endpoint {
    WORKLOAD_ENDPOINT_CHAT,        /* /v1/chat/completions with "messages" */
    WORKLOAD_ENDPOINT_COMPLETIONS, /* /v1/completions with "prompt_token_ids" (exact tokenizer)
                                      or "prompt" (rendered text, approximate tokenizer) */
    WORKLOAD_ENDPOINT__COUNT,
};

/* KV tier capacities the pressure phase is sized against, in blocks of the model's
 * tokens_per_block. 0 = tier absent. Give the capacities of the largest mode that will run the
 * plan (B2) so every mode of an A/B comparison replays the same plan. */
struct workload_capacity {
    uint64_t g1_blocks;       /* device KV pool */
    uint64_t g2_blocks;       /* host (DYN_KVBM_CPU_CACHE_GB) */
    uint64_t g3_blocks;       /* disk (DYN_KVBM_DISK_CACHE_GB) */
    uint64_t bytes_per_block; /* 0 = derive from the model profile */
    const char *source;       /* borrowed; how the numbers were obtained, recorded verbatim in the
                                 header ("cli", "mode B2 on dgx_spark_gb10: ..."); may be NULL */
};

struct workload_options {
    const char *corpus_dir;     /* borrowed; NULL = built-in deterministic text generator */
    const char *tokenizer_path; /* borrowed; tokenizer.json; NULL = approximate tokenizer */
    enum workload_endpoint endpoint;
    const char *trace_path;         /* borrowed; Mooncake JSONL to import instead of a family;
                                       NULL = synthetic plan from the family profile */
    uint32_t trace_tokens_per_hash; /* tokens per Mooncake hash id; 0 = 512 */
    double rate_scale;              /* multiplies every phase rate; 0 = 1 */
    uint64_t max_requests;          /* cap on requests per phase; 0 = profile value */
    double tail_quantile;           /* headline quantile the measured phases (replay, steady) are
                                       sized to support at 95% (common/quantci.h: 0.95 needs 72
                                       requests, 0.99 368); 0 = the profile's counts. Default
                                       0.95. max_requests still caps; the header's "tail" says
                                       whether each phase supports it. Session replays (family B)
                                       are not resized. */
    bool skip_steady;               /* leave the steady phase out of the plan (short runs whose
                                       claim is the replay phase's; the header lists the phases
                                       planned) */
};

/* Sets *o to the defaults (chat endpoint, built-in text, approximate tokenizer). */
void workload_options_init(struct workload_options *o);

/* Writes a plan to out_path (atomically: temp file + rename), built from
 * <profiles_dir>/workloads/<workload>.yaml (workload "A".."D"; ignored when opts->trace_path is
 * set), dataset "S" or "L", <profiles_dir>/models/<model>.yaml, seed and the tier capacities.
 * On success *ret_header is the header object written as line 1 (owned; it holds the inputs,
 * phases, capacity and pressure arithmetic and reuse_opportunity_tokens per phase).
 * Errors (d names file, line and field): -ENOENT unknown profile or file, -EINVAL malformed
 * profile/trace/corpus or an impossible request (Dataset L for a model whose
 * max_sequence_length is under WORKLOAD_L_MIN_SEQ_TOKENS, a request longer than the engine
 * allows), -EMSGSIZE past a WORKLOAD_* limit, other negative errno from I/O.
 * Any thread; uses no global state.
 * Header keys: kind "kvtier.plan", schema_version, workload, title, dataset, model, seed,
 * tokens_per_block, tokenizer ("bpe"|"approx"), tokenizer_file, chat_template, endpoint
 * ("chat"|"completions"), max_sequence_length, text_source, phases[] ({name, arrival,
 * rate_per_s, concurrency, max_concurrency, duration_ns, requests}), capacity {g1_blocks,
 * g2_blocks, g3_blocks, bytes_per_block, kv_bytes_per_token, source, g1_g2_blocks, ...},
 * pressure {target_unique_blocks, unique_blocks, unique_bytes, exceeds_g1_g2, fits_g3,
 * requests, arithmetic}, reuse_opportunity_tokens {phase: tokens}, prompt_tokens {phase:
 * tokens}, requests (total), tail {quantile, level, requests_needed, phases: {replay|steady:
 * {requests, supported}}}. */
int workload_plan_write(const char *profiles_dir, const char *workload, const char *dataset,
                        const char *model, uint64_t seed, const struct workload_capacity *cap,
                        const struct workload_options *opts, const char *out_path,
                        json_t **ret_header, struct diag *d);

/* Reads the header (line 1) of a plan file; *ret owned. -EINVAL if line 1 is not a
 * "kvtier.plan" header (d names the file). */
int workload_plan_read_header(const char *plan_path, json_t **ret, struct diag *d);

#endif
