/* SPDX-License-Identifier: Apache-2.0 */
/* Step-time cost model of the emulated engine: a roofline over the model and hardware profiles
 * (twin.md §5). For one iteration with prefill chunks C_i over cached prefixes p_i and a decode
 * set D with contexts c_j:
 *   FLOPs  = 2 P (C + |D|) + sum_i 4 d_q C_i (L_full (p_i + C_i/2) + L_swa min(p_i + C_i/2, W))
 *                         + sum_j 4 d_q (L_full c_j + L_swa min(c_j, W))
 * (attention: QK^T and AV, 2 d_q FLOPs each per query token and key, prefill and decode alike)
 *   T_comp = FLOPs / (peak x MFU), the attention FLOPs at peak x attn_mfu when the profile sets it
 *   T_mem  = W_step(B) / (BW x MBU) + kv_b (sum c_j + sum p_i + C + |D|) / KV-read BW
 *   T_step = max(T_comp, T_mem) + step overhead + per-sequence overhead x (sequences - 1)
 * W_step(B) scales the MoE expert part by the expected distinct experts E (1 - (1 - k/E)^B)
 * for B tokens in the step. Pure functions; any thread. */
#ifndef KVTIER_ENGINE_COST_H
#define KVTIER_ENGINE_COST_H

#include <stdint.h>

#include "common/profile.h"

struct cost_model {
    double params_active; /* P */
    double d_q;           /* q heads x head_dim */
    double l_full, l_swa, swa_window;
    double kv_bytes_per_token; /* bytes of all layers written/read per token */
    double w1_bytes;           /* weights read at batch 1 */
    double moe_shared_frac;    /* fraction of w1 that is shared (dense = 1) */
    double moe_experts, moe_topk;
    double flops_per_s;      /* peak x MFU */
    double attn_flops_per_s; /* peak x attention MFU (the MFU when the profile has none) */
    double weight_bw;        /* BW x MBU */
    double kv_read_bw;
    double step_overhead_s, per_seq_overhead_s;
    double link_g1_g2_bytes_per_s;
};

/* Accumulated shape of one iteration. */
struct cost_step {
    uint64_t prefill_tokens; /* C = sum C_i */
    double attn_full;        /* 2 sum_i C_i (p_i + C_i/2) + 2 sum_j c_j, tokens^2 */
    double attn_swa;         /* same with contexts capped at the window */
    uint64_t ctx_tokens;     /* sum_j c_j + sum_i p_i (KV read) */
    uint32_t decode_seqs;    /* |D| */
    uint32_t seqs;           /* sequences in the step */
};

/* Derives the constants; -EINVAL when a profile lacks a rate needed by the model. */
int cost_model_init(struct cost_model *cm, const struct model_profile *m,
                    const struct hw_profile *h);
/* Adds a prefill chunk of `chunk` tokens over `cached` already computed tokens. */
void cost_step_add_prefill(const struct cost_model *cm, struct cost_step *s, uint64_t cached,
                           uint64_t chunk);
/* Adds one decode token over a context of `ctx` tokens. */
void cost_step_add_decode(const struct cost_model *cm, struct cost_step *s, uint64_t ctx);
/* Modelled duration of the step, ns (0 for an empty step). */
uint64_t cost_step_ns(const struct cost_model *cm, const struct cost_step *s);
/* Modelled time of a G1<->G2 copy of `bytes`, ns. */
uint64_t cost_link_ns(const struct cost_model *cm, uint64_t bytes);

#endif
