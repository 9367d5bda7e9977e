/* SPDX-License-Identifier: Apache-2.0 */
/* jansson helpers (see jsonx.h). */
#include "common/jsonx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/units.h"
#include "common/xalloc.h"

int jsonx_parse(const char *text, size_t len, json_t **ret, struct diag *d)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!v)
        return diag_set(d, -EINVAL, (unsigned)(err.line > 0 ? err.line : 0),
                        (unsigned)(err.column > 0 ? err.column : 0), "invalid JSON: %s", err.text);
    *ret = v;
    return 0;
}

int jsonx_load_file(const char *path, json_t **ret, struct diag *d)
{
    struct buf b;
    buf_init(&b, JSONX_FILE_MAX_BYTES);
    diag_file(d, path);
    int r = fileio_read_all(path, JSONX_FILE_MAX_BYTES, &b);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    r = jsonx_parse(buf_str(&b), b.len, ret, d);
out:
    buf_fini(&b);
    return r;
}

int jsonx_write_file(const char *path, json_t *v)
{
    if (json_is_object(v) && !json_object_get(v, "schema_version")) {
        json_t *n = json_object();
        json_object_set_new(n, "schema_version", json_integer(JSONX_SCHEMA_VERSION));
        json_object_update(n, v);
        char *s = json_dumps(n, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
        json_decref(n);
        if (!s)
            return -ENOMEM;
        size_t len = strlen(s);
        s = xrealloc(s, len + 2);
        s[len] = '\n';
        int r = fileio_write_atomic(path, s, len + 1);
        free(s);
        return r;
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(9) | JSON_ENCODE_ANY);
    if (!s)
        return -ENOMEM;
    size_t len = strlen(s);
    s = xrealloc(s, len + 2);
    s[len] = '\n';
    int r = fileio_write_atomic(path, s, len + 1);
    free(s);
    return r;
}

char *jsonx_dump_line(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9) | JSON_ENCODE_ANY);
    return s ? s : xstrdup("null");
}

uint64_t jsonx_u64(const json_t *o, const char *key, uint64_t def)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0)
        return units_sat_u64(json_real_value(v));
    return def;
}

int64_t jsonx_i64(const json_t *o, const char *key, int64_t def)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return units_sat_i64(json_real_value(v));
    return def;
}

double jsonx_num(const json_t *o, const char *key, double def)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

bool jsonx_bool(const json_t *o, const char *key, bool def)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *jsonx_str(const json_t *o, const char *key, const char *def)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

json_t *jsonx_path(const json_t *o, const char *path)
{
    char key[128];
    const json_t *cur = o;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        path += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

void jsonx_set_num(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}
