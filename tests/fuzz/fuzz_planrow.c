/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target of the one request plan reader (common/planrow.c) through both of its users:
 * byte 0 picks options (bit 1: chat bodies, bit 0: the twin's disk filter), then plan text
 * (raw/requests.jsonl) and, after a form feed byte, a bundle's records (raw/records.jsonl) for
 * the twin. kvtier load's reading (loadgen/reqplan.c) builds the body of every request; the
 * twin's (twin/twin_plan.c) runs the plan on a small built-in engine (64 G1 blocks, host and
 * disk tiers), which must finish or refuse. A plan both accept without records has the same
 * requests in both (one reader), or the target aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "loadgen/reqplan.h"
#include "twin/twin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct reqplan *load_side(const char *text, size_t len, bool chat)
{
    struct reqplan *p = NULL;
    struct diag d = { 0 };
    if (reqplan_parse(text, len, "fuzz", &p, &d) < 0)
        return NULL;
    struct reqplan_body_opts bo = { .model = "m",
                                    .chat = chat,
                                    .exact_output = true,
                                    .include_usage = true,
                                    .prompt_ids = p->prompt_ids };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < p->n_reqs && i < 64; i++) {
        buf_reset(&b);
        reqplan_body(&p->reqs[i], &bo, NULL, &b);
    }
    buf_fini(&b);
    return p;
}

static void twin_side(struct twin_plan *p, bool filter)
{
    struct model_profile m = { .name = "fuzz",
                               .layers = 2,
                               .q_heads = 2,
                               .kv_heads = 1,
                               .head_dim = 64,
                               .params_total = 1e7,
                               .params_active = 1e7,
                               .weight_bytes = 2e7,
                               .kv_dtype_bytes = 2,
                               .tokens_per_block = 32,
                               .max_num_tokens = 512,
                               .max_batch_size = 8 };
    snprintf(m.gemm_precision, sizeof(m.gemm_precision), "bf16");
    struct hw_profile h = { .memory_bw_bytes_per_s = 1e11,
                            .bf16_flops = 1e13,
                            .mfu_prefill = 0.5,
                            .mbu_decode = 0.5,
                            .kv_read_bytes_per_s = 1e11,
                            .step_overhead_s = 1e-3,
                            .g1_g2_bytes_per_s = 1e10,
                            .ssd_read_bytes_per_s = 1e9,
                            .ssd_write_bytes_per_s = 1e9 };
    struct twin_config c = { .model = &m,
                             .hw = h,
                             .g1_blocks = 64,
                             .g2_blocks = 32,
                             .g3_blocks = 256,
                             .kvbm = true,
                             .filter = filter,
                             .max_num_seqs = 8,
                             .max_num_tokens = 512 };
    struct twin_out *out = xcalloc(p->n_req + 1, sizeof(*out));
    struct twin_stats st;
    struct diag d = { 0 };
    twin_run(&c, p, out, &st, &d);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const char *ff = memchr(text, '\f', len);
    size_t plan_len = ff ? (size_t)(ff - text) : len;
    struct reqplan *lp = load_side(text, plan_len, data[0] & 2);
    struct twin_plan tp;
    struct diag d = { 0 };
    if (twin_plan_parse(text, plan_len, ff ? ff + 1 : NULL, ff ? len - plan_len - 1 : 0, &tp, &d) ==
        0) {
        if (lp && !ff) {
            if (lp->n_reqs != tp.n_req)
                abort();
            for (size_t i = 0; i < tp.n_req; i++)
                if (strcmp(lp->reqs[i].id, tp.req[i].id) != 0)
                    abort();
        }
        twin_side(&tp, data[0] & 1);
        twin_plan_free(&tp);
    }
    reqplan_free(lp);
    return 0;
}
