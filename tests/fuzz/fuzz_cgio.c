/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: cgroup v2 io.stat and v1 blkio statistics text. */
#include <stddef.h>
#include <stdint.h>

#include "observe/cgio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cgio_dev d[CGIO_MAX_DEVS];
    const char *t = (const char *)data;
    cgio_parse_v2(t, size, d, CGIO_MAX_DEVS);
    size_t half = size / 2;
    cgio_parse_v1(t, half, t + half, size - half, d, CGIO_MAX_DEVS);
    return 0;
}
