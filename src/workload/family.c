/* SPDX-License-Identifier: Apache-2.0 */
/* Family profile parsing (see family.h). Every field is checked for type and range; the
 * diagnostic names the dotted field path and, when the YAML text is given, the line where the
 * field (or the dataset, when the field is missing) appears. */
#include "workload/family.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonx.h"

static const char *phase_names[FAMILY__COUNT] = { "warmup", "pressure", "replay", "steady" };

const char *family_phase_name(enum family_phase p)
{
    return p < FAMILY__COUNT ? phase_names[p] : "?";
}

/* Small non-negative decimal at s (class indexes), 0 if none. */
static int atoi_bounded(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9' && v < 1000)
        v = v * 10 + (*s++ - '0');
    return v;
}

struct ctx {
    const char *text;
    size_t len;
    const char *dataset;
    struct diag *d;
};

static bool key_at(const char *line, size_t n, const char *k)
{
    size_t kl = strlen(k);
    for (size_t i = 0; i + kl <= n; i++)
        if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == '{' || line[i - 1] == ',' ||
             line[i - 1] == '-') &&
            !strncmp(line + i, k, kl))
            return true;
    return false;
}

/* Line (1-based) of a field in the YAML text: after the line of "<dataset>:", then after the
 * section ("classes" and its item-th "- " entry, or the phase name) when path names one, the
 * first line holding "key:" (flow mappings included). Falls back to the nearest anchor found;
 * 0 without text. */
static unsigned line_of(const struct ctx *c, const char *path, const char *key)
{
    if (!c->text)
        return 0;
    char ds[8], k[48], sec[24] = "";
    int item = -1;
    snprintf(ds, sizeof(ds), "%s:", c->dataset);
    snprintf(k, sizeof(k), "%s:", key ? key : "");
    if (!strncmp(path, "classes[", 8)) {
        snprintf(sec, sizeof(sec), "classes:");
        item = atoi_bounded(path + 8);
    } else if (!strncmp(path, "phases.", 7)) {
        const char *dot = strchr(path + 7, '.');
        if (dot)
            snprintf(sec, sizeof(sec), "%.*s:", (int)(dot - path - 7), path + 7);
        else
            snprintf(sec, sizeof(sec), "phases:");
    }
    unsigned line = 1, found = 0;
    int stage = 0; /* 0 dataset, 1 section, 2 item, 3 key */
    int items = 0;
    size_t i = 0;
    while (i < c->len && stage < 4) {
        size_t e = i;
        while (e < c->len && c->text[e] != '\n')
            e++;
        size_t s = i;
        while (s < e && c->text[s] == ' ')
            s++;
        const char *l = c->text + s;
        size_t n = e - s;
        for (int again = 1; again;) {
            again = 0;
            if (stage == 0 && n >= strlen(ds) && !strncmp(l, ds, strlen(ds))) {
                found = line;
                stage = sec[0] ? 1 : 3;
            } else if (stage == 1 && key_at(l, n, sec)) {
                found = line;
                stage = item >= 0 ? 2 : 3;
                again = item < 0; /* flow style: the key may be on this line */
            } else if (stage == 2 && n > 0 && l[0] == '-' && items++ == item) {
                found = line;
                stage = 3;
                again = 1;
            } else if (stage == 3 && key && key_at(l, n, k)) {
                found = line;
                stage = 4;
            }
        }
        line++;
        i = e + 1;
    }
    return found;
}

static int bad(const struct ctx *c, const char *field, const char *path, const char *what)
{
    return diag_set(c->d, -EINVAL, line_of(c, path, field), 0, "datasets.%s.%s%s: %s", c->dataset,
                    path, field, what);
}

static int get_u64(const struct ctx *c, const json_t *o, const char *path, const char *key,
                   uint64_t def, uint64_t lo, uint64_t hi, uint64_t *ret)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *ret = def;
        return 0;
    }
    char what[96];
    snprintf(what, sizeof(what), "must be an integer in %llu..%llu", (unsigned long long)lo,
             (unsigned long long)hi);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
        (uint64_t)json_integer_value(v) > hi)
        return bad(c, key, path, what);
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_num(const struct ctx *c, const json_t *o, const char *path, const char *key,
                   double def, double lo, double hi, double *ret)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *ret = def;
        return 0;
    }
    char what[96];
    snprintf(what, sizeof(what), "must be a number in %g..%g", lo, hi);
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo ||
        json_number_value(v) > hi)
        return bad(c, key, path, what);
    *ret = json_number_value(v);
    return 0;
}

