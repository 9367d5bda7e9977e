/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the stack's minimal Prometheus scan. */
#include <stddef.h>
#include <stdint.h>

#include "stack/promscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double v;
    promscan_sum((const char *)data, size, "kvbm_matched_tokens", &v);
    promscan_sum((const char *)data, size, "dynamo_frontend_requests_total", &v);
    promscan_has_prefix((const char *)data, size, "kvbm_");
    return 0;
}
