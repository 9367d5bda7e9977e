/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake trace row parsing (see mooncake.h). */
#include "workload/mooncake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonx.h"
#include "common/xalloc.h"
#include "workload/workload.h"

static int get_u64(const json_t *o, const char *key, bool required, uint64_t *ret, struct diag *d)
{
    const json_t *v = json_object_get(o, key);
    if (!v && !required) {
        *ret = 0;
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e15) {
        *ret = (uint64_t)json_real_value(v);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return diag_set(d, -EINVAL, d ? d->line : 0, 0, "field \"%s\": %s", key,
                        v ? "expected an integer >= 0" : "missing");
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

int mooncake_parse_line(const char *line, size_t len, uint32_t tokens_per_hash,
                        struct mooncake_row *ret, struct diag *d)
{
    unsigned ln = d ? d->line : 0;
    if (len > WORKLOAD_TRACE_LINE_MAX_BYTES)
        return diag_set(d, -EMSGSIZE, ln, 0, "line longer than %u bytes",
                        WORKLOAD_TRACE_LINE_MAX_BYTES);
    json_error_t e;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    struct mooncake_row r = { 0 };
    int rc = 0;
    if (!json_is_object(o)) {
        rc = diag_set(d, -EINVAL, ln, o ? 0 : (unsigned)e.column, "not a JSON object%s%s",
                      o ? "" : ": ", o ? "" : e.text);
        goto out;
    }
    if ((rc = get_u64(o, "timestamp", false, &r.timestamp_ms, d)) < 0 ||
        (rc = get_u64(o, "input_length", true, &r.input_length, d)) < 0 ||
        (rc = get_u64(o, "output_length", true, &r.output_length, d)) < 0 ||
        (rc = get_u64(o, "delay", false, &r.delay_ms, d)) < 0)
        goto out;
    if (r.input_length == 0 || r.input_length > WORKLOAD_MAX_PROMPT_TOKENS) {
        rc = diag_set(d, -EINVAL, ln, 0, "field \"input_length\": must be 1..%u",
                      WORKLOAD_MAX_PROMPT_TOKENS);
        goto out;
    }
    if (r.output_length == 0 || r.output_length > WORKLOAD_MAX_PROMPT_TOKENS) {
        rc = diag_set(d, -EINVAL, ln, 0, "field \"output_length\": must be 1..%u",
                      WORKLOAD_MAX_PROMPT_TOKENS);
        goto out;
    }
    const json_t *sid = json_object_get(o, "session_id");
    if (sid && !json_is_null(sid)) {
        if (json_is_string(sid) && json_string_length(sid) < sizeof(r.session_id) &&
            json_string_length(sid) > 0)
            snprintf(r.session_id, sizeof(r.session_id), "%s", json_string_value(sid));
        else if (json_is_integer(sid))
            snprintf(r.session_id, sizeof(r.session_id), "%lld",
                     (long long)json_integer_value(sid));
        else {
            rc = diag_set(d, -EINVAL, ln, 0, "field \"session_id\": expected a short string");
            goto out;
        }
    }
    const json_t *h = json_object_get(o, "hash_ids");
    if (!json_is_array(h) || json_array_size(h) == 0) {
        rc = diag_set(d, -EINVAL, ln, 0, "field \"hash_ids\": expected a non-empty array");
        goto out;
    }
    r.n_hash = json_array_size(h);
    if (r.n_hash > WORKLOAD_TRACE_MAX_HASH_IDS) {
        rc = diag_set(d, -EMSGSIZE, ln, 0, "field \"hash_ids\": more than %u ids",
                      WORKLOAD_TRACE_MAX_HASH_IDS);
        goto out;
    }
    r.hash_ids = xcalloc(r.n_hash, sizeof(*r.hash_ids));
    for (size_t i = 0; i < r.n_hash; i++) {
        const json_t *v = json_array_get(h, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            rc =
                diag_set(d, -EINVAL, ln, 0, "field \"hash_ids[%zu]\": expected an integer >= 0", i);
            goto out;
        }
        r.hash_ids[i] = (uint64_t)json_integer_value(v);
    }
    uint64_t b = tokens_per_hash ? tokens_per_hash : 512;
    if (r.input_length > r.n_hash * b || r.input_length <= (r.n_hash - 1) * b) {
        rc = diag_set(d, -EINVAL, ln, 0,
                      "field \"input_length\": %llu tokens do not match %zu hash ids of %llu "
                      "tokens (need (n-1)*%llu < input_length <= n*%llu; set "
                      "--trace-tokens-per-hash)",
                      (unsigned long long)r.input_length, r.n_hash, (unsigned long long)b,
                      (unsigned long long)b, (unsigned long long)b);
        goto out;
    }
    *ret = r;
    r.hash_ids = NULL;
out:
    free(r.hash_ids);
    json_decref(o);
    return rc;
}

void mooncake_row_fini(struct mooncake_row *r)
{
    free(r->hash_ids);
    *r = (struct mooncake_row){ 0 };
}
