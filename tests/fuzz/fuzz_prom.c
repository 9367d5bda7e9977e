/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: Prometheus/OpenMetrics text through the parser, then the phase arithmetic with
 * the page as both start and end (deltas must be computable for anything that parses). */
#include <stddef.h>
#include <stdint.h>

#include "observe/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prom_page p;
    struct diag d = { 0 };
    if (prom_parse((const char *)data, size, &p, &d) == 0) {
        const struct prom_page *a[1] = { &p };
        json_decref(prom_delta_json(a, a, 1));
        json_decref(prom_sum_json(a, 1));
        prom_page_fini(&p);
    }
    return 0;
}
