/* SPDX-License-Identifier: Apache-2.0 */
/* The attribution sampler: which process touched the KV files (fanotify where permitted, else
 * the /proc fd scan of the page-cache report), the page-cache state of the KV files, and per
 * phase how much of the device's traffic the server explains (attrib_confidence). Writes
 * io_attribution_report.json at stop. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/xalloc.h"
#include "observe/bpfio.h"
#include "observe/pagecache.h"
#include "observe/sampler.h"

/* The block-layer part (observe/bpfio.h): where the kernel permits, each phase says how many
 * of the device's bytes were the KV files', at what device latency. */
struct ebpf {
    struct bpfio *b;
    bool file_tags;
    char reason[BPFIO_REASON_MAX];
    struct bpfio_snap begin;
    bool have_begin;
};

static json_t *ratio(double a, double b)
{
    return b > 0 ? json_real(a / b) : json_null();
}

/* Loads the programs for the device under the KV directory; the reason says why not. */
static struct ebpf *ebpf_setup(struct observe *o, const struct observe_config *cfg)
{
    struct ebpf *e = xcalloc(1, sizeof(*e));
    struct diskstats_dev d;
    if (cfg->no_ebpf)
        snprintf(e->reason, sizeof(e->reason), "disabled by the caller (--no-ebpf)");
    else if (!o->device[0] || diskstats_read(o->proc_root, o->device, &d) < 0)
        snprintf(e->reason, sizeof(e->reason), "no block device to watch");
    else if (bpfio_start(d.major, d.minor, &e->b, &e->file_tags, e->reason) < 0)
        e->b = NULL;
    json_t *x = json_object();
    if (e->b) {
        json_object_set_new(x, "file_hooks", json_string(bpfio_hooks(e->b)));
        if (e->reason[0])
            json_object_set_new(x, "note", json_string(e->reason));
    }
    sampler_source(o, "ebpf", e->b != NULL, e->reason, x);
    return e;
}

/* The KV files the serving tree holds open, as (device, inode) pairs; count. */
static size_t kv_idents(struct observe *o, struct bpfio_ident *ret, size_t max)
{
    if (!o->kv_dir || !o->n_tree)
        return 0;
    struct pagecache_file *files = xcalloc(PAGECACHE_MAX_FILES, sizeof(*files));
    int nf = pagecache_scan(o->proc_root, o->tree, o->n_tree, o->kv_dir, false, files,
                            PAGECACHE_MAX_FILES);
    size_t n = 0;
    for (int i = 0; i < nf && n < max; i++) {
        char p[96];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%d/fd/%d", o->proc_root, (int)files[i].pid, files[i].fd);
        if (stat(p, &st) == 0)
            ret[n++] = (struct bpfio_ident){ major(st.st_dev), minor(st.st_dev), st.st_ino };
    }
    free(files);
    return n;
}

/* The phase's block-layer figures as attribution.ebpf, and the KV bytes as
 * attribution.kv_read_bytes / kv_write_bytes (what the gates read as os.kv_*_bytes). */
