/* SPDX-License-Identifier: Apache-2.0 */
/* The sampler (see observe.h).
 *
 * Design: all sampling state lives in struct observe and is guarded by one mutex. A sample
 * (sample_once) reads every source once, writes one row per CSV computed against the previous
 * sample (rates over the measured interval) and keeps the raw readings. The thread calls it
 * on absolute deadlines; phase marks call it too, so every phase edge has an exact sample, and
 * then copy the raw readings into a phase snapshot. Per-phase figures are differences of
 * snapshots: diskstats counters with 32-bit wrap of the ms fields, the serving tree's
 * accumulated /proc/PID/io deltas (a pid's delta counts only while it is seen; new pids count
 * from zero), cgroup counters, PSI totals, fanotify event totals, and the metrics pages. */
#include "observe/observe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/devinfo.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/kfile.h"
#include "common/procio.h"
#include "common/xalloc.h"
#include "observe/attrib.h"
#include "observe/cgio.h"
#include "observe/diskstats.h"
#include "observe/gpu.h"
#include "observe/netdev.h"
#include "observe/noise.h"
#include "observe/pagecache.h"
#include "observe/promdelta.h"
#include "observe/scrape.h"
#include "observe/smart.h"

#define TREE_RESCAN_NS   (1000ULL * CLK_NS_PER_MS) /* process tree rebuilt at most this often */
#define NVME_CLI_TIMEOUT (10ULL * CLK_NS_PER_S)
#define OTHERS_MAX       65536 /* processes in the phase-edge scan */

enum csv_id {
    CSV_IOSTAT,
    CSV_PIDIO,
    CSV_CGROUP,
    CSV_NOISE,
    CSV_GPU,
    CSV_NET,
    CSV_KVBM,
    CSV_FE,
    CSV__COUNT
};

static const char *const csv_names[CSV__COUNT] = {
    "os_iostat.csv", "os_pid_io.csv", "cgroup_io.csv",       "noise.csv",
    "gpu.csv",       "net_dev.csv",   "kvbm_timeseries.csv", "frontend_timeseries.csv",
};

static const char *const csv_headers[CSV__COUNT] = {
    "t_unix_ns,t_s,interval_s,device,r/s,w/s,rkB/s,wkB/s,rrqm/s,wrqm/s,%rrqm,%wrqm,r_await,"
    "w_await,aqu-sz,rareq-sz,wareq-sz,%util,d/s,dkB/s,drqm/s,%drqm,d_await,dareq-sz,f/s,f_await,"
    "read_bytes,write_bytes,discard_bytes,in_flight,reset",
    "t_unix_ns,t_s,interval_s,pid,comm,kB_rd/s,kB_wr/s,kB_ccwr/s,iodelay,rchar,wchar,syscr,syscw,"
    "read_bytes,write_bytes,cancelled_write_bytes,status",
    "t_unix_ns,t_s,interval_s,cgroup_version,path,device,rbytes,wbytes,rios,wios,dbytes,dios,"
    "rbytes_per_s,wbytes_per_s,rios_per_s,wios_per_s",
    "t_unix_ns,t_s,interval_s,psi_cpu_some_pct,psi_io_some_pct,psi_io_full_pct,psi_mem_some_pct,"
    "psi_mem_full_pct,psi_cpu_some_avg10,psi_io_some_avg10,psi_mem_full_avg10,load1,load5,load15,"
    "procs_running,procs_blocked,cpufreq_ratio,cpufreq_cap_ratio,thermal_max_c,cooling_active,"
    "dirty_bytes,writeback_bytes,device_read_bytes_per_s,server_read_bytes_per_s,"
    "other_read_bytes_per_s,other_write_bytes_per_s,gpu_throttled",
    "t_unix_ns,t_s,gpu,name,util_pct,mem_util_pct,mem_used_bytes,mem_total_bytes,power_mw,"
    "sm_clock_mhz,temp_c,reasons_hex,reasons,throttled",
    "t_unix_ns,t_s,interval_s,iface,rx_bytes,tx_bytes,rx_packets,tx_packets,rx_errs,tx_errs,"
    "rx_drop,tx_drop,rx_bytes_per_s,tx_bytes_per_s",
    "t_unix_ns,t_s,endpoints_ok,endpoints,series,value",
    "t_unix_ns,t_s,endpoints_ok,endpoints,series,value",
};

struct pidstate {
    pid_t pid;
    char comm[PROCIO_COMM_MAX];
    struct procio io;
    uint64_t blkio_ticks;
    bool ok;
};

struct endpoint {
    struct scrape *sc;
    struct prom_page page; /* last successful page of the latest sample */
    bool ok;               /* the latest sample's scrape worked */
    char err[SCRAPE_ERR_MAX];
};

struct snap {
    uint64_t t_ns, t_unix_ns;
    bool disk_ok;
    struct diskstats_dev disk;
    uint64_t tree_acc[PROCIO_KEY__COUNT];
    bool cg_ok;
    struct cgio_dev cg;
    struct noise_sample noise;
    struct attrib_totals at;
    struct prom_page *kvbm[OBSERVE_MAX_URLS];
    struct prom_page *fe;
    struct pidstate *others;
    size_t n_others;
};

struct phase_acc {
    uint64_t procs_blocked_max;
    double thermal_max_c, cpufreq_min;
    unsigned cooling_max;
    bool gpu_throttled;
    uint64_t dirty_max;
};

struct observe {
    /* configuration (owned copies) */
    char *proc_root, *sys_root, *dev_root, *kv_dir, *proc_name, *cg_path, *os_dir, *raw_dir,
        *metrics_dir, *nvml_path, *nvme_cli;
    char device[DISKSTATS_NAME_MAX];
    unsigned listen_port;
    uint64_t interval_ns, scrape_timeout_ns;
    const struct clk *clk;
    bool no_gpu, no_smart, manual;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop, stopped, started;
    uint64_t final_cpu_ns;
    clockid_t thread_clock;
    bool have_thread_clock;

    FILE *csv[CSV__COUNT];
    int write_err;
    uint64_t flush_ns; /* last fflush of the CSVs (real monotonic clock) */
    struct kfile kf;   /* kept /proc and /sys descriptors (sampling under the lock) */
    struct buf rbuf;   /* read buffer for kept files */
    json_t *sources;

    /* device */
    bool dev_ok;
    char dev_reason[256];
    struct diskstats_dev disk_prev;
    bool disk_prev_ok;

    /* process tree */
    pid_t roots[OBSERVE_MAX_PIDS];
    size_t n_roots;
    pid_t *tree;
    size_t n_tree;
    uint64_t tree_scan_ns;
    struct pidstate *prev;
    size_t n_prev;
    uint64_t tree_acc[PROCIO_KEY__COUNT];
    unsigned tree_unreadable;
    uint64_t prev_boot_ticks; /* CLOCK_BOOTTIME ticks at the previous sample */

    /* cgroup */
    bool cg_ok;
    int cg_version;
    struct cgio_dev *cg_prev;
    size_t n_cg_prev;

    /* noise, net, gpu */
    struct noise_sample noise_prev;
    bool noise_prev_ok;
    struct netdev_iface *net_prev;
    size_t n_net_prev;
    struct gpu gpu;
    bool gpu_ok;
    char gpu_reason[GPU_REASON_MAX];

    /* metrics */
    struct endpoint kvbm[OBSERVE_MAX_URLS];
    size_t n_kvbm;
    struct endpoint fe;
    bool have_fe;

    /* attribution */
    struct attrib *at;
    char at_reason[ATTRIB_REASON_MAX];
    json_t *phase_attrib; /* array of per-phase attribution objects */

    /* SMART */
    bool smart_pre_ok;
    struct smart_log smart_pre;
    char nvme_ctrl[64];

    /* timing */
    uint64_t t0_ns, last_ns;
    bool have_last;
    uint64_t samples;

    /* phase */
    char phase[OBSERVE_PHASE_NAME_MAX];
    bool in_phase, was_in_phase;
    struct snap begin;
    struct phase_acc acc;
};

/* ---- small helpers ---- */

static uint64_t now_ns(const struct observe *o)
{
    return o->clk->now_ns(o->clk);
}

static uint64_t wall_ns(const struct observe *o)
{
    return o->clk->wall_unix_ns(o->clk);
}

static void set_source(struct observe *o, const char *name, bool ok, const char *reason,
                       json_t *extra)
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

static json_t *unavailable_json(const char *reason)
{
    json_t *j = json_object();
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(j, "status", json_string("unavailable"));
    json_object_set_new(j, "reason", json_string(reason));
    return j;
}

static void note_write(struct observe *o, int r)
{
    if (r < 0 && o->write_err == 0)
        o->write_err = r;
}

static void csv_row(struct observe *o, enum csv_id id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void csv_row(struct observe *o, enum csv_id id, const char *fmt, ...)
{
    if (!o->csv[id])
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(o->csv[id], fmt, ap) < 0)
        note_write(o, -EIO);
    va_end(ap);
}

/* A CSV number cell: empty when NaN. */
static const char *numcell(char *buf, size_t len, double v)
{
    if (isnan(v))
        buf[0] = 0;
    else
        snprintf(buf, len, "%.3f", v);
    return buf;
}

