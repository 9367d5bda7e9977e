/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target of the one Mooncake trace row parser (common/mooncake_row.c), which kvtier plan's
 * trace import and kvtier load --trace share: the first byte picks tokens per hash id, the rest
 * is trace text, parsed line by line as both callers do. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/mooncake_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t tph = data[0] & 0x80 ? 0 : 1u << (data[0] % 11); /* 0 (default) or 1 .. 1024 */
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    unsigned line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct diag d = { .line = ++line };
        struct mooncake_row r;
        if (!mooncake_row_blank(p, n) && mooncake_row_parse(p, n, tph, &r, &d) == 0)
            mooncake_row_fini(&r);
        p += n + 1;
    }
    return 0;
}
