/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text parser (see prom.h).
 *
 * The parser is a single pass over lines. # TYPE lines are remembered (a small table of
 * family names); each sample is then typed by its exact name or by the family name left after
 * stripping a known suffix (_total, _bucket, _sum, _count, _created). Labels are sorted by name
 * and re-escaped into one canonical string so that the same series from two scrapes, or two
 * workers, compares equal byte for byte. Pages are sorted by key, so deltas are merge-joins. */
#include "common/prom.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define FAMILIES_MAX 20000

struct family {
    char *name;
    enum prom_type type;
};

struct families {
    struct family *f;
    size_t n, cap;
};

struct label {
    char name[PROM_NAME_MAX_BYTES];
    struct buf value; /* unescaped */
};

static const char *const type_names[PROM_TYPE__COUNT] = { "untyped", "counter", "gauge",
                                                          "histogram", "summary" };

const char *prom_type_name(enum prom_type t)
{
    return (unsigned)t < PROM_TYPE__COUNT ? type_names[t] : "untyped";
}

static void sample_fini(struct prom_sample *s)
{
    free(s->key);
    free(s->family);
    free(s->labels_nole);
    free(s->le);
}

void prom_page_fini(struct prom_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        sample_fini(&p->s[i]);
    free(p->s);
    p->s = NULL;
    p->n = p->cap = 0;
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static enum prom_type type_from(const char *s, size_t n)
{
    static const struct {
        const char *n;
        enum prom_type t;
    } map[] = {
        { "counter", PROM_COUNTER },      { "gauge", PROM_GAUGE },
        { "histogram", PROM_HISTOGRAM },  { "summary", PROM_SUMMARY },
        { "gaugehistogram", PROM_GAUGE }, { "untyped", PROM_UNTYPED },
        { "unknown", PROM_UNTYPED },      { "info", PROM_GAUGE },
        { "stateset", PROM_GAUGE },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].n) == n && !memcmp(map[i].n, s, n))
            return map[i].t;
    return PROM_TYPE__COUNT;
}

static const struct family *family_find(const struct families *fs, const char *name, size_t n)
{
    for (size_t i = fs->n; i-- > 0;)
        if (strlen(fs->f[i].name) == n && !memcmp(fs->f[i].name, name, n))
            return &fs->f[i];
    return NULL;
}

static void families_fini(struct families *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].name);
    free(fs->f);
}

/* Resolves the family, type and role of a sample name. */
static void classify(const struct families *fs, const char *name, const char *le_label,
                     const char *q_label, char **ret_family, enum prom_type *ret_type,
                     enum prom_role *ret_role)
{
    size_t n = strlen(name);
    const struct family *f = family_find(fs, name, n);
    if (f) {
        *ret_family = xstrdup(f->name);
        *ret_type = f->type;
        *ret_role = (f->type == PROM_SUMMARY && q_label) ? PROM_ROLE_QUANTILE : PROM_ROLE_VALUE;
        return;
    }
    static const struct {
        const char *suffix;
        enum prom_role role;
    } sfx[] = {
        { "_total", PROM_ROLE_VALUE },     { "_bucket", PROM_ROLE_BUCKET },
        { "_sum", PROM_ROLE_SUM },         { "_count", PROM_ROLE_COUNT },
        { "_created", PROM_ROLE_CREATED }, { "_gsum", PROM_ROLE_SUM },
        { "_gcount", PROM_ROLE_COUNT },    { "_info", PROM_ROLE_VALUE },
    };
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        size_t sl = strlen(sfx[i].suffix);
        if (n > sl && !memcmp(name + n - sl, sfx[i].suffix, sl)) {
            f = family_find(fs, name, n - sl);
            if (f) {
                *ret_family = xalloc_strndup(name, n - sl);
                *ret_type = f->type;
                *ret_role = sfx[i].role;
                if (f->type == PROM_HISTOGRAM && sfx[i].role == PROM_ROLE_BUCKET && !le_label)
                    *ret_role = PROM_ROLE_VALUE;
                return;
            }
        }
    }
    *ret_family = xstrdup(name);
    /* Untyped: a name ending in _total behaves like a counter. */
    *ret_type = (n > 6 && !strcmp(name + n - 6, "_total")) ? PROM_COUNTER : PROM_UNTYPED;
    *ret_role = PROM_ROLE_VALUE;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static int append_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r;
        if (s[i] == '\\')
            r = buf_append_str(b, "\\\\");
        else if (s[i] == '"')
            r = buf_append_str(b, "\\\"");
        else if (s[i] == '\n')
            r = buf_append_str(b, "\\n");
        else
            r = buf_append(b, &s[i], 1);
        if (r < 0)
            return r;
    }
    return 0;
}