static void ebpf_delta(struct observe *o, struct ebpf *e, json_t *at)
{
    if (!e->b || !e->have_begin) {
        json_object_set_new(at, "ebpf", json_null());
        return;
    }
    struct bpfio_snap end;
    if (bpfio_snapshot(e->b, &end) < 0) {
        json_object_set_new(at, "ebpf", json_null());
        return;
    }
    struct bpfio_ident kv[64];
    size_t nkv = kv_idents(o, kv, 64);
    struct bpfio_phase p;
    bpfio_phase_compute(&e->begin, &end, kv, nkv, o->tree, o->n_tree, &p);
    json_t *j = bpfio_phase_json(&p);
    json_object_set_new(j, "file_hooks", json_string(bpfio_hooks(e->b)));
    json_object_set_new(j, "kv_files_seen", json_integer((json_int_t)nkv));
    /* the share of the device's bytes (diskstats, the same phase) that eBPF saw: about 1; a
     * request the kernel ran no program for is missing from every eBPF figure (docs/observe.md) */
    const json_t *dr = json_object_get(at, "device_read_bytes"),
                 *dw = json_object_get(at, "device_write_bytes");
    double ds = dr && dw ? json_number_value(dr) + json_number_value(dw) : 0;
    json_object_set_new(j, "diskstats_coverage",
                        ds > 0
                            ? json_real((double)(p.device.read_bytes + p.device.write_bytes) / ds)
                            : json_null());
    json_object_set_new(at, "ebpf", j);
    if (e->file_tags && nkv > 0) {
        json_object_set_new(at, "kv_read_bytes", sampler_j_u64(p.kv.read_bytes));
        json_object_set_new(at, "kv_write_bytes", sampler_j_u64(p.kv.write_bytes));
    }
    bpfio_snap_fini(&e->begin);
    e->begin = end;
}

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    o->phase_attrib = json_array();
    *ret_state = ebpf_setup(o, cfg);
    if (!cfg->kv_dir) {
        sampler_source(o, "fanotify", false, "no KV directory given", NULL);
        sampler_source(o, "pagecache", false, "no KV directory given", NULL);
    } else {
        if (cfg->no_fanotify) {
            snprintf(o->at_reason, sizeof(o->at_reason), "disabled by the caller (--no-fanotify)");
        } else if (attrib_start(cfg->kv_dir, &o->at, o->at_reason) < 0) {
            o->at = NULL;
        }
        json_t *x = json_object();
        if (o->at)
            json_object_set_new(x, "mark", json_string(attrib_mark_kind(o->at)));
        json_object_set_new(x, "fallback", json_string("proc_fd_scan"));
        sampler_source(o, "fanotify", o->at != NULL, o->at_reason, x);
        sampler_source(o, "pagecache", true, NULL, NULL);
    }

    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    if (o->at)
        attrib_poll(o->at, o->tree, o->n_tree);
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    if (o->at)
        attrib_totals(o->at, &s->at);
    struct ebpf *e = state;
    /* a phase's start; its end is taken by the delta, which also starts the next phase */
    if (e->b && !end) {
        bpfio_snap_fini(&e->begin);
        e->have_begin = bpfio_snapshot(e->b, &e->begin) == 0;
    }
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    /* page cache */
    struct pagecache_file *files = NULL;
    int nf = 0;
    if (o->kv_dir && o->n_tree) {
        files = xcalloc(PAGECACHE_MAX_FILES, sizeof(*files));
        nf = pagecache_scan(o->proc_root, o->tree, o->n_tree, o->kv_dir, true, files,
                            PAGECACHE_MAX_FILES);
    }
    json_t *pc = pagecache_json(files, nf > 0 ? (size_t)nf : 0);
    json_object_set_new(pc, "status", json_string(o->kv_dir ? "ok" : "unavailable"));
    json_object_set_new(pc, "dirty_bytes_start", sampler_j_u64(b->noise.dirty_bytes));
    json_object_set_new(pc, "dirty_bytes_end", sampler_j_u64(e->noise.dirty_bytes));
    json_object_set_new(pc, "writeback_bytes_end", sampler_j_u64(e->noise.writeback_bytes));
    json_object_set_new(pc, "o_direct_macro", json_integer(O_DIRECT));
    free(files);

    /* attribution */
    json_t *at = json_object();
    json_object_set_new(at, "phase", json_string(o->phase));
    const struct ebpf *eb = state;
    char method[64];
    snprintf(method, sizeof(method), "%s%s", eb->b ? "ebpf+" : "",
             o->at ? "fanotify+proc_io" : "proc_fd_scan+proc_io");
    json_object_set_new(at, "method", json_string(method));
    if (f->dev_ok) {
        json_object_set_new(at, "device_read_bytes", sampler_j_u64(f->dr.read_bytes));
        json_object_set_new(at, "device_write_bytes", sampler_j_u64(f->dr.write_bytes));
        json_object_set_new(at, "server_read_bytes", sampler_j_u64(f->server[PROCIO_READ_BYTES]));
        json_object_set_new(at, "server_write_bytes", sampler_j_u64(f->server[PROCIO_WRITE_BYTES]));
        json_object_set_new(at, "server_read_share",
                            ratio((double)(f->server[PROCIO_READ_BYTES] < f->dr.read_bytes
                                               ? f->server[PROCIO_READ_BYTES]
                                               : f->dr.read_bytes),
                                  (double)f->dr.read_bytes));
        json_object_set_new(at, "server_write_share",
                            ratio((double)(f->server[PROCIO_WRITE_BYTES] < f->dr.write_bytes
                                               ? f->server[PROCIO_WRITE_BYTES]
                                               : f->dr.write_bytes),
                                  (double)f->dr.write_bytes));
        json_object_set_new(
            at, "elsewhere_read_bytes",
            sampler_j_u64(sampler_sat_sub(f->dr.read_bytes, f->server[PROCIO_READ_BYTES])));
        json_object_set_new(
            at, "elsewhere_write_bytes",
            sampler_j_u64(sampler_sat_sub(f->dr.write_bytes, f->server[PROCIO_WRITE_BYTES])));
        json_object_set_new(at, "other_process_read_bytes", sampler_j_u64(f->other_read_bytes));
        json_object_set_new(at, "other_process_write_bytes", sampler_j_u64(f->other_write_bytes));
        json_object_set_new(
            at, "unexplained_write_bytes",
            sampler_j_u64(sampler_sat_sub(f->dr.write_bytes,
                                          f->server[PROCIO_WRITE_BYTES] + f->other_write_bytes)));
    } else {
        json_object_set_new(at, "status", json_string("unavailable"));
    }
    if (o->at) {
        json_object_set_new(at, "kv_events_server",
                            sampler_j_u64(e->at.kv_events_server - b->at.kv_events_server));
        json_object_set_new(at, "kv_events_other",
                            sampler_j_u64(e->at.kv_events_other - b->at.kv_events_other));
        json_object_set_new(at, "fs_other_events_server",
                            sampler_j_u64(e->at.other_events_server - b->at.other_events_server));
        json_object_set_new(at, "fs_other_events",
                            sampler_j_u64(e->at.other_events - b->at.other_events));
        json_object_set_new(at, "fanotify_overflows",
                            sampler_j_u64(e->at.overflows - b->at.overflows));
    }
    struct attrib_evidence ev = {
        .device_ok = f->dev_ok,
        .device_read_bytes = f->dr.read_bytes,
        .device_write_bytes = f->dr.write_bytes,
        .server_read_bytes = f->server[PROCIO_READ_BYTES],
        .server_write_bytes = f->server[PROCIO_WRITE_BYTES],
        .kv_clean = o->at ? e->at.kv_events_other == b->at.kv_events_other
                          : json_is_true(json_object_get(pc, "o_direct_all")),
    };
    double share;
    enum attrib_confidence conf = attrib_confidence(&ev, &share);
    json_object_set_new(at, "server_share", isnan(share) ? json_null() : json_real(share));
    json_object_set_new(at, "confidence", json_string(attrib_confidence_name(conf)));
    ebpf_delta(o, state, at);
    json_object_set(d, "attribution", at);
    json_array_append_new(o->phase_attrib, at);
    json_object_set_new(d, "page_cache", pc);
}

