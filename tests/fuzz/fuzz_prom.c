/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: Prometheus/OpenMetrics text through the one parser in both modes, then the
 * lookups and the phase arithmetic with the page as both start and end (deltas must be
 * computable for anything that parses). */
#include <stddef.h>
#include <stdint.h>

#include "common/prom.h"
#include "observe/promdelta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prom_page p;
    struct diag d = { 0 };
    if (prom_parse((const char *)data, size, &p, &d) == 0) {
        const struct prom_page *a[1] = { &p };
        json_decref(promdelta_json(a, a, 1));
        json_decref(promdelta_sum_json(a, 1));
        prom_page_fini(&p);
    }
    if (prom_parse_lenient((const char *)data, size, &p, &d) >= 0) {
        double v;
        prom_sum(&p, "kvbm_matched_tokens", &v);
        prom_sum(&p, "dynamo_frontend_requests_total", &v);
        prom_has_prefix(&p, "kvbm_");
        const struct prom_page *a[1] = { &p };
        json_decref(promdelta_sum_json(a, 1));
        prom_page_fini(&p);
    }
    return 0;
}
