/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: kvtier matrix plans (YAML) through validation against the profiles
 * ($KVTIER_PROFILES, else ./profiles). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "run/matrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *profiles = getenv("KVTIER_PROFILES");
    json_t *plan = NULL;
    struct diag d = { 0 };
    if (matrix_plan_parse((const char *)data, size, "fuzz.yaml", profiles ? profiles : "profiles",
                          &plan, &d) == 0)
        json_decref(plan);
    return 0;
}