static void finish(struct observe *o, void *state)
{
    json_t *ar = json_object();
    json_object_set_new(ar, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(ar, "device", o->device[0] ? json_string(o->device) : json_null());
    json_object_set_new(ar, "kv_dir", o->kv_dir ? json_string(o->kv_dir) : json_null());
    struct ebpf *e = state;
    char method[64];
    snprintf(method, sizeof(method), "%s%s", e->b ? "ebpf+" : "",
             o->at ? "fanotify+proc_io" : "proc_fd_scan+proc_io");
    json_object_set_new(ar, "method", json_string(method));
    json_t *eb = json_object();
    json_object_set_new(eb, "status", json_string(e->b ? "ok" : "unavailable"));
    if (e->b)
        json_object_set_new(eb, "file_hooks", json_string(bpfio_hooks(e->b)));
    if (e->reason[0])
        json_object_set_new(eb, e->b ? "note" : "reason", json_string(e->reason));
    json_object_set_new(eb, "rule",
                        json_string("every read and write request completed on the device is "
                                    "charged to the process that queued it and to the file of "
                                    "its direct I/O or page-cache page; kv_files are the files "
                                    "under the KV directory the serving tree holds open"));
    json_object_set_new(ar, "ebpf", eb);
    json_t *fa = json_object();
    json_object_set_new(fa, "status", json_string(o->at ? "ok" : "unavailable"));
    if (o->at) {
        json_object_set_new(fa, "mark", json_string(attrib_mark_kind(o->at)));
        json_object_set_new(fa, "files", attrib_files_json(o->at));
        struct attrib_totals t;
        attrib_totals(o->at, &t);
        json_object_set_new(fa, "overflows", sampler_j_u64(t.overflows));
    } else {
        json_object_set_new(fa, "reason",
                            json_string(o->kv_dir ? o->at_reason : "no KV directory given"));
    }
    json_object_set_new(ar, "fanotify", fa);
    struct pagecache_file *files = xcalloc(PAGECACHE_MAX_FILES, sizeof(*files));
    int nf = o->kv_dir && o->n_tree ? pagecache_scan(o->proc_root, o->tree, o->n_tree, o->kv_dir,
                                                     true, files, PAGECACHE_MAX_FILES)
                                    : 0;
    json_object_set_new(ar, "kv_files", pagecache_json(files, nf > 0 ? (size_t)nf : 0));
    free(files);
    json_object_set(ar, "phases", o->phase_attrib);
    json_object_set_new(ar, "confidence_rule",
                        json_string("high: server explains >= 90% of device bytes and no other "
                                    "process touched the KV files (fanotify) or all KV files are "
                                    "O_DIRECT; medium: >= 50%; low otherwise"));
    sampler_write_json(o, o->os_dir, "io_attribution_report.json", ar);
    json_decref(ar);
}

static void fini(struct observe *o, void *state)
{
    struct ebpf *e = state;
    if (e) {
        bpfio_snap_fini(&e->begin);
        bpfio_free(e->b);
        free(e);
    }
    attrib_free(o->at);
    o->at = NULL;
    json_decref(o->phase_attrib);
    o->phase_attrib = NULL;
}

const struct sampler_ops sampler_attrib_ops = {
    .name = "attribution",
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .finish = finish,
    .fini = fini,
};
