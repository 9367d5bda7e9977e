/* SPDX-License-Identifier: Apache-2.0 */
/* The default sampler table and the helpers the samplers share (see sampler.h). */
#include "observe/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

const struct sampler_ops *const sampler_table[] = {
    &sampler_disk_ops, &sampler_proc_ops,   &sampler_cgroup_ops, &sampler_net_ops,
    &sampler_gpu_ops,  &sampler_attrib_ops, &sampler_noise_ops,  &sampler_kvbm_ops,
    &sampler_fe_ops,   &sampler_smart_ops,  &sampler_remote_ops,
};
const size_t sampler_table_len = sizeof(sampler_table) / sizeof(sampler_table[0]);

uint64_t sampler_now_ns(const struct observe *o)
{
    return o->clk->now_ns(o->clk);
}

uint64_t sampler_wall_ns(const struct observe *o)
{
    return o->clk->wall_unix_ns(o->clk);
}

void sampler_source(struct observe *o, const char *name, bool ok, const char *reason, json_t *extra)
{
    json_t *s = json_object();
    json_object_set_new(s, "status", json_string(ok ? "ok" : "unavailable"));
    if (!ok)
        json_object_set_new(s, "reason", json_string(reason ? reason : "unknown"));
    if (extra) {
        json_object_update(s, extra);
        json_decref(extra);
    }
    json_object_set_new(o->sources, name, s);
}

json_t *sampler_unavailable(const char *reason)
{
    json_t *j = json_object();
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(j, "status", json_string("unavailable"));
    json_object_set_new(j, "reason", json_string(reason));
    return j;
}

void sampler_note_write(struct observe *o, int r)
{
    if (r < 0 && o->write_err == 0)
        o->write_err = r;
}

void sampler_row(struct observe *o, FILE *csv, const char *fmt, ...)
{
    if (!csv)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(csv, fmt, ap) < 0)
        sampler_note_write(o, -EIO);
    va_end(ap);
}

const char *sampler_numcell(char *buf, size_t len, double v)
{
    if (isnan(v))
        buf[0] = 0;
    else
        snprintf(buf, len, "%.3f", v);
    return buf;
}

int sampler_write_json(struct observe *o, const char *dir, const char *name, json_t *j)
{
    char *p = fileio_join(dir, name);
    int r = jsonx_write_file(p, j);
    free(p);
    sampler_note_write(o, r);
    return r;
}

int sampler_kread(struct observe *o, const char *path)
{
    return kfile_read(&o->kf, path, &o->rbuf);
}

json_t *sampler_j_u64(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

uint64_t sampler_sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

const struct pidstate *sampler_find_pid(const struct pidstate *a, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].pid == pid)
            return &a[i];
    return NULL;
}

void sampler_scan_tree(struct observe *o, uint64_t t)
{
    pid_t roots[OBSERVE_MAX_PIDS + 64];
    size_t nr = 0;
    for (size_t i = 0; i < o->n_roots; i++)
        roots[nr++] = o->roots[i];
    if (o->proc_name) {
        pid_t found[32];
        int n = procio_find_by_name(o->proc_root, o->proc_name, found, 32);
        for (int i = 0; i < n && nr < sizeof(roots) / sizeof(roots[0]); i++)
            roots[nr++] = found[i];
    }
    if (o->listen_port) {
        pid_t p;
        if (procio_find_by_port(o->proc_root, o->listen_port, &p) == 0 &&
            nr < sizeof(roots) / sizeof(roots[0]))
            roots[nr++] = p;
    }
    if (!o->tree)
        o->tree = xcalloc(PROCIO_MAX_TREE, sizeof(*o->tree));
    int n =
        nr ? procio_tree_with(o->proc_root, roots, nr, o->tree, PROCIO_MAX_TREE, kfile_read, &o->kf)
           : 0;
    o->n_tree = n > 0 ? (size_t)n : 0;
    o->tree_scan_ns = t;
}
