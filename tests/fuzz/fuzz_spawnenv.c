/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the environ-block parser (what /proc/PID/environ gives) and the KVBM
 * reading of it (mode_observe_env), both fed from a worker the harness does not control. */
#include <stddef.h>
#include <stdint.h>

#include "common/spawn.h"
#include "stack/mode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spawn_env e;
    spawn_env_init(&e, NULL, NULL);
    spawn_env_parse_block(&e, (const char *)data, size);
    struct mode_observed o;
    mode_observe_env(&e, 262144, &o);
    struct mode_settings want = {
        .id = MODE_B2, .cpu_cache_gb = 1, .disk_cache_gb = 2, .bytes_per_block = 262144
    };
    json_decref(mode_compare(&want, &o));
    spawn_env_fini(&e);
    return 0;
}