/* A range is an integer (lo = hi) or a two-element array [lo, hi] with lo <= hi. */
static int get_range(const struct ctx *c, const json_t *o, const char *path, const char *key,
                     uint64_t def, uint64_t hi_max, struct family_range *ret)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *ret = (struct family_range){ def, def };
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        (uint64_t)json_integer_value(v) <= hi_max) {
        *ret = (struct family_range){ (uint64_t)json_integer_value(v),
                                      (uint64_t)json_integer_value(v) };
        return 0;
    }
    const json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(a) ||
        !json_is_integer(b) || json_integer_value(a) < 0 ||
        json_integer_value(b) < json_integer_value(a) || (uint64_t)json_integer_value(b) > hi_max)
        return bad(c, key, path, "must be an integer or [lo, hi] with 0 <= lo <= hi");
    *ret =
        (struct family_range){ (uint64_t)json_integer_value(a), (uint64_t)json_integer_value(b) };
    return 0;
}

static int check_keys(const struct ctx *c, const json_t *o, const char *path,
                      const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)o, key, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok)
            return bad(c, key, path, "unknown field");
    }
    return 0;
}

static int parse_class(const struct ctx *c, const json_t *o, unsigned idx, struct family_class *k)
{
    static const char *const known[] = { "name",          "weight", "system_tokens",
                                         "prefix_tokens", "groups", "query_tokens",
                                         "output_tokens", "turns",  "think_time_ms",
                                         "warmup_turns",  NULL };
    char path[48];
    snprintf(path, sizeof(path), "classes[%u].", idx);
    if (!json_is_object(o))
        return bad(c, "classes", "", "each class must be a mapping");
    int r = check_keys(c, o, path, known);
    const char *name = jsonx_str(o, "name", NULL);
    if (r == 0 && (!name || !*name || strlen(name) >= sizeof(k->name)))
        r = bad(c, "name", path, "must be a string of 1..31 characters");
    if (r < 0)
        return r;
    snprintf(k->name, sizeof(k->name), "%s", name);
    if ((r = get_num(c, o, path, "weight", 1.0, 0.0, 1e6, &k->weight)) < 0 ||
        (r = get_u64(c, o, path, "system_tokens", 0, 0, FAMILY_MAX_TOKENS, &k->system_tokens)) <
            0 ||
        (r = get_u64(c, o, path, "prefix_tokens", 0, 0, FAMILY_MAX_TOKENS, &k->prefix_tokens)) <
            0 ||
        (r = get_u64(c, o, path, "groups", 1, 1, FAMILY_MAX_GROUPS, &k->groups)) < 0 ||
        (r = get_range(c, o, path, "query_tokens", 64, FAMILY_MAX_TOKENS, &k->query_tokens)) < 0 ||
        (r = get_range(c, o, path, "output_tokens", 128, FAMILY_MAX_TOKENS, &k->output_tokens)) <
            0 ||
        (r = get_range(c, o, path, "turns", 1, FAMILY_MAX_TURNS, &k->turns)) < 0 ||
        (r = get_range(c, o, path, "think_time_ms", 0, 3600000, &k->think_time_ms)) < 0 ||
        (r = get_u64(c, o, path, "warmup_turns", 1, 1, FAMILY_MAX_TURNS, &k->warmup_turns)) < 0)
        return r;
    if (k->turns.lo == 0)
        return bad(c, "turns", path, "must be at least 1");
    if (k->query_tokens.lo == 0)
        return bad(c, "query_tokens", path, "must be at least 1");
    if (k->output_tokens.lo == 0)
        return bad(c, "output_tokens", path, "must be at least 1");
    return 0;
}

static int parse_phase(const struct ctx *c, const json_t *o, enum family_phase p,
                       struct family_phase_cfg *ph)
{
    static const char *const known[] = {
        "arrival",         "rate_per_s",     "burstiness", "concurrency",
        "max_concurrency", "per_group",      "requests",   "reuse_fraction",
        "enabled",         "context_tokens", NULL
    };
    char path[48];
    snprintf(path, sizeof(path), "phases.%s.", family_phase_name(p));
    *ph = (struct family_phase_cfg){ 0 };
    if (!o) {
        snprintf(ph->arrival, sizeof(ph->arrival), "poisson");
        return 0;
    }
    if (!json_is_object(o))
        return bad(c, family_phase_name(p), "phases.", "must be a mapping");
    int r = check_keys(c, o, path, known);
    if (r < 0)
        return r;
    ph->enabled = jsonx_bool(o, "enabled", true);
    const char *arr = jsonx_str(o, "arrival", "poisson");
    if (strcmp(arr, "constant") && strcmp(arr, "poisson") && strcmp(arr, "gamma") &&
        strcmp(arr, "closed"))
        return bad(c, "arrival", path, "must be constant, poisson, gamma or closed");
    snprintf(ph->arrival, sizeof(ph->arrival), "%s", arr);
    if ((r = get_num(c, o, path, "rate_per_s", 1.0, 0.001, FAMILY_MAX_RATE, &ph->rate_per_s)) < 0 ||
        (r = get_num(c, o, path, "burstiness", 1.0, 0.05, 20.0, &ph->burstiness)) < 0 ||
        (r = get_u64(c, o, path, "concurrency", 1, 1, 1024, &ph->concurrency)) < 0 ||
        (r = get_u64(c, o, path, "max_concurrency", 16, 1, 1024, &ph->max_concurrency)) < 0 ||
        (r = get_u64(c, o, path, "per_group", 1, 1, 10000, &ph->per_group)) < 0 ||
        (r = get_u64(c, o, path, "requests", 100, 0, 100000, &ph->requests)) < 0 ||
        (r = get_num(c, o, path, "reuse_fraction", 0.8, 0.0, 1.0, &ph->reuse_fraction)) < 0 ||
        (r = get_u64(c, o, path, "context_tokens", 0, 0, FAMILY_MAX_TOKENS, &ph->context_tokens)) <
            0)
        return r;
    return 0;
}

