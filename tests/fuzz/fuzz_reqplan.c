/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: plan files (JSONL, docs/contracts.md) and the request body of every parsed
 * request; the first byte picks the body options. Mooncake trace rows have their own target
 * (fuzz_mooncake_row.c). */
#include <stddef.h>
#include <stdint.h>

#include "loadgen/reqplan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    struct reqplan *p = NULL;
    struct diag d = { 0 };
    const char *text = (const char *)data + 1;
    int rc = reqplan_parse(text, size - 1, "fuzz", &p, &d);
    if (rc == 0) {
        struct reqplan_body_opts bo = { .model = "m",
                                        .chat = data[0] & 2,
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
        reqplan_free(p);
    }
    return 0;
}