static char *dir_file(const char *dir, const char *name)
{
    return fileio_join(dir, name);
}

static int write_json(struct observe *o, const char *dir, const char *name, json_t *j)
{
    char *p = dir_file(dir, name);
    int r = jsonx_write_file(p, j);
    free(p);
    note_write(o, r);
    return r;
}

static bool valid_phase_name(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l == 0 || l >= OBSERVE_PHASE_NAME_MAX)
        return false;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return n[0] != '.';
}

/* ---- sources ---- */

static int kread(struct observe *o, const char *path)
{
    return kfile_read(&o->kf, path, &o->rbuf);
}

static int read_disk(struct observe *o, struct diskstats_dev *ret)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/diskstats", o->proc_root);
    int r = kread(o, path);
    return r < 0 ? r : diskstats_find(buf_str(&o->rbuf), o->rbuf.len, o->device, ret);
}

static int read_pid(struct observe *o, pid_t pid, struct procio *io, char *comm, size_t comm_len,
                    uint64_t *ticks, uint64_t *start_ticks, int *ret_stat)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%d/stat", o->proc_root, (int)pid);
    int rs = kread(o, path);
    if (rs == 0)
        rs = procio_parse_stat(buf_str(&o->rbuf), o->rbuf.len, comm, comm_len, NULL, ticks);
    if (rs == 0 && procio_parse_starttime(buf_str(&o->rbuf), o->rbuf.len, start_ticks) < 0)
        *start_ticks = 0;
    *ret_stat = rs;
    snprintf(path, sizeof(path), "%s/%d/io", o->proc_root, (int)pid);
    int r = kread(o, path);
    return r < 0 ? r : procio_parse(buf_str(&o->rbuf), o->rbuf.len, io);
}

static int read_cg(struct observe *o, struct cgio_dev *devs, size_t max, int *ret_version)
{
    char *p = fileio_join(
        o->cg_path, o->cg_version == 2 ? "io.stat" : "blkio.throttle.io_service_bytes_recursive");
    int r = kread(o, p);
    free(p);
    if (r < 0)
        return r;
    *ret_version = o->cg_version;
    if (o->cg_version == 2)
        return cgio_parse_v2(buf_str(&o->rbuf), o->rbuf.len, devs, max);
    char *bytes = buf_take_str(&o->rbuf);
    size_t bl = strlen(bytes);
    p = fileio_join(o->cg_path, "blkio.throttle.io_serviced_recursive");
    r = kread(o, p);
    free(p);
    r = cgio_parse_v1(bytes, bl, r < 0 ? NULL : buf_str(&o->rbuf), r < 0 ? 0 : o->rbuf.len, devs,
                      max);
    free(bytes);
    return r;
}

static void scan_tree(struct observe *o, uint64_t t)
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

/* CLOCK_BOOTTIME in clock ticks: the unit of /proc/PID/stat starttime. */
static uint64_t boot_ticks_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    long hz = sysconf(_SC_CLK_TCK);
    return (uint64_t)ts.tv_sec * (uint64_t)hz +
           (uint64_t)ts.tv_nsec / (1000000000ULL / (uint64_t)hz);
}

static const struct pidstate *find_prev(const struct pidstate *a, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].pid == pid)
            return &a[i];
    return NULL;
}

static void sample_pids(struct observe *o, uint64_t t, double itv, const char *tcols,
                        uint64_t *ret_read_delta, uint64_t *ret_write_delta)
{
    if (!o->tree || t - o->tree_scan_ns >= TREE_RESCAN_NS || !o->have_last)
        scan_tree(o, t);
    struct pidstate *cur = xcalloc(o->n_tree ? o->n_tree : 1, sizeof(*cur));
    uint64_t sum_delta[PROCIO_KEY__COUNT] = { 0 };
    double tick_rd = 0, tick_wr = 0, tick_cc = 0;
    uint64_t tick_delay = 0;
    unsigned unreadable = 0;
    for (size_t i = 0; i < o->n_tree; i++) {
        struct pidstate *c = &cur[i];
        c->pid = o->tree[i];
        int rs = 0;
        uint64_t start_ticks = 0;
        int r = read_pid(o, c->pid, &c->io, c->comm, sizeof(c->comm), &c->blkio_ticks, &start_ticks,
                         &rs);
        c->ok = r == 0;
        if (rs < 0)
            snprintf(c->comm, sizeof(c->comm), "?");
        if (!c->ok) {
            unreadable++;
            if (o->have_last)
                csv_row(o, CSV_PIDIO, "%s%d,%s,,,,,,,,,,,,%s\n", tcols, (int)c->pid, c->comm,
                        r == -EACCES || r == -EPERM ? "eacces" : "gone");
            continue;
        }
        const struct pidstate *p = find_prev(o->prev, o->n_prev, c->pid);
        uint64_t d[PROCIO_KEY__COUNT];
        bool have_p = p && p->ok;
        /* A pid not seen before counts from zero only if it started after the previous sample
         * (a child born in the interval); a process adopted later (observe_add_pid of a
         * running server, a name or port match) starts from its current counters. */
        bool born_since = o->have_last && start_ticks >= o->prev_boot_ticks;
        for (int k = 0; k < PROCIO_KEY__COUNT; k++) {
            uint64_t base = have_p ? p->io.v[k] : (born_since ? 0 : c->io.v[k]);
            d[k] = c->io.v[k] >= base ? c->io.v[k] - base : 0;
            sum_delta[k] += d[k];
        }
        uint64_t dticks =
            have_p && c->blkio_ticks >= p->blkio_ticks ? c->blkio_ticks - p->blkio_ticks : 0;
        if (o->have_last && itv > 0) {
            double rd = (double)d[PROCIO_READ_BYTES] / itv / 1024;
            double wr = (double)d[PROCIO_WRITE_BYTES] / itv / 1024;
            double cc = (double)d[PROCIO_CANCELLED_WRITE_BYTES] / itv / 1024;
            tick_rd += rd;
            tick_wr += wr;
            tick_cc += cc;
            tick_delay += dticks;
            csv_row(o, CSV_PIDIO,
                    "%s%d,%s,%.2f,%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",ok\n",
                    tcols, (int)c->pid, c->comm, rd, wr, cc, dticks, c->io.v[PROCIO_RCHAR],
                    c->io.v[PROCIO_WCHAR], c->io.v[PROCIO_SYSCR], c->io.v[PROCIO_SYSCW],
                    c->io.v[PROCIO_READ_BYTES], c->io.v[PROCIO_WRITE_BYTES],
                    c->io.v[PROCIO_CANCELLED_WRITE_BYTES]);
        }
    }
    if (o->have_last && itv > 0 && o->n_tree > 0) {
        for (int k = 0; k < PROCIO_KEY__COUNT; k++)
            o->tree_acc[k] += sum_delta[k];
        csv_row(o, CSV_PIDIO,
                "%s0,TREE,%.2f,%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s\n",
                tcols, tick_rd, tick_wr, tick_cc, tick_delay, o->tree_acc[PROCIO_RCHAR],
                o->tree_acc[PROCIO_WCHAR], o->tree_acc[PROCIO_SYSCR], o->tree_acc[PROCIO_SYSCW],
                o->tree_acc[PROCIO_READ_BYTES], o->tree_acc[PROCIO_WRITE_BYTES],
                o->tree_acc[PROCIO_CANCELLED_WRITE_BYTES], unreadable ? "partial" : "ok");
    }
    o->prev_boot_ticks = boot_ticks_now();
    *ret_read_delta = o->have_last ? sum_delta[PROCIO_READ_BYTES] : 0;
    *ret_write_delta = o->have_last ? sum_delta[PROCIO_WRITE_BYTES] : 0;
    free(o->prev);
    o->prev = cur;
    o->n_prev = o->n_tree;
    o->tree_unreadable = unreadable;
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

static void sample_cgroup(struct observe *o, double itv, const char *tcols)
{
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
        csv_row(o, CSV_CGROUP,
                "%s%d,%s,%u:%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%.1f,%.1f,%.2f,%.2f\n",
                tcols, v, o->cg_path, cur[i].major, cur[i].minor, cur[i].rbytes, cur[i].wbytes,
                cur[i].rios, cur[i].wios, cur[i].dbytes, cur[i].dios, RATE(rbytes), RATE(wbytes),
                RATE(rios), RATE(wios));
#undef RATE
    }
    free(o->cg_prev);
    o->cg_prev = cur;
    o->n_cg_prev = (size_t)n;
}

