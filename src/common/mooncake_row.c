/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake trace row parsing (see mooncake_row.h). */
#include "common/mooncake_row.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/xalloc.h"

static int get_u64(const json_t *o, const char *key, bool required, uint64_t *ret, struct diag *d)
{
    const json_t *v = json_object_get(o, key);
    unsigned ln = d ? d->line : 0;
    if (!v && !required) {
        *ret = 0;
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e15) {
        *ret = (uint64_t)json_real_value(v);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return diag_set(d, -EINVAL, ln, 0, "field \"%s\": %s", key,
                        v ? "expected an integer >= 0" : "missing");
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_length(const json_t *o, const char *key, uint64_t *ret, struct diag *d)
{
    int rc = get_u64(o, key, true, ret, d);
    if (rc == 0 && (*ret == 0 || *ret > MOONCAKE_ROW_TOKENS_MAX))
        rc = diag_set(d, -EINVAL, d ? d->line : 0, 0, "field \"%s\": must be 1..%u", key,
                      MOONCAKE_ROW_TOKENS_MAX);
    return rc;
}

static int get_timestamp(const json_t *o, double *ret, struct diag *d)
{
    const json_t *v = json_object_get(o, "timestamp");
    if (!v) {
        *ret = 0;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) >= 9e15)
        return diag_set(d, -EINVAL, d ? d->line : 0, 0,
                        "field \"timestamp\": expected milliseconds >= 0");
    *ret = json_number_value(v);
    return 0;
}

static int get_session(const json_t *o, struct mooncake_row *r, struct diag *d)
{
    const json_t *sid = json_object_get(o, "session_id");
    if (!sid || json_is_null(sid))
        return 0;
    if (json_is_string(sid) && json_string_length(sid) < sizeof(r->session_id) &&
        json_string_length(sid) > 0) {
        snprintf(r->session_id, sizeof(r->session_id), "%s", json_string_value(sid));
        return 0;
    }
    if (json_is_integer(sid)) {
        snprintf(r->session_id, sizeof(r->session_id), "%lld", (long long)json_integer_value(sid));
        return 0;
    }
    return diag_set(d, -EINVAL, d ? d->line : 0, 0,
                    "field \"session_id\": expected a short string");
}

static int get_hash_ids(const json_t *o, uint64_t tph, struct mooncake_row *r, struct diag *d)
{
    unsigned ln = d ? d->line : 0;
    const json_t *h = json_object_get(o, "hash_ids");
    if (!json_is_array(h) || json_array_size(h) == 0)
        return diag_set(d, -EINVAL, ln, 0, "field \"hash_ids\": expected a non-empty array");
    size_t n = json_array_size(h);
    if (n > MOONCAKE_ROW_HASH_IDS_MAX)
        return diag_set(d, -EMSGSIZE, ln, 0, "field \"hash_ids\": more than %u ids",
                        MOONCAKE_ROW_HASH_IDS_MAX);
    uint64_t *ids = xcalloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(h, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            free(ids);
            return diag_set(d, -EINVAL, ln, 0, "field \"hash_ids[%zu]\": expected an integer >= 0",
                            i);
        }
        ids[i] = (uint64_t)json_integer_value(v);
    }
    if (r->input_length > n * tph || r->input_length <= (n - 1) * tph) {
        free(ids);
        return diag_set(d, -EINVAL, ln, 0,
                        "field \"input_length\": %llu tokens do not match %zu hash ids of %llu "
                        "tokens (need (n-1)*%llu < input_length <= n*%llu; set the trace's "
                        "tokens per hash id)",
                        (unsigned long long)r->input_length, n, (unsigned long long)tph,
                        (unsigned long long)tph, (unsigned long long)tph);
    }
    r->hash_ids = ids;
    r->n_hash = n;
    return 0;
}

int mooncake_row_parse(const char *line, size_t len, uint32_t tokens_per_hash,
                       struct mooncake_row *ret, struct diag *d)
{
    unsigned ln = d ? d->line : 0;
    if (len > MOONCAKE_ROW_LINE_MAX_BYTES)
        return diag_set(d, -EMSGSIZE, ln, 0, "line longer than %u bytes",
                        MOONCAKE_ROW_LINE_MAX_BYTES);
    json_error_t e;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    struct mooncake_row r = { 0 };
    int rc = 0;
    if (!json_is_object(o)) {
        rc = diag_set(d, -EINVAL, ln, o ? 0 : (unsigned)e.column, "not a JSON object%s%s",
                      o ? "" : ": ", o ? "" : e.text);
        goto out;
    }
    uint64_t tph = tokens_per_hash ? tokens_per_hash : MOONCAKE_ROW_TPH_DEFAULT;
    if ((rc = get_timestamp(o, &r.timestamp_ms, d)) < 0 ||
        (rc = get_length(o, "input_length", &r.input_length, d)) < 0 ||
        (rc = get_length(o, "output_length", &r.output_length, d)) < 0 ||
        (rc = get_u64(o, "delay", false, &r.delay_ms, d)) < 0 || (rc = get_session(o, &r, d)) < 0 ||
        (rc = get_hash_ids(o, tph, &r, d)) < 0)
        goto out;
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

bool mooncake_row_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\r' && line[i] != '\t')
            return false;
    return true;
}
