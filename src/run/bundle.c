/* SPDX-License-Identifier: Apache-2.0 */
/* The bundle runner (see bundle.h and docs/bundle.md).
 *
 * One bundle: empty the disk cache dir and drop the page cache (both recorded) -> launch the
 * stack into its process group and cgroup -> wait until ready -> read the configuration back
 * from the worker and compare with the mode -> start the sampler -> run the plan phase by phase;
 * at every phase boundary the observe phase marks snapshot every endpoint and OS counter, and
 * the runner also snapshots the worker's /proc/PID/io -> final health check -> stop sampler and
 * stack -> summary.json, evidence, verdict.json, quick_summary.json, charts, manifest.json.
 * Every early stop (stack fails to start, never ready, crash mid-run, Ctrl-C) still writes the
 * whole bundle with what was measured and the reason code that explains it. */
#include "run/bundle.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "analysis/bootstrap.h"
#include "common/buf.h"
#include "common/clk.h"
#include "common/emit.h"
#include "common/fileio.h"
#include "common/httpget.h"
#include "common/jsonx.h"
#include "common/procio.h"
#include "common/profile.h"
#include "common/rng.h"
#include "common/units.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "loadgen/loadgen.h"
#include "observe/observe.h"
#include "report/charts.h"
#include "stack/cgroup.h"
#include "stack/stack.h"
#include "version.h"
#include "workload/reuse.h"
#include "workload/workload.h"

#define RECORDS_MAX_BYTES  (512u << 20)
#define LOG_COPY_MAX_BYTES (64u << 20)

static const char *const kvbm_counters[] = {
    "kvbm_matched_tokens",
    "kvbm_offload_blocks_d2h",
    "kvbm_offload_blocks_h2d",
    "kvbm_offload_blocks_d2d",
    "kvbm_onboard_blocks_h2d",
    "kvbm_onboard_blocks_d2d",
    NULL,
};

void bundle_config_init(struct bundle_config *cfg)
{
    *cfg = (struct bundle_config){ .repeats = 1,
                                   .seed = 1,
                                   .drop_caches = true,
                                   .use_cgroup = true,
                                   .storage_kind = "local_nvme" };
    gate_thresholds_default(&cfg->thresholds);
}

static void note(const struct bundle_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const struct bundle_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(cfg->note, cfg->note_ctx, fmt, ap);
    va_end(ap);
}

void bundle_block_order(size_t n, unsigned repeats, uint64_t seed, size_t *order)
{
    struct rng r;
    rng_seed(&r, rng_derive(seed, "bundle-block-order"));
    for (unsigned b = 0; b < repeats; b++) {
        size_t *blk = order + (size_t)b * n;
        for (size_t i = 0; i < n; i++)
            blk[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)rng_range(&r, 0, i - 1);
            size_t t = blk[i - 1];
            blk[i - 1] = blk[j];
            blk[j] = t;
        }
    }
}

/* ---- small helpers ---------------------------------------------------------------------- */

static char *read_text(const char *path, size_t max)
{
    struct buf b;
    buf_init(&b, max);
    if (fileio_read_all(path, max, &b) < 0) {
        buf_fini(&b);
        return NULL;
    }
    return buf_take_str(&b);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = 0;
}

static json_t *file_str_json(const char *path)
{
    char *t = read_text(path, 4096);
    if (!t)
        return json_null();
    trim(t);
    json_t *j = json_string(t);
    free(t);
    return j ? j : json_null();
}

static int write_json(const char *dir, const char *name, json_t *v)
{
    char *p = fileio_join(dir, name);
    int r = jsonx_write_file(p, v);
    free(p);
    return r;
}

static json_t *load_json_opt(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    json_t *j = NULL;
    if (access(p, R_OK) == 0)
        jsonx_load_file(p, &j, NULL);
    free(p);
    return j;
}

static int copy_file(const char *from, const char *to, size_t max)
{
    struct buf b;
    buf_init(&b, max);
    int r = fileio_read_all(from, max, &b);
    if (r >= 0)
        r = fileio_write_atomic(to, b.data, b.len);
    buf_fini(&b);
    return r;
}

static json_t *host_json(void)
{
    json_t *h = json_object();
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(h, "hostname", json_string(u.nodename));
        json_object_set_new(h, "kernel", json_string(u.release));
        json_object_set_new(h, "kernel_version", json_string(u.version));
        json_object_set_new(h, "arch", json_string(u.machine));
    }
    char *ci = read_text("/proc/cpuinfo", 1 << 20);
    if (ci) {
        const char *keys[] = { "model name", "CPU part", NULL };
        for (size_t i = 0; keys[i]; i++) {
            char *m = strstr(ci, keys[i]);
            if (m && (m = strchr(m, ':'))) {
                char *nl = strchr(m, '\n');
                json_object_set_new(h, "cpu_model",
                                    json_stringn(m + 2, nl ? (size_t)(nl - m - 2) : strlen(m + 2)));
                break;
            }
        }
        free(ci);
    }
    json_object_set_new(h, "cpus_online", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        json_object_set_new(h, "memory_bytes", json_integer((json_int_t)pages * psz));
    return h;
}

/* Storage tier record: kind, path, device, model, firmware, PCIe link, probe ceiling. */
static json_t *storage_json(const struct bundle_config *cfg, const char *cache_dir, uint64_t bpb)
{
    json_t *s = json_object();
    json_object_set_new(s, "kind",
                        json_string(cfg->storage_kind ? cfg->storage_kind : "local_nvme"));
    json_object_set_new(s, "path", json_string(cache_dir));
    char majmin[32] = "";
    int r = cgroup_disk_of_path(NULL, cache_dir, majmin, sizeof(majmin));
    json_object_set_new(s, "device_number", r == 0 ? json_string(majmin) : json_null());
    char devname[64] = "";
    if (cfg->device) {
        snprintf(devname, sizeof(devname), "%s", cfg->device);
    } else if (r == 0) {
        char *ue = xalloc_printf("/sys/dev/block/%s/uevent", majmin);
        char *t = read_text(ue, 4096);
        char *d = t ? strstr(t, "DEVNAME=") : NULL;
        if (d) {
            d += 8;
            char *nl = strchr(d, '\n');
            if (nl)
                *nl = 0;
            snprintf(devname, sizeof(devname), "%s", d);
        }
        free(t);
        free(ue);
    }
    json_object_set_new(s, "device", devname[0] ? json_string(devname) : json_null());
    if (devname[0]) {
        char *p = xalloc_printf("/sys/block/%s/device/model", devname);
        json_object_set_new(s, "model", file_str_json(p));
        free(p);
        p = xalloc_printf("/sys/block/%s/device/firmware_rev", devname);
        json_object_set_new(s, "firmware", file_str_json(p));
        free(p);
        p = xalloc_printf("/sys/block/%s/device/device/current_link_speed", devname);
        json_t *speed = file_str_json(p);
        free(p);
        p = xalloc_printf("/sys/block/%s/device/device/current_link_width", devname);
        json_t *width = file_str_json(p);
        free(p);
        json_t *link = json_object();
        json_object_set_new(link, "speed", speed);
        json_object_set_new(link, "width", width);
        json_object_set_new(s, "pcie_link", link);
    }
    /* the SSD ceiling: probe.json as measured by kvtier probe, recorded whole so the report
     * can compute storage efficiency (KV read bandwidth in replay / ceiling at the block size) */
    json_t *ceil = json_null();
    if (cfg->probe_path) {
        json_t *probe = NULL;
        struct diag d = { 0 };
        ceil = json_object();
        json_object_set_new(ceil, "probe_file", json_string(cfg->probe_path));
        json_object_set_new(ceil, "block_bytes_of_interest", json_integer((json_int_t)bpb));
        if (jsonx_load_file(cfg->probe_path, &probe, &d) == 0)
            json_object_set_new(ceil, "probe", probe);
        else
            json_object_set_new(ceil, "error", json_string(d.msg));
    }
    json_object_set_new(s, "probe_ceiling", ceil);
    return s;
}

/* /proc/PID/io of one process: {rchar, wchar, read_bytes, write_bytes, cancelled}. */
static json_t *pid_io(pid_t pid)
{
    struct procio io;
    if (procio_read(NULL, pid, &io) < 0)
        return NULL;
    return procio_json(&io, PROCIO_BYTE_KEYS);
}

/* ---- one run ---------------------------------------------------------------------------- */

