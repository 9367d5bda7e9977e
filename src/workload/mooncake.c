/* SPDX-License-Identifier: Apache-2.0 */
/* Mooncake trace import and export (see mooncake.h). */
#include "workload/mooncake.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

/* ---- Mooncake import ---- */

/* Walks the rows of text; sessions maps a session id to nothing (seen before or not). */
static int walk_rows(const char *text, size_t len, uint32_t tph, mooncake_turn_fn *fn, void *ctx,
                     uint64_t *ret_rows, struct diag *d)
{
    const char *p = text, *end = text + len;
    unsigned line = 0;
    uint64_t rows = 0;
    int64_t first_ts = -1;
    int rc = 0;
    json_t *sessions = json_object();
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        const char *s = p;
        p += n + 1;
        if (mooncake_row_blank(s, n))
            continue;
        struct mooncake_row row;
        if (d)
            d->line = line;
        rc = mooncake_row_parse(s, n, tph, &row, d);
        if (rc < 0)
            break;
        if (first_ts < 0)
            first_ts = (int64_t)row.timestamp_ms;
        struct mooncake_turn t = { .row = &row, .line = line };
        if (row.session_id[0]) {
            t.later = json_object_get(sessions, row.session_id) != NULL;
            json_object_set_new(sessions, row.session_id, json_null());
        }
        t.t_offset_ns = t.later ? -1 : ((int64_t)row.timestamp_ms - first_ts) * 1000000LL;
        if (t.t_offset_ns < -1)
            t.t_offset_ns = 0;
        t.think_time_ns = t.later ? row.delay_ms * 1000000ull : 0;
        rc = fn(ctx, &t, d);
        mooncake_row_fini(&row);
        if (rc == 0)
            rows++;
    }
    json_decref(sessions);
    if (rc == 0 && rows == 0)
        rc = diag_set(d, -EINVAL, 0, 0, "trace has no rows");
    *ret_rows = rows;
    return rc;
}

int mooncake_import(const char *path, uint32_t tokens_per_hash, mooncake_turn_fn *fn, void *ctx,
                    uint64_t *ret_rows, struct diag *d)
{
    struct buf file;
    buf_init(&file, 0);
    diag_file(d, path);
    int rc = fileio_read_all(path, MOONCAKE_TRACE_MAX_BYTES, &file);
    if (rc < 0)
        rc = diag_set(d, rc, 0, 0, "cannot read trace: %s", strerror(-rc));
    else
        rc = walk_rows(buf_str(&file), file.len, tokens_per_hash, fn, ctx, ret_rows, d);
    buf_fini(&file);
    return rc;
}

/* ---- Mooncake export ---- */

/* The dense id of hash id key (the next free one, *next, on its first appearance). Hash ids
 * are 63-bit; the top bit is dropped, so no plan value can be the table's empty key. */
static uint64_t dense_id(struct hmap *m, uint64_t key, uint64_t *next)
{
    key &= ~(1ull << 63);
    const uint32_t *v = hmap_get(m, key);
    if (v)
        return *v;
    assert(*next < UINT32_MAX);
    hmap_put(m, key, (uint32_t)*next);
    return (*next)++;
}

int mooncake_export(const char *plan_path, const char *out_path, struct diag *d)
{
    struct buf in, out;
    buf_init(&in, 0);
    buf_init(&out, 0);
    struct hmap ids;
    hmap_init(&ids, 4096);
    json_t *h = NULL;
    diag_file(d, plan_path);
    int rc = fileio_read_all(plan_path, MOONCAKE_PLAN_MAX_BYTES, &in);
    if (rc < 0) {
        rc = diag_set(d, rc, 0, 0, "cannot read plan: %s", strerror(-rc));
        goto out;
    }
    const char *p = buf_str(&in), *end = p + in.len;
    unsigned line = 0;
    uint64_t next = 0, rows = 0, tpb = 32;
    double phase_base_ms = 0, phase_end_ms = 0;
    char phase[32] = "";
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        json_t *o = NULL;
        if (len > 0 && jsonx_parse(p, len, &o, d) < 0) {
            rc = diag_set(d, -EINVAL, line, d->col, "%s", d->msg); /* re-labelled with the line */
            goto out;
        }
        p += len + 1;
        if (!o)
            continue;
        if (json_object_get(o, "kind")) {
            if (!h)
                h = json_incref(o);
            tpb = jsonx_u64(o, "tokens_per_block", 32);
            json_decref(o);
            continue;
        }
        const json_t *ha = json_object_get(o, "hash_ids");
        uint64_t in_tok = jsonx_u64(o, "input_tokens", 0);
        const char *ph = jsonx_str(o, "phase", "");
        if (!json_is_array(ha) || in_tok == 0) {
            json_decref(o);
            rc = diag_set(d, -EINVAL, line, 0, "field \"hash_ids\"/\"input_tokens\": missing");
            goto out;
        }
        if (strcmp(ph, phase) != 0) { /* phases run one after another */
            phase_base_ms = phase_end_ms;
            snprintf(phase, sizeof(phase), "%s", ph);
        }
        const json_t *off = json_object_get(o, "t_offset_ns");
        const char *sid = jsonx_str(o, "session_id", NULL);
        uint64_t think_ms = jsonx_u64(o, "think_time_ns", 0) / 1000000;
        double ts;
        if (json_is_integer(off))
            ts = phase_base_ms + (double)json_integer_value(off) / 1e6;
        else /* a later turn: sent after the earlier ones end; delay holds the think time */
            ts = phase_end_ms + (double)think_ms;
        if (ts > phase_end_ms)
            phase_end_ms = ts;
        json_t *row_ids = json_array();
        size_t i;
        json_t *v;
        json_array_foreach (ha, i, v) {
            json_array_append_new(row_ids, json_integer((json_int_t)dense_id(
                                               &ids, (uint64_t)json_integer_value(v), &next)));
        }
        if (in_tok % tpb || json_array_size(ha) == 0) /* partial tail block: a unique id */
            json_array_append_new(row_ids, json_integer((json_int_t)next++));
        json_t *row = json_pack("{s:I,s:I,s:I,s:o}", "timestamp", (json_int_t)llround(ts),
                                "input_length", (json_int_t)in_tok, "output_length",
                                (json_int_t)jsonx_u64(o, "output_tokens", 0), "hash_ids", row_ids);
        if (sid) {
            json_object_set_new(row, "session_id", json_string(sid));
            if (!json_is_integer(off))
                json_object_set_new(row, "delay", json_integer((json_int_t)think_ms));
        }
        char *s = jsonx_dump_line(row);
        buf_append_str(&out, s);
        buf_append_str(&out, "\n");
        free(s);
        json_decref(row);
        json_decref(o);
        rows++;
    }
    if (!h) {
        rc = diag_set(d, -EINVAL, 1, 0, "no kvtier.plan header");
        goto out;
    }
    rc = fileio_write_atomic(out_path, out.data, out.len);
    if (rc < 0) {
        diag_file(d, out_path);
        rc = diag_set(d, rc, 0, 0, "cannot write: %s", strerror(-rc));
        goto out;
    }
    rc = (int)rows;
out:
    hmap_fini(&ids);
    json_decref(h);
    buf_fini(&in);
    buf_fini(&out);
    return rc;
}
