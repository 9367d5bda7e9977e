/* SPDX-License-Identifier: Apache-2.0 */
/* Model and hardware profiles (YAML under profiles/, see docs/profiles.md): locating the
 * profile directory, loading a named profile, and the typed views the cost model, the
 * workload sizing and the stack launcher share. Sizes are bytes, rates per second. */
#ifndef KVTIER_COMMON_PROFILE_H
#define KVTIER_COMMON_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

struct model_profile {
    char name[64];
    char display_name[128];
    char hf_id[128];
    uint32_t layers, hidden, q_heads, kv_heads, head_dim, ffn, vocab;
    uint32_t swa_layers;  /* layers with sliding-window attention (bounded KV) */
    uint32_t swa_window;  /* tokens */
    double params_total;  /* parameters */
    double params_active; /* parameters touched per token (MoE: shared + top-k) */
    uint32_t experts, experts_topk;
    double weight_bytes;     /* weight bytes read per decode step at batch 1 */
    char gemm_precision[16]; /* fp4 | fp8 | bf16 */
    char kv_dtype[16];
    uint32_t kv_dtype_bytes;
    uint32_t tokens_per_block;    /* 32 for TRT-LLM */
    uint32_t max_sequence_length; /* engine build limit, tokens */
    uint32_t max_num_tokens;      /* engine per-step token budget */
    uint32_t max_batch_size;
    char tokenizer[32];     /* tokenizer family hint: llama3 | o200k_harmony | approx */
    char chat_template[32]; /* llama3 | harmony | none */
    char build_id[128];     /* engine build provenance */
};

struct hw_profile {
    char name[64];
    double memory_bytes, memory_bw_bytes_per_s, gpu_visible_bytes;
    bool unified_memory;
    double fp4_flops, fp8_flops, bf16_flops; /* dense peaks, FLOP/s */
    double mfu_prefill, mbu_decode;          /* achieved fractions */
    double attn_mfu;            /* achieved fraction of peak for attention FLOPs; 0 = mfu_prefill */
    double kv_read_bytes_per_s; /* effective attention KV-read bandwidth */
    double step_overhead_s, per_seq_overhead_s;
    double g1_g2_bytes_per_s;                           /* device<->host copy link */
    double ssd_read_bytes_per_s, ssd_write_bytes_per_s; /* nominal, for sizing only */
    double free_gpu_memory_fraction;                    /* of memory left after weights, for G1 */
};

/* Resolves the profile directory: override, else $KVTIER_PROFILES, else the installed
 * share/kvtier/profiles or the source tree's profiles/ next to the executable, else
 * ./profiles. Owned string. */
char *profile_dir(const char *override);
/* Loads <dir>/<kind>/<name>.yaml (kind: models, hardware, stacks, workloads, plans).
 * Unknown name: -ENOENT and d lists the valid names. *ret owned. */
int profile_load(const char *dir, const char *kind, const char *name, json_t **ret, struct diag *d);
/* The names available for kind, as a new JSON array of strings (sorted). */
json_t *profile_list(const char *dir, const char *kind);
/* Typed views; -EINVAL with d naming the missing or bad field. */
int profile_model_from_json(const json_t *j, struct model_profile *ret, struct diag *d);
int profile_hw_from_json(const json_t *j, struct hw_profile *ret, struct diag *d);
/* Convenience: load + typed view. */
int profile_load_model(const char *dir, const char *name, struct model_profile *ret,
                       struct diag *d);
int profile_load_hw(const char *dir, const char *name, struct hw_profile *ret, struct diag *d);
/* KV bytes per token of full-attention layers: 2 x layers x kv_heads x head_dim x dtype. */
uint64_t profile_kv_bytes_per_token(const struct model_profile *m);
/* Bytes of one KV block (tokens_per_block tokens), as KVBM computes bytes_per_block. */
uint64_t profile_bytes_per_block(const struct model_profile *m);
/* Total weight bytes resident on the device: params_total x bytes per parameter of the GEMM
 * precision (fp4 with block scales 0.5625, fp8 1, bf16 2). */
double profile_weight_total_bytes(const struct model_profile *m);
/* Device (G1) KV capacity in blocks as TRT-LLM sizes it: (visible memory - weights) x
 * free_gpu_memory_fraction / bytes_per_block; 0 when the weights do not fit. */
uint64_t profile_g1_blocks(const struct hw_profile *h, const struct model_profile *m);
/* Peak dense FLOP/s of the hardware for the model's GEMM precision. */
double profile_peak_flops(const struct hw_profile *h, const struct model_profile *m);

#endif