static double parse_value(const char *p, const char *end, const char **ret_end, bool *ok)
{
    char tmp[64];
    size_t n = 0;
    while (p + n < end && p[n] != ' ' && p[n] != '\t' && n < sizeof(tmp) - 1)
        n++;
    *ok = false;
    if (n == 0 || n >= sizeof(tmp) - 1)
        return 0;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    double v;
    if (!strcmp(tmp, "NaN"))
        v = NAN;
    else if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "Inf"))
        v = INFINITY;
    else if (!strcmp(tmp, "-Inf"))
        v = -INFINITY;
    else {
        /* Only plain decimal/hex-free floats: reject what strtod would take as words. */
        for (size_t i = 0; i < n; i++)
            if (!strchr("0123456789+-.eE", tmp[i]))
                return 0;
        char *e = NULL;
        errno = 0;
        v = strtod(tmp, &e);
        if (e != tmp + n)
            return 0;
    }
    *ok = true;
    *ret_end = p + n;
    return v;
}

static int page_push(struct prom_page *p, struct prom_sample *s)
{
    if (p->n >= PROM_MAX_SAMPLES)
        return -EMSGSIZE;
    xalloc_grow((void **)&p->s, &p->cap, p->n + 1, sizeof(*p->s));
    p->s[p->n++] = *s;
    return 0;
}

static int cmp_sample(const void *a, const void *b)
{
    return strcmp(((const struct prom_sample *)a)->key, ((const struct prom_sample *)b)->key);
}

/* Parses the label block starting after '{'; *pp ends after '}'. */
static int parse_labels(const char **pp, const char *end, struct label *labels, size_t *ret_n,
                        const char **ret_err)
{
    const char *p = *pp;
    size_t n = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '}') {
            p++;
            break;
        }
        if (p >= end || !is_name_start((unsigned char)*p) || *p == ':') {
            *ret_err = "expected a label name or '}'";
            goto fail;
        }
        if (n >= PROM_MAX_LABELS) {
            *ret_err = "too many labels";
            *ret_n = n;
            *pp = p;
            return -EMSGSIZE;
        }
        size_t k = 0;
        while (p + k < end && is_name_char((unsigned char)p[k]) && p[k] != ':')
            k++;
        if (k >= PROM_NAME_MAX_BYTES) {
            *ret_err = "label name too long";
            *ret_n = n;
            return -EMSGSIZE;
        }
        memcpy(labels[n].name, p, k);
        labels[n].name[k] = 0;
        buf_init(&labels[n].value, PROM_LABELS_MAX_BYTES);
        n++;
        p += k;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end || *p != '=') {
            *ret_err = "expected '=' after label name";
            goto fail;
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end || *p != '"') {
            *ret_err = "expected '\"' to open the label value";
            goto fail;
        }
        p++;
        for (;;) {
            if (p >= end || *p == '\n') {
                *ret_err = "unterminated label value";
                goto fail;
            }
            if (*p == '"') {
                p++;
                break;
            }
            char c = *p;
            if (c == '\\') {
                if (p + 1 >= end) {
                    *ret_err = "dangling escape in label value";
                    goto fail;
                }
                c = p[1] == 'n' ? '\n' : p[1];
                if (p[1] != 'n' && p[1] != '\\' && p[1] != '"') {
                    *ret_err = "unknown escape in label value";
                    goto fail;
                }
                p++;
            }
            if (buf_append(&labels[n - 1].value, &c, 1) < 0) {
                *ret_err = "label value too long";
                *ret_n = n;
                *pp = p;
                return -EMSGSIZE;
            }
            p++;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        *ret_err = "expected ',' or '}' after a label";
        goto fail;
    }
    *ret_n = n;
    *pp = p;
    return 0;
