/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: plan files and Mooncake traces (the first byte picks which), and the request
 * body of every parsed request. */
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
    int rc;
    if (data[0] & 1) {
        struct reqplan_trace_opts o = { .tokens_per_hash_id = 1 + (data[0] >> 4),
                                        .prompt_ids = data[0] & 2 };
        rc = reqplan_parse_trace(text, size - 1, "fuzz", &o, &p, &d);
    } else {
        rc = reqplan_parse(text, size - 1, "fuzz", &p, &d);
    }
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