static void sample_net(struct observe *o, double itv, const char *tcols)
{
    struct netdev_iface *cur = xcalloc(NETDEV_MAX_IFACES, sizeof(*cur));
    char path[512];
    snprintf(path, sizeof(path), "%s/net/dev", o->proc_root);
    int n = kread(o, path);
    if (n >= 0)
        n = netdev_parse(buf_str(&o->rbuf), o->rbuf.len, cur, NETDEV_MAX_IFACES);
    if (n < 0) {
        free(cur);
        return;
    }
    for (int i = 0; i < n && o->have_last && itv > 0; i++) {
        const struct netdev_iface *p = NULL;
        for (size_t k = 0; k < o->n_net_prev; k++)
            if (!strcmp(o->net_prev[k].name, cur[i].name))
                p = &o->net_prev[k];
        double rx =
            p && cur[i].rx_bytes >= p->rx_bytes ? (double)(cur[i].rx_bytes - p->rx_bytes) / itv : 0;
        double tx =
            p && cur[i].tx_bytes >= p->tx_bytes ? (double)(cur[i].tx_bytes - p->tx_bytes) / itv : 0;
        csv_row(o, CSV_NET,
                "%s%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f\n",
                tcols, cur[i].name, cur[i].rx_bytes, cur[i].tx_bytes, cur[i].rx_packets,
                cur[i].tx_packets, cur[i].rx_errs, cur[i].tx_errs, cur[i].rx_drop, cur[i].tx_drop,
                rx, tx);
    }
    free(o->net_prev);
    o->net_prev = cur;
    o->n_net_prev = (size_t)n;
}

static bool sample_gpu(struct observe *o, const char *tcols_nointv)
{
    bool throttled = false;
    if (!o->gpu_ok)
        return false;
    for (unsigned i = 0; i < o->gpu.count; i++) {
        struct gpu_sample s;
        if (gpu_sample(&o->gpu, i, &s) < 0)
            continue;
        char names[GPU_REASON_MAX];
        gpu_reason_names(s.reasons, names, sizeof(names));
        bool th = s.has_reasons && gpu_reasons_throttled(s.reasons);
        throttled = throttled || th;
        char c[8][32];
        csv_row(o, CSV_GPU, "%s%u,\"%s\",%s,%s,%s,%s,%s,%s,%s,%s%" PRIx64 ",%s,%d\n", tcols_nointv,
                i, s.name, s.has_util ? (snprintf(c[0], 32, "%u", s.util_pct), c[0]) : "",
                s.has_util ? (snprintf(c[1], 32, "%u", s.mem_util_pct), c[1]) : "",
                s.has_mem ? (snprintf(c[2], 32, "%" PRIu64, s.mem_used_bytes), c[2]) : "",
                s.has_mem ? (snprintf(c[3], 32, "%" PRIu64, s.mem_total_bytes), c[3]) : "",
                s.has_power ? (snprintf(c[4], 32, "%u", s.power_mw), c[4]) : "",
                s.has_clock ? (snprintf(c[5], 32, "%u", s.sm_clock_mhz), c[5]) : "",
                s.has_temp ? (snprintf(c[6], 32, "%u", s.temp_c), c[6]) : "",
                s.has_reasons ? "0x" : "", s.has_reasons ? s.reasons : 0,
                s.has_reasons ? names : "", th ? 1 : 0);
    }
    return throttled;
}

static void scrape_endpoint(struct observe *o, struct endpoint *e, struct buf *b)
{
    struct diag d = { 0 };
    int r = scrape_fetch(e->sc, o->scrape_timeout_ns, b, e->err);
    if (r == 0) {
        struct prom_page p;
        r = prom_parse(buf_str(b), b->len, &p, &d);
        if (r < 0) {
            snprintf(e->err, sizeof(e->err), "%.100s: line %u: %.140s", scrape_url(e->sc), d.line,
                     d.msg);
        } else {
            prom_page_fini(&e->page);
            e->page = p;
        }
    }
    e->ok = r == 0;
}

static void write_timeseries(struct observe *o, enum csv_id id, struct endpoint *eps, size_t n,
                             const char *tcols)
{
    const struct prom_page *pages[OBSERVE_MAX_URLS];
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        pages[i] = eps[i].ok ? &eps[i].page : NULL;
        ok += eps[i].ok;
    }
    if (!o->csv[id])
        return;
    json_t *sum = promdelta_sum_json(pages, n);
    json_t *series = json_object_get(sum, "series");
    const char *key;
    json_t *v;
    json_object_foreach (series, key, v) {
        /* Histogram buckets stay out of the time series (they are in the phase deltas). */
        const char *brace = strchr(key, '{');
        size_t nl = brace ? (size_t)(brace - key) : strlen(key);
        if (nl > 7 && !memcmp(key + nl - 7, "_bucket", 7))
            continue;
        char num[64];
        if (json_is_number(v))
            snprintf(num, sizeof(num), "%.17g", json_number_value(v));
        else
            num[0] = 0;
        /* CSV-quote the key: labels contain commas and quotes. */
        struct buf q;
        buf_init(&q, 0);
        for (const char *p = key; *p; p++) {
            if (*p == '"')
                buf_append_str(&q, "\"\"");
            else
                buf_append(&q, p, 1);
        }
        csv_row(o, id, "%s%zu,%zu,\"%s\",%s\n", tcols, ok, n, buf_str(&q), num);
        buf_fini(&q);
    }
    json_decref(sum);
}

static void observe_flush(struct observe *o)
{
    for (int i = 0; i < CSV__COUNT; i++)
        if (o->csv[i] && fflush(o->csv[i]) != 0)
            note_write(o, -errno);
}

/* One sample of everything. Lock held. */
static int sample_once(struct observe *o)
{
    uint64_t t = now_ns(o), tw = wall_ns(o);
    double itv = o->have_last ? (double)(t - o->last_ns) / 1e9 : 0;
    double ts = (double)(t - o->t0_ns) / 1e9;
    char tcols[128], tcols2[96];
    snprintf(tcols, sizeof(tcols), "%" PRIu64 ",%.3f,%.3f,", tw, ts, itv);
    snprintf(tcols2, sizeof(tcols2), "%" PRIu64 ",%.3f,", tw, ts);
    if (o->have_last && t == o->last_ns)
        return 0; /* no time passed: nothing to rate */

    /* device */
    struct diskstats_dev disk;
    bool disk_ok = o->dev_ok && read_disk(o, &disk) == 0;
    struct diskstats_rates dr = { 0 };
    if (disk_ok && o->disk_prev_ok && itv > 0) {
        diskstats_rates(&o->disk_prev, &disk, itv, &dr);
        csv_row(o, CSV_IOSTAT,
                "%s%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,"
                "%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%d\n",
                tcols, o->device, dr.r_per_s, dr.w_per_s, dr.rkb_per_s, dr.wkb_per_s, dr.rrqm_per_s,
                dr.wrqm_per_s, dr.rrqm_pct, dr.wrqm_pct, dr.r_await_ms, dr.w_await_ms, dr.aqu_sz,
                dr.rareq_kb, dr.wareq_kb, dr.util_pct, dr.d_per_s, dr.dkb_per_s, dr.drqm_per_s,
                dr.drqm_pct, dr.d_await_ms, dr.dareq_kb, dr.f_per_s, dr.f_await_ms, dr.read_bytes,
                dr.write_bytes, dr.discard_bytes, disk.f[DISKSTATS_IN_FLIGHT], dr.reset ? 1 : 0);
    }

    /* processes */
    uint64_t server_rd = 0, server_wr = 0;
    sample_pids(o, t, itv, tcols, &server_rd, &server_wr);

    sample_cgroup(o, itv, tcols);
    sample_net(o, itv, tcols);
    bool gpu_th = sample_gpu(o, tcols2);

    /* noise */
    struct noise_sample ns;
    noise_read(o->proc_root, o->sys_root, kfile_read, &o->kf, &ns);
    if (o->have_last && itv > 0) {
        char c[24][32];
        const struct noise_psi *pp = o->noise_prev.psi, *cp = ns.psi;
#define PSI(res, field) \
    (cp[res].present && pp[res].present ? noise_psi_pct(pp[res].field, cp[res].field, itv) : NAN)
        double dev_rd = disk_ok && o->disk_prev_ok ? (double)dr.read_bytes / itv : NAN;
        double srv_rd = (double)server_rd / itv;
        double other_rd = isnan(dev_rd) ? NAN : (dev_rd > srv_rd ? dev_rd - srv_rd : 0);
        double dev_wr = disk_ok && o->disk_prev_ok ? (double)dr.write_bytes / itv : NAN;
        double srv_wr = (double)server_wr / itv;
        double other_wr = isnan(dev_wr) ? NAN : (dev_wr > srv_wr ? dev_wr - srv_wr : 0);
        csv_row(
            o, CSV_NOISE,
            "%s"
            "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            "%u,%s,%s,%s,%.1f,%s,%s,%d\n",
            tcols, numcell(c[0], 32, PSI(NOISE_PSI_CPU, some_total_us)),
            numcell(c[1], 32, PSI(NOISE_PSI_IO, some_total_us)),
            numcell(c[2], 32, PSI(NOISE_PSI_IO, full_total_us)),
            numcell(c[3], 32, PSI(NOISE_PSI_MEMORY, some_total_us)),
            numcell(c[4], 32, PSI(NOISE_PSI_MEMORY, full_total_us)),
            numcell(c[5], 32, cp[NOISE_PSI_CPU].present ? cp[NOISE_PSI_CPU].some_avg10 : NAN),
            numcell(c[6], 32, cp[NOISE_PSI_IO].present ? cp[NOISE_PSI_IO].some_avg10 : NAN),
            numcell(c[7], 32, cp[NOISE_PSI_MEMORY].present ? cp[NOISE_PSI_MEMORY].full_avg10 : NAN),
            numcell(c[8], 32, ns.load_present ? ns.load1 : NAN),
            numcell(c[9], 32, ns.load_present ? ns.load5 : NAN),
            numcell(c[10], 32, ns.load_present ? ns.load15 : NAN),
            numcell(c[11], 32, ns.stat_present ? (double)ns.procs_running : NAN),
            numcell(c[12], 32, ns.stat_present ? (double)ns.procs_blocked : NAN),
            numcell(c[13], 32, ns.cpufreq_ratio), numcell(c[14], 32, ns.cpufreq_cap_ratio),
            numcell(c[15], 32, ns.thermal_max_c), ns.cooling_active,
            ns.meminfo_present ? (snprintf(c[16], 32, "%" PRIu64, ns.dirty_bytes), c[16]) : "",
            ns.meminfo_present ? (snprintf(c[17], 32, "%" PRIu64, ns.writeback_bytes), c[17]) : "",
            numcell(c[18], 32, dev_rd), srv_rd, numcell(c[19], 32, other_rd),
            numcell(c[20], 32, other_wr), gpu_th ? 1 : 0);
#undef PSI
    }
    if (o->in_phase) {
        struct phase_acc *a = &o->acc;
        if (ns.procs_blocked > a->procs_blocked_max)
            a->procs_blocked_max = ns.procs_blocked;
        if (!isnan(ns.thermal_max_c) &&
            (isnan(a->thermal_max_c) || ns.thermal_max_c > a->thermal_max_c))
            a->thermal_max_c = ns.thermal_max_c;
        if (!isnan(ns.cpufreq_ratio) &&
            (isnan(a->cpufreq_min) || ns.cpufreq_ratio < a->cpufreq_min))
            a->cpufreq_min = ns.cpufreq_ratio;
        if (ns.cooling_active > a->cooling_max)
            a->cooling_max = ns.cooling_active;
        if (ns.dirty_bytes > a->dirty_max)
            a->dirty_max = ns.dirty_bytes;
        a->gpu_throttled = a->gpu_throttled || gpu_th;
    }

    /* metrics endpoints */
    struct buf b;
    buf_init(&b, PROM_PAGE_MAX_BYTES);
    for (size_t i = 0; i < o->n_kvbm; i++)
        scrape_endpoint(o, &o->kvbm[i], &b);
    if (o->have_fe)
        scrape_endpoint(o, &o->fe, &b);
    buf_fini(&b);
    if (o->n_kvbm)
        write_timeseries(o, CSV_KVBM, o->kvbm, o->n_kvbm, tcols2);
    if (o->have_fe)
        write_timeseries(o, CSV_FE, &o->fe, 1, tcols2);

    /* attribution events */
    if (o->at)
        attrib_poll(o->at, o->tree, o->n_tree);

    /* Flush at most once a second (and at every phase mark and stop): a crash loses at most
     * the last second of rows, and fast intervals do not pay a write per file per sample. */
    uint64_t real = clk_now_ns();
    if (real - o->flush_ns >= CLK_NS_PER_S || o->in_phase != o->was_in_phase) {
        observe_flush(o);
        o->flush_ns = real;
    }
    o->was_in_phase = o->in_phase;

    o->disk_prev = disk;
    o->disk_prev_ok = disk_ok;
    o->noise_prev = ns;
    o->noise_prev_ok = true;
    o->last_ns = t;
    o->have_last = true;
    o->samples++;
    return o->write_err;
}