fail:
    *ret_n = n;
    *pp = p;
    return -EINVAL;
}

static void labels_fini(struct label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_fini(&labels[i].value);
}

/* The sample's canonical key (name{sorted labels}) into key and its labels without le or
 * quantile into nole. -EMSGSIZE past a buffer's limit. */
static int canonical_keys(const char *name, const struct label *labels, size_t nl,
                          const struct prom_sample *s, struct buf *key, struct buf *nole)
{
    int r = buf_append_str(key, name);
    if (r < 0)
        return r;
    if (nl > 0)
        buf_append_str(key, "{");
    bool first_nole = true;
    for (size_t i = 0; i < nl; i++) {
        const char *v = buf_str(&labels[i].value);
        size_t vl = labels[i].value.len;
        r = buf_printf(key, "%s%s=\"", i ? "," : "", labels[i].name);
        if (r == 0)
            r = append_escaped(key, v, vl);
        if (r == 0)
            r = buf_append_str(key, "\"");
        bool skip =
            (s->le && ((s->role == PROM_ROLE_BUCKET && !strcmp(labels[i].name, "le")) ||
                       (s->role == PROM_ROLE_QUANTILE && !strcmp(labels[i].name, "quantile"))));
        if (r == 0 && !skip) {
            r = buf_printf(nole, "%s%s=\"", first_nole ? "" : ",", labels[i].name);
            if (r == 0)
                r = append_escaped(nole, v, vl);
            if (r == 0)
                r = buf_append_str(nole, "\"");
            first_nole = false;
        }
        if (r < 0)
            return r;
    }
    if (nl > 0 && buf_append_str(key, "}") < 0)
        return -EMSGSIZE;
    return 0;
}

/* One sample line [p, end). */
static int parse_sample(const char *p, const char *end, const struct families *fs,
                        struct prom_page *page, const char **ret_err, const char **ret_at)
{
    struct label *labels = xcalloc(PROM_MAX_LABELS, sizeof(*labels));
    size_t nl = 0;
    struct buf key, nole;
    buf_init(&key, PROM_NAME_MAX_BYTES + PROM_LABELS_MAX_BYTES + 8);
    buf_init(&nole, PROM_LABELS_MAX_BYTES);
    char name[PROM_NAME_MAX_BYTES];
    struct prom_sample s = { 0 };
    int r = -EINVAL;
    size_t k = 0;
    while (p + k < end && is_name_char((unsigned char)p[k]))
        k++;
    if (k >= PROM_NAME_MAX_BYTES) {
        *ret_err = "metric name too long";
        r = -EMSGSIZE;
        goto out;
    }
    memcpy(name, p, k);
    name[k] = 0;
    p += k;
    if (p < end && *p == '{') {
        p++;
        r = parse_labels(&p, end, labels, &nl, ret_err);
        if (r < 0)
            goto out;
        r = -EINVAL;
    }
    if (p >= end || (*p != ' ' && *p != '\t')) {
        *ret_err = "expected a space before the value";
        goto out;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    bool ok;
    const char *ve = p;
    s.value = parse_value(p, end, &ve, &ok);
    if (!ok) {
        *ret_err = "bad sample value";
        goto out;
    }
    p = ve;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p != '#') {
        double ts = parse_value(p, end, &ve, &ok);
        if (!ok || !isfinite(ts)) {
            *ret_err = "bad timestamp";
            goto out;
        }
        s.has_ts = true;
        s.ts = ts;
        p = ve;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
    }
    if (p < end && *p != '#') {
        *ret_err = "unexpected text after the sample";
        goto out;
    }
    /* Canonical labels. */
    qsort(labels, nl, sizeof(*labels), cmp_label);
    const char *le = NULL, *q = NULL;
    for (size_t i = 0; i < nl; i++) {
        if (i > 0 && !strcmp(labels[i].name, labels[i - 1].name)) {
            *ret_err = "duplicate label name";
            goto out;
        }
        if (!strcmp(labels[i].name, "le"))
            le = buf_str(&labels[i].value);
        if (!strcmp(labels[i].name, "quantile"))
            q = buf_str(&labels[i].value);
    }
    classify(fs, name, le, q, &s.family, &s.type, &s.role);
    if (s.role == PROM_ROLE_BUCKET && le)
        s.le = xstrdup(le);
    else if (s.role == PROM_ROLE_QUANTILE && q)
        s.le = xstrdup(q);
    if (canonical_keys(name, labels, nl, &s, &key, &nole) < 0)
        goto toolong;
    s.key = buf_take_str(&key);
    s.labels_nole = buf_take_str(&nole);
    r = page_push(page, &s);
    if (r < 0) {
        *ret_err = "too many samples";
        goto out;
    }
    memset(&s, 0, sizeof(s));
    r = 0;
    goto out;
toolong:
    *ret_err = "label set too long";
    r = -EMSGSIZE;
out:
    (void)ret_at;
    sample_fini(&s);
    labels_fini(labels, nl);
    free(labels);
    buf_fini(&key);
    buf_fini(&nole);
    return r;
}

