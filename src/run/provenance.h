/* SPDX-License-Identifier: Apache-2.0 */
/* Provenance observed, not typed (issue 15): what the running stack really is, read from the
 * worker's own environment and the machine, next to the stack profile's literals kept only as
 * "expected"; every difference is listed. Versions of ai-dynamo, kvbm, tensorrt_llm and nixl
 * come from the worker's Python (the interpreter its PATH gives, with the worker's whole
 * environment, or `<engine> exec` inside its container); the container image digest from the
 * engine's image inspect; GPU name, driver and CUDA version from NVML (dlopen of
 * libnvidia-ml.so.1; recorded as absent without it); OS release (DGX OS where present) and
 * kernel; a digest of the model checkpoint (config and weight index); the engine
 * configuration the worker dumped (--dump-config-to). A configuration hash over everything
 * that defines the experiment makes equal hashes mean the same experiment. Never prints. */
#ifndef KVTIER_RUN_PROVENANCE_H
#define KVTIER_RUN_PROVENANCE_H

#include <jansson.h>

#include "stack/mode.h"
#include "stack/stack.h"
#include "workload/workload.h"

/* Observes a ready stack; returns an owned {expected, observed, differences[]} object. The
 * profile's `provenance` table is the expected side. Helper commands run with a 10 s limit
 * and their output lands in <stack log dir>/provenance-*.txt. */
json_t *provenance_observe(struct stack *s, const json_t *stack_profile);
/* Digest of a model checkpoint directory: XXH3-128 over the names and contents of
 * config.json, generation_config.json and every *.index.json (the weight index), plus the
 * names and sizes of the weight files. Owned {path, files[], digest} or {path, error}. */
json_t *provenance_model_digest(const char *dir);
/* OS release (/etc/os-release, /etc/dgx-release under root; NULL root = "/") and kernel. */
json_t *provenance_os(const char *root);
/* GPU name, driver and CUDA driver version through NVML loaded at run time. */
json_t *provenance_gpu(void);
/* "xxh3-128:<32 hex>" over the compact, key-sorted JSON of the listed keys of doc (missing
 * keys hash as null); keys NULL-terminated. Owned string. */
char *provenance_config_hash(const json_t *doc, const char *const *keys);

/* Capacity as the running stack reports it, next to the planned figures (owned object):
 * G1 from dynamo_frontend_model_total_kv_blocks (else KVBM's num_device_blocks in the worker
 * log, else the engine's g1 gauge); bytes per block from KVBM's inferred layout in the worker
 * log (else the engine's bytes-per-block gauge, else dynamo_frontend_model_kv_cache_block_size
 * x the model's KV bytes per token); G2/G3 from the engine's tier gauges where it has them,
 * else from the worker's real environment by KVBM's sizing rule with that bytes per block
 * (KVBM exports no pool capacity). Each figure carries its source; `differences` lists
 * planned != observed. */
json_t *provenance_capacity(const json_t *observed_config, uint64_t kv_bytes_per_token,
                            const uint64_t planned[3], uint64_t planned_bytes_per_block);

/* The capacities the pressure phase is sized with once the stack is up (issue 15 item 6): per
 * figure {profile, observed (null when not seen), used, source}. cap is provenance_capacity's
 * object of a run in mode running; b2 (the B2 tier settings of the profile) and g1_profile are
 * what the plan was sized with before launch. Observed G1 and bytes per block always win; G2/G3
 * are taken as observed when the running mode asked for B2's size, else derived from B2's
 * (GB by KVBM's rule with the bytes per block used). "resized" says whether anything differs
 * from the profile arithmetic. *ret is filled with the figures used. Owned. */
json_t *provenance_sizing(const json_t *cap, const struct mode_settings *running,
                          const struct mode_settings *b2, uint64_t g1_profile,
                          struct workload_capacity *ret);

#endif
