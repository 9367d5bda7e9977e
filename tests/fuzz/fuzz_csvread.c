/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the CSV reader used on sampler output by the charts. */
#include <stddef.h>
#include <stdint.h>

#include "report/csvread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csvread_table *t = NULL;
    if (csvread_parse((const char *)data, size, &t, NULL) == 0) {
        for (size_t i = 0; i < t->nrows; i++)
            (void)csvread_at(t, i, (int)(i % (t->ncols + 1)));
        csvread_free(t);
    }
    return 0;
}
