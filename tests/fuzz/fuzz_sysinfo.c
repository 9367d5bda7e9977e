/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: system-wide noise and network files: /proc/pressure/<res>, /proc/meminfo and
 * /proc/net/dev text. */
#include <stddef.h>
#include <stdint.h>

#include "observe/netdev.h"
#include "observe/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data;
    struct noise_psi p;
    noise_parse_psi(t, size, &p);
    uint64_t a = 0, b = 0, c = 0;
    noise_parse_meminfo(t, size, &a, &b, &c);
    struct netdev_iface f[16];
    netdev_parse(t, size, f, 16);
    return 0;
}
