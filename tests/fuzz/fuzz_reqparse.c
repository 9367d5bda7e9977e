/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: OpenAI request bodies through the engine's validation, for both endpoints, and
 * the error body rendering. The first byte picks the endpoint. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum reqparse_endpoint ep = data[0] & 1 ? REQPARSE_CHAT : REQPARSE_COMPLETIONS;
    struct reqparse_req r;
    struct reqparse_error e = { 0 };
    /* a valid document never has more values than the pre-parse count says */
    size_t bound = reqparse_count_values((const char *)data + 1, size - 1);
    if (bound == 0)
        abort();
    if (reqparse_body(ep, (const char *)data + 1, size - 1, 32000, &r, &e) == 0) {
        reqparse_req_fini(&r);
    } else {
        char *s = reqparse_error_body(&e);
        free(s);
    }
    return 0;
}
