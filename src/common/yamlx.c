/* SPDX-License-Identifier: Apache-2.0 */
/* YAML <-> json_t with libyaml (see yamlx.h). The parser walks libyaml events with an explicit
 * stack of open containers; a mapping alternates key and value slots. */
#include "common/yamlx.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/fileio.h"
#include "common/xalloc.h"

struct frame {
    json_t *node; /* borrowed from the tree (owned by its parent or by root) */
    char *key;    /* owned; pending mapping key, NULL when a key is expected */
};

static json_t *scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, n);
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*end == 0 && errno == 0 && end != s)
        return json_integer(i);
    errno = 0;
    double d = strtod(s, &end);
    if (*end == 0 && errno == 0 && end != s && isfinite(d) && strpbrk(s, "0123456789"))
        return json_real(d);
    return json_stringn(s, n);
}

/* Attaches v (takes) to the frame on top; returns -EINVAL for a non-scalar mapping key. */
static int attach_take(struct frame *top, json_t *v, bool is_scalar, struct diag *d,
                       const yaml_event_t *ev)
{
    if (json_is_array(top->node)) {
        json_array_append_new(top->node, v);
        return 0;
    }
    if (!top->key) {
        if (!is_scalar || !json_is_string(v)) {
            if (is_scalar && !json_is_string(v)) {
                /* numbers and booleans used as keys become their text */
                char *t = json_dumps(v, JSON_ENCODE_ANY);
                json_decref(v);
                top->key = t ? t : xstrdup("");
                return 0;
            }
            json_decref(v);
            return diag_set(d, -EINVAL, (unsigned)ev->start_mark.line + 1,
                            (unsigned)ev->start_mark.column + 1, "mapping key must be a scalar");
        }
        top->key = xstrdup(json_string_value(v));
        json_decref(v);
        return 0;
    }
    if (json_object_get(top->node, top->key)) {
        json_decref(v);
        return diag_set(d, -EINVAL, (unsigned)ev->start_mark.line + 1,
                        (unsigned)ev->start_mark.column + 1, "duplicate key '%s'", top->key);
    }
    json_object_set_new(top->node, top->key, v);
    free(top->key);
    top->key = NULL;
    return 0;
}

int yamlx_parse(const char *text, size_t len, json_t **ret, struct diag *d)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct frame st[YAMLX_MAX_DEPTH];
    int depth = 0, r = 0;
    json_t *root = NULL;
    bool done = false;

    if (len > YAMLX_MAX_BYTES)
        return diag_set(d, -EMSGSIZE, 0, 0, "YAML document larger than %u bytes", YAMLX_MAX_BYTES);
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            r = diag_set(d, -EINVAL, (unsigned)p.problem_mark.line + 1,
                         (unsigned)p.problem_mark.column + 1, "invalid YAML: %s",
                         p.problem ? p.problem : "parse error");
            break;
        }
        json_t *v = NULL;
        bool container = false, is_scalar = false;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            done = ev.type == YAML_STREAM_END_EVENT || root != NULL;
            break;
        case YAML_ALIAS_EVENT:
            r = diag_set(d, -EINVAL, (unsigned)ev.start_mark.line + 1,
                         (unsigned)ev.start_mark.column + 1, "YAML aliases are not supported");
            break;
        case YAML_SCALAR_EVENT:
            v = scalar(&ev);
            is_scalar = true;
            break;
        case YAML_SEQUENCE_START_EVENT:
            v = json_array();
            container = true;
            break;
        case YAML_MAPPING_START_EVENT:
            v = json_object();
            container = true;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) {
                free(st[depth - 1].key);
                depth--;
            }
            break;
        default:
            break;
        }
        if (r == 0 && v) {
            json_t *keep = container ? v : NULL;
            if (depth == 0) {
                if (!root)
                    root = json_incref(v);
                json_decref(v);
            } else {
                if (container)
                    json_incref(v);
                r = attach_take(&st[depth - 1], v, is_scalar, d, &ev);
                if (r < 0 && container)
                    json_decref(v);
                if (r < 0)
                    keep = NULL;
                if (container && r == 0)
                    json_decref(v); /* parent holds it now; frame borrows */
            }
            if (keep) {
                if (depth >= YAMLX_MAX_DEPTH) {
                    r = diag_set(d, -EMSGSIZE, (unsigned)ev.start_mark.line + 1,
                                 (unsigned)ev.start_mark.column + 1,
                                 "YAML nested deeper than %d levels", YAMLX_MAX_DEPTH);
                } else {
                    st[depth++] = (struct frame){ .node = keep, .key = NULL };
                }
            }
        }
        yaml_event_delete(&ev);
        if (r < 0)
            break;
    }
    while (depth > 0)
        free(st[--depth].key);
    yaml_parser_delete(&p);
    if (r < 0) {
        json_decref(root);
        return r;
    }
    *ret = root ? root : json_null();
    return 0;
}

int yamlx_load_file(const char *path, json_t **ret, struct diag *d)
{
    struct buf b;
    buf_init(&b, YAMLX_MAX_BYTES);
    diag_file(d, path);
    int r = fileio_read_all(path, YAMLX_MAX_BYTES, &b);
    if (r < 0)
        diag_set(d, r, 0, 0, "cannot read: %s", strerror(-r));
    else
        r = yamlx_parse(buf_str(&b), b.len, ret, d);
    buf_fini(&b);
    return r;
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return buf_append(data, buffer, size) == 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool plain)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), plain, !plain,
                                 plain ? YAML_PLAIN_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
}

static int emit_node(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    char tmp[64];
    int r = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -EIO;
        const char *k;
        json_t *c;
        json_object_foreach ((json_t *)v, k, c) {
            r = emit_scalar(e, k, true);
            if (r == 0)
                r = emit_node(e, c);
            if (r < 0)
                return r;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -EIO;
        size_t i;
        json_t *c;
        json_array_foreach (v, i, c) {
            r = emit_node(e, c);
            if (r < 0)
                return r;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
    }
    case JSON_STRING:
        return emit_scalar(e, json_string_value(v), false);
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
        return emit_scalar(e, tmp, true);
    case JSON_REAL:
        snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
        if (!strpbrk(tmp, ".eE"))
            memcpy(tmp + strlen(tmp), ".0", 3);
        return emit_scalar(e, tmp, true);
    case JSON_TRUE:
        return emit_scalar(e, "true", true);
    case JSON_FALSE:
        return emit_scalar(e, "false", true);
    case JSON_NULL:
        return emit_scalar(e, "null", true);
    }
    return -EINVAL;
}

int yamlx_emit(const json_t *v, struct buf *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    int r = -EIO;
    if (!yaml_emitter_initialize(&e))
        return -ENOMEM;
    yaml_emitter_set_output(&e, write_handler, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(&e, &ev))
        goto out;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    if (!yaml_emitter_emit(&e, &ev))
        goto out;
    r = emit_node(&e, v);
    if (r < 0)
        goto out;
    r = -EIO;
    yaml_document_end_event_initialize(&ev, 1);
    if (!yaml_emitter_emit(&e, &ev))
        goto out;
    yaml_stream_end_event_initialize(&ev);
    if (!yaml_emitter_emit(&e, &ev))
        goto out;
    r = 0;
out:
    yaml_emitter_delete(&e);
    return r;
}
