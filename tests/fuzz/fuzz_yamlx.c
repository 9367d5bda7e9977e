/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: YAML profiles through libyaml into json_t, and back out through the emitter;
 * the document also through the storage-profile typed view and its comparison. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/storprof.h"
#include "common/yamlx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    struct diag d = { 0 };
    if (yamlx_parse((const char *)data, size, &j, &d) == 0) {
        struct buf b;
        buf_init(&b, 1u << 20);
        yamlx_emit(j, &b);
        buf_fini(&b);
        struct storprof p;
        if (storprof_from_json(j, &p, &d) == 0)
            json_decref(storprof_compare(&p, "PM9E1", "fuzz", j));
        json_decref(j);
    }
    return 0;
}