/* ---- thread ---- */

static void *sampler_main(void *arg)
{
    struct observe *o = arg;
    pthread_setname_np(pthread_self(), "kvtier-observe");
    pthread_mutex_lock(&o->lock);
    /* Deadlines on the real CLOCK_MONOTONIC (the condition variable's clock); the injected
     * clock only stamps the samples. */
    uint64_t next = clk_now_ns();
    while (!o->stop) {
        sample_once(o);
        next += o->interval_ns;
        uint64_t t = clk_now_ns();
        if (next <= t)
            next = t + o->interval_ns; /* fell behind: skip, never burst */
        while (!o->stop) {
            struct timespec ts = { .tv_sec = (time_t)(next / CLK_NS_PER_S),
                                   .tv_nsec = (long)(next % CLK_NS_PER_S) };
            int r = pthread_cond_timedwait(&o->cond, &o->lock, &ts);
            if (r == ETIMEDOUT || clk_now_ns() >= next)
                break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

/* ---- SMART ---- */

static json_t *smart_snapshot(struct observe *o, struct smart_log *ret, bool *ret_ok)
{
    *ret_ok = false;
    if (o->no_smart)
        return unavailable_json("SMART disabled by the caller (--no-smart)");
    if (!o->dev_ok)
        return unavailable_json(o->dev_reason);
    if (!o->nvme_ctrl[0]) {
        char r[320];
        snprintf(r, sizeof(r), "device %s is not an NVMe device (no SMART / Health log)",
                 o->device);
        return unavailable_json(r);
    }
    char ctrl[512];
    snprintf(ctrl, sizeof(ctrl), "%s/%s", o->dev_root, o->nvme_ctrl);
    uint8_t page[SMART_LOG_BYTES];
    struct smart_log s;
    const char *method = NULL, *variant = NULL;
    char why[600] = "";
    int r = smart_read_ioctl(ctrl, page);
    if (r == 0 && smart_decode(page, sizeof(page), &s) == 0) {
        method = "ioctl";
    } else {
        int off = snprintf(why, sizeof(why), "admin ioctl on %s: %s", ctrl, strerror(-r));
        if (o->nvme_cli && o->nvme_cli[0]) {
            int c = smart_read_nvme_cli(o->nvme_cli, ctrl, NVME_CLI_TIMEOUT, &s, &variant);
            if (c == 0)
                method = "nvme-cli";
            else if (off > 0 && (size_t)off < sizeof(why))
                snprintf(why + off, sizeof(why) - (size_t)off, "; %s smart-log: %s", o->nvme_cli,
                         strerror(-c));
        }
    }
    if (!method)
        return unavailable_json(why);
    json_t *j = json_object();
    json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(j, "status", json_string("ok"));
    json_object_set_new(j, "method", json_string(method));
    if (variant)
        json_object_set_new(j, "nvme_cli_encoding", json_string(variant));
    json_object_set_new(j, "controller", json_string(ctrl));
    json_object_set_new(j, "t_unix_ns", json_integer((json_int_t)wall_ns(o)));
    json_object_set_new(j, "log", smart_to_json(&s));
    /* hwmon temperatures (millidegree C) */
    char hw[512];
    snprintf(hw, sizeof(hw), "%s/class/nvme/%s", o->sys_root, o->nvme_ctrl);
    json_t *temps = json_object();
    for (int h = 0; h < 8; h++) {
        for (int k = 1; k <= 9; k++) {
            char p[700];
            snprintf(p, sizeof(p), "%s/hwmon%d/temp%d_input", hw, h, k);
            FILE *f = fopen(p, "re");
            if (!f)
                continue;
            long long mc;
            if (fscanf(f, "%lld", &mc) == 1) {
                char key[32];
                snprintf(key, sizeof(key), "temp%d_c", k);
                json_object_set_new(temps, key, json_real((double)mc / 1000.0));
            }
            fclose(f);
        }
    }
    json_object_set_new(j, "hwmon", temps);
    json_t *di = devinfo_json(o->sys_root, o->device);
    json_object_set(j, "pcie_link", json_object_get(di, "pcie_link"));
    json_decref(di);
    *ret = s;
    *ret_ok = true;
    return j;
}

/* ---- start ---- */

static char *dup_or(const char *s, const char *def)
{
    return s ? xstrdup(s) : (def ? xstrdup(def) : NULL);
}

static int open_csvs(struct observe *o)
{
    for (int i = 0; i < CSV__COUNT; i++) {
        const char *dir = (i == CSV_KVBM || i == CSV_FE) ? o->raw_dir : o->os_dir;
        if ((i == CSV_KVBM && !o->n_kvbm) || (i == CSV_FE && !o->have_fe))
            continue;
        char *p = dir_file(dir, csv_names[i]);
        o->csv[i] = fopen(p, "we");
        int e = errno;
        free(p);
        if (!o->csv[i])
            return -e;
        fprintf(o->csv[i], "%s\n", csv_headers[i]);
        fflush(o->csv[i]);
    }
    return 0;
}

static void resolve_device(struct observe *o, const struct observe_config *cfg)
{
    if (cfg->device) {
        struct diskstats_dev d;
        snprintf(o->device, sizeof(o->device), "%s", cfg->device);
        if (diskstats_read(o->proc_root, o->device, &d) == 0) {
            o->dev_ok = true;
        } else {
            snprintf(o->dev_reason, sizeof(o->dev_reason), "device %s not found in %s/diskstats",
                     o->device, o->proc_root);
        }
        return;
    }
    if (!cfg->kv_dir) {
        snprintf(o->dev_reason, sizeof(o->dev_reason),
                 "no device named and no KV directory to resolve it from");
        return;
    }
    int r = diskstats_disk_of_path(o->proc_root, o->sys_root, cfg->kv_dir, o->device,
                                   sizeof(o->device));
    if (r < 0) {
        snprintf(o->dev_reason, sizeof(o->dev_reason), "cannot resolve the block device of %s: %s",
                 cfg->kv_dir, strerror(-r));
        return;
    }
    struct diskstats_dev d;
    if (diskstats_read(o->proc_root, o->device, &d) == 0)
        o->dev_ok = true;
    else
        snprintf(o->dev_reason, sizeof(o->dev_reason), "device %s (from %s) not in diskstats",
                 o->device, cfg->kv_dir);
}

static void setup_sources(struct observe *o, const struct observe_config *cfg)
{
    /* device */
    json_t *x = json_object();
    json_object_set_new(x, "name", o->device[0] ? json_string(o->device) : json_null());
    if (o->dev_ok)
        json_object_set_new(x, "info", devinfo_json(o->sys_root, o->device));
    set_source(o, "diskstats", o->dev_ok, o->dev_reason, x);
    if (o->dev_ok &&
        devinfo_nvme_ctrl(o->sys_root, o->device, o->nvme_ctrl, sizeof(o->nvme_ctrl)) < 0)
        o->nvme_ctrl[0] = 0;

    /* processes */
    scan_tree(o, now_ns(o));
    x = json_object();
    json_t *roots = json_array();
    for (size_t i = 0; i < o->n_roots; i++)
        json_array_append_new(roots, json_integer(o->roots[i]));
    json_object_set_new(x, "root_pids", roots);
    json_object_set_new(x, "tree_size", json_integer((json_int_t)o->n_tree));
    if (o->proc_name)
        json_object_set_new(x, "proc_name", json_string(o->proc_name));
    if (o->listen_port)
        json_object_set_new(x, "listen_port", json_integer(o->listen_port));
    bool any = o->n_roots || o->proc_name || o->listen_port;
    set_source(o, "pid_io", any && o->n_tree > 0,
               any ? "none of the given processes is alive" : "no server pid, name or port given",
               x);

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
    x = json_object();
    json_object_set_new(x, "path", o->cg_path ? json_string(o->cg_path) : json_null());
    if (o->cg_ok)
        json_object_set_new(x, "version", json_integer(o->cg_version));
    set_source(o, "cgroup_io", o->cg_ok, why, x);

    /* noise */
    struct noise_sample ns;
    noise_read(o->proc_root, o->sys_root, NULL, NULL, &ns);
    set_source(o, "psi", ns.psi[NOISE_PSI_IO].present,
               "no /proc/pressure (kernel without CONFIG_PSI or psi=0)", NULL);
    set_source(o, "cpufreq", !isnan(ns.cpufreq_ratio),
               "no cpufreq in sysfs (virtual machine or driver absent)", NULL);
    set_source(o, "thermal", !isnan(ns.thermal_max_c), "no thermal zones in sysfs", NULL);
    set_source(o, "meminfo", ns.meminfo_present, "no /proc/meminfo", NULL);
    struct netdev_iface ifs[4];
    int nn = netdev_read(o->proc_root, ifs, 4);
    set_source(o, "net_dev", nn >= 0 || nn == -EMSGSIZE, "no /proc/net/dev", NULL);

    /* GPU */
    if (o->no_gpu) {
        set_source(o, "gpu", false, "GPU telemetry disabled by the caller (--no-gpu)", NULL);
    } else {
        int r = gpu_open(&o->gpu, o->nvml_path, o->gpu_reason);
        o->gpu_ok = r == 0;
        x = json_object();
        if (o->gpu_ok)
            json_object_set_new(x, "count", json_integer(o->gpu.count));
        set_source(o, "gpu", o->gpu_ok, o->gpu_reason, x);
    }

    /* attribution */
    if (!cfg->kv_dir) {
        set_source(o, "fanotify", false, "no KV directory given", NULL);
        set_source(o, "pagecache", false, "no KV directory given", NULL);
    } else {
        if (cfg->no_fanotify) {
            snprintf(o->at_reason, sizeof(o->at_reason), "disabled by the caller (--no-fanotify)");
        } else if (attrib_start(cfg->kv_dir, &o->at, o->at_reason) < 0) {
            o->at = NULL;
        }
        x = json_object();
        if (o->at)
            json_object_set_new(x, "mark", json_string(attrib_mark_kind(o->at)));
        json_object_set_new(x, "fallback", json_string("proc_fd_scan"));
        set_source(o, "fanotify", o->at != NULL, o->at_reason, x);
        set_source(o, "pagecache", true, NULL, NULL);
    }

    /* metrics */
    x = json_object();
    json_t *urls = json_array();
    for (size_t i = 0; i < o->n_kvbm; i++)
        json_array_append_new(urls, json_string(scrape_url(o->kvbm[i].sc)));
    json_object_set_new(x, "urls", urls);
    set_source(o, "kvbm_metrics", o->n_kvbm > 0, "no KVBM metrics URL given", x);
    x = json_object();
    if (o->have_fe)
        json_object_set_new(x, "url", json_string(scrape_url(o->fe.sc)));
    set_source(o, "frontend_metrics", o->have_fe, "no frontend metrics URL given", x);
}

int observe_start(const struct observe_config *cfg, struct observe **ret)
{
    if (!cfg || !cfg->os_dir || cfg->n_pids > OBSERVE_MAX_PIDS ||
        cfg->n_kvbm_urls > OBSERVE_MAX_URLS || (cfg->n_pids && !cfg->pids) ||
        (cfg->n_kvbm_urls && !cfg->kvbm_urls))
        return -EINVAL;
    if (cfg->interval_ns && cfg->interval_ns < 10 * CLK_NS_PER_MS)
        return -EINVAL;
    struct observe *o = xcalloc(1, sizeof(*o));
    int r;
    o->proc_root = dup_or(cfg->proc_root, "/proc");
    o->sys_root = dup_or(cfg->sys_root, "/sys");
    o->dev_root = dup_or(cfg->dev_root, "/dev");
    o->kv_dir = dup_or(cfg->kv_dir, NULL);
    o->proc_name = dup_or(cfg->proc_name, NULL);
    o->os_dir = xstrdup(cfg->os_dir);
    o->raw_dir = dup_or(cfg->raw_dir, cfg->os_dir);
    o->metrics_dir = dup_or(cfg->metrics_dir, cfg->os_dir);
    o->nvml_path = dup_or(cfg->nvml_path, NULL);
    o->nvme_cli = dup_or(cfg->nvme_cli, "nvme");
    o->listen_port = cfg->listen_port;
    o->interval_ns = cfg->interval_ns ? cfg->interval_ns : CLK_NS_PER_S;
    o->scrape_timeout_ns = cfg->scrape_timeout_ns ? cfg->scrape_timeout_ns : 2 * CLK_NS_PER_S;
    o->clk = cfg->clk ? cfg->clk : clk_system();
    o->no_gpu = cfg->no_gpu;
    o->no_smart = cfg->no_smart;
    o->manual = cfg->manual;
    if (cfg->n_pids)
        memcpy(o->roots, cfg->pids, cfg->n_pids * sizeof(pid_t));
    o->n_roots = cfg->n_pids;
    o->sources = json_object();
    o->phase_attrib = json_array();
    kfile_init(&o->kf);
    buf_init(&o->rbuf, 4u << 20);
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < cfg->n_kvbm_urls; i++)
        o->kvbm[o->n_kvbm++].sc = scrape_new(cfg->kvbm_urls[i]);
    if (cfg->frontend_url) {
        o->fe.sc = scrape_new(cfg->frontend_url);
        o->have_fe = true;
    }
    const char *dirs[] = { o->os_dir, o->raw_dir, o->metrics_dir };
    for (int i = 0; i < 3; i++) {
        r = fileio_mkdir_p(dirs[i]);
        if (r < 0)
            goto fail;
    }
    resolve_device(o, cfg);
    if (cfg->device && !o->dev_ok) {
        r = -ENOENT;
        goto fail;
    }
    setup_sources(o, cfg);
    r = open_csvs(o);
    if (r < 0)
        goto fail;
    bool ok;
    json_t *pre = smart_snapshot(o, &o->smart_pre, &ok);
    o->smart_pre_ok = ok;
    json_t *s = json_object();
    json_object_set_new(s, "method",
                        json_object_get(pre, "method") ? json_incref(json_object_get(pre, "method"))
                                                       : json_null());
    set_source(o, "smart", ok, jsonx_str(pre, "reason", NULL), s);
    r = write_json(o, o->os_dir, "nvme_smart_pre.json", pre);
    json_decref(pre);
    if (r < 0)
        goto fail;
    json_t *src = json_object();
    json_object_set_new(src, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(src, "t_unix_ns", json_integer((json_int_t)wall_ns(o)));
    json_object_set_new(src, "interval_ns", json_integer((json_int_t)o->interval_ns));
    json_object_set_new(src, "proc_root", json_string(o->proc_root));
    json_object_set_new(src, "sys_root", json_string(o->sys_root));
    json_object_set_new(src, "kv_dir", o->kv_dir ? json_string(o->kv_dir) : json_null());
    json_object_set(src, "sources", o->sources);
    r = write_json(o, o->os_dir, "sources.json", src);
    json_decref(src);
    if (r < 0)
        goto fail;
    o->t0_ns = now_ns(o);
    if (!o->manual) {
        o->running = true;
        r = -pthread_create(&o->thread, NULL, sampler_main, o);
        if (r < 0) {
            o->running = false;
            goto fail;
        }
        o->have_thread_clock = pthread_getcpuclockid(o->thread, &o->thread_clock) == 0;
    } else {
        pthread_mutex_lock(&o->lock);
        sample_once(o);
        pthread_mutex_unlock(&o->lock);
    }
    o->started = true;
    *ret = o;
    return 0;
fail:
    observe_free(o);
    return r;
}

int observe_add_pid(struct observe *o, pid_t pid)
{
    pthread_mutex_lock(&o->lock);
    int r = 0;
    if (o->n_roots >= OBSERVE_MAX_PIDS)
        r = -EMSGSIZE;
    else
        o->roots[o->n_roots++] = pid;
    o->tree_scan_ns = 0;
    if (r == 0)
        scan_tree(o, now_ns(o));
    pthread_mutex_unlock(&o->lock);
    return r;
}

int observe_sample_now(struct observe *o)
{
    pthread_mutex_lock(&o->lock);
    int r = sample_once(o);
    pthread_mutex_unlock(&o->lock);
    return r;
}

/* ---- phases ---- */

static void snap_fini(struct snap *s)
{
    for (size_t i = 0; i < OBSERVE_MAX_URLS; i++) {
        if (s->kvbm[i]) {
            prom_page_fini(s->kvbm[i]);
            free(s->kvbm[i]);
        }
    }
    if (s->fe) {
        prom_page_fini(s->fe);
        free(s->fe);
    }
    free(s->others);
    memset(s, 0, sizeof(*s));
}

static struct prom_page *page_copy(const struct endpoint *e)
{
    if (!e->ok)
        return NULL;
    struct prom_page *p = xcalloc(1, sizeof(*p));
    p->n = p->cap = e->page.n;
    p->s = xcalloc(p->n ? p->n : 1, sizeof(*p->s));
    for (size_t i = 0; i < p->n; i++) {
        const struct prom_sample *a = &e->page.s[i];
        struct prom_sample *b = &p->s[i];
        *b = *a;
        b->key = xstrdup(a->key);
        b->family = xstrdup(a->family);
        b->labels_nole = xstrdup(a->labels_nole);
        b->le = a->le ? xstrdup(a->le) : NULL;
    }
    return p;
}

static bool in_tree(const struct observe *o, pid_t p)
{
    for (size_t i = 0; i < o->n_tree; i++)
        if (o->tree[i] == p)
            return true;
    return false;
}

/* All processes outside the serving tree (read_bytes/write_bytes), for "other processes". */
static void scan_others(struct observe *o, struct snap *s)
{
    pid_t roots[1] = { 1 };
    pid_t *all = xcalloc(OTHERS_MAX, sizeof(*all));
    int n = procio_tree(o->proc_root, roots, 1, all, OTHERS_MAX);
    /* procio_tree from pid 1 misses kernel threads under pid 2; they do not own I/O counters
     * that matter (writeback is charged to the dirtying process). */
    s->others = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*s->others));
    s->n_others = 0;
    pid_t self = getpid();
    for (int i = 0; i < n; i++) {
        if (in_tree(o, all[i]) || all[i] == self)
            continue;
        struct pidstate *p = &s->others[s->n_others];
        p->pid = all[i];
        if (procio_read(o->proc_root, all[i], &p->io) == 0) {
            p->ok = true;
            s->n_others++;
        }
    }
    free(all);
}

static void take_snap(struct observe *o, struct snap *s)
{
    s->t_ns = o->last_ns;
    s->t_unix_ns = wall_ns(o);
    s->disk_ok = o->disk_prev_ok;
    s->disk = o->disk_prev;
    memcpy(s->tree_acc, o->tree_acc, sizeof(s->tree_acc));
    s->cg_ok =
        o->cg_ok && o->disk_prev_ok && find_cg(o->cg_prev, o->n_cg_prev, &o->disk_prev, &s->cg);
    s->noise = o->noise_prev;
    if (o->at)
        attrib_totals(o->at, &s->at);
    for (size_t i = 0; i < o->n_kvbm; i++)
        s->kvbm[i] = page_copy(&o->kvbm[i]);
    if (o->have_fe)
        s->fe = page_copy(&o->fe);
    scan_others(o, s);
}

static json_t *endpoints_json(const struct observe *o, const struct endpoint *eps, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "url", json_string(scrape_url(eps[i].sc)));
        json_object_set_new(e, "status", json_string(eps[i].ok ? "ok" : "unreachable"));
        if (!eps[i].ok)
            json_object_set_new(e, "error", json_string(eps[i].err));
        json_array_append_new(arr, e);
    }
    (void)o;
    return arr;
}

