/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: workload family profiles (YAML through yamlx, then family_parse for S and L,
 * with the text for line lookups). */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/yamlx.h"
#include "workload/family.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    struct diag d = { 0 };
    if (yamlx_parse((const char *)data, size, &doc, &d) != 0)
        return 0;
    struct family fam;
    struct family_dataset ds;
    family_parse(doc, "S", (const char *)data, size, &fam, &ds, &d);
    family_parse(doc, "L", NULL, 0, &fam, &ds, &d);
    json_decref(doc);
    return 0;
}
