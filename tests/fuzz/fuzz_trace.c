/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: Mooncake trace rows; the first byte picks tokens per hash id. */
#include <stddef.h>
#include <stdint.h>

#include "workload/mooncake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t tph = 1u << (data[0] % 11); /* 1 .. 1024 */
    struct mooncake_row r;
    struct diag d = { 0 };
    if (mooncake_parse_line((const char *)data + 1, size - 1, tph, &r, &d) == 0)
        mooncake_row_fini(&r);
    return 0;
}
