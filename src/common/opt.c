/* SPDX-License-Identifier: Apache-2.0 */
/* Option-table driven command-line parsing (see opt.h). */
#include "common/opt.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "common/xalloc.h"

static size_t count(const struct opt_def *defs);

/* The caller-owned marks of cfg when the table's terminator names them, else NULL. */
static struct opt_marks *marks_of(const struct opt_def *defs, const void *cfg)
{
    const struct opt_def *end = &defs[count(defs)];
    if (end->type != OPT__MARKS)
        return NULL;
    assert(end - defs <= OPT_MAX);
    return (struct opt_marks *)((char *)cfg + end->offset);
}

static size_t count(const struct opt_def *defs)
{
    size_t n = 0;
    while (defs[n].name)
        n++;
    return n;
}

static int bounds(const struct opt_def *o, double v, struct diag *d)
{
    if (o->min <= o->max && (v < o->min || v > o->max))
        return diag_set(d, -EINVAL, 0, 0, "--%s: %g is out of range [%g, %g]", o->name, v, o->min,
                        o->max);
    return 0;
}

static int assign(const struct opt_def *o, void *cfg, const char *text, struct diag *d)
{
    char *p = (char *)cfg + o->offset;
    int r = 0;
    uint64_t u;
    double v;
    switch (o->type) {
    case OPT_BOOL:
        if (!text || !strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes"))
            *(bool *)p = true;
        else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no"))
            *(bool *)p = false;
        else
            return diag_set(d, -EINVAL, 0, 0, "--%s: expected true or false, got '%s'", o->name,
                            text);
        return 0;
    case OPT_STR:
        *(const char **)p = text;
        return 0;
    case OPT_U64:
    case OPT_DURATION_NS:
    case OPT_SIZE_BYTES:
        r = o->type == OPT_U64           ? units_parse_u64(text, &u)
            : o->type == OPT_DURATION_NS ? units_parse_duration_ns(text, &u)
                                         : units_parse_size_bytes(text, &u);
        if (r < 0)
            return diag_set(d, -EINVAL, 0, 0, "--%s: cannot parse '%s' as %s", o->name, text,
                            o->type == OPT_U64           ? "a non-negative integer"
                            : o->type == OPT_DURATION_NS ? "a duration (e.g. 250ms, 30s, 5m)"
                                                         : "a size (e.g. 4KiB, 2M, 8G)");
        r = bounds(o, (double)u, d);
        if (r == 0)
            *(uint64_t *)p = u;
        return r;
    case OPT_DOUBLE:
    case OPT_RATE_PER_S:
        r = o->type == OPT_DOUBLE ? units_parse_double(text, &v) : units_parse_rate_per_s(text, &v);
        if (r < 0)
            return diag_set(d, -EINVAL, 0, 0, "--%s: cannot parse '%s' as a number", o->name, text);
        r = bounds(o, v, d);
        if (r == 0)
            *(double *)p = v;
        return r;
    case OPT_ENUM:
        for (int i = 0; o->choices && o->choices[i].name; i++)
            if (!strcmp(o->choices[i].name, text)) {
                *(int *)p = i;
                return 0;
            }
        {
            char list[256] = "";
            size_t n = 0;
            for (int i = 0; o->choices && o->choices[i].name && n < sizeof(list); i++)
                n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                                      o->choices[i].name);
            return diag_set(d, -EINVAL, 0, 0, "--%s: unknown value '%s' (valid: %s)", o->name, text,
                            list);
        }
    case OPT__MARKS:
        assert(!"a terminator in the middle of an option table");
        return -EINVAL;
    }
    return -EINVAL;
}

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    unsigned row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned prev = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cur = row[j];
            unsigned sub = prev + (a[i - 1] != b[j - 1]);
            unsigned best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

static const char *closest(const struct opt_def *defs, const char *name)
{
    const char *best = NULL;
    unsigned bd = 4;
    for (const struct opt_def *o = defs; o->name; o++) {
        unsigned dd = edit_distance(name, o->name);
        if (dd < bd) {
            bd = dd;
            best = o->name;
        }
    }
    return best;
}