static int parse_comment(const char *p, const char *end, struct families *fs, bool *ret_eof,
                         const char **ret_err)
{
    /* p points after '#'. */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t wl = 0;
    while (p + wl < end && p[wl] != ' ' && p[wl] != '\t')
        wl++;
    if (wl == 3 && !memcmp(p, "EOF", 3)) {
        *ret_eof = true;
        return 0;
    }
    if (wl != 4 || memcmp(p, "TYPE", 4))
        return 0; /* HELP, UNIT and free comments carry nothing we need */
    p += wl;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t nl = 0;
    while (p + nl < end && is_name_char((unsigned char)p[nl]))
        nl++;
    if (nl == 0 || !is_name_start((unsigned char)p[0])) {
        *ret_err = "# TYPE without a metric name";
        return -EINVAL;
    }
    if (nl >= PROM_NAME_MAX_BYTES) {
        *ret_err = "metric name too long";
        return -EMSGSIZE;
    }
    const char *name = p;
    p += nl;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t tl = 0;
    while (p + tl < end && p[tl] != ' ' && p[tl] != '\t')
        tl++;
    enum prom_type t = type_from(p, tl);
    if (t == PROM_TYPE__COUNT) {
        *ret_err = "unknown metric type in # TYPE";
        return -EINVAL;
    }
    if (family_find(fs, name, nl)) {
        *ret_err = "second # TYPE line for one metric";
        return -EINVAL;
    }
    if (fs->n >= FAMILIES_MAX) {
        *ret_err = "too many metric families";
        return -EMSGSIZE;
    }
    xalloc_grow((void **)&fs->f, &fs->cap, fs->n + 1, sizeof(*fs->f));
    fs->f[fs->n].name = xalloc_strndup(name, nl);
    fs->f[fs->n].type = t;
    fs->n++;
    return 0;
}

/* One line [q, le) that is not blank and not a comment; line and col for the diagnostic. */
static int parse_line(const char *q, const char *le, struct families *fs, struct prom_page *page,
                      unsigned line, unsigned col, struct diag *d)
{
    const char *err = "syntax error";
    if (!is_name_start((unsigned char)*q))
        return diag_set(d, -EINVAL, line, col, "expected a metric name");
    const char *at = q;
    int r = parse_sample(q, le, fs, page, &err, &at);
    if (r < 0)
        diag_set(d, r, line, col, "%s", err);
    return r;
}

