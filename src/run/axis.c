/* SPDX-License-Identifier: Apache-2.0 */
/* Load axes and the bundle groups of sweep and slo points (see axis.h). */
#include "run/axis.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

static const char *const names[AXIS__COUNT] = { "concurrency", "rate", "context" };

const char *axis_name(enum axis_kind a)
{
    return (unsigned)a < AXIS__COUNT ? names[a] : "?";
}

int axis_parse(const char *s, enum axis_kind *ret, struct diag *d)
{
    for (int i = 0; i < AXIS__COUNT; i++)
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum axis_kind)i;
            return 0;
        }
    return diag_set(d, -EINVAL, 0, 0,
                    "--axis: unknown axis '%s' (valid: concurrency, rate, context)", s);
}

bool axis_integer(enum axis_kind a)
{
    return a != AXIS_RATE;
}

int axis_check(enum axis_kind a, const char *workload, double value, struct diag *d)
{
    switch (a) {
    case AXIS_CONCURRENCY:
        if (!(value >= 1 && value <= 1024) || value != floor(value))
            return diag_set(d, -EINVAL, 0, 0,
                            "axis concurrency: %g is not a whole number of requests in flight "
                            "in 1..1024",
                            value);
        return 0;
    case AXIS_RATE:
        if (!(value > 0 && value <= 1000))
            return diag_set(d, -EINVAL, 0, 0,
                            "axis rate: %g is not a rate multiplier in (0, 1000] (1 = the "
                            "workload profile's rates)",
                            value);
        return 0;
    default:
        return diag_set(d, -EINVAL, 0, 0,
                        "axis %s: workload %s cannot vary its context length (the planner has "
                        "no context knob); vary concurrency or rate",
                        axis_name(a), workload ? workload : "?");
    }
}

char *axis_point_name(enum axis_kind a, double value)
{
    return xalloc_printf("%s-%g", axis_name(a), value);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether group holds <mode>/rNN/verdict.json for r = 1..repeats of every mode. */
static bool group_complete(const char *group, const enum mode_id *modes, size_t n_modes,
                           unsigned repeats)
{
    for (size_t m = 0; m < n_modes; m++)
        for (unsigned r = 1; r <= repeats; r++) {
            char *p = xalloc_printf("%s/%s/r%02u/verdict.json", group, mode_name(modes[m]), r);
            struct stat st;
            bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
            free(p);
            if (!ok)
                return false;
        }
    return true;
}

char *axis_find_group(const char *point_dir, const enum mode_id *modes, size_t n_modes,
                      unsigned repeats)
{
    DIR *dp = opendir(point_dir);
    if (!dp)
        return NULL;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = fileio_join(point_dir, e->d_name);
        /* the newest complete group wins (names end in a UTC stamp) */
        if (is_dir(p) && group_complete(p, modes, n_modes, repeats) &&
            (!best || strcmp(p, best) > 0)) {
            free(best);
            best = p;
        } else {
            free(p);
        }
    }
    closedir(dp);
    return best;
}

/* The per-point options recorded in every bundle's manifest: the command's plus the axis. */
static json_t *point_options(const struct bundle_config *base, enum axis_kind a, double value)
{
    json_t *o = json_is_object(base->options) ? json_deep_copy(base->options) : json_object();
    json_object_set_new(o, "axis", json_string(axis_name(a)));
    json_object_set_new(o, "axis_value", json_real(value));
    return o;
}

int axis_run_point(const struct bundle_config *base, enum axis_kind a, double value,
                   unsigned repeats, const char *point_dir, char **ret_group, bool *ret_reused,
                   struct diag *d)
{
    char *found = axis_find_group(point_dir, base->modes, base->n_modes, repeats);
    if (found) {
        *ret_group = found;
        *ret_reused = true;
        return 0;
    }
    int rc = fileio_mkdir_p(point_dir);
    if (rc < 0) {
        diag_file(d, point_dir);
        return diag_set(d, rc, 0, 0, "cannot create: %s", strerror(-rc));
    }
    struct bundle_config bc = *base;
    bc.out_dir = point_dir;
    bc.repeats = repeats;
    if (a == AXIS_CONCURRENCY)
        bc.concurrency = (uint64_t)value;
    else if (a == AXIS_RATE)
        bc.rate_scale = value;
    json_t *opts = point_options(base, a, value), *group = NULL;
    bc.options = opts;
    rc = bundle_run(&bc, &group, d);
    if (rc == 0) {
        const char *g = jsonx_str(group, "group_dir", NULL);
        if (g) {
            *ret_group = xstrdup(g);
            *ret_reused = false;
        } else {
            diag_file(d, point_dir);
            rc = diag_set(d, -EIO, 0, 0, "the bundle run named no group directory");
        }
    }
    json_decref(group);
    json_decref(opts);
    return rc;
}

int axis_load_mode(const char *group, const char *mode, const char *phase,
                   struct rundir_bundle **ret, size_t *ret_n, struct diag *d)
{
    char *dir = fileio_join(group, mode);
    char **dirs = NULL;
    size_t n = 0;
    int rc = rundir_list(dir, &dirs, &n, d);
    free(dir);
    if (rc < 0)
        return rc;
    struct rundir_bundle *b = xcalloc(n + 1, sizeof(*b));
    for (size_t i = 0; i < n; i++)
        b[i].dir = dirs[i];
    free(dirs);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rundir_load(&b[i], phase, d);
    if (rc < 0) {
        axis_free_bundles(b, n);
        return rc;
    }
    *ret = b;
    *ret_n = n;
    return 0;
}

void axis_free_bundles(struct rundir_bundle *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        rundir_bundle_fini(&b[i]);
    free(b);
}