static int write_metrics_file(struct observe *o, const char *phase, const char *ep,
                              const char *which, json_t *body)
{
    char name[256];
    snprintf(name, sizeof(name), "phase_%s_%s_metrics_%s.json", phase, ep, which);
    int r = write_json(o, o->metrics_dir, name, body);
    return r;
}

static void write_snap_metrics(struct observe *o, const struct snap *s, const char *which)
{
    const struct prom_page *pages[OBSERVE_MAX_URLS];
    if (o->n_kvbm) {
        for (size_t i = 0; i < o->n_kvbm; i++)
            pages[i] = s->kvbm[i];
        json_t *j = promdelta_sum_json(pages, o->n_kvbm);
        json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(j, "endpoint", json_string("kvbm"));
        json_object_set_new(j, "phase", json_string(o->phase));
        json_object_set_new(j, "t_unix_ns", json_integer((json_int_t)s->t_unix_ns));
        json_object_set_new(j, "endpoints", endpoints_json(o, o->kvbm, o->n_kvbm));
        write_metrics_file(o, o->phase, "kvbm", which, j);
        json_decref(j);
    }
    if (o->have_fe) {
        pages[0] = s->fe;
        json_t *j = promdelta_sum_json(pages, 1);
        json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(j, "endpoint", json_string("frontend"));
        json_object_set_new(j, "phase", json_string(o->phase));
        json_object_set_new(j, "t_unix_ns", json_integer((json_int_t)s->t_unix_ns));
        json_object_set_new(j, "endpoints", endpoints_json(o, &o->fe, 1));
        write_metrics_file(o, o->phase, "frontend", which, j);
        json_decref(j);
    }
}

