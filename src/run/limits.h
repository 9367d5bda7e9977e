/* SPDX-License-Identifier: Apache-2.0 */
/* Engine limits checked before any request is sent (issue 15): the live context length the
 * serving engine reports (dynamo_frontend_model_context_length, in stack.observed_config
 * .engine_limits) against Dataset L's need of >= 32k tokens and against every planned request
 * (prompt + output tokens). A real worker that receives a request longer than its engine
 * accepts may unregister itself: Dataset L on a short engine refuses the run with a blocker
 * dossier; a single over-long request is refused by the load generator before it is sent.
 * Never prints. */
#ifndef KVTIER_RUN_LIMITS_H
#define KVTIER_RUN_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define LIMITS_DATASET_L_TOKENS 32768

/* 0 when the plan fits the engine (or the engine reports no context length); -E2BIG with a
 * one-line reason in why when Dataset L meets a < 32k engine (the run is refused); the number
 * (> 0) of planned requests longer than the context, why naming the first, otherwise: the load
 * generator refuses those one by one (loadgen_config.max_context_tokens) and sends the rest;
 * -ENOENT/-EINVAL when the plan cannot be read. */
int limits_check(const char *plan_path, const json_t *engine_limits, const char *dataset, char *why,
                 size_t why_len);
/* blocker_dossier.{json,md} in dir for a refused run: what was observed, why, what must change.
 * 0 or negative errno. */
int limits_write_dossier(const char *dir, const json_t *engine_limits, const char *why);

/* PROMPT_TOKENS_MISMATCH tolerance: |server usage.prompt_tokens - planned| above
 * max(LIMITS_PROMPT_TOL_TOKENS, LIMITS_PROMPT_TOL_FRACTION x planned) counts as a mismatch. */
#define LIMITS_PROMPT_TOL_TOKENS   8
#define LIMITS_PROMPT_TOL_FRACTION 0.02

/* Compares every record's planned prompt tokens (plan_input_tokens) with the server's
 * usage.prompt_tokens in a records.jsonl: owned {compared, mismatched, max_abs_diff,
 * tolerance_tokens, tolerance_fraction, examples[] (at most 5)}; NULL when unreadable. */
json_t *limits_prompt_tokens(const char *records_path);

#endif