int opt_set(const struct opt_def *defs, void *cfg, const char *name, const char *value,
            struct diag *d)
{
    size_t n = count(defs);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(defs[i].name, name) != 0)
            continue;
        int r = assign(&defs[i], cfg, value, d);
        struct opt_marks *m = marks_of(defs, cfg);
        if (r == 0 && m)
            m->bits |= 1ULL << i;
        return r;
    }
    const char *hint = closest(defs, name);
    if (hint)
        return diag_set(d, -EINVAL, 0, 0, "unknown option '%s' (did you mean '%s'?)", name, hint);
    return diag_set(d, -EINVAL, 0, 0, "unknown option '%s'", name);
}

bool opt_was_set(const struct opt_def *defs, const void *cfg, const char *name)
{
    const struct opt_marks *m = marks_of(defs, cfg);
    assert(m); /* the table keeps no marks: end it with OPT_END_MARKS */
    size_t n = count(defs);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return (m->bits >> i) & 1;
    assert(!"opt_was_set: no such option in the table");
    return false;
}

int opt_parse(const struct opt_def *defs, int argc, char **argv, void *cfg, bool *ret_help,
              int *ret_optind, struct diag *d)
{
    size_t n = count(defs);
    int r = 0;
    struct option *lo = xcalloc(n + 2, sizeof(*lo));
    char shorts[2 * OPT_MAX + 8] = "+:";
    size_t sl = 2;
    struct opt_marks *m = marks_of(defs, cfg);
    if (m)
        m->bits = 0;

    for (size_t i = 0; i < n; i++) {
        if (defs[i].def) {
            r = assign(&defs[i], cfg, defs[i].def, d);
            if (r < 0)
                goto out;
        }
        lo[i] =
            (struct option){ .name = defs[i].name,
                             .has_arg = defs[i].type == OPT_BOOL ? no_argument : required_argument,
                             .val = 256 + (int)i };
        if (defs[i].short_name && sl + 3 < sizeof(shorts)) {
            shorts[sl++] = defs[i].short_name;
            if (defs[i].type != OPT_BOOL)
                shorts[sl++] = ':';
        }
    }
    lo[n] = (struct option){ .name = "help", .has_arg = no_argument, .val = 'h' };
    shorts[sl++] = 'h';
    shorts[sl] = 0;
    *ret_help = false;

    optind = 1;
    opterr = 0;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
        if (c == 'h') {
            *ret_help = true;
            break;
        }
        if (c == '?' || c == ':') {
            const char *arg = argv[optind - 1];
            if (c == ':') {
                r = diag_set(d, -EINVAL, 0, 0, "option '%s' needs a value", arg);
                goto out;
            }
            if (arg && arg[0] == '-' && arg[1] == '-') {
                char name[64];
                snprintf(name, sizeof(name), "%s", arg + 2);
                char *eq = strchr(name, '=');
                if (eq)
                    *eq = 0;
                const char *hint = closest(defs, name);
                r = hint ? diag_set(d, -EINVAL, 0, 0,
                                    "unknown option '--%s' (did you mean '--%s'?)", name, hint)
                         : diag_set(d, -EINVAL, 0, 0, "unknown option '--%s'", name);
            } else {
                r = diag_set(d, -EINVAL, 0, 0, "unknown option '-%c'", optopt ? optopt : '?');
            }
            goto out;
        }
        size_t i = (size_t)-1;
        if (c >= 256)
            i = (size_t)(c - 256);
        else
            for (size_t k = 0; k < n; k++)
                if (defs[k].short_name == c)
                    i = k;
        if (i >= n) {
            r = diag_set(d, -EINVAL, 0, 0, "unknown option");
            goto out;
        }
        r = assign(&defs[i], cfg, defs[i].type == OPT_BOOL ? NULL : optarg, d);
        if (r < 0)
            goto out;
        if (m)
            m->bits |= 1ULL << i;
    }
    *ret_optind = optind;
out:
    free(lo);
    return r;
}

