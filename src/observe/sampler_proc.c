/* SPDX-License-Identifier: Apache-2.0 */
/* The process sampler: /proc/PID/io and the delay-accounting ticks of every process of the
 * serving tree as pidstat -d columns (plus a TREE row of accumulated counters), and at the
 * phase edges the I/O counters of every other process, so a phase can say what the server read
 * and wrote and what the rest of the machine did. A pid's delta counts only while it is seen;
 * a child born in an interval counts from zero. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "observe/sampler.h"

#define TREE_RESCAN_NS (1000ULL * CLK_NS_PER_MS) /* process tree rebuilt at most this often */
#define OTHERS_MAX     65536                     /* processes in the phase-edge scan */

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    sampler_scan_tree(o, sampler_now_ns(o));
    json_t *x = json_object();
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
    sampler_source(
        o, "pid_io", any && o->n_tree > 0,
        any ? "none of the given processes is alive" : "no server pid, name or port given", x);
    return 0;
}

static int read_pid(struct observe *o, pid_t pid, struct procio *io, char *comm, size_t comm_len,
                    uint64_t *ticks, uint64_t *start_ticks, int *ret_stat)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%d/stat", o->proc_root, (int)pid);
    int rs = sampler_kread(o, path);
    if (rs == 0)
        rs = procio_parse_stat(buf_str(&o->rbuf), o->rbuf.len, comm, comm_len, NULL, ticks);
    if (rs == 0 && procio_parse_starttime(buf_str(&o->rbuf), o->rbuf.len, start_ticks) < 0)
        *start_ticks = 0;
    *ret_stat = rs;
    snprintf(path, sizeof(path), "%s/%d/io", o->proc_root, (int)pid);
    int r = sampler_kread(o, path);
    return r < 0 ? r : procio_parse(buf_str(&o->rbuf), o->rbuf.len, io);
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

static void sample(struct observe *o, void *state, struct sampler_tick *tk, FILE *csv)
{
    uint64_t t = tk->t_ns;
    double itv = tk->itv_s;
    const char *tcols = tk->tcols;
    if (!o->tree || t - o->tree_scan_ns >= TREE_RESCAN_NS || !o->have_last)
        sampler_scan_tree(o, t);
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
                sampler_row(o, csv, "%s%d,%s,,,,,,,,,,,,%s\n", tcols, (int)c->pid, c->comm,
                            r == -EACCES || r == -EPERM ? "eacces" : "gone");
            continue;
        }
        const struct pidstate *p = sampler_find_pid(o->prev, o->n_prev, c->pid);
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
            sampler_row(o, csv,
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
        sampler_row(o, csv,
                    "%s0,TREE,%.2f,%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s\n",
                    tcols, tick_rd, tick_wr, tick_cc, tick_delay, o->tree_acc[PROCIO_RCHAR],
                    o->tree_acc[PROCIO_WCHAR], o->tree_acc[PROCIO_SYSCR], o->tree_acc[PROCIO_SYSCW],
                    o->tree_acc[PROCIO_READ_BYTES], o->tree_acc[PROCIO_WRITE_BYTES],
                    o->tree_acc[PROCIO_CANCELLED_WRITE_BYTES], unreadable ? "partial" : "ok");
    }
    o->prev_boot_ticks = boot_ticks_now();
    tk->server_read_bytes = o->have_last ? sum_delta[PROCIO_READ_BYTES] : 0;
    tk->server_write_bytes = o->have_last ? sum_delta[PROCIO_WRITE_BYTES] : 0;
    free(o->prev);
    o->prev = cur;
    o->n_prev = o->n_tree;
    o->tree_unreadable = unreadable;
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

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    memcpy(s->tree_acc, o->tree_acc, sizeof(s->tree_acc));
    scan_others(o, s);
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    /* server tree */
    json_t *srv = json_object();
    uint64_t sv[PROCIO_KEY__COUNT];
    for (int k = 0; k < PROCIO_KEY__COUNT; k++) {
        sv[k] = sampler_sat_sub(e->tree_acc[k], b->tree_acc[k]);
        json_object_set_new(srv, procio_key_name(k), sampler_j_u64(sv[k]));
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
        const struct pidstate *p = sampler_find_pid(b->others, b->n_others, e->others[i].pid);
        ord += sampler_sat_sub(e->others[i].io.v[PROCIO_READ_BYTES],
                               p ? p->io.v[PROCIO_READ_BYTES] : 0);
        owr += sampler_sat_sub(e->others[i].io.v[PROCIO_WRITE_BYTES],
                               p ? p->io.v[PROCIO_WRITE_BYTES] : 0);
    }
    json_t *oth = json_object();
    json_object_set_new(oth, "read_bytes", sampler_j_u64(ord));
    json_object_set_new(oth, "write_bytes", sampler_j_u64(owr));
    json_object_set_new(oth, "processes", json_integer((json_int_t)e->n_others));
    json_object_set_new(oth, "note",
                        json_string("all file systems: an upper bound of other "
                                    "processes' I/O on the device"));
    json_object_set_new(d, "other_processes", oth);

    memcpy(f->server, sv, sizeof(f->server));
    f->other_read_bytes = ord;
    f->other_write_bytes = owr;
}

static void fini(struct observe *o, void *state)
{
    free(o->tree);
    free(o->prev);
    o->tree = NULL;
    o->prev = NULL;
}

const struct sampler_ops sampler_proc_ops = {
    .name = "pid_io",
    .csv_name = "os_pid_io.csv",
    .csv_header = "t_unix_ns,t_s,interval_s,pid,comm,kB_rd/s,kB_wr/s,kB_ccwr/s,iodelay,rchar,wchar,"
                  "syscr,syscw,read_bytes,write_bytes,cancelled_write_bytes,status",
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .fini = fini,
};