struct run {
    const struct bundle_config *cfg;
    char *dir;
    struct stack *stack;
    struct observe *obs;
    json_t *phases;      /* [{name, t_start_ns, t_end_ns, t_start_unix_ns, t_end_unix_ns}] */
    json_t *os_deltas;   /* {phase: observe's OS delta} */
    json_t *pidio;       /* {phase: {start, end}} of the worker's /proc/PID/io */
    json_t *phase_notes; /* {phase: [notes]} */
    bool crashed;
    char crash_msg[400];
    char open_phase[OBSERVE_PHASE_NAME_MAX];
    char last_phase[OBSERVE_PHASE_NAME_MAX]; /* the last phase that began */
};

static void hook_begin(void *ctx, const char *phase, uint64_t t_ns)
{
    struct run *r = ctx;
    snprintf(r->open_phase, sizeof(r->open_phase), "%s", phase);
    snprintf(r->last_phase, sizeof(r->last_phase), "%s", phase);
    if (r->obs)
        observe_phase_begin(r->obs, phase);
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(phase));
    json_object_set_new(p, "t_start_ns", json_integer((json_int_t)t_ns));
    json_object_set_new(p, "t_start_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    json_array_append_new(r->phases, p);
    json_t *io = json_object();
    json_t *s = r->stack && r->stack->worker_pid ? pid_io(r->stack->worker_pid) : NULL;
    json_object_set_new(io, "start", s ? s : json_null());
    json_object_set_new(r->pidio, phase, io);
    note(r->cfg, "  phase %s: begin", phase);
}