static const char *type_meta(const struct opt_def *o)
{
    switch (o->type) {
    case OPT_BOOL:
        return "";
    case OPT_U64:
        return " N";
    case OPT_DOUBLE:
        return " X";
    case OPT_STR:
        return " STR";
    case OPT_DURATION_NS:
        return " DUR";
    case OPT_SIZE_BYTES:
        return " SIZE";
    case OPT_RATE_PER_S:
        return " RATE";
    case OPT_ENUM:
        return " NAME";
    case OPT__MARKS:
        break; /* a terminator, never an option */
    }
    return "";
}

void opt_help(const struct opt_def *defs, const char *usage, const char *summary, struct buf *out)
{
    size_t n = count(defs);
    buf_printf(out, "Usage: %s\n\n%s\n", usage, summary);
    const char *groups[OPT_MAX];
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = defs[i].group ? defs[i].group : "Options";
        bool seen = false;
        for (size_t k = 0; k < ng; k++)
            seen |= !strcmp(groups[k], g);
        if (!seen && ng < OPT_MAX)
            groups[ng++] = g;
    }
    for (size_t k = 0; k < ng; k++) {
        buf_printf(out, "\n%s:\n", groups[k]);
        for (size_t i = 0; i < n; i++) {
            const struct opt_def *o = &defs[i];
            if (strcmp(o->group ? o->group : "Options", groups[k]) != 0)
                continue;
            char lhs[80];
            if (o->short_name)
                snprintf(lhs, sizeof(lhs), "-%c, --%s%s", o->short_name, o->name, type_meta(o));
            else
                snprintf(lhs, sizeof(lhs), "    --%s%s", o->name, type_meta(o));
            if (strlen(lhs) > 30)
                buf_printf(out, "  %s\n  %-30s %s", lhs, "", o->help ? o->help : "");
            else
                buf_printf(out, "  %-30s %s", lhs, o->help ? o->help : "");
            if (o->def && o->type != OPT_BOOL)
                buf_printf(out, " [default: %s]", o->def);
            buf_append_str(out, "\n");
            for (int c = 0; o->type == OPT_ENUM && o->choices && o->choices[c].name; c++)
                buf_printf(out, "  %-30s   %-6s %s\n", "", o->choices[c].name,
                           o->choices[c].help ? o->choices[c].help : "");
        }
    }
    buf_printf(out, "\n  %-30s %s\n", "-h, --help", "show this help and exit");
}

void opt_help_markdown(const struct opt_def *defs, const char *cmd, struct buf *out)
{
    buf_printf(
        out, "### `kvtier %s`\n\n| option | value | default | meaning |\n|---|---|---|---|\n", cmd);
    for (const struct opt_def *o = defs; o->name; o++) {
        buf_printf(out, "| `--%s`", o->name);
        if (o->short_name)
            buf_printf(out, " (`-%c`)", o->short_name);
        buf_printf(out, " |%s | %s | %s", type_meta(o), o->def ? o->def : "",
                   o->help ? o->help : "");
        for (int c = 0; o->type == OPT_ENUM && o->choices && o->choices[c].name; c++)
            buf_printf(out, "%s`%s`", c ? ", " : " — one of ", o->choices[c].name);
        buf_append_str(out, " |\n");
    }
    buf_append_str(out, "\n");
}

json_t *opt_to_json(const struct opt_def *defs, const void *cfg)
{
    json_t *o = json_object();
    for (const struct opt_def *d = defs; d->name; d++) {
        const char *p = (const char *)cfg + d->offset;
        json_t *v = NULL;
        switch (d->type) {
        case OPT_BOOL:
            v = json_boolean(*(const bool *)p);
            break;
        case OPT_U64:
        case OPT_DURATION_NS:
        case OPT_SIZE_BYTES:
            v = json_integer((json_int_t) * (const uint64_t *)p);
            break;
        case OPT_DOUBLE:
        case OPT_RATE_PER_S:
            v = json_real(*(const double *)p);
            break;
        case OPT_STR:
            v = *(const char *const *)p ? json_string(*(const char *const *)p) : json_null();
            break;
        case OPT_ENUM:
            v = json_string(d->choices[*(const int *)p].name);
            break;
        case OPT__MARKS:
            assert(!"a terminator in the middle of an option table");
            break;
        }
        json_object_set_new(o, d->name, v);
    }
    return o;
}