int observe_phase_begin(struct observe *o, const char *name)
{
    if (!valid_phase_name(name))
        return -EINVAL;
    pthread_mutex_lock(&o->lock);
    int r = 0;
    if (o->in_phase) {
        r = -EINVAL;
        goto out;
    }
    snprintf(o->phase, sizeof(o->phase), "%s", name);
    sample_once(o);
    snap_fini(&o->begin);
    take_snap(o, &o->begin);
    o->in_phase = true;
    o->acc = (struct phase_acc){ .thermal_max_c = NAN, .cpufreq_min = NAN };
    write_snap_metrics(o, &o->begin, "start");
    observe_flush(o);
    r = o->write_err;
out:
    pthread_mutex_unlock(&o->lock);
    return r;
}

static json_t *j_u64(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *ratio(double a, double b)
{
    return b > 0 ? json_real(a / b) : json_null();
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static json_t *os_delta(struct observe *o, const struct snap *b, const struct snap *e,
                        json_t **ret_attrib)
{
    json_t *d = json_object();
    double dur = (double)(e->t_ns - b->t_ns) / 1e9;
    json_object_set_new(d, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(d, "phase", json_string(o->phase));
    json_object_set_new(d, "t_start_unix_ns", json_integer((json_int_t)b->t_unix_ns));
    json_object_set_new(d, "t_end_unix_ns", json_integer((json_int_t)e->t_unix_ns));
    json_object_set_new(d, "duration_s", json_real(dur));

    /* device */
    json_t *dev = json_object();
    struct diskstats_rates dr = { 0 };
    bool dev_ok = b->disk_ok && e->disk_ok && dur > 0;
    json_object_set_new(dev, "name", o->device[0] ? json_string(o->device) : json_null());
    json_object_set_new(dev, "status", json_string(dev_ok ? "ok" : "unavailable"));
    if (dev_ok) {
        diskstats_rates(&b->disk, &e->disk, dur, &dr);
        json_object_set_new(dev, "read_bytes", j_u64(dr.read_bytes));
        json_object_set_new(dev, "write_bytes", j_u64(dr.write_bytes));
        json_object_set_new(dev, "discard_bytes", j_u64(dr.discard_bytes));
        json_object_set_new(dev, "read_ios", j_u64(dr.read_ios));
        json_object_set_new(dev, "write_ios", j_u64(dr.write_ios));
        json_object_set_new(dev, "rkB/s", json_real(dr.rkb_per_s));
        json_object_set_new(dev, "wkB/s", json_real(dr.wkb_per_s));
        json_object_set_new(dev, "r_await", json_real(dr.r_await_ms));
        json_object_set_new(dev, "w_await", json_real(dr.w_await_ms));
        json_object_set_new(dev, "rareq-sz", json_real(dr.rareq_kb));
        json_object_set_new(dev, "wareq-sz", json_real(dr.wareq_kb));
        json_object_set_new(dev, "aqu-sz", json_real(dr.aqu_sz));
        json_object_set_new(dev, "%util", json_real(dr.util_pct));
        json_object_set_new(dev, "reset", json_boolean(dr.reset));
    } else {
        json_object_set_new(dev, "reason",
                            json_string(o->dev_ok ? "device sample missing" : o->dev_reason));
    }
    json_object_set_new(d, "device", dev);

    /* server tree */
    json_t *srv = json_object();
    uint64_t sv[PROCIO_KEY__COUNT];
    for (int k = 0; k < PROCIO_KEY__COUNT; k++) {
        sv[k] = sat_sub(e->tree_acc[k], b->tree_acc[k]);
        json_object_set_new(srv, procio_key_name(k), j_u64(sv[k]));
    }
    json_t *pids = json_array();
    for (size_t i = 0; i < o->n_tree; i++)
        json_array_append_new(pids, json_integer(o->tree[i]));
    json_object_set_new(srv, "pids", pids);
    json_object_set_new(srv, "unreadable_pids", json_integer(o->tree_unreadable));
    json_object_set_new(
        srv, "status",
        json_string(o->n_tree ? (o->tree_unreadable ? "partial" : "ok") : "unavailable"));
    json_object_set_new(d, "server", srv);

    /* other processes (pids seen at both edges, plus new ones from zero) */
    uint64_t ord = 0, owr = 0;
    for (size_t i = 0; i < e->n_others; i++) {
        const struct pidstate *p = find_prev(b->others, b->n_others, e->others[i].pid);
        ord += sat_sub(e->others[i].io.v[PROCIO_READ_BYTES], p ? p->io.v[PROCIO_READ_BYTES] : 0);
        owr += sat_sub(e->others[i].io.v[PROCIO_WRITE_BYTES], p ? p->io.v[PROCIO_WRITE_BYTES] : 0);
    }
    json_t *oth = json_object();
    json_object_set_new(oth, "read_bytes", j_u64(ord));
    json_object_set_new(oth, "write_bytes", j_u64(owr));
    json_object_set_new(oth, "processes", json_integer((json_int_t)e->n_others));
    json_object_set_new(oth, "note",
                        json_string("all file systems: an upper bound of other "
                                    "processes' I/O on the device"));
    json_object_set_new(d, "other_processes", oth);

    /* cgroup */
    json_t *cg = json_object();
    if (b->cg_ok && e->cg_ok) {
        json_object_set_new(cg, "status", json_string("ok"));
        json_object_set_new(cg, "version", json_integer(o->cg_version));
        json_object_set_new(cg, "path", json_string(o->cg_path));
        json_object_set_new(cg, "rbytes", j_u64(sat_sub(e->cg.rbytes, b->cg.rbytes)));
        json_object_set_new(cg, "wbytes", j_u64(sat_sub(e->cg.wbytes, b->cg.wbytes)));
        json_object_set_new(cg, "rios", j_u64(sat_sub(e->cg.rios, b->cg.rios)));
        json_object_set_new(cg, "wios", j_u64(sat_sub(e->cg.wios, b->cg.wios)));
    } else {
        json_object_set_new(cg, "status", json_string("unavailable"));
        json_object_set_new(cg, "reason",
                            json_string(o->cg_ok ? "device not in the cgroup's "
                                                   "statistics"
                                                 : "no cgroup io accounting"));
    }
    json_object_set_new(d, "cgroup", cg);

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
    json_object_set_new(pc, "dirty_bytes_start", j_u64(b->noise.dirty_bytes));
    json_object_set_new(pc, "dirty_bytes_end", j_u64(e->noise.dirty_bytes));
    json_object_set_new(pc, "writeback_bytes_end", j_u64(e->noise.writeback_bytes));
    json_object_set_new(pc, "o_direct_macro", json_integer(O_DIRECT));
    free(files);

    /* attribution */
    json_t *at = json_object();
    json_object_set_new(at, "phase", json_string(o->phase));
    const char *method = o->at ? "fanotify+proc_io" : "proc_fd_scan+proc_io";
    json_object_set_new(at, "method", json_string(method));
    if (dev_ok) {
        json_object_set_new(at, "device_read_bytes", j_u64(dr.read_bytes));
        json_object_set_new(at, "device_write_bytes", j_u64(dr.write_bytes));
        json_object_set_new(at, "server_read_bytes", j_u64(sv[PROCIO_READ_BYTES]));
        json_object_set_new(at, "server_write_bytes", j_u64(sv[PROCIO_WRITE_BYTES]));
        json_object_set_new(
            at, "server_read_share",
            ratio((double)(sv[PROCIO_READ_BYTES] < dr.read_bytes ? sv[PROCIO_READ_BYTES]
                                                                 : dr.read_bytes),
                  (double)dr.read_bytes));
        json_object_set_new(
            at, "server_write_share",
            ratio((double)(sv[PROCIO_WRITE_BYTES] < dr.write_bytes ? sv[PROCIO_WRITE_BYTES]
                                                                   : dr.write_bytes),
                  (double)dr.write_bytes));
        json_object_set_new(at, "elsewhere_read_bytes",
                            j_u64(sat_sub(dr.read_bytes, sv[PROCIO_READ_BYTES])));
        json_object_set_new(at, "elsewhere_write_bytes",
                            j_u64(sat_sub(dr.write_bytes, sv[PROCIO_WRITE_BYTES])));
        json_object_set_new(at, "other_process_read_bytes", j_u64(ord));
        json_object_set_new(at, "other_process_write_bytes", j_u64(owr));
        json_object_set_new(at, "unexplained_write_bytes",
                            j_u64(sat_sub(dr.write_bytes, sv[PROCIO_WRITE_BYTES] + owr)));
    } else {
        json_object_set_new(at, "status", json_string("unavailable"));
    }
    if (o->at) {
        json_object_set_new(at, "kv_events_server",
                            j_u64(e->at.kv_events_server - b->at.kv_events_server));
        json_object_set_new(at, "kv_events_other",
                            j_u64(e->at.kv_events_other - b->at.kv_events_other));
        json_object_set_new(at, "fs_other_events_server",
                            j_u64(e->at.other_events_server - b->at.other_events_server));
        json_object_set_new(at, "fs_other_events", j_u64(e->at.other_events - b->at.other_events));
        json_object_set_new(at, "fanotify_overflows", j_u64(e->at.overflows - b->at.overflows));
    }
    /* Confidence: high when the server explains >= 90% of device bytes and (fanotify saw no
     * other process on the KV files or no fanotify but all KV files are O_DIRECT); medium when
     * it explains >= 50%; low otherwise. */
    const char *conf = "low";
    double share = 0;
    uint64_t dtot = dr.read_bytes + dr.write_bytes;
    uint64_t stot =
        (sv[PROCIO_READ_BYTES] < dr.read_bytes ? sv[PROCIO_READ_BYTES] : dr.read_bytes) +
        (sv[PROCIO_WRITE_BYTES] < dr.write_bytes ? sv[PROCIO_WRITE_BYTES] : dr.write_bytes);
    if (dev_ok && dtot > 0)
        share = (double)stot / (double)dtot;
    bool clean_kv = o->at ? e->at.kv_events_other == b->at.kv_events_other
                          : json_is_true(json_object_get(pc, "o_direct_all"));
    if (dev_ok && dtot > 0 && share >= 0.9 && clean_kv)
        conf = "high";
    else if (dev_ok && dtot > 0 && share >= 0.5)
        conf = "medium";
    json_object_set_new(at, "server_share", dev_ok && dtot ? json_real(share) : json_null());
    json_object_set_new(at, "confidence", json_string(conf));
    json_object_set(d, "attribution", at);
    *ret_attrib = at;
    json_object_set_new(d, "page_cache", pc);

    /* noise */
    json_t *nz = json_object();
    const struct noise_psi *pb = b->noise.psi, *pe = e->noise.psi;
    static const char *const pn[NOISE_PSI__COUNT] = { "cpu", "io", "memory" };
    for (int i = 0; i < NOISE_PSI__COUNT; i++) {
        char k[40];
        snprintf(k, sizeof(k), "psi_%s_some_pct", pn[i]);
        json_object_set_new(
            nz, k,
            pb[i].present && pe[i].present
                ? json_real(noise_psi_pct(pb[i].some_total_us, pe[i].some_total_us, dur))
                : json_null());
        snprintf(k, sizeof(k), "psi_%s_full_pct", pn[i]);
        json_object_set_new(
            nz, k,
            pb[i].has_full && pe[i].has_full
                ? json_real(noise_psi_pct(pb[i].full_total_us, pe[i].full_total_us, dur))
                : json_null());
        snprintf(k, sizeof(k), "psi_%s_some_avg10_start", pn[i]);
        json_object_set_new(nz, k, pb[i].present ? json_real(pb[i].some_avg10) : json_null());
    }
    json_object_set_new(nz, "load1_end",
                        e->noise.load_present ? json_real(e->noise.load1) : json_null());
    json_object_set_new(nz, "procs_blocked_max", j_u64(o->acc.procs_blocked_max));
    jsonx_set_num(nz, "cpufreq_ratio_min", o->acc.cpufreq_min);
    jsonx_set_num(nz, "thermal_max_c", o->acc.thermal_max_c);
    json_object_set_new(nz, "cooling_active_max", json_integer(o->acc.cooling_max));
    json_object_set_new(nz, "gpu_throttled",
                        o->gpu_ok ? json_boolean(o->acc.gpu_throttled) : json_null());
    json_object_set_new(nz, "dirty_bytes_max", j_u64(o->acc.dirty_max));
    json_object_set_new(nz, "other_process_bytes", j_u64(ord + owr));
    json_object_set_new(d, "noise", nz);

    /* metrics reachability */
    json_t *m = json_object();
    size_t ok_b = 0, ok_e = 0;
    for (size_t i = 0; i < o->n_kvbm; i++) {
        ok_b += b->kvbm[i] != NULL;
        ok_e += e->kvbm[i] != NULL;
    }
    json_t *k = json_object();
    json_object_set_new(k, "endpoints", json_integer((json_int_t)o->n_kvbm));
    json_object_set_new(k, "ok_start", json_integer((json_int_t)ok_b));
    json_object_set_new(k, "ok_end", json_integer((json_int_t)ok_e));
    json_object_set_new(m, "kvbm", k);
    k = json_object();
    json_object_set_new(k, "endpoints", json_integer(o->have_fe ? 1 : 0));
    json_object_set_new(k, "ok_start", json_integer(b->fe != NULL));
    json_object_set_new(k, "ok_end", json_integer(e->fe != NULL));
    json_object_set_new(m, "frontend", k);
    json_object_set_new(d, "metrics", m);
    return d;
}

static void write_delta_metrics(struct observe *o, const struct snap *b, const struct snap *e)
{
    if (o->n_kvbm) {
        json_t *j = promdelta_json((const struct prom_page *const *)b->kvbm,
                                   (const struct prom_page *const *)e->kvbm, o->n_kvbm);
        json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(j, "endpoint", json_string("kvbm"));
        json_object_set_new(j, "phase", json_string(o->phase));
        json_object_set_new(j, "duration_s", json_real((double)(e->t_ns - b->t_ns) / 1e9));
        write_metrics_file(o, o->phase, "kvbm", "delta", j);
        json_decref(j);
    }
    if (o->have_fe) {
        const struct prom_page *bs[1] = { b->fe }, *es[1] = { e->fe };
        json_t *j = promdelta_json(bs, es, 1);
        json_object_set_new(j, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(j, "endpoint", json_string("frontend"));
        json_object_set_new(j, "phase", json_string(o->phase));
        json_object_set_new(j, "duration_s", json_real((double)(e->t_ns - b->t_ns) / 1e9));
        write_metrics_file(o, o->phase, "frontend", "delta", j);
        json_decref(j);
    }
}

int observe_phase_end(struct observe *o, const char *name, json_t **ret_os_delta)
{
    pthread_mutex_lock(&o->lock);
    int r = 0;
    struct snap e = { 0 };
    if (!o->in_phase || !name || strcmp(name, o->phase)) {
        r = -EINVAL;
        goto out;
    }
    sample_once(o);
    take_snap(o, &e);
    write_snap_metrics(o, &e, "end");
    write_delta_metrics(o, &o->begin, &e);
    observe_flush(o);
    json_t *at = NULL;
    json_t *d = os_delta(o, &o->begin, &e, &at);
    json_array_append_new(o->phase_attrib, at);
    char fname[128];
    snprintf(fname, sizeof(fname), "phase_%s_os_delta.json", o->phase);
    write_json(o, o->os_dir, fname, d);
    o->in_phase = false;
    snap_fini(&o->begin);
    r = o->write_err;
    if (ret_os_delta)
        *ret_os_delta = d;
    else
        json_decref(d);
out:
    snap_fini(&e);
    pthread_mutex_unlock(&o->lock);
    return r;
}

/* ---- stop ---- */

int observe_stop(struct observe *o, json_t **ret_summary)
{
    if (!o)
        return -EINVAL;
    if (o->running) {
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        uint64_t cpu = 0;
        struct timespec ts;
        if (o->have_thread_clock && clock_gettime(o->thread_clock, &ts) == 0)
            cpu = (uint64_t)ts.tv_sec * CLK_NS_PER_S + (uint64_t)ts.tv_nsec;
        pthread_join(o->thread, NULL);
        o->running = false;
        o->have_thread_clock = false;
        o->final_cpu_ns = cpu;
    }
    if (o->stopped)
        goto summary;
    o->stopped = true;
    pthread_mutex_lock(&o->lock);
    if (o->in_phase) {
        /* A phase left open: close it so its data is not lost. */
        char name[OBSERVE_PHASE_NAME_MAX];
        snprintf(name, sizeof(name), "%s", o->phase);
        pthread_mutex_unlock(&o->lock);
        observe_phase_end(o, name, NULL);
        pthread_mutex_lock(&o->lock);
    }
    sample_once(o);
    /* SMART post and delta */
    bool ok;
    struct smart_log post;
    json_t *pj = smart_snapshot(o, &post, &ok);
    write_json(o, o->os_dir, "nvme_smart_post.json", pj);
    json_t *dj;
    if (ok && o->smart_pre_ok) {
        dj = json_object();
        json_object_set_new(dj, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
        json_object_set_new(dj, "status", json_string("ok"));
        json_object_set_new(dj, "delta", smart_delta_json(&o->smart_pre, &post));
    } else {
        dj = unavailable_json(ok ? "no SMART reading at start" : jsonx_str(pj, "reason", "?"));
    }
    write_json(o, o->os_dir, "nvme_smart_delta.json", dj);
    json_decref(dj);
    json_decref(pj);
    /* attribution report */
    json_t *ar = json_object();
    json_object_set_new(ar, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(ar, "device", o->device[0] ? json_string(o->device) : json_null());
    json_object_set_new(ar, "kv_dir", o->kv_dir ? json_string(o->kv_dir) : json_null());
    json_object_set_new(ar, "method",
                        json_string(o->at ? "fanotify+proc_io" : "proc_fd_scan+proc_io"));
    json_t *fa = json_object();
    json_object_set_new(fa, "status", json_string(o->at ? "ok" : "unavailable"));
    if (o->at) {
        json_object_set_new(fa, "mark", json_string(attrib_mark_kind(o->at)));
        json_object_set_new(fa, "files", attrib_files_json(o->at));
        struct attrib_totals t;
        attrib_totals(o->at, &t);
        json_object_set_new(fa, "overflows", j_u64(t.overflows));
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
    write_json(o, o->os_dir, "io_attribution_report.json", ar);
    json_decref(ar);
    for (int i = 0; i < CSV__COUNT; i++) {
        if (o->csv[i] && fclose(o->csv[i]) != 0)
            note_write(o, -errno);
        o->csv[i] = NULL;
    }
    pthread_mutex_unlock(&o->lock);
summary:
    if (ret_summary) {
        json_t *s = json_object();
        json_object_set_new(s, "samples", j_u64(o->samples));
        json_object_set_new(s, "sampler_cpu_ns", j_u64(o->final_cpu_ns));
        json_object_set_new(s, "device", o->device[0] ? json_string(o->device) : json_null());
        json_object_set(s, "sources", o->sources);
        *ret_summary = s;
    }
    return o->write_err;
}

void observe_cpu_stats(const struct observe *o, uint64_t *ret_cpu_ns, uint64_t *ret_samples)
{
    uint64_t cpu = o->final_cpu_ns;
    struct timespec ts;
    if (o->have_thread_clock && clock_gettime(o->thread_clock, &ts) == 0)
        cpu = (uint64_t)ts.tv_sec * CLK_NS_PER_S + (uint64_t)ts.tv_nsec;
    *ret_cpu_ns = cpu;
    *ret_samples = o->samples;
}

void observe_free(struct observe *o)
{
    if (!o)
        return;
    if (o->started && !o->stopped)
        observe_stop(o, NULL);
    for (int i = 0; i < CSV__COUNT; i++)
        if (o->csv[i])
            fclose(o->csv[i]);
    for (size_t i = 0; i < o->n_kvbm; i++) {
        scrape_free(o->kvbm[i].sc);
        prom_page_fini(&o->kvbm[i].page);
    }
    if (o->have_fe) {
        scrape_free(o->fe.sc);
        prom_page_fini(&o->fe.page);
    }
    snap_fini(&o->begin);
    gpu_close(&o->gpu);
    attrib_free(o->at);
    json_decref(o->sources);
    json_decref(o->phase_attrib);
    kfile_fini(&o->kf);
    buf_fini(&o->rbuf);
    free(o->tree);
    free(o->prev);
    free(o->cg_prev);
    free(o->net_prev);
    free(o->proc_root);
    free(o->sys_root);
    free(o->dev_root);
    free(o->kv_dir);
    free(o->proc_name);
    free(o->cg_path);
    free(o->os_dir);
    free(o->raw_dir);
    free(o->metrics_dir);
    free(o->nvml_path);
    free(o->nvme_cli);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}