/* A page-wide failure (as opposed to one line's): the page or sample count over a limit. */
static bool page_wide(const struct prom_page *page, int r)
{
    return r == -EMSGSIZE && page->n >= PROM_MAX_SAMPLES;
}

/* The single pass of both parse modes; lenient counts skipped lines into *ret_skipped. */
static int parse_page(const char *text, size_t len, bool lenient, struct prom_page *ret,
                      struct diag *d, unsigned *ret_skipped)
{
    struct families fs = { 0 };
    struct prom_page page = { 0 };
    int r = 0;
    unsigned line = 0, skipped = 0;
    memset(ret, 0, sizeof(*ret));
    if (len > PROM_PAGE_MAX_BYTES) {
        r = diag_set(d, -EMSGSIZE, 0, 0, "metrics page of %zu bytes exceeds %u", len,
                     PROM_PAGE_MAX_BYTES);
        goto fail;
    }
    const char *p = text, *end = text + len;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *q = p;
        if (le > q && le[-1] == '\r')
            le--;
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        unsigned col = (unsigned)(q - p) + 1;
        p = eol ? eol + 1 : end;
        /* in lenient mode only the first skipped line is described */
        struct diag *ld = lenient && skipped ? NULL : d;
        r = 0;
        if (memchr(q, '\0', (size_t)(le - q))) {
            r = diag_set(ld, -EINVAL, line, 1, "NUL byte in metrics text");
        } else if (q < le && *q == '#') {
            const char *err = "syntax error";
            bool eof = false;
            r = parse_comment(q + 1, le, &fs, &eof, &err);
            if (r < 0)
                diag_set(ld, r, line, col, "%s", err);
            else if (eof)
                break;
        } else if (q < le) {
            r = parse_line(q, le, &fs, &page, line, col, ld);
        }
        if (r < 0 && (!lenient || page_wide(&page, r)))
            goto fail;
        if (r < 0)
            skipped++;
    }
    if (page.n > 1) /* an empty page has no array (qsort's pointer must not be NULL) */
        qsort(page.s, page.n, sizeof(*page.s), cmp_sample);
    for (size_t i = 1; i < page.n && !lenient; i++)
        if (!strcmp(page.s[i].key, page.s[i - 1].key)) {
            r = diag_set(d, -EINVAL, 0, 0, "duplicate series %.200s", page.s[i].key);
            goto fail;
        }
    families_fini(&fs);
    *ret = page;
    *ret_skipped = skipped;
    return 0;
fail:
    families_fini(&fs);
    prom_page_fini(&page);
    return r;
}

int prom_parse(const char *text, size_t len, struct prom_page *ret, struct diag *d)
{
    unsigned skipped;
    int r = parse_page(text, len, false, ret, d, &skipped);
    assert(r < 0 || skipped == 0);
    return r;
}

int prom_parse_lenient(const char *text, size_t len, struct prom_page *ret, struct diag *d)
{
    unsigned skipped = 0;
    int r = parse_page(text, len, true, ret, d, &skipped);
    return r < 0 ? r : (int)skipped;
}

const struct prom_sample *prom_find(const struct prom_page *p, const char *key)
{
    size_t lo = 0, hi = p ? p->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->s[mid].key, key);
        if (c == 0)
            return &p->s[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Whether key is the metric `name` with or without a label set. */
static bool key_is_name(const char *key, const char *name, size_t nl)
{
    return !strncmp(key, name, nl) && (key[nl] == 0 || key[nl] == '{');
}

int prom_sum(const struct prom_page *p, const char *name, double *ret_sum)
{
    size_t nl = strlen(name);
    double sum = 0;
    int count = 0;
    for (size_t i = 0; nl && p && i < p->n; i++)
        if (key_is_name(p->s[i].key, name, nl) && !isnan(p->s[i].value)) {
            sum += p->s[i].value;
            count++;
        }
    if (count)
        *ret_sum = sum;
    return count;
}

bool prom_has_prefix(const struct prom_page *p, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; p && i < p->n; i++)
        if (!strncmp(p->s[i].key, prefix, pl))
            return true;
    return false;
}
