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

#include <assert.h>
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
#include "common/devinfo.h"
#include "common/emit.h"
#include "common/fileio.h"
#include "common/httpget.h"
#include "common/jsonx.h"
#include "common/procio.h"
#include "common/profile.h"
#include "common/prom.h"
#include "common/rng.h"
#include "common/units.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "loadgen/loadgen.h"
#include "observe/diskstats.h"
#include "observe/observe.h"
#include "report/charts.h"
#include "run/efficiency.h"
#include "run/evidence.h"
#include "run/ladder.h"
#include "run/limits.h"
#include "run/manifest.h"
#include "run/provenance.h"
#include "run/settle.h"
#include "stack/cgroup.h"
#include "stack/stack.h"
#include "version.h"
#include "workload/reuse.h"
#include "workload/workload.h"

#define LOG_COPY_MAX_BYTES (64u << 20)

void bundle_config_init(struct bundle_config *cfg)
{
    *cfg = (struct bundle_config){ .repeats = 1,
                                   .seed = 1,
                                   .drop_caches = true,
                                   .use_cgroup = true,
                                   .storage_kind = "local_nvme",
                                   .settle_quiet_ns = 2 * CLK_NS_PER_S,
                                   .settle_timeout_ns = 30 * CLK_NS_PER_S,
                                   .settle_device_bps = 4u << 20 };
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

/* The first output file that could not be written (a full disk): the run goes on, so what
 * can still be written is, and the runner then fails naming this file and its errno. */
struct out_err {
    int err; /* negative errno; 0 = none */
    char path[640];
};

static int out_check(struct out_err *oe, const char *path, int r)
{
    if (r < 0 && oe && !oe->err) {
        oe->err = r;
        snprintf(oe->path, sizeof(oe->path), "%s", path);
    }
    return r;
}

static int write_json(struct out_err *oe, const char *dir, const char *name, json_t *v)
{
    char *p = fileio_join(dir, name);
    int r = out_check(oe, p, jsonx_write_file(p, v));
    free(p);
    return r;
}

static int write_bytes(struct out_err *oe, const char *path, const void *data, size_t len)
{
    return out_check(oe, path, fileio_write_atomic(path, data, len));
}

/* Copies a file; a source that cannot be read gives -ENOENT-like errors that are not output
 * errors, a destination that cannot be written is recorded in oe. */
static int copy_file(struct out_err *oe, const char *from, const char *to, size_t max)
{
    struct buf b;
    buf_init(&b, max);
    int r = fileio_read_all(from, max, &b);
    if (r >= 0)
        r = write_bytes(oe, to, b.data, b.len);
    buf_fini(&b);
    return r;
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
    struct out_err *oe; /* the group's */
    struct mode_settings ms;
    unsigned rep;
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
    char kv_disk[DISKSTATS_NAME_MAX];        /* whole disk of the KV cache dir; "" = unknown */
    bool hit_rate; /* read KVBM's hit-rate gauges after each phase (bundle_config.hit_rate) */
};

/* ---- phase settling (settle.h): what a wait between phases samples ---------------------- */

static const char *const settle_names[] = { "kvbm_offload_blocks_d2h", "kvbm_offload_blocks_h2d",
                                            "kvbm_offload_blocks_d2d", "server_write_bytes",
                                            "device_write_bytes" };
#define SETTLE_N_KVBM   3
#define SETTLE_I_SERVER 3
#define SETTLE_I_DEVICE 4

/* A counter's sum over its series, with or without the _total suffix; NAN when absent. */
static double prom_counter(const struct prom_page *pg, const char *name)
{
    double v = 0, t = 0;
    int a = prom_sum(pg, name, &v);
    char *tn = xalloc_printf("%s_total", name);
    int b = prom_sum(pg, tn, &t);
    free(tn);
    return a > 0 || b > 0 ? (a > 0 ? v : 0) + (b > 0 ? t : 0) : NAN;
}

static void settle_sample(void *ctx, double *vals, size_t n)
{
    const struct run *r = ctx;
    assert(n == sizeof(settle_names) / sizeof(settle_names[0]));
    for (size_t i = 0; i < n; i++)
        vals[i] = NAN;
    const char *url = r->stack ? r->stack->kvbm_metrics_url : "";
    if (url[0]) {
        struct buf b;
        buf_init(&b, PROM_PAGE_MAX_BYTES);
        struct httpget_result hr;
        if (httpget(url, CLK_NS_PER_S, &b, &hr) == 0 && hr.status == 200) {
            struct prom_page pg = { 0 };
            if (prom_parse_lenient((const char *)b.data, b.len, &pg, NULL) >= 0)
                for (size_t i = 0; i < SETTLE_N_KVBM; i++)
                    vals[i] = prom_counter(&pg, settle_names[i]);
            prom_page_fini(&pg);
        }
        buf_fini(&b);
    }
    pid_t pids[STACK_MAX_PROCS + 1];
    size_t np = r->stack ? stack_pids(r->stack, pids, STACK_MAX_PROCS + 1) : 0;
    double sw = 0;
    bool any = false;
    for (size_t i = 0; i < np && i < STACK_MAX_PROCS + 1; i++) {
        struct procio io;
        if (procio_read(NULL, pids[i], &io) == 0 && (io.have & (1u << PROCIO_WRITE_BYTES))) {
            sw += (double)io.v[PROCIO_WRITE_BYTES];
            any = true;
        }
    }
    if (any)
        vals[SETTLE_I_SERVER] = sw;
    struct diskstats_dev dev;
    if (r->kv_disk[0] && diskstats_read(NULL, r->kv_disk, &dev) == 0)
        vals[SETTLE_I_DEVICE] = (double)dev.f[DISKSTATS_WR_SEC] * 512;
}

/* KVBM's hit-rate refresh: the worker's DYN_KVBM_CACHE_STATS_LOG_INTERVAL_SECS as the stack
 * launched it, else KVBM's default of 5 s; at most 30 s. */
static uint64_t kvbm_refresh_ns(const struct run *r)
{
    unsigned long s = 5;
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(r->stack->record, "processes"), i, p) {
        const char *v =
            jsonx_str(json_object_get(p, "env"), "DYN_KVBM_CACHE_STATS_LOG_INTERVAL_SECS", NULL);
        char *end = NULL;
        unsigned long n = v ? strtoul(v, &end, 10) : 0;
        if (v && end != v && !*end && n > 0)
            s = n;
    }
    return (uint64_t)(s < 30 ? s : 30) * CLK_NS_PER_S;
}

