/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the twin's reading of a plan (raw/requests.jsonl) and, after a form feed byte,
 * a bundle's records (raw/records.jsonl); a plan that parses is then run through the twin on a
 * small built-in engine (64 G1 blocks, host and disk tiers), which must finish or refuse. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "twin/twin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    const char *text = (const char *)data;
    const char *ff = memchr(text, '\f', size);
    size_t plan_len = ff ? (size_t)(ff - text) : size;
    struct twin_plan p;
    struct diag d = { 0 };
    if (twin_plan_parse(text, plan_len, ff ? ff + 1 : NULL, ff ? size - plan_len - 1 : 0, &p, &d) <
        0)
        return 0;
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
                             .filter = size & 1,
                             .max_num_seqs = 8,
                             .max_num_tokens = 512 };
    struct twin_out *out = xcalloc(p.n_req + 1, sizeof(*out));
    struct twin_stats st;
    twin_run(&c, &p, out, &st, &d);
    free(out);
    twin_plan_free(&p);
    return 0;
}
