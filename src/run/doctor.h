/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier doctor: checks the control surface of a stack before any experiment (test plan
 * outcome A): can the disk tier be switched on and off and is the switch visible in the
 * running worker; are the metrics reachable; does KV-attributable disk I/O appear in a forced
 * B2p replay; can a >= 32k context be served; does the server really stream (time to first
 * content must not grow with output length while non-streamed latency must). Every failed check
 * names the missing hook and what must change, and the blocker dossier (Markdown + JSON) is
 * written when anything fails. Library code: progress goes through the bundle note callback. */
#ifndef KVTIER_RUN_DOCTOR_H
#define KVTIER_RUN_DOCTOR_H

#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"
#include "run/bundle.h"

#define DOCTOR_LONG_CONTEXT_TOKENS   32768u /* Dataset L's minimum input */
#define DOCTOR_STREAM_TTFC_MAX_RATIO 1.35   /* TTFC(256) / TTFC(8) must stay below */
#define DOCTOR_NONSTREAM_MIN_RATIO   1.2    /* E2E(256) / E2E(8) must exceed */

struct doctor_stream_result {
    double ttfc_8_ms, ttfc_256_ms; /* median streamed time to first content */
    double e2e_8_ms, e2e_256_ms;   /* median non-streamed latency */
    double ttfc_ratio, e2e_ratio;
    bool ok;
    char error[256];
};

/* Runs every check against cfg's stack (cfg->modes ignored: B1 and B2p are used) and writes
 * doctor.json (and blocker_dossier.{md,json} when a check failed) under
 * cfg->out_dir/doctor_<stamp>. Returns 0 with *ret (owned) = {checks[], all_ok, dossier}, or
 * negative errno with d for configuration errors (unknown stack/model names). */
int doctor_run(const struct bundle_config *cfg, json_t **ret, struct diag *d);

/* Streaming sanity against a running server at url for model: samples requests with 8 and 256
 * output tokens, streamed and not. 0 with res filled (res->ok per the ratios above), or
 * negative errno when requests failed (res->error says why). */
int doctor_streaming(const char *url, const char *model, unsigned samples,
                     struct doctor_stream_result *res);

/* Sends one non-streamed request with a prompt of at least min_tokens (as the server counts
 * them in usage.prompt_tokens) and 1 output token; ret_detail gets the server's error message
 * when it refused. prompt (borrowed) is the user message, already sized by the model's
 * tokenizer (workload/longprompt.h); NULL = words sized from the server's count (up to three
 * tries). 0 when served; -EPROTO when the server
 * answered but counted fewer tokens or refused (ret_status, ret_prompt_tokens say what);
 * -ECONNREFUSED/-ETIMEDOUT/-EIO when no answer. */
int doctor_long_context(const char *url, const char *model, unsigned min_tokens, const char *prompt,
                        long *ret_status, long *ret_prompt_tokens, char *ret_detail,
                        size_t detail_len);

#endif
