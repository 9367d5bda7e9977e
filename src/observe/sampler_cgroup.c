/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup sampler: the stack's cgroup io counters (v2 io.stat or v1 blkio) per device, and
 * the phase's bytes and IOs on the KV tier's device. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/xalloc.h"
#include "observe/sampler.h"

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    /* cgroup */
    if (cfg->cgroup_path) {
        o->cg_path = xstrdup(cfg->cgroup_path);
    } else if (o->n_tree > 0) {
        char *p = NULL;
        if (cgio_dir_of_pid(o->proc_root, o->sys_root, o->tree[0], &p) == 0)
            o->cg_path = p;
    }
    char why[512] = "no cgroup path given and the server's cgroup has no io.stat or blkio files";
    if (o->cg_path) {
        struct cgio_dev tmp[4];
        int v = 0;
        int r = cgio_read(o->cg_path, tmp, 4, &v);
        if (r >= 0 || r == -EMSGSIZE) {
            o->cg_ok = true;
            o->cg_version = v;
        } else {
            snprintf(why, sizeof(why),
                     "%s has neither io.stat (cgroup v2 io controller) nor blkio statistics "
                     "(v1): %s",
                     o->cg_path, strerror(-r));
        }
    }
    json_t *x = json_object();
    json_object_set_new(x, "path", o->cg_path ? json_string(o->cg_path) : json_null());
    if (o->cg_ok)
        json_object_set_new(x, "version", json_integer(o->cg_version));
    sampler_source(o, "cgroup_io", o->cg_ok, why, x);

    return 0;
}

static int read_cg(struct observe *o, struct cgio_dev *devs, size_t max, int *ret_version)
{
    char *p = fileio_join(
        o->cg_path, o->cg_version == 2 ? "io.stat" : "blkio.throttle.io_service_bytes_recursive");
    int r = sampler_kread(o, p);
    free(p);
    if (r < 0)
        return r;
    *ret_version = o->cg_version;
    if (o->cg_version == 2)
        return cgio_parse_v2(buf_str(&o->rbuf), o->rbuf.len, devs, max);
    char *bytes = buf_take_str(&o->rbuf);
    size_t bl = strlen(bytes);
    p = fileio_join(o->cg_path, "blkio.throttle.io_serviced_recursive");
    r = sampler_kread(o, p);
    free(p);
    r = cgio_parse_v1(bytes, bl, r < 0 ? NULL : buf_str(&o->rbuf), r < 0 ? 0 : o->rbuf.len, devs,
                      max);
    free(bytes);
    return r;
}

static bool find_cg(const struct cgio_dev *a, size_t n, const struct diskstats_dev *disk,
                    struct cgio_dev *ret)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].major == disk->major && a[i].minor == disk->minor) {
            *ret = a[i];
            return true;
        }
    return false;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    double itv = t->itv_s;
    const char *tcols = t->tcols;
    if (!o->cg_ok)
        return;
    struct cgio_dev *cur = xcalloc(CGIO_MAX_DEVS, sizeof(*cur));
    int v = 0;
    int n = read_cg(o, cur, CGIO_MAX_DEVS, &v);
    if (n < 0) {
        free(cur);
        return;
    }
    for (int i = 0; i < n && o->have_last && itv > 0; i++) {
        struct cgio_dev p = { 0 };
        bool hp = false;
        for (size_t k = 0; k < o->n_cg_prev; k++)
            if (o->cg_prev[k].major == cur[i].major && o->cg_prev[k].minor == cur[i].minor) {
                p = o->cg_prev[k];
                hp = true;
            }
#define RATE(f) (hp && cur[i].f >= p.f ? (double)(cur[i].f - p.f) / itv : 0.0)
        sampler_row(o, csv,
                    "%s%d,%s,%u:%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%.1f,%.1f,%.2f,%.2f\n",
                    tcols, v, o->cg_path, cur[i].major, cur[i].minor, cur[i].rbytes, cur[i].wbytes,
                    cur[i].rios, cur[i].wios, cur[i].dbytes, cur[i].dios, RATE(rbytes),
                    RATE(wbytes), RATE(rios), RATE(wios));
#undef RATE
    }
    free(o->cg_prev);
    o->cg_prev = cur;
    o->n_cg_prev = (size_t)n;
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    s->cg_ok =
        o->cg_ok && o->disk_prev_ok && find_cg(o->cg_prev, o->n_cg_prev, &o->disk_prev, &s->cg);
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    /* cgroup */
    json_t *cg = json_object();
    if (b->cg_ok && e->cg_ok) {
        json_object_set_new(cg, "status", json_string("ok"));
        json_object_set_new(cg, "version", json_integer(o->cg_version));
        json_object_set_new(cg, "path", json_string(o->cg_path));
        json_object_set_new(cg, "rbytes",
                            sampler_j_u64(sampler_sat_sub(e->cg.rbytes, b->cg.rbytes)));
        json_object_set_new(cg, "wbytes",
                            sampler_j_u64(sampler_sat_sub(e->cg.wbytes, b->cg.wbytes)));
        json_object_set_new(cg, "rios", sampler_j_u64(sampler_sat_sub(e->cg.rios, b->cg.rios)));
        json_object_set_new(cg, "wios", sampler_j_u64(sampler_sat_sub(e->cg.wios, b->cg.wios)));
    } else {
        json_object_set_new(cg, "status", json_string("unavailable"));
        json_object_set_new(cg, "reason",
                            json_string(o->cg_ok ? "device not in the cgroup's "
                                                   "statistics"
                                                 : "no cgroup io accounting"));
    }
    json_object_set_new(d, "cgroup", cg);
}

static void fini(struct observe *o, void *state)
{
    free(o->cg_prev);
    free(o->cg_path);
    o->cg_prev = NULL;
    o->cg_path = NULL;
}

const struct sampler_ops sampler_cgroup_ops = {
    .name = "cgroup_io",
    .csv_name = "cgroup_io.csv",
    .csv_header = "t_unix_ns,t_s,interval_s,cgroup_version,path,device,rbytes,wbytes,rios,wios,"
                  "dbytes,dios,rbytes_per_s,wbytes_per_s,rios_per_s,wios_per_s",
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .fini = fini,
};
