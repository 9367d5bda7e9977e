/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: /proc/diskstats text; every parsed line is also rated against itself and a
 * zero reading (wrap and reset paths). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "observe/diskstats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[512];
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = 0;
            struct diskstats_dev a, z = { 0 };
            if (diskstats_parse_line(line, &a) == 0) {
                struct diskstats_rates r;
                diskstats_rates(&z, &a, 1.0, &r);
                diskstats_rates(&a, &z, 0.5, &r);
            }
        }
        p = eol ? eol + 1 : end;
    }
    struct diskstats_dev d;
    diskstats_find((const char *)data, size, "nvme0n1", &d);
    return 0;
}