static void hook_end(void *ctx, const char *phase, uint64_t t_ns)
{
    struct run *r = ctx;
    json_t *e = r->stack && r->stack->worker_pid ? pid_io(r->stack->worker_pid) : NULL;
    json_object_set_new(json_object_get(r->pidio, phase), "end", e ? e : json_null());
    json_t *delta = NULL;
    if (r->obs && observe_phase_end(r->obs, phase, &delta) == 0 && delta)
        json_object_set_new(r->os_deltas, phase, delta);
    json_t *p = json_array_get(r->phases, json_array_size(r->phases) - 1);
    if (p && !strcmp(jsonx_str(p, "name", ""), phase)) {
        json_object_set_new(p, "t_end_ns", json_integer((json_int_t)t_ns));
        json_object_set_new(p, "t_end_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    }
    r->open_phase[0] = 0;
    note(r->cfg, "  phase %s: end", phase);
}

static bool hook_stop(void *ctx)
{
    struct run *r = ctx;
    if (r->cfg->interrupt_flag && *r->cfg->interrupt_flag)
        return true;
    if (r->stack && !r->crashed) {
        struct diag d = { 0 };
        if (stack_check_alive(r->stack, &d) < 0) {
            r->crashed = true;
            snprintf(r->crash_msg, sizeof(r->crash_msg), "%s", d.msg);
        }
    }
    return r->crashed;
}

/* Sum of the deltas of counter `name` (any labels) in an observe delta document. */
static double counter_delta(const json_t *delta, const char *name, bool *found)
{
    double s = 0;
    size_t nl = strlen(name);
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(delta, "counters"), k, v) {
        if (strncmp(k, name, nl) || (k[nl] && k[nl] != '{'))
            continue;
        s += jsonx_num(v, "delta", 0);
        *found = true;
    }
    return s;
}

static json_t *kvbm_phase(const char *dir, const char *phase)
{
    char *name = xalloc_printf("metrics_delta/phase_%s_kvbm_metrics_delta.json", phase);
    json_t *d = load_json_opt(dir, name);
    free(name);
    if (!d || jsonx_u64(d, "endpoints_used", 1) == 0) {
        json_decref(d);
        return NULL;
    }
    json_t *o = json_object();
    bool any = false;
    for (size_t i = 0; kvbm_counters[i]; i++) {
        bool f = false;
        double v = counter_delta(d, kvbm_counters[i], &f);
        any |= f;
        json_object_set_new(o, kvbm_counters[i] + 5, f ? json_real(v) : json_null());
    }
    json_decref(d);
    if (!any) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* First number found among candidate dotted paths. */
static double pick(const json_t *o, const char *const *paths)
{
    for (size_t i = 0; paths[i]; i++) {
        json_t *v = jsonx_path(o, paths[i]);
        if (json_is_number(v))
            return json_number_value(v);
    }
    return NAN;
}

/* The evidence view of a phase's OS side: the worker's own /proc/PID/io delta (always
 * measured here) plus device, attribution and page-cache figures from observe's delta. */
static json_t *os_phase(const struct run *r, const char *phase)
{
    json_t *o = json_object();
    json_t *io = json_object_get(r->pidio, phase);
    json_t *s = json_object_get(io, "start"), *e = json_object_get(io, "end");
    if (json_is_object(s) && json_is_object(e)) {
        static const char *const k[][2] = { { "read_bytes", "server_read_bytes" },
                                            { "write_bytes", "server_write_bytes" },
                                            { "rchar", "server_rchar_bytes" },
                                            { "wchar", "server_wchar_bytes" } };
        for (size_t i = 0; i < 4; i++)
            jsonx_set_num(o, k[i][1], jsonx_num(e, k[i][0], 0) - jsonx_num(s, k[i][0], 0));
    }
    const json_t *d = json_object_get(r->os_deltas, phase);
    if (d) {
        static const char *const dev_r[] = { "device.read_bytes", NULL };
        static const char *const dev_w[] = { "device.write_bytes", NULL };
        static const char *const srv_r[] = { "server.read_bytes", NULL };
        static const char *const srv_w[] = { "server.write_bytes", NULL };
        static const char *const srv_rc[] = { "server.rchar", NULL };
        jsonx_set_num(o, "device_read_bytes", pick(d, dev_r));
        jsonx_set_num(o, "device_write_bytes", pick(d, dev_w));
        /* the sampler follows the whole process tree; prefer it over the worker alone */
        double v = pick(d, srv_r);
        if (!isnan(v))
            jsonx_set_num(o, "server_read_bytes", v);
        v = pick(d, srv_w);
        if (!isnan(v))
            jsonx_set_num(o, "server_write_bytes", v);
        v = pick(d, srv_rc);
        if (!isnan(v))
            jsonx_set_num(o, "server_rchar_bytes", v);
        static const char *const cp[] = { "page_cache.cached_pages", NULL };
        double cached = pick(d, cp);
        if (!isnan(cached))
            jsonx_set_num(o, "kv_resident_bytes", cached * (double)sysconf(_SC_PAGESIZE));
        json_t *od = jsonx_path(d, "page_cache.o_direct_all");
        if (json_is_boolean(od) && jsonx_u64(json_object_get(d, "page_cache"), "kv_files_open", 0))
            json_object_set(o, "o_direct", od);
        static const char *const ob[] = { "noise.other_process_bytes", NULL };
        double other = pick(d, ob);
        if (!isnan(other))
            jsonx_set_num(o, "other_process_bytes", other);
        json_object_set_new(
            o, "attribution_method",
            json_string(jsonx_str(json_object_get(d, "attribution"), "method", "unknown")));
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Per phase from raw/records.jsonl: requests, errors, cached tokens (usage). */
static json_t *records_by_phase(const char *dir)
{
    json_t *out = json_object();
    char *p = fileio_join(dir, "raw/records.jsonl");
    struct buf b;
    buf_init(&b, RECORDS_MAX_BYTES);
    if (fileio_read_all(p, RECORDS_MAX_BYTES, &b) >= 0 && b.len) {
        char *save = NULL;
        for (char *line = strtok_r((char *)b.data, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            json_t *rec = NULL;
            if (jsonx_parse(line, strlen(line), &rec, NULL) < 0)
                continue;
            const char *ph = jsonx_str(rec, "phase", "?");
            json_t *o = json_object_get(out, ph);
            if (!o) {
                o = json_object();
                json_object_set_new(out, ph, o);
            }
            json_object_set_new(o, "requests", json_integer(jsonx_i64(o, "requests", 0) + 1));
            json_t *err = json_object_get(rec, "error");
            if (err && !json_is_null(err))
                json_object_set_new(o, "errors", json_integer(jsonx_i64(o, "errors", 0) + 1));
            json_object_set_new(o, "cached_tokens",
                                json_integer(jsonx_i64(o, "cached_tokens", 0) +
                                             jsonx_i64(rec, "cached_tokens", 0)));
            json_decref(rec);
        }
    }
    buf_fini(&b);
    free(p);
    return out;
}

struct outcome {
    bool started, ready, model_loaded, frontend_ok, kvbm_ok, healthy_end;
    bool interrupted;
    char error[512];
    json_t *ready_checks;
    json_t *config; /* stack_observe_config */
    json_t *cache_clear, *page_cache;
    json_t *loadgen_summary;
};

static json_t *health_json(const struct outcome *oc, const struct run *r, bool kvbm_mode)
{
    json_t *h = json_object();
    json_object_set_new(h, "started", json_boolean(oc->started));
    json_object_set_new(h, "healthy_at_start", json_boolean(oc->ready));
    json_object_set_new(h, "healthy_at_end",
                        oc->ready ? json_boolean(oc->healthy_end) : json_null());
    json_object_set_new(h, "crashed", json_boolean(r->crashed));
    json_object_set_new(h, "model_loaded",
                        oc->ready || !oc->started ? json_boolean(oc->model_loaded || !oc->started)
                                                  : json_boolean(oc->model_loaded));
    json_object_set_new(h, "frontend_reachable",
                        oc->ready ? json_boolean(oc->frontend_ok) : json_null());
    json_object_set_new(h, "kvbm_metrics_reachable",
                        oc->ready && kvbm_mode ? json_boolean(oc->kvbm_ok) : json_null());
    json_object_set_new(h, "kvbm_metrics_url",
                        json_string(r->stack ? r->stack->kvbm_metrics_url : ""));
    json_object_set_new(h, "error", json_string(r->crashed ? r->crash_msg : oc->error));
    if (r->crashed && r->stack && r->stack->nprocs) {
        for (size_t i = 0; i < r->stack->nprocs; i++)
            if (r->stack->procs[i].proc.exited)
                json_object_set_new(h, "exit_code",
                                    json_integer(spawn_exit_code(&r->stack->procs[i].proc)));
    }
    return h;
}

/* Everything the gates judge, from what this run measured. */
static json_t *build_evidence(const struct run *r, const struct outcome *oc,
                              const struct mode_settings *ms, const json_t *plan_header,
                              uint64_t g1_blocks, json_t *summary)
{
    json_t *e = json_object();
    json_object_set_new(e, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(e, "kind", json_string("kvtier.evidence"));
    json_object_set_new(e, "mode", json_string(mode_name(ms->id)));
    json_object_set_new(e, "interrupted", json_boolean(oc->interrupted));
    if (oc->interrupted) {
        json_object_set_new(e, "interrupt_reason",
                            json_string(r->crashed ? r->crash_msg : "interrupted by a signal"));
        json_object_set_new(e, "interrupted_phase", json_string(r->last_phase));
    }
    json_object_set_new(e, "bytes_per_block", json_integer((json_int_t)ms->bytes_per_block));
    json_object_set_new(e, "health", health_json(oc, r, mode_has_kvbm(ms->id)));
    json_t *cfg = json_object();
    json_t *mm = json_object_get(oc->config, "mismatches");
    json_object_set_new(cfg, "mismatches", mm ? json_incref(mm) : json_array());
    json_object_set_new(e, "config", cfg);
    json_t *cap = json_object();
    json_object_set_new(cap, "g1_blocks", json_integer((json_int_t)g1_blocks));
    json_object_set_new(cap, "g2_blocks", json_integer((json_int_t)mode_cpu_blocks(ms)));
    json_object_set_new(cap, "g3_blocks", json_integer((json_int_t)mode_disk_blocks(ms)));
    json_t *ub = jsonx_path(plan_header, "pressure.unique_blocks");
    json_object_set_new(cap, "pressure_unique_blocks", ub ? json_incref(ub) : json_null());
    json_object_set_new(e, "capacity", cap);
    json_t *phases = json_object();
    json_t *recs = records_by_phase(r->dir);
    size_t i;
    json_t *p;
    json_array_foreach (r->phases, i, p) {
        const char *name = jsonx_str(p, "name", "?");
        json_t *ph = json_object();
        json_t *rec = json_object_get(recs, name);
        json_t *sp = jsonx_path(summary, "phases");
        sp = json_object_get(sp, name);
        json_object_set_new(ph, "requests", json_integer(jsonx_i64(rec, "requests", 0)));
        json_object_set_new(ph, "errors", json_integer(jsonx_i64(rec, "errors", 0)));
        jsonx_set_num(ph, "ttft_p50_ms", jsonx_num(json_object_get(sp, "ttft_ms"), "p50", NAN));
        jsonx_set_num(ph, "ttft_p95_ms", jsonx_num(json_object_get(sp, "ttft_ms"), "p95", NAN));
        jsonx_set_num(ph, "client_lag_p99_ms",
                      jsonx_num(json_object_get(sp, "client_lag_ms"), "p99", NAN));
        json_t *k = json_object_get(sp, "kvbm");
        json_object_set_new(ph, "kvbm", k ? json_incref(k) : json_null());
        json_t *o = json_object_get(sp, "os_evidence");
        json_object_set_new(ph, "os", o ? json_incref(o) : json_null());
        json_t *reuse = json_object();
        json_t *opp = jsonx_path(plan_header, "reuse_opportunity_tokens");
        json_t *ov = json_object_get(opp, name);
        json_object_set_new(reuse, "opportunity_tokens", ov ? json_incref(ov) : json_null());
        json_object_set_new(reuse, "cached_tokens",
                            json_integer(jsonx_i64(rec, "cached_tokens", 0)));
        json_object_set_new(ph, "reuse", reuse);
        json_object_set_new(phases, name, ph);
    }
    json_decref(recs);
    json_object_set_new(e, "phases", phases);
    /* noise and SMART from observe's files: the worst phase counts */
    json_t *noise = json_null();
    const char *k;
    json_t *d;
    double dev_bytes = 0, other_bytes = 0;
    json_object_foreach (r->os_deltas, k, d) {
        json_t *n = json_object_get(d, "noise");
        if (!json_is_object(n))
            continue;
        if (json_is_null(noise))
            noise = json_object();
        static const char *const src[] = { "psi_cpu_some_pct", "psi_io_some_pct" };
        static const char *const dst[] = { "psi_cpu_some_pct_max", "psi_io_some_pct_max" };
        for (size_t q = 0; q < 2; q++) {
            double v = jsonx_num(n, src[q], NAN);
            double cur = jsonx_num(noise, dst[q], NAN);
            if (!isnan(v) && (isnan(cur) || v > cur))
                jsonx_set_num(noise, dst[q], v);
        }
        json_t *gt = json_object_get(n, "gpu_throttled");
        double th = jsonx_num(noise, "thermal_events", 0);
        if (json_is_true(gt))
            th += 1;
        double fr = jsonx_num(n, "cpufreq_ratio_min", NAN);
        if (!isnan(fr) && fr < 0.9)
            th += 1;
        if (json_is_boolean(gt) || !isnan(fr) || json_object_get(noise, "thermal_events"))
            jsonx_set_num(noise, "thermal_events", th);
        dev_bytes += jsonx_num(json_object_get(d, "device"), "read_bytes", 0) +
                     jsonx_num(json_object_get(d, "device"), "write_bytes", 0);
        other_bytes += jsonx_num(n, "other_process_bytes", 0);
    }
    if (json_is_object(noise) && dev_bytes > 0)
        jsonx_set_num(noise, "other_io_fraction",
                      other_bytes / dev_bytes > 1 ? 1 : other_bytes / dev_bytes);
    json_object_set_new(e, "noise", noise);
    json_t *sd = load_json_opt(r->dir, "os/nvme_smart_delta.json");
    json_t *smart = json_object();
    bool avail = sd && strcmp(jsonx_str(sd, "status", "ok"), "unavailable") != 0;
    json_object_set_new(smart, "available", json_boolean(avail));
    if (avail) {
        static const char *const me[] = { "media_errors_delta", "media_errors",
                                          "delta.media_errors", NULL };
        static const char *const cw[] = { "critical_warning", "post.critical_warning", NULL };
        jsonx_set_num(smart, "media_errors_delta", pick(sd, me));
        jsonx_set_num(smart, "critical_warning", pick(sd, cw));
    }
    json_decref(sd);
    json_object_set_new(e, "smart", smart);
    json_object_set_new(e, "repeats", json_null());
    return e;
}

/* ---- per-mode settings and the shared plan ---------------------------------------------- */

struct group {
    const struct bundle_config *cfg;
    json_t *stack_profile; /* owned */
    char stack_label[128];
    struct model_profile model;
    json_t *model_json; /* owned */
    struct hw_profile hw;
    char hardware[64];
    char *dir;           /* group directory */
    char *plan_path;     /* group plan */
    json_t *plan_header; /* owned */
    char *cache_dir;
    uint64_t g1_blocks;
    uint64_t ready_timeout_ns;
};

static void mode_settings_for(const struct group *g, enum mode_id id, struct mode_settings *ret)
{
    const struct bundle_config *cfg = g->cfg;
    struct mode_settings m = { .id = id,
                               .bytes_per_block = profile_bytes_per_block(&g->model),
                               .c_disk_fraction = 1 };
    uint64_t g1 = 0;
    stack_profile_tiers(g->stack_profile, g->model.name, &m, &g1);
    if (cfg->cpu_cache_gb > 0) {
        m.cpu_cache_gb = cfg->cpu_cache_gb;
        m.cpu_cache_blocks = 0;
    }
    if (cfg->cpu_cache_blocks)
        m.cpu_cache_blocks = cfg->cpu_cache_blocks;
    if (cfg->disk_cache_gb > 0) {
        m.disk_cache_gb = cfg->disk_cache_gb;
        m.disk_cache_blocks = 0;
    }
    if (cfg->disk_cache_blocks)
        m.disk_cache_blocks = cfg->disk_cache_blocks;
    if (cfg->c_disk_fraction > 0)
        m.c_disk_fraction = cfg->c_disk_fraction;
    if (cfg->c_read_bps)
        m.c_read_bps = cfg->c_read_bps;
    if (cfg->c_write_bps)
        m.c_write_bps = cfg->c_write_bps;
    m.disable_o_direct = cfg->disable_o_direct;
    m.metrics_port = (uint16_t)jsonx_u64(g->stack_profile, "kvbm_metrics_port", 0);
    snprintf(m.disk_cache_dir, sizeof(m.disk_cache_dir), "%s", g->cache_dir);
    *ret = m;
}

static json_t *provenance_json(const struct group *g, const struct stack *s)
{
    json_t *p = json_object();
    json_object_set_new(p, "max_sequence_length",
                        json_integer((json_int_t)g->model.max_sequence_length));
    json_object_set_new(p, "max_num_tokens", json_integer((json_int_t)g->model.max_num_tokens));
    json_object_set_new(p, "build_id", json_string(g->model.build_id));
    json_t *prov = json_object_get(g->stack_profile, "provenance");
    const char *keys[] = { "container_image", "dynamo_version", "trtllm_version", "nixl_version",
                           NULL };
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(prov, keys[i]);
        json_object_set_new(p, keys[i], v ? json_incref(v) : json_null());
    }
    if (!strcmp(jsonx_str(g->stack_profile, "kind", ""), "builtin")) {
        json_object_set_new(p, "engine", json_string("kvtier serve (emulated)"));
        json_object_set_new(p, "engine_version", json_string(KVTIER_VERSION));
    }
    json_t *ea = s ? json_object_get(s->record, "engine_args_path") : NULL;
    json_object_set_new(p, "engine_args_path", ea ? json_incref(ea) : json_null());
    return p;
}

/* Which engine produced the bundle, said in every output (ARCHITECTURE.md §7): "emulated" for
 * the builtin stack (kvtier serve), "real" for a named real stack with its recorded versions. */
static json_t *engine_json(const struct group *g)
{
    bool emulated = !strcmp(jsonx_str(g->stack_profile, "kind", ""), "builtin");
    json_t *e = json_object();
    json_object_set_new(e, "kind", json_string(emulated ? "emulated" : "real"));
    json_object_set_new(e, "stack", json_string(g->stack_label));
    json_object_set_new(e, "stack_kind", json_string(jsonx_str(g->stack_profile, "kind", "")));
    json_t *v = json_object();
    if (emulated) {
        json_object_set_new(v, "engine", json_string("kvtier serve (emulated)"));
        json_object_set_new(v, "kvtier", json_string(KVTIER_VERSION));
    } else {
        const char *keys[] = { "container_image", "dynamo_version", "trtllm_version",
                               "nixl_version", NULL };
        json_t *prov = json_object_get(g->stack_profile, "provenance");
        for (size_t i = 0; keys[i]; i++)
            if (json_is_string(json_object_get(prov, keys[i])))
                json_object_set(v, keys[i], json_object_get(prov, keys[i]));
    }
    json_object_set_new(e, "versions", v);
    return e;
}

static json_t *manifest_json(const struct group *g, const struct mode_settings *ms,
                             const struct run *r, const struct outcome *oc, unsigned rep,
                             unsigned block_pos)
{
    const struct bundle_config *cfg = g->cfg;
    json_t *m = json_object();
    json_object_set_new(m, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(m, "kind", json_string("kvtier.manifest"));
    json_object_set_new(m, "engine", engine_json(g));
    json_t *tool = json_object();
    json_object_set_new(tool, "name", json_string("kvtier"));
    json_object_set_new(tool, "version", json_string(KVTIER_VERSION));
    json_object_set_new(tool, "git", json_string(KVTIER_VERSION));
    json_object_set_new(m, "tool", tool);
    json_object_set_new(m, "command_line",
                        cfg->command_line ? json_deep_copy(cfg->command_line) : json_null());
    json_object_set_new(m, "options", cfg->options ? json_deep_copy(cfg->options) : json_null());
    json_object_set_new(m, "created_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    json_object_set_new(m, "host", host_json());
    json_t *st = json_object();
    json_object_set_new(st, "name", json_string(g->stack_label));
    json_object_set_new(st, "kind", json_string(jsonx_str(g->stack_profile, "kind", "")));
    json_object_set_new(st, "runtime", json_string(jsonx_str(g->stack_profile, "runtime", "host")));
    json_object_set_new(st, "profile", json_deep_copy(g->stack_profile));
    json_object_set_new(st, "launch", r->stack ? json_deep_copy(r->stack->record) : json_null());
    json_object_set_new(st, "readiness",
                        oc->ready_checks ? json_incref(oc->ready_checks) : json_null());
    json_object_set_new(st, "observed_config", oc->config ? json_incref(oc->config) : json_null());
    json_object_set_new(st, "http_url", json_string(r->stack ? r->stack->http_url : ""));
    json_object_set_new(st, "served_model", json_string(r->stack ? r->stack->served_model : ""));
    json_object_set_new(m, "stack", st);
    json_t *mo = json_object();
    json_object_set_new(mo, "name", json_string(g->model.name));
    json_object_set_new(mo, "profile", json_deep_copy(g->model_json));
    json_object_set_new(mo, "bytes_per_block",
                        json_integer((json_int_t)profile_bytes_per_block(&g->model)));
    json_object_set_new(mo, "kv_bytes_per_token",
                        json_integer((json_int_t)profile_kv_bytes_per_token(&g->model)));
    json_object_set_new(mo, "engine_provenance", provenance_json(g, r->stack));
    json_object_set_new(m, "model", mo);
    json_object_set_new(m, "hardware", json_string(g->hardware));
    json_t *md = mode_settings_json(ms);
    json_object_set_new(
        md, "trtllm_extra_engine_args",
        mode_trtllm_args(ms->id, jsonx_num(g->stack_profile, "free_gpu_memory_fraction", 0.80)));
    json_t *procs = r->stack ? json_object_get(r->stack->record, "processes") : NULL;
    json_t *env = json_object();
    size_t i;
    json_t *pr;
    json_array_foreach (procs, i, pr) {
        const char *k;
        json_t *v;
        json_object_foreach (json_object_get(pr, "env"), k, v)
            if (!strncmp(k, "DYN_KVBM_", 9))
                json_object_set(env, k, v);
    }
    json_object_set_new(md, "kvbm_env", env);
    json_object_set_new(m, "mode", md);
    json_object_set_new(m, "storage", storage_json(cfg, g->cache_dir, ms->bytes_per_block));
    json_t *wl = json_object();
    json_object_set_new(wl, "workload", json_string(cfg->workload));
    json_object_set_new(wl, "dataset", json_string(cfg->dataset));
    json_object_set_new(wl, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(wl, "plan_header", json_deep_copy(g->plan_header));
    json_object_set_new(m, "workload", wl);
    json_t *pp = json_object_get(g->plan_header, "phases");
    json_object_set_new(m, "phase_plan", pp ? json_deep_copy(pp) : json_null());
    json_t *cap = json_object();
    json_object_set_new(cap, "g1_blocks", json_integer((json_int_t)g->g1_blocks));
    json_object_set_new(cap, "g2_blocks", json_integer((json_int_t)mode_cpu_blocks(ms)));
    json_object_set_new(cap, "g3_blocks", json_integer((json_int_t)mode_disk_blocks(ms)));
    json_object_set_new(cap, "bytes_per_block", json_integer((json_int_t)ms->bytes_per_block));
    json_object_set_new(
        cap, "g1_source",
        json_string(g->g1_blocks ? "stack profile tiers / --g1-blocks" : "engine default"));
    json_t *pc = json_object_get(g->plan_header, "capacity");
    json_object_set_new(cap, "plan_capacity", pc ? json_deep_copy(pc) : json_null());
    json_t *pa = json_object_get(g->plan_header, "pressure");
    json_object_set_new(cap, "pressure", pa ? json_deep_copy(pa) : json_null());
    json_object_set_new(m, "capacity", cap);
    json_object_set_new(m, "thresholds", gate_thresholds_json(&cfg->thresholds));
    json_t *rp = json_object();
    json_object_set_new(rp, "index", json_integer(rep));
    json_object_set_new(rp, "of", json_integer(cfg->repeats));
    json_object_set_new(rp, "block_position", json_integer(block_pos));
    json_object_set_new(rp, "group_dir", json_string(g->dir));
    json_object_set_new(m, "repeat", rp);
    json_t *prep = json_object();
    json_object_set_new(prep, "disk_cache_dir",
                        oc->cache_clear ? json_incref(oc->cache_clear) : json_null());
    json_object_set_new(prep, "page_cache",
                        oc->page_cache ? json_incref(oc->page_cache) : json_null());
    json_object_set_new(m, "preparation", prep);
    json_object_set_new(m, "cgroup",
                        r->stack ? json_deep_copy(json_object_get(r->stack->record, "cgroup"))
                                 : json_null());
    json_object_set_new(m, "phases", json_deep_copy(r->phases));
    return m;
}

static json_t *quick_summary_json(const json_t *summary, const json_t *verdict,
                                  const struct mode_settings *ms, unsigned rep, const char *dir)
{
    json_t *q = json_object();
    json_object_set_new(q, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(q, "mode", json_string(mode_name(ms->id)));
    json_object_set_new(q, "repeat", json_integer(rep));
    json_object_set_new(q, "bundle", json_string(dir));
    json_object_set(q, "run_valid", json_object_get(verdict, "run_valid"));
    json_object_set(q, "decision_grade", json_object_get(verdict, "decision_grade"));
    json_object_set(q, "reason_codes", json_object_get(verdict, "reason_codes"));
    json_t *phases = json_object_get(summary, "phases");
    const char *names[] = { "replay", "all", NULL };
    for (size_t i = 0; names[i]; i++) {
        json_t *p = json_object_get(phases, names[i]);
        json_t *o = json_object();
        json_object_set_new(o, "requests", json_integer(jsonx_i64(p, "requests", 0)));
        jsonx_set_num(o, "error_rate", jsonx_num(p, "error_rate", NAN));
        jsonx_set_num(o, "throughput_rps", jsonx_num(p, "throughput_rps", NAN));
        json_t *t = json_object_get(p, "ttft_ms");
        jsonx_set_num(o, "ttft_p50_ms", jsonx_num(t, "p50", NAN));
        jsonx_set_num(o, "ttft_p95_ms", jsonx_num(t, "p95", NAN));
        jsonx_set_num(o, "ttft_p99_ms", jsonx_num(t, "p99", NAN));
        if (!strcmp(names[i], "replay")) {
            json_t *k = json_object_get(p, "kvbm");
            json_object_set_new(o, "kvbm", k ? json_incref(k) : json_null());
            json_t *os = json_object_get(p, "os_evidence");
            jsonx_set_num(o, "server_read_bytes", jsonx_num(os, "server_read_bytes", NAN));
        }
        json_object_set_new(q, names[i], o);
    }
    return q;
}

static void copy_server_log(const struct run *r)
{
    if (!r->stack || !r->stack->nprocs)
        return;
    size_t w = 0;
    for (size_t i = 0; i < r->stack->nprocs; i++)
        if (r->stack->procs[i].proc.pid == r->stack->worker_pid)
            w = i;
    char *from = xalloc_printf("%s/%s.log", r->stack->log_dir, r->stack->procs[w].name);
    char *to = fileio_join(r->dir, "raw/server.log");
    if (copy_file(from, to, LOG_COPY_MAX_BYTES) < 0)
        fileio_write_atomic(to, "", 0);
    free(from);
    free(to);
}

/* Final checks on a stack that ran: /health and both metrics endpoints still answer. */
static void end_checks(struct run *r, struct outcome *oc, bool kvbm_mode)
{
    struct buf b;
    buf_init(&b, HTTPGET_BODY_MAX_BYTES);
    struct httpget_result hr;
    char url[320];
    snprintf(url, sizeof(url), "%s/health", r->stack->http_url);
    oc->healthy_end = httpget(url, 2 * CLK_NS_PER_S, &b, &hr) == 0 && hr.status / 100 == 2;
    buf_reset(&b);
    oc->frontend_ok =
        httpget(r->stack->frontend_metrics_url, 2 * CLK_NS_PER_S, &b, &hr) == 0 && hr.status == 200;
    if (kvbm_mode) {
        buf_reset(&b);
        oc->kvbm_ok = r->stack->kvbm_metrics_url[0] &&
                      httpget(r->stack->kvbm_metrics_url, 2 * CLK_NS_PER_S, &b, &hr) == 0 &&
                      hr.status == 200;
    }
    buf_fini(&b);
}

static json_t *run_one(struct group *g, enum mode_id id, unsigned rep, unsigned block_pos,
                       json_t **ret_evidence)
{
    const struct bundle_config *cfg = g->cfg;
    struct mode_settings ms;
    mode_settings_for(g, id, &ms);
    struct run r = { .cfg = cfg };
    struct outcome oc = { 0 };
    r.dir = xalloc_printf("%s/%s/r%02u", g->dir, mode_name(id), rep);
    r.phases = json_array();
    r.os_deltas = json_object();
    r.pidio = json_object();
    const char *sub[] = { "raw/stack", "metrics_delta", "os", "charts", NULL };
    for (size_t i = 0; sub[i]; i++) {
        char *p = fileio_join(r.dir, sub[i]);
        fileio_mkdir_p(p);
        free(p);
    }
    note(cfg, "bundle %s/r%02u: %s", mode_name(id), rep, r.dir);
    char *plan_copy = fileio_join(r.dir, "raw/requests.jsonl");
    copy_file(g->plan_path, plan_copy, (size_t)1 << 31);
    free(plan_copy);

    oc.cache_clear = stack_clear_cache_dir(g->cache_dir);
    oc.page_cache = stack_drop_page_cache(NULL, cfg->drop_caches);

    char *log_dir = fileio_join(r.dir, "raw/stack");
    char *work_dir = xalloc_printf("%s/work", log_dir);
    char cg_name[64];
    snprintf(cg_name, sizeof(cg_name), "kvtier-%d-%s-r%02u", (int)getpid(), mode_name(id), rep);
    struct stack_opts so = {
        .profile = g->stack_profile,
        .model = g->model.name,
        .hf_id = g->model.hf_id,
        .served_model = cfg->served_model,
        .hardware = g->hardware,
        .profiles_dir = cfg->profiles_dir,
        .kvtier_path = cfg->kvtier_path,
        .log_dir = log_dir,
        .work_dir = work_dir,
        .cgroup_name = (cfg->use_cgroup || id == MODE_C) ? cg_name : "",
        .g1_blocks = g->g1_blocks,
        .mode = ms,
        .url = cfg->url,
        .kvbm_metrics_url = cfg->kvbm_metrics_url,
        .frontend_metrics_url = cfg->frontend_metrics_url,
        .observe_pid = cfg->observe_pid,
    };
    struct diag d = { 0 };
    json_t *summary = NULL;
    int rc = stack_launch(&so, &r.stack, &d);
    oc.started = rc == 0;
    if (rc < 0) {
        snprintf(oc.error, sizeof(oc.error), "%s", d.msg);
        note(cfg, "  stack failed to start: %s", d.msg);
        goto finish;
    }
    rc = stack_wait_ready(r.stack, g->ready_timeout_ns, &oc.ready_checks, &d);
    if (rc < 0) {
        snprintf(oc.error, sizeof(oc.error), "%s", d.msg);
        oc.model_loaded = rc != -ENOENT;
        if (rc == -ECHILD)
            oc.started = false;
        note(cfg, "  stack not ready: %s", d.msg);
        goto finish;
    }
    oc.ready = oc.model_loaded = true;
    oc.frontend_ok = true;
    oc.kvbm_ok = true;
    size_t ci;
    json_t *c;
    json_array_foreach (oc.ready_checks, ci, c)
        if (!strcmp(jsonx_str(c, "check", ""), "kvbm_metrics") && !jsonx_bool(c, "ok", false))
            oc.kvbm_ok = false;
    oc.config = stack_observe_config(r.stack, &ms);
    if (json_array_size(json_object_get(oc.config, "mismatches")))
        note(cfg,
             "  MODE_NOT_APPLIED: the running stack is not %s (see manifest "
             "stack.observed_config)",
             mode_name(id));

    /* sampler */
    pid_t pids[STACK_MAX_PROCS + 1];
    size_t np = stack_pids(r.stack, pids, STACK_MAX_PROCS + 1);
    char *os_dir = fileio_join(r.dir, "os");
    char *raw_dir = fileio_join(r.dir, "raw");
    char *md_dir = fileio_join(r.dir, "metrics_delta");
    const char *kurls[1] = { r.stack->kvbm_metrics_url };
    struct observe_config oconf = {
        .device = cfg->device,
        .kv_dir = mode_has_disk(id) ? g->cache_dir : NULL,
        .pids = pids,
        .n_pids = np,
        .cgroup_path = r.stack->cgroup.kind != CGROUP_NONE ? r.stack->cgroup.dir : NULL,
        .kvbm_urls = kurls,
        .n_kvbm_urls = r.stack->kvbm_metrics_url[0] ? 1 : 0,
        .frontend_url = r.stack->frontend_metrics_url,
        .interval_ns = cfg->interval_ns,
        .os_dir = os_dir,
        .raw_dir = raw_dir,
        .metrics_dir = md_dir,
    };
    int orc = observe_start(&oconf, &r.obs);
    if (orc < 0) {
        note(cfg, "  sampler could not start (%s): OS evidence will be missing", strerror(-orc));
        r.obs = NULL;
    }
    /* load */
    struct loadgen_config lc;
    loadgen_config_init(&lc);
    lc.url = r.stack->http_url;
    lc.model = r.stack->served_model;
    lc.out_dir = raw_dir;
    lc.seed = cfg->seed;
    lc.interrupt_flag = cfg->interrupt_flag;
    json_t *extra = json_object_get(g->stack_profile, "extra_body");
    lc.extra_body = json_is_object(extra) ? extra : NULL;
    struct loadgen_hooks hooks = {
        .ctx = &r, .phase_begin = hook_begin, .phase_end = hook_end, .should_stop = hook_stop
    };
    struct diag ld = { 0 };
    int lrc = loadgen_run_plan_file(&lc, g->plan_path, &hooks, &oc.loadgen_summary, &ld);
    if (lrc < 0) {
        snprintf(oc.error, sizeof(oc.error), "load generator: %s", ld.msg);
        note(cfg, "  load generator failed: %s", ld.msg);
    }
    if (r.open_phase[0] && r.obs) {
        /* interrupted inside a phase: close it so its deltas are written */
        char ph[OBSERVE_PHASE_NAME_MAX];
        snprintf(ph, sizeof(ph), "%s", r.open_phase);
        hook_end(&r, ph, clk_now_ns());
        snprintf(r.open_phase, sizeof(r.open_phase), "%s", ph);
    }
    hook_stop(&r);
    oc.interrupted = r.crashed || (cfg->interrupt_flag && *cfg->interrupt_flag) ||
                     jsonx_bool(oc.loadgen_summary, "interrupted", false) || lrc < 0;
    if (!r.crashed)
        end_checks(&r, &oc, mode_has_kvbm(id));
    if (r.obs)
        observe_stop(r.obs, NULL);
    free(os_dir);
    free(raw_dir);
    free(md_dir);

finish:
    if (r.stack)
        stack_stop(r.stack);
    copy_server_log(&r);
    observe_free(r.obs);
    r.obs = NULL;
    /* summary: the load generator's, plus kvbm / os / reuse per phase */
    summary = oc.loadgen_summary ? json_deep_copy(oc.loadgen_summary) : json_object();
    json_object_set_new(summary, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    if (!json_object_get(summary, "phases"))
        json_object_set_new(summary, "phases", json_object());
    json_t *sp = json_object_get(summary, "phases");
    json_t *reuse_obs = json_object();
    size_t pi;
    json_t *pj;
    json_array_foreach (r.phases, pi, pj) {
        const char *name = jsonx_str(pj, "name", "?");
        json_t *ph = json_object_get(sp, name);
        if (!ph) {
            ph = json_object();
            json_object_set_new(sp, name, ph);
        }
        json_t *k = kvbm_phase(r.dir, name);
        json_t *ro = json_object();
        if (k && json_is_number(json_object_get(k, "matched_tokens")))
            json_object_set(ro, "kvbm_matched_tokens", json_object_get(k, "matched_tokens"));
        json_object_set_new(ph, "kvbm", k ? k : json_null());
        json_t *osd = json_object_get(r.os_deltas, name);
        json_object_set_new(ph, "os", osd ? json_incref(osd) : json_null());
        json_t *ose = os_phase(&r, name);
        json_object_set_new(ph, "os_evidence", ose ? ose : json_null());
        json_object_set_new(reuse_obs, name, ro);
    }
    json_t *recs = records_by_phase(r.dir);
    const char *rk;
    json_t *rv;
    json_object_foreach (recs, rk, rv) {
        json_t *ro = json_object_get(reuse_obs, rk);
        if (ro)
            json_object_set(ro, "cached_tokens", json_object_get(rv, "cached_tokens"));
    }
    json_decref(recs);
    struct diag rd = { 0 };
    json_t *reuse =
        reuse_evaluate(g->plan_header, reuse_obs, cfg->thresholds.reuse_min_fraction, &rd);
    json_decref(reuse_obs);
    json_object_set_new(summary, "reuse", reuse ? reuse : json_null());
    if (reuse) {
        json_object_foreach (json_object_get(reuse, "phases"), rk, rv) {
            json_t *ph = json_object_get(sp, rk);
            if (ph)
                json_object_set(ph, "reuse", rv);
        }
    }
    json_object_set_new(summary, "mode", json_string(mode_name(id)));
    json_t *phases_file = json_object();
    json_object_set_new(phases_file, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set(phases_file, "phases", r.phases);
    write_json(r.dir, "raw/phases.json", phases_file);
    json_decref(phases_file);
    /* records must exist even when nothing ran */
    char *recp = fileio_join(r.dir, "raw/records.jsonl");
    if (access(recp, F_OK) < 0)
        fileio_write_atomic(recp, "", 0);
    free(recp);
    write_json(r.dir, "summary.json", summary);

    json_t *ev = build_evidence(&r, &oc, &ms, g->plan_header, g->g1_blocks, summary);
    json_t *verdict = gate_evaluate(ev, &cfg->thresholds);
    json_object_set(verdict, "evidence", ev);
    json_object_set_new(verdict, "engine", engine_json(g));
    write_json(r.dir, "verdict.json", verdict);
    json_t *q = quick_summary_json(summary, verdict, &ms, rep, r.dir);
    json_object_set_new(q, "engine", engine_json(g));
    write_json(r.dir, "quick_summary.json", q);
    struct charts_result cr = { 0 };
    struct diag cd = { 0 };
    if (json_array_size(r.phases) && charts_render_bundle(r.dir, NULL, &cr, &cd) == 0)
        json_decref(cr.notes);
    json_t *man = manifest_json(g, &ms, &r, &oc, rep, block_pos);
    write_json(r.dir, "manifest.json", man);
    char *codes = jsonx_dump_line(json_object_get(verdict, "reason_codes"));
    note(cfg, "  verdict: run_valid=%s decision_grade=%s codes=%s",
         jsonx_bool(verdict, "run_valid", false) ? "true" : "false",
         jsonx_bool(verdict, "decision_grade", false) ? "true" : "false", codes);
    free(codes);
    json_decref(man);
    json_object_set_new(q, "interrupted", json_boolean(oc.interrupted && !r.crashed));
    *ret_evidence = ev;
    json_decref(verdict);
    json_decref(summary);
    stack_free(r.stack);
    json_decref(oc.ready_checks);
    json_decref(oc.config);
    json_decref(oc.cache_clear);
    json_decref(oc.page_cache);
    json_decref(oc.loadgen_summary);
    json_decref(r.phases);
    json_decref(r.os_deltas);
    json_decref(r.pidio);
    free(log_dir);
    free(work_dir);
    free(r.dir);
    return q;
}

/* ---- the group ---------------------------------------------------------------------------- */

json_t *bundle_reevaluate(const char *bundle_dir, const struct gate_thresholds *t, struct diag *d)
{
    char *p = fileio_join(bundle_dir, "verdict.json");
    json_t *old = NULL;
    int r = jsonx_load_file(p, &old, d);
    json_t *v = NULL;
    if (r < 0)
        goto out;
    json_t *ev = json_object_get(old, "evidence");
    if (!json_is_object(ev)) {
        diag_set(d, -EINVAL, 0, 0, "%s has no evidence object", p);
        goto out;
    }
    v = gate_evaluate(ev, t);
    json_object_set(v, "evidence", ev);
    if (json_object_get(old, "engine"))
        json_object_set(v, "engine", json_object_get(old, "engine"));
    if (jsonx_write_file(p, v) < 0) {
        diag_set(d, -EIO, 0, 0, "cannot rewrite %s", p);
        json_decref(v);
        v = NULL;
    }
out:
    json_decref(old);
    free(p);
    return v;
}

static int load_stack_profile(const struct bundle_config *cfg, json_t **ret, char *label, size_t ll,
                              struct diag *d)
{
    size_t n = strlen(cfg->stack);
    int r;
    if (strchr(cfg->stack, '/') || (n > 5 && !strcmp(cfg->stack + n - 5, ".yaml"))) {
        r = yamlx_load_file(cfg->stack, ret, d);
        snprintf(label, ll, "%s", cfg->stack);
    } else {
        r = profile_load(cfg->profiles_dir, "stacks", cfg->stack, ret, d);
        snprintf(label, ll, "%s", cfg->stack);
    }
    if (r < 0)
        return r;
    if (json_is_object(*ret) && jsonx_str(*ret, "name", NULL))
        snprintf(label, ll, "%s", jsonx_str(*ret, "name", ""));
    return stack_profile_check(*ret, d);
}

static void group_fini(struct group *g)
{
    json_decref(g->stack_profile);
    json_decref(g->model_json);
    json_decref(g->plan_header);
    free(g->dir);
    free(g->plan_path);
    free(g->cache_dir);
}

static int group_prepare(const struct bundle_config *cfg, struct group *g, struct diag *d)
{
    g->cfg = cfg;
    int r;
    if (cfg->n_modes == 0 || cfg->repeats < 1 || cfg->repeats > BUNDLE_MAX_REPEATS)
        return diag_set(d, -EINVAL, 0, 0, "need at least one mode and 1..%d repeats",
                        BUNDLE_MAX_REPEATS);
    if (strcmp(cfg->dataset, "S") && strcmp(cfg->dataset, "L"))
        return diag_set(d, -EINVAL, 0, 0, "unknown dataset '%s' (valid: S, L)", cfg->dataset);
    if ((r = load_stack_profile(cfg, &g->stack_profile, g->stack_label, sizeof(g->stack_label),
                                d)) < 0)
        return r;
    if ((r = profile_load(cfg->profiles_dir, "models", cfg->model, &g->model_json, d)) < 0)
        return r;
    if ((r = profile_model_from_json(g->model_json, &g->model, d)) < 0)
        return r;
    json_t *wl = NULL;
    if ((r = profile_load(cfg->profiles_dir, "workloads", cfg->workload, &wl, d)) < 0)
        return r;
    json_decref(wl);
    snprintf(g->hardware, sizeof(g->hardware), "%s",
             cfg->hardware ? cfg->hardware
                           : jsonx_str(g->stack_profile, "hardware", "dgx_spark_gb10"));
    if ((r = profile_load_hw(cfg->profiles_dir, g->hardware, &g->hw, d)) < 0)
        return r;
    /* tier sizes of the largest mode (B2) size the plan, so every mode replays the same plan */
    g->cache_dir = cfg->disk_cache_dir ? xstrdup(cfg->disk_cache_dir)
                                       : fileio_join(cfg->out_dir, ".kvtier-kvcache");
    struct mode_settings b2;
    mode_settings_for(g, MODE_B2, &b2);
    uint64_t g1 = 0;
    struct mode_settings tmp = b2;
    stack_profile_tiers(g->stack_profile, g->model.name, &tmp, &g1);
    g->g1_blocks = cfg->g1_blocks ? cfg->g1_blocks : g1;
    for (size_t i = 0; i < cfg->n_modes; i++) {
        struct mode_settings ms;
        mode_settings_for(g, cfg->modes[i], &ms);
        struct spawn_env env;
        spawn_env_init(&env, NULL, NULL);
        r = mode_env_apply(&ms, &env);
        spawn_env_fini(&env);
        if (r < 0)
            return diag_set(d, r, 0, 0,
                            "mode %s cannot be configured from the stack profile's tier sizes "
                            "(cpu %llu blocks, disk %llu blocks, mode C limits): set "
                            "--cpu-cache-gb/--disk-cache-gb or the profile's tiers",
                            mode_name(cfg->modes[i]), (unsigned long long)mode_cpu_blocks(&ms),
                            (unsigned long long)mode_disk_blocks(&ms));
    }
    g->ready_timeout_ns = cfg->ready_timeout_ns;
    if (!g->ready_timeout_ns) {
        uint64_t ns = 0;
        const char *t = jsonx_path(g->stack_profile, "timeouts.ready")
                            ? json_string_value(jsonx_path(g->stack_profile, "timeouts.ready"))
                            : NULL;
        if (t && units_parse_duration_ns(t, &ns) == 0)
            g->ready_timeout_ns = ns;
        else
            g->ready_timeout_ns = 120 * CLK_NS_PER_S;
    }
    /* group directory */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    g->dir = xalloc_printf("%s/%s_%s_%s_%s", cfg->out_dir, cfg->model, cfg->workload, cfg->dataset,
                           stamp);
    for (int k = 2; access(g->dir, F_OK) == 0 && k < 100; k++) {
        free(g->dir);
        g->dir = xalloc_printf("%s/%s_%s_%s_%s-%d", cfg->out_dir, cfg->model, cfg->workload,
                               cfg->dataset, stamp, k);
    }
    if ((r = fileio_mkdir_p(g->dir)) < 0)
        return diag_set(d, r, 0, 0, "cannot create %s: %s", g->dir, strerror(-r));
    g->plan_path = fileio_join(g->dir, "plan.jsonl");
    uint64_t plan_g1 = g->g1_blocks ? g->g1_blocks : profile_g1_blocks(&g->hw, &g->model);
    char src[256];
    snprintf(src, sizeof(src), "kvtier bundle: stack %s, hardware %s, mode B2 tiers",
             g->stack_label, g->hardware);
    struct workload_capacity cap = { .g1_blocks = plan_g1,
                                     .g2_blocks = mode_cpu_blocks(&b2),
                                     .g3_blocks = mode_disk_blocks(&b2),
                                     .bytes_per_block = b2.bytes_per_block,
                                     .source = src };
    struct workload_options wo;
    workload_options_init(&wo);
    wo.max_requests = cfg->max_requests;
    wo.rate_scale = cfg->rate_scale;
    r = workload_plan_write(cfg->profiles_dir, cfg->workload, cfg->dataset, cfg->model, cfg->seed,
                            &cap, &wo, g->plan_path, &g->plan_header, d);
    if (r < 0)
        return r;
    if (!g->g1_blocks)
        g->g1_blocks = plan_g1;
    return 0;
}

static json_t *mode_stats(json_t *quicks, const char *mode, uint64_t seed)
{
    double p50[BUNDLE_MAX_REPEATS], p95[BUNDLE_MAX_REPEATS];
    size_t n = 0, valid = 0, dg = 0, total = 0;
    size_t i;
    json_t *q;
    json_t *dirs = json_array();
    json_array_foreach (quicks, i, q) {
        if (strcmp(jsonx_str(q, "mode", ""), mode))
            continue;
        total++;
        json_array_append_new(dirs, json_string(jsonx_str(q, "bundle", "")));
        if (jsonx_bool(q, "decision_grade", false))
            dg++;
        if (!jsonx_bool(q, "run_valid", false) || n >= BUNDLE_MAX_REPEATS)
            continue;
        valid++;
        p50[n] = jsonx_num(json_object_get(q, "replay"), "ttft_p50_ms", NAN);
        p95[n] = jsonx_num(json_object_get(q, "replay"), "ttft_p95_ms", NAN);
        n++;
    }
    json_t *o = json_object();
    json_object_set_new(o, "bundles", json_integer((json_int_t)total));
    json_object_set_new(o, "run_valid", json_integer((json_int_t)valid));
    json_object_set_new(o, "decision_grade", json_integer((json_int_t)dg));
    json_object_set_new(o, "dirs", dirs);
    json_t *v50 = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(v50, isfinite(p50[k]) ? json_real(p50[k]) : json_null());
    json_object_set_new(o, "replay_ttft_p50_ms", v50);
    jsonx_set_num(o, "cv_replay_ttft_p50", bootstrap_cv(p50, n));
    struct bootstrap_ci ci;
    if (n && bootstrap_ci(BOOTSTRAP_MEAN, p50, n, 2000, 0.95, seed, &ci) == 0)
        json_object_set_new(o, "replay_ttft_p50_ms_mean_ci", bootstrap_ci_json(&ci));
    if (n && bootstrap_ci(BOOTSTRAP_MEAN, p95, n, 2000, 0.95, seed + 1, &ci) == 0)
        json_object_set_new(o, "replay_ttft_p95_ms_mean_ci", bootstrap_ci_json(&ci));
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    return o;
}

int bundle_run(const struct bundle_config *cfg, json_t **ret_group, struct diag *d)
{
    struct group g = { 0 };
    int r = group_prepare(cfg, &g, d);
    if (r < 0) {
        group_fini(&g);
        return r;
    }
    size_t total = cfg->n_modes * cfg->repeats;
    size_t *order = xcalloc(total, sizeof(size_t));
    bundle_block_order(cfg->n_modes, cfg->repeats, cfg->seed, order);
    note(cfg, "group %s: %zu bundle(s), plan %s", g.dir, total, g.plan_path);
    json_t *quicks = json_array();
    json_t *evidences = json_array();
    json_t *blocks = json_array();
    unsigned rep_of[MODE__COUNT] = { 0 };
    bool interrupted = false;
    for (unsigned b = 0; b < cfg->repeats && !interrupted; b++) {
        json_t *blk = json_array();
        for (size_t k = 0; k < cfg->n_modes; k++) {
            enum mode_id id = cfg->modes[order[(size_t)b * cfg->n_modes + k]];
            json_array_append_new(blk, json_string(mode_name(id)));
            json_t *ev = NULL;
            json_t *q = run_one(&g, id, ++rep_of[id], (unsigned)k, &ev);
            json_array_append_new(quicks, q);
            json_array_append_new(evidences, ev);
            if (cfg->interrupt_flag && *cfg->interrupt_flag) {
                interrupted = true;
                break;
            }
        }
        json_array_append_new(blocks, blk);
    }
    /* repeats: stability per mode, then every bundle's verdict is re-judged with it */
    json_t *per_mode = json_object();
    for (size_t k = 0; k < cfg->n_modes; k++) {
        const char *mn = mode_name(cfg->modes[k]);
        if (!json_object_get(per_mode, mn))
            json_object_set_new(per_mode, mn, mode_stats(quicks, mn, cfg->seed));
    }
    bool all_valid = true;
    json_t *bundles = json_array();
    size_t i;
    json_t *q;
    json_array_foreach (quicks, i, q) {
        json_t *ms = json_object_get(per_mode, jsonx_str(q, "mode", ""));
        json_t *ev = json_array_get(evidences, i);
        json_t *rp = json_object();
        json_object_set(rp, "n", json_object_get(ms, "n"));
        json_object_set(rp, "cv_replay_ttft_p50", json_object_get(ms, "cv_replay_ttft_p50"));
        json_object_set(rp, "replay_ttft_p50_ms", json_object_get(ms, "replay_ttft_p50_ms"));
        json_object_set_new(ev, "repeats", rp);
        json_t *v = gate_evaluate(ev, &cfg->thresholds);
        json_object_set(v, "evidence", ev);
        json_object_set_new(v, "engine", engine_json(&g));
        const char *dir = jsonx_str(q, "bundle", "");
        write_json(dir, "verdict.json", v);
        json_object_set(q, "run_valid", json_object_get(v, "run_valid"));
        json_object_set(q, "decision_grade", json_object_get(v, "decision_grade"));
        json_object_set(q, "reason_codes", json_object_get(v, "reason_codes"));
        write_json(dir, "quick_summary.json", q);
        if (!jsonx_bool(v, "run_valid", false))
            all_valid = false;
        json_t *bj = json_object();
        json_object_set(bj, "mode", json_object_get(q, "mode"));
        json_object_set(bj, "repeat", json_object_get(q, "repeat"));
        json_object_set(bj, "dir", json_object_get(q, "bundle"));
        json_object_set(bj, "run_valid", json_object_get(v, "run_valid"));
        json_object_set(bj, "decision_grade", json_object_get(v, "decision_grade"));
        json_object_set(bj, "reason_codes", json_object_get(v, "reason_codes"));
        json_t *rpl = json_object_get(q, "replay");
        json_object_set(bj, "replay_ttft_p50_ms", json_object_get(rpl, "ttft_p50_ms"));
        json_object_set(bj, "replay_ttft_p95_ms", json_object_get(rpl, "ttft_p95_ms"));
        json_array_append_new(bundles, bj);
        json_decref(v);
    }
    /* mode pairs that the plan's questions ask: does KVBM help, does the SSD add to it */
    static const enum mode_id pairs[][2] = {
        { MODE_B0, MODE_B1 }, { MODE_B1, MODE_B2 }, { MODE_B1, MODE_B2P }, { MODE_B2, MODE_C }
    };
    json_t *cmp = json_array();
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        json_t *a = json_object_get(per_mode, mode_name(pairs[k][0]));
        json_t *b = json_object_get(per_mode, mode_name(pairs[k][1]));
        if (!a || !b)
            continue;
        double ma = jsonx_num(json_object_get(a, "replay_ttft_p50_ms_mean_ci"), "estimate", NAN);
        double mb = jsonx_num(json_object_get(b, "replay_ttft_p50_ms_mean_ci"), "estimate", NAN);
        json_t *c = json_object();
        json_object_set_new(c, "baseline", json_string(mode_name(pairs[k][0])));
        json_object_set_new(c, "treatment", json_string(mode_name(pairs[k][1])));
        jsonx_set_num(c, "baseline_replay_ttft_p50_ms", ma);
        jsonx_set_num(c, "treatment_replay_ttft_p50_ms", mb);
        jsonx_set_num(c, "ratio_treatment_over_baseline", ma > 0 ? mb / ma : NAN);
        json_object_set_new(c, "note",
                            json_string("descriptive only; use kvtier compare for the "
                                        "A/B statistics"));
        json_array_append_new(cmp, c);
    }
    json_t *gs = json_object();
    json_object_set_new(gs, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(gs, "kind", json_string("kvtier.group"));
    json_object_set_new(gs, "group_dir", json_string(g.dir));
    json_object_set_new(gs, "stack", json_string(g.stack_label));
    json_object_set_new(gs, "engine", engine_json(&g));
    json_object_set_new(gs, "model", json_string(cfg->model));
    json_object_set_new(gs, "workload", json_string(cfg->workload));
    json_object_set_new(gs, "dataset", json_string(cfg->dataset));
    json_object_set_new(gs, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(gs, "repeats", json_integer(cfg->repeats));
    json_object_set_new(gs, "plan", json_string(g.plan_path));
    json_object_set_new(gs, "block_order", blocks);
    json_object_set_new(gs, "bundles", bundles);
    json_object_set_new(gs, "per_mode", per_mode);
    json_object_set_new(gs, "comparisons", cmp);
    json_object_set_new(gs, "interrupted", json_boolean(interrupted));
    json_object_set_new(gs, "all_run_valid", json_boolean(all_valid && !interrupted));
    json_object_set_new(gs, "thresholds", gate_thresholds_json(&cfg->thresholds));
    write_json(g.dir, "group_summary.json", gs);
    json_decref(quicks);
    json_decref(evidences);
    free(order);
    group_fini(&g);
    *ret_group = gs;
    return 0;
}
