/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: SMART decoding. The input is both a raw log page (when >= 512 bytes) and nvme-cli
 * JSON text; decoded logs go through the JSON writer and the delta. */
#include <stddef.h>
#include <stdint.h>

#include "observe/smart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smart_log a = { 0 }, b = { 0 };
    if (smart_decode(data, size, &a) == 0) {
        json_decref(smart_to_json(&a));
        json_decref(smart_delta_json(&b, &a));
    }
    const char *v = NULL;
    if (smart_from_nvme_cli_text((const char *)data, size, &b, &v) == 0) {
        json_decref(smart_to_json(&b));
        json_decref(smart_delta_json(&a, &b));
    }
    return 0;
}