/* KVBM's hit-rate gauges for the phase that just ended (raw/phases.json "kvbm_hit_rate",
 * docs/bundle.md "Phase settling"): KVBM publishes them every refresh interval over its last
 * 1000 finished requests, so they are read after the first refresh that follows the phase's
 * end (waiting out what the settle wait has not already covered, recorded), when they include
 * the phase's last requests. They are the mechanism in KVBM's own words beside the per-phase
 * counter deltas (which remain the attribution: the window can hold earlier phases' requests). */
static void hit_rate_after(struct run *r, json_t *phase)
{
    if (!r->hit_rate || !phase || !r->stack || !r->stack->kvbm_metrics_url[0] ||
        !mode_has_kvbm(r->ms.id))
        return;
    uint64_t refresh = kvbm_refresh_ns(r), end = jsonx_u64(phase, "t_end_ns", 0);
    uint64_t due = end + refresh + 250 * CLK_NS_PER_MS, t0 = clk_now_ns(), now = t0;
    while (now < due && !(r->cfg->interrupt_flag && *r->cfg->interrupt_flag)) {
        clk_sleep_ns(due - now < 100 * CLK_NS_PER_MS ? due - now : 100 * CLK_NS_PER_MS);
        now = clk_now_ns();
    }
    json_t *j = json_object();
    struct buf b;
    buf_init(&b, PROM_PAGE_MAX_BYTES);
    struct httpget_result hr;
    struct prom_page pg = { 0 };
    double host = NAN, disk = NAN;
    if (httpget(r->stack->kvbm_metrics_url, CLK_NS_PER_S, &b, &hr) == 0 && hr.status == 200 &&
        prom_parse_lenient((const char *)b.data, b.len, &pg, NULL) >= 0) {
        if (prom_sum(&pg, "kvbm_host_cache_hit_rate", &host) <= 0)
            host = NAN;
        if (prom_sum(&pg, "kvbm_disk_cache_hit_rate", &disk) <= 0)
            disk = NAN;
    }
    prom_page_fini(&pg);
    buf_fini(&b);
    bool cut = now < due;
    json_object_set_new(j, "status",
                        json_string(isnan(host) && isnan(disk) ? "unavailable"
                                    : cut                      ? "interrupted"
                                                               : "after_refresh"));
    jsonx_set_num(j, "host", host);
    jsonx_set_num(j, "disk", disk);
    jsonx_set_num(j, "refresh_s", (double)refresh / CLK_NS_PER_S);
    jsonx_set_num(j, "read_s_after_phase_end", end ? (double)(now - end) / CLK_NS_PER_S : NAN);
    jsonx_set_num(j, "waited_s", (double)(now - t0) / CLK_NS_PER_S);
    json_object_set_new(j, "window", json_string("KVBM's last 1000 finished requests"));
    json_object_set_new(phase, "kvbm_hit_rate", j);
}

/* Waits until the counters have been quiet (docs/bundle.md "Phase settling") and records the
 * result on the phase that just ended (its "settle"). Between phases only: the load generator
 * starts the next phase's clock after this returns, so its send times are not shifted. */
static void settle_between(struct run *r)
{
    const struct bundle_config *cfg = r->cfg;
    json_t *prev = json_array_get(r->phases, json_array_size(r->phases) - 1);
    if (!prev)
        return;
    if (cfg->settle_timeout_ns == 0) {
        hit_rate_after(r, prev);
        return;
    }
    struct settle_config sc = { .quiet_ns = cfg->settle_quiet_ns,
                                .timeout_ns = cfg->settle_timeout_ns,
                                .stop = cfg->interrupt_flag };
    double rate[sizeof(settle_names) / sizeof(settle_names[0])] = { 0 };
    rate[SETTLE_I_DEVICE] = (double)cfg->settle_device_bps;
    struct settle_source src = { .names = settle_names,
                                 .n = sizeof(settle_names) / sizeof(settle_names[0]),
                                 .sample = settle_sample,
                                 .ctx = r,
                                 .quiet_rate = rate };
    struct settle_result res;
    if (settle_wait(&sc, &src, &res) < 0)
        return;
    json_t *j = settle_result_json(&res, &sc, &src);
    json_object_set_new(j, "kv_device", r->kv_disk[0] ? json_string(r->kv_disk) : json_null());
    json_object_set_new(j, "device_quiet_bps", json_integer((json_int_t)cfg->settle_device_bps));
    json_object_set_new(prev, "settle", j);
    note(cfg, "  settle after %s: %s in %.2f s", jsonx_str(prev, "name", "?"),
         settle_status_name(res.status), (double)res.waited_ns / CLK_NS_PER_S);
    hit_rate_after(r, prev);
}

