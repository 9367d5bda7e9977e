/* SPDX-License-Identifier: Apache-2.0 */
/* Roofline step-cost model (see cost.h and docs/serve.md "Calibration"). */
#include "engine/cost.h"

#include <errno.h>
#include <math.h>

int cost_model_init(struct cost_model *cm, const struct model_profile *m,
                    const struct hw_profile *h)
{
    double peak = profile_peak_flops(h, m);
    if (!(peak > 0) || !(h->mfu_prefill > 0) || !(h->memory_bw_bytes_per_s > 0) ||
        !(h->mbu_decode > 0) || m->layers == 0 || m->swa_layers > m->layers)
        return -EINVAL;
    *cm = (struct cost_model){ 0 };
    cm->params_active = m->params_active;
    cm->d_q = (double)m->q_heads * m->head_dim;
    cm->l_swa = m->swa_window ? m->swa_layers : 0;
    cm->l_full = m->layers - cm->l_swa;
    cm->swa_window = m->swa_window;
    cm->kv_bytes_per_token = (double)profile_kv_bytes_per_token(m);
    cm->w1_bytes = m->weight_bytes;
    cm->moe_shared_frac = 1.0;
    if (m->experts > 1 && m->experts_topk > 0 && m->experts_topk < m->experts &&
        m->params_total > m->params_active) {
        double per_expert = (m->params_total - m->params_active) / (m->experts - m->experts_topk);
        double shared = m->params_active - m->experts_topk * per_expert;
        cm->moe_shared_frac = shared > 0 ? shared / m->params_active : 0;
        cm->moe_experts = m->experts;
        cm->moe_topk = m->experts_topk;
    }
    cm->flops_per_s = peak * h->mfu_prefill;
    cm->attn_flops_per_s = peak * (h->attn_mfu > 0 ? h->attn_mfu : h->mfu_prefill);
    cm->weight_bw = h->memory_bw_bytes_per_s * h->mbu_decode;
    cm->kv_read_bw = h->kv_read_bytes_per_s > 0 ? h->kv_read_bytes_per_s : cm->weight_bw;
    cm->step_overhead_s = h->step_overhead_s;
    cm->per_seq_overhead_s = h->per_seq_overhead_s;
    cm->link_g1_g2_bytes_per_s = h->g1_g2_bytes_per_s > 0 ? h->g1_g2_bytes_per_s : 1e12;
    return 0;
}

void cost_step_add_prefill(const struct cost_model *cm, struct cost_step *s, uint64_t cached,
                           uint64_t chunk)
{
    /* token i of the chunk attends to cached + i keys, QK^T and AV at 2 d_q FLOPs per key each
       (4 d_q per key, as a decode token): sum over the chunk = chunk x (cached + chunk / 2) */
    double mid = (double)cached + (double)chunk / 2.0;
    s->prefill_tokens += chunk;
    s->attn_full += 2.0 * (double)chunk * mid;
    s->attn_swa += 2.0 * (double)chunk * (cm->swa_window > 0 ? fmin(mid, cm->swa_window) : 0);
    s->ctx_tokens += cached;
    s->seqs++;
}

void cost_step_add_decode(const struct cost_model *cm, struct cost_step *s, uint64_t ctx)
{
    s->attn_full += 2.0 * (double)ctx;
    s->attn_swa += 2.0 * (cm->swa_window > 0 ? fmin((double)ctx, cm->swa_window) : 0);
    s->ctx_tokens += ctx;
    s->decode_seqs++;
    s->seqs++;
}

/* Weight bytes read in a step of `tokens` tokens (MoE: distinct experts touched). */
static double weight_bytes(const struct cost_model *cm, double tokens)
{
    if (cm->moe_experts <= 0)
        return cm->w1_bytes;
    double distinct = cm->moe_experts * (1.0 - pow(1.0 - cm->moe_topk / cm->moe_experts, tokens));
    double expert_part = (1.0 - cm->moe_shared_frac) * (distinct / cm->moe_topk);
    return cm->w1_bytes * (cm->moe_shared_frac + expert_part);
}

uint64_t cost_step_ns(const struct cost_model *cm, const struct cost_step *s)
{
    if (s->seqs == 0)
        return 0;
    double tokens = (double)s->prefill_tokens + s->decode_seqs;
    double gemm = 2.0 * cm->params_active * tokens;
    double attn = 2.0 * cm->d_q * (cm->l_full * s->attn_full + cm->l_swa * s->attn_swa);
    /* one rate for both unless the profile gives attention its own (then bit-identical) */
    double t_comp = cm->attn_flops_per_s == cm->flops_per_s
                        ? (gemm + attn) / cm->flops_per_s
                        : gemm / cm->flops_per_s + attn / cm->attn_flops_per_s;
    double kv_bytes = cm->kv_bytes_per_token * ((double)s->ctx_tokens + tokens);
    double t_mem = weight_bytes(cm, tokens) / cm->weight_bw + kv_bytes / cm->kv_read_bw;
    double t =
        fmax(t_comp, t_mem) + cm->step_overhead_s + cm->per_seq_overhead_s * (double)(s->seqs - 1);
    return (uint64_t)(t * 1e9);
}

uint64_t cost_link_ns(const struct cost_model *cm, uint64_t bytes)
{
    return (uint64_t)((double)bytes / cm->link_g1_g2_bytes_per_s * 1e9);
}
