/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: NVMe Identify decoding. The input is an Identify Controller page followed by an
 * Identify Namespace page (each 4096 bytes; shorter inputs are refused); decoded pages go
 * through the JSON writer. */
#include <stddef.h>
#include <stdint.h>

#include "observe/nvmeid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nvmeid_ctrl c;
    struct nvmeid_ns ns;
    if (nvmeid_decode_ctrl(data, size, &c) != 0)
        return 0;
    bool have_ns = size >= 2 * NVMEID_PAGE_BYTES &&
                   nvmeid_decode_ns(data + NVMEID_PAGE_BYTES, size - NVMEID_PAGE_BYTES, &ns) == 0;
    json_decref(nvmeid_json(&c, have_ns ? &ns : NULL, 1, 0, 358));
    return 0;
}