static void hook_begin(void *ctx, const char *phase, uint64_t t_ns)
{
    struct run *r = ctx;
    if (json_array_size(r->phases) && r->stack) {
        settle_between(r);
        t_ns = clk_now_ns(); /* the phase begins after the wait */
    }
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
    /* the delta is ours even when a file could not be written (a full disk): keep it */
    if (r->obs)
        observe_phase_end(r->obs, phase, &delta);
    if (delta)
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

struct outcome {
    bool started, ready, model_loaded, frontend_ok, kvbm_ok, healthy_end;
    bool ready_unknown; /* interrupted while waiting for readiness */
    bool interrupted;
    char error[512];
    json_t *ready_checks;
    json_t *config;     /* stack_observe_config */
    json_t *provenance; /* provenance_observe */
    json_t *cache_clear, *page_cache;
    json_t *loadgen_summary;
};

static json_t *health_json(const struct outcome *oc, const struct run *r, bool kvbm_mode)
{
    json_t *h = json_object();
    json_object_set_new(h, "started", json_boolean(oc->started));
    json_object_set_new(h, "healthy_at_start",
                        oc->ready_unknown ? json_null() : json_boolean(oc->ready));
    json_object_set_new(h, "healthy_at_end",
                        oc->ready ? json_boolean(oc->healthy_end) : json_null());
    json_object_set_new(h, "crashed", json_boolean(r->crashed));
    /* a stack that never started (or was not waited for) loaded nothing that anyone saw:
     * unknown, not true (issue 11 #14) */
    json_object_set_new(h, "model_loaded",
                        !oc->started || oc->ready_unknown ? json_null()
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

/* ---- per-mode settings and the shared plan ---------------------------------------------- */

/* One arm of the interleaved group: a mode, or one level of the Mode C ladder. */
struct arm {
    enum mode_id id;
    char name[LADDER_NAME_MAX]; /* the mode's name, or "C@25%" */
    uint64_t c_read_bps;        /* a ladder level's read limit; 0 = the mode's */
};

struct group {
    struct arm arms[MODE__COUNT + LADDER_MAX_LEVELS];
    size_t n_arms;
    struct ladder_level levels[LADDER_MAX_LEVELS];
    size_t n_levels;
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
    json_t *sizing; /* owned: capacity.sizing, from the first stack that came up; NULL before */
    struct out_err oe;
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
    if (copy_file(r->oe, from, to, LOG_COPY_MAX_BYTES) < 0 && access(to, F_OK) < 0)
        write_bytes(r->oe, to, "", 0);
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

/* Bundle directory, plan copy, KV cache files and page cache before a run. */
static void run_prepare(struct group *g, struct run *r, struct outcome *oc)
{
    const char *sub[] = { "raw/stack", "metrics_delta", "os", "charts", NULL };
    for (size_t i = 0; sub[i]; i++) {
        char *p = fileio_join(r->dir, sub[i]);
        fileio_mkdir_p(p);
        free(p);
    }
    note(g->cfg, "bundle %s/r%02u: %s", mode_name(r->ms.id), r->rep, r->dir);
    char *plan_copy = fileio_join(r->dir, "raw/requests.jsonl");
    copy_file(&g->oe, g->plan_path, plan_copy, (size_t)1 << 31);
    free(plan_copy);
    oc->cache_clear = stack_clear_cache_dir(g->cache_dir);
    oc->page_cache = stack_drop_page_cache(NULL, g->cfg->drop_caches);
}

/* Launches the stack and waits until it is ready; reads its configuration back. 0 when ready,
 * else negative errno with oc->error set. */
static int group_plan(struct group *g, const struct workload_capacity *cap, struct diag *d);

/* The first stack that comes up sizes the group's pressure phase from what it shows (G1, the
 * tiers, bytes per block; provenance_sizing), before any request of the group is sent: the plan
 * is rewritten when that differs from the profile arithmetic, so every mode still replays the
 * same plan. The arithmetic with its sources is kept for every manifest (capacity.sizing). */
static void size_from_observed(struct group *g, struct run *r, const struct outcome *oc)
{
    struct mode_settings b2;
    mode_settings_for(g, MODE_B2, &b2);
    const uint64_t planned[3] = { g->g1_blocks, mode_cpu_blocks(&r->ms), mode_disk_blocks(&r->ms) };
    json_t *cap = provenance_capacity(oc->config, profile_kv_bytes_per_token(&g->model), planned,
                                      r->ms.bytes_per_block);
    struct workload_capacity wc;
    g->sizing = provenance_sizing(cap, &r->ms, &b2, g->g1_blocks, &wc);
    json_decref(cap);
    size_t gl = strlen(g->dir);
    json_object_set_new(g->sizing, "observed_in",
                        json_string(strncmp(r->dir, g->dir, gl) ? r->dir : r->dir + gl + 1));
    json_object_set(g->sizing, "profile_pressure", json_object_get(g->plan_header, "pressure"));
    if (!jsonx_bool(g->sizing, "resized", false)) {
        json_object_set_new(g->sizing, "plan", json_string("kept: observed = profile"));
        return;
    }
    struct diag d = { 0 };
    if (group_plan(g, &wc, &d) < 0) {
        /* the profile plan stays: a failed rewrite must not lose the run */
        json_object_set_new(g->sizing, "plan", json_string(d.msg));
        note(g->cfg, "  pressure not re-sized from the observed capacity: %s", d.msg);
        return;
    }
    json_object_set_new(g->sizing, "plan", json_string("re-sized from the observed capacity"));
    json_t *pr = json_object_get(g->plan_header, "pressure");
    json_object_set(g->sizing, "pressure", pr);
    note(g->cfg,
         "  pressure re-sized from the observed capacity: G1 %llu, G2 %llu, G3 %llu blocks of "
         "%llu B: %s",
         (unsigned long long)wc.g1_blocks, (unsigned long long)wc.g2_blocks,
         (unsigned long long)wc.g3_blocks, (unsigned long long)wc.bytes_per_block,
         jsonx_str(pr, "arithmetic", ""));
}

static int run_launch(struct group *g, struct run *r, struct outcome *oc)
{
    const struct bundle_config *cfg = g->cfg;
    enum mode_id id = r->ms.id;
    char *log_dir = fileio_join(r->dir, "raw/stack");
    char *work_dir = xalloc_printf("%s/work", log_dir);
    char cg_name[64];
    snprintf(cg_name, sizeof(cg_name), CGROUP_RUN_PREFIX "%d-%s-r%02u", (int)getpid(),
             mode_name(id), r->rep);
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
        .max_seq_len = g->model.max_sequence_length,
        .max_num_tokens = g->model.max_num_tokens,
        .max_batch_size = g->model.max_batch_size,
        .tokens_per_block = g->model.tokens_per_block,
        .mode = r->ms,
        .url = cfg->url,
        .kvbm_metrics_url = cfg->kvbm_metrics_url,
        .frontend_metrics_url = cfg->frontend_metrics_url,
        .observe_pid = cfg->observe_pid,
    };
    struct diag d = { 0 };
    int rc = stack_launch(&so, &r->stack, &d);
    oc->started = rc == 0;
    free(log_dir);
    free(work_dir);
    if (rc < 0) {
        snprintf(oc->error, sizeof(oc->error), "%s", d.msg);
        note(cfg, "  stack failed to start: %s", d.msg);
        return rc;
    }
    rc =
        stack_wait_ready(r->stack, g->ready_timeout_ns, cfg->interrupt_flag, &oc->ready_checks, &d);
    if (rc < 0) {
        snprintf(oc->error, sizeof(oc->error), "%s", d.msg);
        oc->model_loaded = rc != -ENOENT;
        oc->ready_unknown = rc == -EINTR; /* the wait was cut short, not failed */
        if (rc == -ECHILD)
            oc->started = false;
        note(cfg, "  stack not ready: %s", d.msg);
        return rc;
    }
    oc->ready = oc->model_loaded = true;
    oc->frontend_ok = true;
    oc->kvbm_ok = true;
    size_t ci;
    json_t *c;
    json_array_foreach (oc->ready_checks, ci, c) {
        if (!strcmp(jsonx_str(c, "check", ""), "kvbm_metrics") && !jsonx_bool(c, "ok", false))
            oc->kvbm_ok = false;
    }
    oc->config = stack_observe_config(r->stack, &r->ms);
    oc->provenance = provenance_observe(r->stack, g->stack_profile);
    if (json_array_size(json_object_get(oc->config, "mismatches")))
        note(cfg,
             "  MODE_NOT_APPLIED: the running stack is not %s (see manifest "
             "stack.observed_config)",
             mode_name(id));
    if (!g->sizing)
        size_from_observed(g, r, oc);
    /* the live engine limits, before any request is sent */
    char why[400];
    json_t *el = json_object_get(oc->config, "engine_limits");
    int lr = limits_check(g->plan_path, el, cfg->dataset, why, sizeof(why));
    if (lr == -E2BIG) {
        snprintf(oc->error, sizeof(oc->error), "refused before sending: %s", why);
        oc->ready = false;
        limits_write_dossier(r->dir, el, why);
        note(cfg, "  refused before sending (blocker_dossier.md): %s", why);
        return -E2BIG;
    }
    if (lr > 0)
        note(cfg,
             "  %d planned request(s) longer than the engine accepts are refused unsent "
             "(records error \"refused\"): %s",
             lr, why);
    return 0;
}

/* The sampler over a ready stack (NULL when it cannot start: OS evidence will be missing). */
static struct observe *run_sampler(struct group *g, struct run *r)
{
    assert(r->stack);
    pid_t pids[STACK_MAX_PROCS + 1];
    size_t np = stack_pids(r->stack, pids, STACK_MAX_PROCS + 1);
    assert(np <= STACK_MAX_PROCS + 1);
    char *os_dir = fileio_join(r->dir, "os");
    char *raw_dir = fileio_join(r->dir, "raw");
    char *md_dir = fileio_join(r->dir, "metrics_delta");
    const char *kurls[1] = { r->stack->kvbm_metrics_url };
    struct observe_config oconf = {
        .device = g->cfg->device,
        .kv_dir = g->cache_dir, /* every mode: a KV file in a no-disk mode is evidence too */
        .pids = pids,
        .n_pids = np,
        .cgroup_path = r->stack->cgroup.kind != CGROUP_NONE ? r->stack->cgroup.dir : NULL,
        .kvbm_urls = kurls,
        .n_kvbm_urls = r->stack->kvbm_metrics_url[0] ? 1 : 0,
        .frontend_url = r->stack->frontend_metrics_url,
        .interval_ns = g->cfg->interval_ns,
        .os_dir = os_dir,
        .raw_dir = raw_dir,
        .metrics_dir = md_dir,
    };
    struct observe *obs = NULL;
    int orc = observe_start(&oconf, &obs);
    if (orc < 0) {
        note(g->cfg, "  sampler could not start (%s): OS evidence will be missing", strerror(-orc));
        obs = NULL;
    }
    free(os_dir);
    free(raw_dir);
    free(md_dir);
    return obs;
}

/* The plan, phase by phase, with the sampler's phase marks; then the end checks. */
static void run_measure(struct group *g, struct run *r, struct outcome *oc)
{
    const struct bundle_config *cfg = g->cfg;
    r->obs = run_sampler(g, r);
    if (cfg->device)
        snprintf(r->kv_disk, sizeof(r->kv_disk), "%s",
                 strncmp(cfg->device, "/dev/", 5) ? cfg->device : cfg->device + 5);
    else if (diskstats_disk_of_path(NULL, NULL, g->cache_dir, r->kv_disk, sizeof(r->kv_disk)) < 0)
        r->kv_disk[0] = 0;
    char *raw_dir = fileio_join(r->dir, "raw");
    struct loadgen_config lc;
    loadgen_config_init(&lc);
    lc.url = r->stack->http_url;
    lc.model = r->stack->served_model;
    lc.out_dir = raw_dir;
    lc.seed = cfg->seed;
    lc.interrupt_flag = cfg->interrupt_flag;
    if (cfg->concurrency) {
        /* a load axis of kvtier sweep/slo: every phase closed loop at this many in flight */
        lc.arrival = LOADGEN_ARRIVAL_CLOSED;
        lc.concurrency = cfg->concurrency;
    }
    json_t *extra = json_object_get(g->stack_profile, "extra_body");
    lc.extra_body = json_is_object(extra) ? extra : NULL;
    /* the live context length, else the model profile's: longer requests are never sent */
    char ctx_src[160];
    double live = jsonx_num(jsonx_path(oc->config, "engine_limits"), "context_length", 0);
    lc.max_context_tokens = live > 0 ? (uint64_t)live : g->model.max_sequence_length;
    snprintf(ctx_src, sizeof(ctx_src), "%s",
             live > 0 ? "live dynamo_frontend_model_context_length"
                      : "model profile engine.max_sequence_length (engine did not report one)");
    lc.max_context_source = ctx_src;
    struct loadgen_hooks hooks = {
        .ctx = r, .phase_begin = hook_begin, .phase_end = hook_end, .should_stop = hook_stop
    };
    struct diag ld = { 0 };
    int lrc = loadgen_run_plan_file(&lc, g->plan_path, &hooks, &oc->loadgen_summary, &ld);
    if (lrc < 0) {
        snprintf(oc->error, sizeof(oc->error), "load generator: %s", ld.msg);
        note(cfg, "  load generator failed: %s", ld.msg);
    }
    if (r->open_phase[0] && r->obs) {
        /* interrupted inside a phase: close it so its deltas are written */
        char ph[OBSERVE_PHASE_NAME_MAX];
        snprintf(ph, sizeof(ph), "%s", r->open_phase);
        hook_end(r, ph, clk_now_ns());
        snprintf(r->open_phase, sizeof(r->open_phase), "%s", ph);
    }
    hook_stop(r);
    if (!r->crashed && !(cfg->interrupt_flag && *cfg->interrupt_flag))
        hit_rate_after(r, json_array_get(r->phases, json_array_size(r->phases) - 1));
    oc->interrupted = r->crashed || (cfg->interrupt_flag && *cfg->interrupt_flag) ||
                      jsonx_bool(oc->loadgen_summary, "interrupted", false) || lrc < 0;
    if (!r->crashed)
        end_checks(r, oc, mode_has_kvbm(r->ms.id));
    if (r->obs)
        observe_stop(r->obs, NULL);
    free(raw_dir);
}

/* summary.json: the load generator's summary plus kvbm / os / reuse per phase. Owned. */
static json_t *run_summary(struct group *g, struct run *r, const struct outcome *oc)
{
    json_t *summary = oc->loadgen_summary ? json_deep_copy(oc->loadgen_summary) : json_object();
    json_object_set_new(summary, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    if (!json_object_get(summary, "phases"))
        json_object_set_new(summary, "phases", json_object());
    json_t *sp = json_object_get(summary, "phases");
    json_t *reuse_obs = json_object();
    size_t pi;
    json_t *pj;
    json_array_foreach (r->phases, pi, pj) {
        const char *name = jsonx_str(pj, "name", "?");
        json_t *ph = json_object_get(sp, name);
        if (!ph) {
            ph = json_object();
            json_object_set_new(sp, name, ph);
        }
        json_t *k = evidence_phase_kvbm(r->dir, name);
        json_t *ro = json_object();
        if (k && json_is_number(json_object_get(k, "matched_tokens")))
            json_object_set(ro, "kvbm_matched_tokens", json_object_get(k, "matched_tokens"));
        json_object_set_new(ph, "kvbm", k ? k : json_null());
        json_t *osd = json_object_get(r->os_deltas, name);
        json_object_set_new(ph, "os", osd ? json_incref(osd) : json_null());
        json_t *ose = evidence_phase_os(r->dir, name);
        json_object_set_new(ph, "os_evidence", ose ? ose : json_null());
        json_t *st = json_object_get(pj, "settle");
        if (st)
            json_object_set(ph, "settle_after", st);
        json_t *hr = json_object_get(pj, "kvbm_hit_rate");
        if (hr)
            json_object_set(ph, "kvbm_hit_rate", hr);
        json_object_set_new(reuse_obs, name, ro);
    }
    json_t *recs = evidence_records_by_phase(r->dir);
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
        reuse_evaluate(g->plan_header, reuse_obs, g->cfg->thresholds.reuse_min_fraction, &rd);
    json_decref(reuse_obs);
    json_object_set_new(summary, "reuse", reuse ? reuse : json_null());
    json_object_foreach (json_object_get(reuse, "phases"), rk, rv) {
        json_t *ph = json_object_get(sp, rk);
        if (ph)
            json_object_set(ph, "reuse", rv);
    }
    json_object_set_new(summary, "mode", json_string(mode_name(r->ms.id)));
    /* the SSD's side: vendor assertions beside the probe, data written and rated endurance */
    json_t *probe = NULL;
    if (g->cfg->probe_path && jsonx_load_file(g->cfg->probe_path, &probe, NULL) < 0)
        probe = NULL;
    json_t *di = r->kv_disk[0] ? devinfo_json(NULL, r->kv_disk) : NULL;
    json_object_set_new(
        summary, "storage",
        efficiency_storage(r->dir, g->cfg->profiles_dir, probe, jsonx_str(di, "model", NULL)));
    json_decref(di);
    json_decref(probe);
    return summary;
}

/* The raw files every bundle has (read back by evidence.c for the summary and the evidence). */
static void run_write_raw(struct group *g, struct run *r)
{
    json_t *phases_file = json_object();
    json_object_set_new(phases_file, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set(phases_file, "phases", r->phases);
    write_json(&g->oe, r->dir, "raw/phases.json", phases_file);
    json_decref(phases_file);
    json_t *wio = json_object();
    json_object_set_new(wio, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(wio, "pid", json_integer(r->stack ? (json_int_t)r->stack->worker_pid : 0));
    json_object_set(wio, "phases", r->pidio);
    write_json(&g->oe, r->dir, "raw/worker_pid_io.json", wio);
    json_decref(wio);
    /* records must exist even when nothing ran */
    char *recp = fileio_join(r->dir, "raw/records.jsonl");
    if (access(recp, F_OK) < 0)
        write_bytes(&g->oe, recp, "", 0);
    free(recp);
}

/* Evidence from the bundle's files and the run's facts. Owned. */
static json_t *run_evidence(struct group *g, const struct run *r, const struct outcome *oc)
{
    json_t *health = health_json(oc, r, mode_has_kvbm(r->ms.id));
    struct evidence_facts facts = {
        .mode = r->ms.id,
        .bytes_per_block = r->ms.bytes_per_block,
        .g1_blocks = g->g1_blocks,
        .g2_blocks = mode_cpu_blocks(&r->ms),
        .g3_blocks = mode_disk_blocks(&r->ms),
        .health = health,
        .mismatches = json_object_get(oc->config, "mismatches"),
        .interrupted = oc->interrupted,
        .interrupt_reason = r->crashed ? r->crash_msg : NULL,
        .interrupted_phase = r->last_phase,
    };
    json_t *ev = evidence_build(r->dir, &facts);
    json_decref(health);
    return ev;
}

static void run_write_manifest(struct group *g, const struct run *r, const struct outcome *oc,
                               unsigned block_pos)
{
    struct manifest_facts mf = {
        .cfg = g->cfg,
        .stack_label = g->stack_label,
        .hardware = g->hardware,
        .group_dir = g->dir,
        .cache_dir = g->cache_dir,
        .stack_profile = g->stack_profile,
        .model_json = g->model_json,
        .plan_header = g->plan_header,
        .sizing = g->sizing,
        .model = &g->model,
        .g1_blocks = g->g1_blocks,
        .ms = &r->ms,
        .stack = r->stack,
        .ready_checks = oc->ready_checks,
        .observed_config = oc->config,
        .provenance = oc->provenance,
        .cache_clear = oc->cache_clear,
        .page_cache = oc->page_cache,
        .phases = r->phases,
        .rep = r->rep,
        .block_pos = block_pos,
    };
    json_t *man = manifest_build(&mf);
    write_json(&g->oe, r->dir, "manifest.json", man);
    json_decref(man);
}

static void run_fini(struct run *r, struct outcome *oc)
{
    stack_free(r->stack);
    json_decref(oc->ready_checks);
    json_decref(oc->config);
    json_decref(oc->provenance);
    json_decref(oc->cache_clear);
    json_decref(oc->page_cache);
    json_decref(oc->loadgen_summary);
    json_decref(r->phases);
    json_decref(r->os_deltas);
    json_decref(r->pidio);
    free(r->dir);
}

/* One bundle: prepare, launch, measure, stop, then write and judge what was measured (also
 * after an early stop). Returns the quick summary (owned) and the evidence (owned). */
static json_t *run_one(struct group *g, const struct arm *a, unsigned rep, unsigned block_pos,
                       json_t **ret_evidence)
{
    const struct bundle_config *cfg = g->cfg;
    struct run r = { .cfg = cfg, .oe = &g->oe, .rep = rep };
    struct outcome oc = { 0 };
    mode_settings_for(g, a->id, &r.ms);
    if (a->c_read_bps)
        r.ms.c_read_bps = a->c_read_bps;
    r.dir = xalloc_printf("%s/%s/r%02u", g->dir, a->name, rep);
    /* auto: the real stack's phases last minutes, a refresh wait is cheap there; the builtin
     * engine's (same emulated refresh) only when asked, to keep its short runs short */
    r.hit_rate = cfg->hit_rate == 1 ||
                 (cfg->hit_rate == 0 && strcmp(jsonx_str(g->stack_profile, "kind", ""), "builtin"));
    r.phases = json_array();
    r.os_deltas = json_object();
    r.pidio = json_object();
    run_prepare(g, &r, &oc);
    if (run_launch(g, &r, &oc) == 0)
        run_measure(g, &r, &oc);
    if (cfg->interrupt_flag && *cfg->interrupt_flag)
        oc.interrupted = true; /* also a stop during launch or the readiness wait */
    if (r.stack)
        stack_stop(r.stack);
    copy_server_log(&r);
    observe_free(r.obs);
    r.obs = NULL;
    run_write_raw(g, &r);
    json_t *summary = run_summary(g, &r, &oc);
    write_json(&g->oe, r.dir, "summary.json", summary);
    json_t *ev = run_evidence(g, &r, &oc);
    json_t *verdict = gate_evaluate(ev, &cfg->thresholds);
    json_object_set(verdict, "evidence", ev);
    json_object_set_new(verdict, "engine", manifest_engine(g->stack_profile, g->stack_label));
    write_json(&g->oe, r.dir, "verdict.json", verdict);
    json_t *q = quick_summary_json(summary, verdict, &r.ms, rep, r.dir);
    json_object_set_new(q, "engine", manifest_engine(g->stack_profile, g->stack_label));
    json_object_set_new(q, "arm", json_string(a->name));
    if (a->c_read_bps)
        json_object_set_new(q, "c_read_bps", json_integer((json_int_t)a->c_read_bps));
    write_json(&g->oe, r.dir, "quick_summary.json", q);
    struct charts_result cr = { 0 };
    struct diag cd = { 0 };
    if (json_array_size(r.phases) && charts_render_bundle(r.dir, NULL, &cr, &cd) == 0)
        json_decref(cr.notes);
    run_write_manifest(g, &r, &oc, block_pos);
    char *codes = jsonx_dump_line(json_object_get(verdict, "reason_codes"));
    note(cfg, "  verdict: run_valid=%s decision_grade=%s codes=%s",
         jsonx_bool(verdict, "run_valid", false) ? "true" : "false",
         jsonx_bool(verdict, "decision_grade", false) ? "true" : "false", codes);
    free(codes);
    json_object_set_new(q, "interrupted", json_boolean(oc.interrupted && !r.crashed));
    *ret_evidence = ev;
    json_decref(verdict);
    json_decref(summary);
    run_fini(&r, &oc);
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
    if ((r = jsonx_write_file(p, v)) < 0) {
        diag_set(d, r, 0, 0, "cannot rewrite %s: %s", p, strerror(-r));
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
    json_decref(g->sizing);
    free(g->dir);
    free(g->plan_path);
    free(g->cache_dir);
}

/* The arms: every mode once, mode C once per ladder level when --c-levels is given. */
static int group_arms(const struct bundle_config *cfg, struct group *g, struct diag *d)
{
    bool has_c = false;
    for (size_t i = 0; i < cfg->n_modes; i++)
        has_c |= cfg->modes[i] == MODE_C;
    if (cfg->c_levels && !has_c)
        return diag_set(d, -EINVAL, 0, 0, "--c-levels needs mode C in --mode");
    if (cfg->c_levels) {
        double ceiling = 0;
        json_t *probe = NULL;
        struct diag pd = { 0 };
        if (cfg->probe_path && jsonx_load_file(cfg->probe_path, &probe, &pd) == 0)
            ceiling = ladder_probe_read_ceiling(probe);
        json_decref(probe);
        int r = ladder_parse_levels(cfg->c_levels, ceiling, g->levels, LADDER_MAX_LEVELS,
                                    &g->n_levels, d);
        if (r < 0)
            return r;
    }
    g->n_arms = 0;
    for (size_t i = 0; i < cfg->n_modes; i++) {
        if (cfg->modes[i] == MODE_C && g->n_levels) {
            for (size_t k = 0; k < g->n_levels; k++) {
                struct arm *a = &g->arms[g->n_arms++];
                a->id = MODE_C;
                a->c_read_bps = g->levels[k].read_bps;
                snprintf(a->name, sizeof(a->name), "%s", g->levels[k].name);
            }
            continue;
        }
        struct arm *a = &g->arms[g->n_arms++];
        *a = (struct arm){ .id = cfg->modes[i] };
        snprintf(a->name, sizeof(a->name), "%s", mode_name(cfg->modes[i]));
    }
    return 0;
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
    /* the profiles loaded: what fails from here is not in one of their files (issue 11 #14) */
    diag_file(d, NULL);
    /* tier sizes of the largest mode (B2) size the plan, so every mode replays the same plan */
    /* kvtier's own marked subdirectory: nothing of the user's in --disk-cache-dir is touched */
    char *cache_parent = cfg->disk_cache_dir ? xstrdup(cfg->disk_cache_dir)
                                             : fileio_join(cfg->out_dir, ".kvtier-kvcache");
    if (cfg->dry_run) /* the directory a run would claim; nothing is created */
        r = (g->cache_dir = fileio_join(cache_parent, STACK_CACHE_SUBDIR)) ? 0 : -ENOMEM;
    else
        r = stack_cache_dir_claim(cache_parent, &g->cache_dir, d);
    free(cache_parent);
    if (r < 0)
        return r == -EEXIST ? -EINVAL : r;
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
    if ((r = group_arms(cfg, g, d)) < 0)
        return r;
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
    if ((r = group_plan(g, &cap, d)) < 0)
        return r;
    if (!g->g1_blocks)
        g->g1_blocks = plan_g1;
    return 0;
}

/* Writes the group's plan (g->plan_path) sized against cap, replacing g->plan_header. */
static int group_plan(struct group *g, const struct workload_capacity *cap, struct diag *d)
{
    const struct bundle_config *cfg = g->cfg;
    struct workload_options wo;
    workload_options_init(&wo);
    wo.max_requests = cfg->max_requests;
    wo.rate_scale = cfg->rate_scale;
    wo.tail_quantile = cfg->tail_quantile > 0 ? cfg->tail_quantile : 0.95;
    wo.skip_steady = cfg->skip_steady;
    wo.endpoint = cfg->endpoint;
    wo.tokenizer_path = cfg->tokenizer_path;
    char *snap_tok = NULL;
    const char *mpath = json_string_value(jsonx_path(g->stack_profile, "paths.model_path"));
    if (!wo.tokenizer_path && mpath && mpath[0] == '/' && !strchr(mpath, '{')) {
        snap_tok = fileio_join(mpath, "tokenizer.json");
        if (access(snap_tok, R_OK) == 0)
            wo.tokenizer_path = snap_tok;
    }
    json_t *header = NULL;
    int r = workload_plan_write(cfg->profiles_dir, cfg->workload, cfg->dataset, cfg->model,
                                cfg->seed, cap, &wo, g->plan_path, &header, d);
    free(snap_tok);
    if (r < 0)
        return r;
    json_decref(g->plan_header);
    g->plan_header = header;
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
        if (strcmp(jsonx_str(q, "arm", ""), mode))
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

/* Every repeat block in its seeded order; stops after the bundle a stop signal interrupted.
 * Appends each bundle's quick summary and evidence; returns the block order (owned). */
static json_t *run_blocks(struct group *g, json_t *quicks, json_t *evidences, bool *ret_interrupted)
{
    const struct bundle_config *cfg = g->cfg;
    size_t total = g->n_arms * cfg->repeats;
    size_t *order = xcalloc(total, sizeof(size_t));
    bundle_block_order(g->n_arms, cfg->repeats, cfg->seed, order);
    note(cfg, "group %s: %zu bundle(s), plan %s", g->dir, total, g->plan_path);
    json_t *blocks = json_array();
    unsigned rep_of[MODE__COUNT + LADDER_MAX_LEVELS] = { 0 };
    bool interrupted = false;
    for (unsigned b = 0; b < cfg->repeats && !interrupted; b++) {
        json_t *blk = json_array();
        for (size_t k = 0; k < g->n_arms; k++) {
            size_t at = (size_t)b * g->n_arms + k;
            assert(at < total && order[at] < g->n_arms);
            const struct arm *a = &g->arms[order[at]];
            json_array_append_new(blk, json_string(a->name));
            json_t *ev = NULL;
            json_t *q = run_one(g, a, ++rep_of[order[at]], (unsigned)k, &ev);
            json_array_append_new(quicks, q);
            json_array_append_new(evidences, ev);
            if (cfg->interrupt_flag && *cfg->interrupt_flag) {
                interrupted = true;
                break;
            }
        }
        json_array_append_new(blocks, blk);
    }
    free(order);
    *ret_interrupted = interrupted;
    return blocks;
}

/* Every bundle's verdict judged again with its mode's repeat statistics; rewrites verdict.json
 * and quick_summary.json. Returns the group's bundle list (owned). */
static json_t *rejudge(struct group *g, json_t *quicks, json_t *evidences, json_t *per_mode,
                       bool *ret_all_valid)
{
    const struct bundle_config *cfg = g->cfg;
    bool all_valid = true;
    json_t *bundles = json_array();
    size_t i;
    json_t *q;
    assert(json_array_size(quicks) == json_array_size(evidences));
    json_array_foreach (quicks, i, q) {
        json_t *ms = json_object_get(per_mode, jsonx_str(q, "arm", ""));
        json_t *ev = json_array_get(evidences, i);
        json_t *rp = json_object();
        json_object_set(rp, "n", json_object_get(ms, "n"));
        json_object_set(rp, "cv_replay_ttft_p50", json_object_get(ms, "cv_replay_ttft_p50"));
        json_object_set(rp, "replay_ttft_p50_ms", json_object_get(ms, "replay_ttft_p50_ms"));
        json_object_set_new(ev, "repeats", rp);
        json_t *v = gate_evaluate(ev, &cfg->thresholds);
        json_object_set(v, "evidence", ev);
        json_object_set_new(v, "engine", manifest_engine(g->stack_profile, g->stack_label));
        const char *dir = jsonx_str(q, "bundle", "");
        write_json(&g->oe, dir, "verdict.json", v);
        json_object_set(q, "run_valid", json_object_get(v, "run_valid"));
        json_object_set(q, "decision_grade", json_object_get(v, "decision_grade"));
        json_object_set(q, "reason_codes", json_object_get(v, "reason_codes"));
        write_json(&g->oe, dir, "quick_summary.json", q);
        if (!jsonx_bool(v, "run_valid", false))
            all_valid = false;
        json_t *bj = json_object();
        json_object_set(bj, "mode", json_object_get(q, "mode"));
        json_object_set(bj, "arm", json_object_get(q, "arm"));
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
    *ret_all_valid = all_valid;
    return bundles;
}

/* Descriptive ratios for the mode pairs the plan's questions ask: does KVBM help, does the SSD
 * add to it. Owned. */
static json_t *comparisons_json(const json_t *per_mode)
{
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
    return cmp;
}

/* Unified memory (GB10): weights, G1 and the pinned G2 all come from the same DRAM. */
static json_t *dry_memory(const struct group *g)
{
    struct mode_settings b2;
    mode_settings_for(g, MODE_B2, &b2);
    double w = profile_weight_total_bytes(&g->model);
    double g1b = (double)g->g1_blocks * (double)b2.bytes_per_block;
    double g2b = (double)mode_cpu_blocks(&b2) * (double)b2.bytes_per_block;
    double budget = 0.8 * g->hw.memory_bytes;
    json_t *um = json_object();
    json_object_set_new(um, "unified", json_boolean(g->hw.unified_memory));
    jsonx_set_num(um, "memory_bytes", g->hw.memory_bytes);
    jsonx_set_num(um, "weights_bytes", w);
    jsonx_set_num(um, "g1_bytes", g1b);
    jsonx_set_num(um, "g2_bytes", g2b);
    jsonx_set_num(um, "budget_bytes", budget);
    json_object_set_new(um, "fits", json_boolean(!g->hw.unified_memory || w + g1b + g2b <= budget));
    json_object_set_new(um, "rule",
                        json_string("unified memory: weights + G1 + G2 <= 0.8 x memory "
                                    "(the rest: OS, CUDA context, activations)"));
    return um;
}

int bundle_dry_run(const struct bundle_config *cfg, json_t **ret, struct diag *d)
{
    struct bundle_config c = *cfg;
    c.dry_run = true;
    const char *tmp_base = getenv("TMPDIR");
    char *tmp =
        xalloc_printf("%s/kvtier-dry-run.XXXXXX", tmp_base && *tmp_base ? tmp_base : "/tmp");
    char *cache = NULL;
    if (!mkdtemp(tmp)) {
        int e = -errno;
        free(tmp);
        return diag_set(d, e, 0, 0, "cannot create a temporary directory: %s", strerror(-e));
    }
    if (!c.disk_cache_dir)
        c.disk_cache_dir = cache = fileio_join(cfg->out_dir, ".kvtier-kvcache");
    c.out_dir = tmp;
    struct group g = { 0 };
    int r = group_prepare(&c, &g, d);
    json_t *doc = NULL;
    if (r < 0)
        goto out;
    doc = json_object();
    json_object_set_new(doc, "kind", json_string("kvtier.dry_run"));
    json_object_set_new(doc, "stack", json_string(g.stack_label));
    json_object_set_new(doc, "stack_kind", json_string(jsonx_str(g.stack_profile, "kind", "")));
    json_object_set_new(doc, "runtime", json_string(jsonx_str(g.stack_profile, "runtime", "host")));
    json_object_set_new(doc, "model", json_string(g.model.name));
    json_object_set_new(doc, "hardware", json_string(g.hardware));
    json_object_set_new(doc, "disk_cache_dir", json_string(g.cache_dir));
    json_object_set_new(doc, "g1_blocks", json_integer((json_int_t)g.g1_blocks));
    json_object_set_new(doc, "plan_capacity",
                        json_deep_copy(json_object_get(g.plan_header, "capacity")));
    json_object_set_new(doc, "pressure",
                        json_deep_copy(json_object_get(g.plan_header, "pressure")));
    json_object_set_new(doc, "memory", dry_memory(&g));
    const char *gname = strrchr(g.dir, '/') ? strrchr(g.dir, '/') + 1 : g.dir;
    json_t *modes = json_array();
    for (size_t i = 0; i < cfg->n_modes; i++) {
        struct mode_settings ms;
        mode_settings_for(&g, cfg->modes[i], &ms);
        char *ld =
            xalloc_printf("%s/%s/%s/r01/raw/stack", cfg->out_dir, gname, mode_name(cfg->modes[i]));
        char *wd = xalloc_printf("%s/work", ld);
        struct stack_opts so = {
            .profile = g.stack_profile,
            .model = g.model.name,
            .hf_id = g.model.hf_id,
            .served_model = cfg->served_model,
            .hardware = g.hardware,
            .profiles_dir = cfg->profiles_dir,
            .kvtier_path = cfg->kvtier_path,
            .log_dir = ld,
            .work_dir = wd,
            .cgroup_name = "",
            .g1_blocks = g.g1_blocks,
            .max_seq_len = g.model.max_sequence_length,
            .max_num_tokens = g.model.max_num_tokens,
            .max_batch_size = g.model.max_batch_size,
            .tokens_per_block = g.model.tokens_per_block,
            .mode = ms,
            .url = cfg->url,
            .kvbm_metrics_url = cfg->kvbm_metrics_url,
            .frontend_metrics_url = cfg->frontend_metrics_url,
            .dry_run = true,
        };
        struct stack *st = NULL;
        struct diag sd = { 0 };
        int lr = stack_launch(&so, &st, &sd);
        json_t *mj = json_object();
        json_object_set_new(mj, "mode", json_string(mode_name(ms.id)));
        json_object_set_new(mj, "settings", mode_settings_json(&ms));
        json_object_set_new(mj, "launch", json_deep_copy(st->record));
        json_object_set_new(mj, "error", lr < 0 ? json_string(sd.msg) : json_null());
        json_array_append_new(modes, mj);
        stack_free(st);
        free(ld);
        free(wd);
    }
    json_object_set_new(doc, "modes", modes);
out:
    if (g.plan_path)
        unlink(g.plan_path);
    if (g.dir)
        rmdir(g.dir);
    rmdir(tmp);
    group_fini(&g);
    free(tmp);
    free(cache);
    *ret = doc;
    return r;
}

int bundle_run(const struct bundle_config *cfg, json_t **ret_group, struct diag *d)
{
    struct group g = { 0 };
    int r = group_prepare(cfg, &g, d);
    if (r < 0) {
        group_fini(&g);
        return r;
    }
    /* a runner killed before its teardown left its cgroups (and what ran in them) behind */
    int stale = cgroup_reap_stale(NULL);
    if (stale > 0)
        note(cfg, "removed %d stale kvtier cgroup(s) of runners that are gone", stale);
    json_t *quicks = json_array();
    json_t *evidences = json_array();
    bool interrupted = false, all_valid = true;
    json_t *blocks = run_blocks(&g, quicks, evidences, &interrupted);
    /* repeats: stability per mode, then every bundle's verdict is re-judged with it */
    json_t *per_mode = json_object();
    for (size_t k = 0; k < g.n_arms; k++) {
        const char *mn = g.arms[k].name;
        if (!json_object_get(per_mode, mn))
            json_object_set_new(per_mode, mn, mode_stats(quicks, mn, cfg->seed));
    }
    json_t *bundles = rejudge(&g, quicks, evidences, per_mode, &all_valid);
    json_t *gs = json_object();
    json_object_set_new(gs, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(gs, "kind", json_string("kvtier.group"));
    json_object_set_new(gs, "group_dir", json_string(g.dir));
    json_object_set_new(gs, "stack", json_string(g.stack_label));
    json_object_set_new(gs, "engine", manifest_engine(g.stack_profile, g.stack_label));
    json_object_set_new(gs, "model", json_string(cfg->model));
    json_object_set_new(gs, "workload", json_string(cfg->workload));
    json_object_set_new(gs, "dataset", json_string(cfg->dataset));
    json_object_set_new(gs, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(gs, "repeats", json_integer(cfg->repeats));
    json_object_set_new(gs, "plan", json_string(g.plan_path));
    json_object_set_new(gs, "block_order", blocks);
    json_object_set_new(gs, "bundles", bundles);
    json_object_set_new(gs, "per_mode", per_mode);
    json_object_set_new(gs, "comparisons", comparisons_json(per_mode));
    if (g.n_levels) {
        json_t *lad = ladder_report(g.levels, g.n_levels, quicks, cfg->seed);
        struct charts_result cr = { 0 };
        int lr = ladder_write_chart(g.dir, lad, NULL, &cr);
        if (lr < 0 && lr != -EIO) /* -EIO: gnuplot failed, the script and data are there */
            out_check(&g.oe, g.dir, lr);
        json_object_set_new(gs, "c_ladder", lad);
        note(cfg, "Mode C ladder: %s (Spearman rho %.3f, p %.4f, n %lld)",
             jsonx_str(lad, "outcome", "?"), jsonx_num(lad, "spearman_rho", NAN),
             jsonx_num(lad, "p_value", NAN), (long long)jsonx_i64(lad, "n", 0));
    }
    json_object_set_new(gs, "interrupted", json_boolean(interrupted));
    json_object_set_new(gs, "all_run_valid", json_boolean(all_valid && !interrupted));
    json_object_set_new(gs, "thresholds", gate_thresholds_json(&cfg->thresholds));
    write_json(&g.oe, g.dir, "group_summary.json", gs);
    json_decref(quicks);
    json_decref(evidences);
    r = 0;
    if (g.oe.err < 0) /* every bundle went as far as it could; the run still failed */
        r = diag_set(d, g.oe.err, 0, 0, "cannot write %s: %s", g.oe.path, strerror(-g.oe.err));
    group_fini(&g);
    *ret_group = gs;
    return r;
}