int family_parse(const json_t *doc, const char *dataset, const char *text, size_t len,
                 struct family *ret_fam, struct family_dataset *ret_ds, struct diag *d)
{
    struct ctx c = { .text = text, .len = len, .dataset = dataset, .d = d };
    struct family fam = { 0 };
    struct family_dataset ds = { 0 };
    const char *name = jsonx_str(doc, "name", NULL);
    if (!json_is_object(doc) || !name || strlen(name) >= sizeof(fam.name))
        return diag_set(d, -EINVAL, 1, 0, "name: must be a short string");
    snprintf(fam.name, sizeof(fam.name), "%s", name);
    snprintf(fam.title, sizeof(fam.title), "%s", jsonx_str(doc, "title", ""));
    const json_t *dss = json_object_get(doc, "datasets");
    if (!json_is_object(dss))
        return diag_set(d, -EINVAL, 0, 0, "datasets: must be a mapping of S and L");
    const json_t *o = json_object_get(dss, dataset);
    if (!o)
        return diag_set(d, -ENOENT, 0, 0, "datasets.%s: not defined for workload %s", dataset,
                        name);
    if (!json_is_object(o))
        return bad(&c, "classes", "", "dataset must be a mapping");
    static const char *const known[] = { "max_input_tokens",
                                         "min_input_tokens",
                                         "min_model_seq",
                                         "classes",
                                         "phases",
                                         "description",
                                         NULL };
    int r = check_keys(&c, o, "", known);
    if (r < 0 ||
        (r = get_u64(&c, o, "", "max_input_tokens", 0, 0, FAMILY_MAX_TOKENS,
                     &ds.max_input_tokens)) < 0 ||
        (r = get_u64(&c, o, "", "min_input_tokens", 0, 0, FAMILY_MAX_TOKENS,
                     &ds.min_input_tokens)) < 0 ||
        (r = get_u64(&c, o, "", "min_model_seq", 0, 0, FAMILY_MAX_TOKENS, &ds.min_model_seq)) < 0)
        return r;
    const json_t *classes = json_object_get(o, "classes");
    if (!json_is_array(classes) || json_array_size(classes) == 0 ||
        json_array_size(classes) > FAMILY_MAX_CLASSES)
        return bad(&c, "classes", "", "must be a list of 1..8 classes");
    double wsum = 0;
    for (unsigned i = 0; i < json_array_size(classes); i++) {
        r = parse_class(&c, json_array_get(classes, i), i, &ds.classes[i]);
        if (r < 0)
            return r;
        wsum += ds.classes[i].weight;
        ds.n_classes++;
    }
    if (wsum <= 0)
        return bad(&c, "weight", "classes[0].", "the class weights must not all be 0");
    const json_t *phases = json_object_get(o, "phases");
    if (phases && !json_is_object(phases))
        return bad(&c, "phases", "", "must be a mapping");
    const char *pk;
    json_t *pv;
    json_object_foreach ((json_t *)phases, pk, pv) {
        bool ok = false;
        for (int p = 0; p < FAMILY__COUNT; p++)
            ok |= !strcmp(pk, phase_names[p]);
        if (!ok)
            return bad(&c, pk, "phases.", "unknown phase (warmup, pressure, replay, steady)");
    }
    for (int p = 0; p < FAMILY__COUNT; p++) {
        r = parse_phase(&c, json_object_get(phases, phase_names[p]), (enum family_phase)p,
                        &ds.phases[p]);
        if (r < 0)
            return r;
        if (!json_object_get(phases, phase_names[p]))
            ds.phases[p].enabled = false;
    }
    *ret_fam = fam;
    *ret_ds = ds;
    return 0;
}
