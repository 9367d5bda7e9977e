/* SPDX-License-Identifier: Apache-2.0 */
/* eBPF block-layer attribution: the loader (libbpf skeleton generated at build time from
 * bpf/bpfio.bpf.c) and the pure arithmetic over table snapshots. */
#include "observe/bpfio.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"

#ifdef KVTIER_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

/* the skeleton embeds the BPF object as one long string literal */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "bpfio.skel.h"
#pragma GCC diagnostic pop
#endif

/* ---- pure part: snapshots to phase figures ---- */

static int key_cmp(const struct bpfio_key *a, const struct bpfio_key *b)
{
    if (a->ino_dev != b->ino_dev)
        return a->ino_dev < b->ino_dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    if (a->tgid != b->tgid)
        return a->tgid < b->tgid ? -1 : 1;
    if (a->op != b->op)
        return a->op < b->op ? -1 : 1;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return key_cmp(&((const struct bpfio_entry *)a)->key, &((const struct bpfio_entry *)b)->key);
}

void bpfio_snap_sort(struct bpfio_snap *s)
{
    if (s->n > 1)
        qsort(s->e, s->n, sizeof(*s->e), entry_cmp);
}

void bpfio_snap_fini(struct bpfio_snap *s)
{
    if (!s)
        return;
    free(s->e);
    memset(s, 0, sizeof(*s));
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

struct bpfio_quantile bpfio_hist_quantile(const uint64_t *hist, double q)
{
    struct bpfio_quantile r = { 0 };
    uint64_t total = 0;
    for (int i = 0; i < BPFIO_HIST_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return r;
    /* the smallest bucket whose cumulative count reaches ceil(q * total) */
    double want = q * (double)total;
    uint64_t need = (uint64_t)want;
    if ((double)need < want || need == 0)
        need++;
    uint64_t cum = 0;
    for (int i = 0; i < BPFIO_HIST_BUCKETS; i++) {
        cum += hist[i];
        if (cum >= need) {
            r.known = true;
            r.lo_us = i == 0 ? 0 : (double)(1ULL << i);
            r.hi_us = (double)(1ULL << (i + 1));
            return r;
        }
    }
    assert(0 && "cumulative count never reached the total");
    return r;
}

static bool is_kv(const struct bpfio_key *k, const struct bpfio_ident *kv, size_t n)
{
    if (k->ino == 0)
        return false;
    unsigned ma = k->ino_dev >> 20, mi = k->ino_dev & 0xfffff;
    for (size_t i = 0; i < n; i++)
        if (kv[i].ino == k->ino && kv[i].major == ma && kv[i].minor == mi)
            return true;
    return false;
}

static bool is_server(uint32_t tgid, const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)pids[i] == tgid)
            return true;
    return false;
}

static void add_class(struct bpfio_class *c, uint32_t op, uint64_t ios, uint64_t bytes)
{
    if (op == 0) {
        c->read_ios += ios;
        c->read_bytes += bytes;
    } else {
        c->write_ios += ios;
        c->write_bytes += bytes;
    }
}

/* The accumulators bpfio_phase_compute fills before turning histograms into quantiles. */
struct phase_hists {
    uint64_t kv_read_lat[BPFIO_HIST_BUCKETS], kv_write_lat[BPFIO_HIST_BUCKETS];
    uint64_t kv_read_q[BPFIO_HIST_BUCKETS], dev_read_lat[BPFIO_HIST_BUCKETS];
    uint64_t kv_read_lat_sum_ns, kv_read_q_sum_ns;
};

static void charge(const struct bpfio_key *k, const struct bpfio_val *d, bool kv, bool server,
                   struct bpfio_phase *p, struct phase_hists *h)
{
    add_class(&p->device, k->op, d->ios, d->bytes);
    if (kv) {
        add_class(&p->kv, k->op, d->ios, d->bytes);
        if (!server)
            p->kv_by_other_bytes += d->bytes;
    } else if (server) {
        add_class(&p->server_other, k->op, d->ios, d->bytes);
    } else {
        add_class(&p->other, k->op, d->ios, d->bytes);
    }
    for (int i = 0; i < BPFIO_HIST_BUCKETS; i++) {
        if (k->op == 0)
            h->dev_read_lat[i] += d->lat_hist[i];
        if (!kv)
            continue;
        if (k->op == 0) {
            h->kv_read_lat[i] += d->lat_hist[i];
            h->kv_read_q[i] += d->queue_hist[i];
        } else {
            h->kv_write_lat[i] += d->lat_hist[i];
        }
    }
    if (kv && k->op == 0) {
        h->kv_read_lat_sum_ns += d->lat_sum_ns;
        h->kv_read_q_sum_ns += d->queue_sum_ns;
    }
}

/* end - begin for one key (begin may be NULL: the key appeared during the phase). */
static void val_delta(const struct bpfio_val *b, const struct bpfio_val *e, struct bpfio_val *d)
{
    static const struct bpfio_val zero;
    if (!b)
        b = &zero;
    d->ios = sat_sub(e->ios, b->ios);
    d->bytes = sat_sub(e->bytes, b->bytes);
    d->lat_sum_ns = sat_sub(e->lat_sum_ns, b->lat_sum_ns);
    d->queue_sum_ns = sat_sub(e->queue_sum_ns, b->queue_sum_ns);
    for (int i = 0; i < BPFIO_HIST_BUCKETS; i++) {
        d->lat_hist[i] = sat_sub(e->lat_hist[i], b->lat_hist[i]);
        d->queue_hist[i] = sat_sub(e->queue_hist[i], b->queue_hist[i]);
    }
}

void bpfio_phase_compute(const struct bpfio_snap *begin, const struct bpfio_snap *end,
                         const struct bpfio_ident *kv, size_t n_kv, const pid_t *server,
                         size_t n_server, struct bpfio_phase *ret)
{
    struct bpfio_phase p = { 0 };
    struct phase_hists *h = xcalloc(1, sizeof(*h));
    struct bpfio_val d;
    size_t j = 0;
    /* both tables are sorted by key; walk end, advancing begin alongside */
    for (size_t i = 0; i < end->n; i++) {
        const struct bpfio_entry *e = &end->e[i];
        while (j < begin->n && key_cmp(&begin->e[j].key, &e->key) < 0)
            j++;
        const struct bpfio_val *b =
            j < begin->n && key_cmp(&begin->e[j].key, &e->key) == 0 ? &begin->e[j].val : NULL;
        val_delta(b, &e->val, &d);
        if (d.ios == 0)
            continue;
        charge(&e->key, &d, is_kv(&e->key, kv, n_kv), is_server(e->key.tgid, server, n_server), &p,
               h);
    }
    p.lost = sat_sub(end->lost_full, begin->lost_full);
    p.unowned = sat_sub(end->lost_early, begin->lost_early);
    p.untimed = sat_sub(end->untagged_issue, begin->untagged_issue);
    p.kv_read_lat_p50 = bpfio_hist_quantile(h->kv_read_lat, 0.50);
    p.kv_read_lat_p99 = bpfio_hist_quantile(h->kv_read_lat, 0.99);
    p.kv_write_lat_p99 = bpfio_hist_quantile(h->kv_write_lat, 0.99);
    p.kv_read_queue_p99 = bpfio_hist_quantile(h->kv_read_q, 0.99);
    p.device_read_lat_p99 = bpfio_hist_quantile(h->dev_read_lat, 0.99);
    if (p.kv.read_ios) {
        p.kv_read_lat_mean_us = (double)h->kv_read_lat_sum_ns / 1e3 / (double)p.kv.read_ios;
        p.kv_read_queue_mean_us = (double)h->kv_read_q_sum_ns / 1e3 / (double)p.kv.read_ios;
    }
    free(h);
    *ret = p;
}

static json_t *class_json(const struct bpfio_class *c)
{
    json_t *j = json_object();
    json_object_set_new(j, "read_bytes", json_integer((json_int_t)c->read_bytes));
    json_object_set_new(j, "write_bytes", json_integer((json_int_t)c->write_bytes));
    json_object_set_new(j, "read_ios", json_integer((json_int_t)c->read_ios));
    json_object_set_new(j, "write_ios", json_integer((json_int_t)c->write_ios));
    return j;
}

static json_t *quantile_json(const struct bpfio_quantile *q)
{
    if (!q->known)
        return json_null();
    json_t *j = json_object();
    json_object_set_new(j, "lo_us", json_real(q->lo_us));
    json_object_set_new(j, "hi_us", json_real(q->hi_us));
    return j;
}

static json_t *share_json(uint64_t part, uint64_t whole)
{
    return whole ? json_real((double)part / (double)whole) : json_null();
}

json_t *bpfio_phase_json(const struct bpfio_phase *p)
{
    json_t *j = json_object();
    json_object_set_new(j, "device", class_json(&p->device));
    json_object_set_new(j, "kv_files", class_json(&p->kv));
    json_object_set_new(j, "server_other_files", class_json(&p->server_other));
    json_object_set_new(j, "other_processes", class_json(&p->other));
    json_object_set_new(j, "kv_bytes_by_other_processes",
                        json_integer((json_int_t)p->kv_by_other_bytes));
    uint64_t dev = p->device.read_bytes + p->device.write_bytes;
    uint64_t kvb = p->kv.read_bytes + p->kv.write_bytes;
    json_object_set_new(j, "kv_share", share_json(kvb, dev));
    json_object_set_new(j, "kv_read_share", share_json(p->kv.read_bytes, p->device.read_bytes));
    json_object_set_new(j, "kv_write_share", share_json(p->kv.write_bytes, p->device.write_bytes));
    json_object_set_new(j, "kv_read_latency_p50_us", quantile_json(&p->kv_read_lat_p50));
    json_object_set_new(j, "kv_read_latency_p99_us", quantile_json(&p->kv_read_lat_p99));
    json_object_set_new(j, "kv_write_latency_p99_us", quantile_json(&p->kv_write_lat_p99));
    json_object_set_new(j, "kv_read_queue_p99_us", quantile_json(&p->kv_read_queue_p99));
    json_object_set_new(j, "device_read_latency_p99_us", quantile_json(&p->device_read_lat_p99));
    json_object_set_new(j, "kv_read_latency_mean_us",
                        p->kv.read_ios ? json_real(p->kv_read_lat_mean_us) : json_null());
    json_object_set_new(j, "kv_read_queue_mean_us",
                        p->kv.read_ios ? json_real(p->kv_read_queue_mean_us) : json_null());
    json_object_set_new(j, "lost_completions", json_integer((json_int_t)p->lost));
    json_object_set_new(j, "unowned_completions", json_integer((json_int_t)p->unowned));
    json_object_set_new(j, "untimed_completions", json_integer((json_int_t)p->untimed));
    char line[320];
    if (p->kv_read_lat_p99.known)
        snprintf(line, sizeof(line),
                 "%llu of the device's %llu bytes were the KV files', read at a p99 device "
                 "latency of %.0f-%.0f us",
                 (unsigned long long)kvb, (unsigned long long)dev, p->kv_read_lat_p99.lo_us,
                 p->kv_read_lat_p99.hi_us);
    else
        snprintf(line, sizeof(line),
                 "%llu of the device's %llu bytes were the KV files'; no KV-file reads",
                 (unsigned long long)kvb, (unsigned long long)dev);
    json_object_set_new(j, "statement", json_string(line));
    return j;
}

/* ---- the loader ---- */

#ifdef KVTIER_HAVE_BPF

struct bpfio {
    struct bpfio_bpf *skel;
    int hooks;         /* enum hooks */
    uint32_t detached; /* programs detached by bpfio_set_attached (bit i: skeleton program i) */
};

/* libbpf's diagnostics: libraries never print; keep the last line for the reason. */
static char last_libbpf_msg[160];

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN)
        vsnprintf(last_libbpf_msg, sizeof(last_libbpf_msg), fmt, ap);
    return 0;
}

static int why(char *reason, int r, const char *what)
{
    const char *hint =
        (r == -EPERM || r == -EACCES) ? " (needs root or CAP_BPF and CAP_PERFMON)" : "";
    snprintf(reason, BPFIO_REASON_MAX, "%s: %s%s%s%.120s", what, strerror(-r), hint,
             last_libbpf_msg[0] ? "; libbpf: " : "", last_libbpf_msg);
    size_t n = strlen(reason);
    if (n && reason[n - 1] == '\n')
        reason[n - 1] = '\0';
    return r;
}

/* Attaches one program; a failure of an optional one only clears *ok. */
static int attach(struct bpf_program *prog, struct bpf_link **link, bool *ok)
{
    *link = bpf_program__attach(prog);
    if (*link)
        return 0;
    *ok = false;
    return -errno;
}

/* How a direct I/O's file is found: from the bio itself (no thread hook), from a thread tag
 * set by an fentry hook or by a tracepoint, or not at all (processes only). Tried in order. */
enum hooks { HOOKS_BIO, HOOKS_FENTRY, HOOKS_TRACEPOINT, HOOKS_NONE, HOOKS__COUNT };

static const char *const hooks_name[HOOKS__COUNT] = { "bio", "fentry", "tracepoint", "none" };

/* Whether the kernel's BTF describes struct iomap_dio (the bio's bi_private on iomap's
 * direct-I/O path), so the program can read a direct I/O's file from its bio. */
static bool kernel_has_iomap_dio(void)
{
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf)
        return false;
    bool yes = btf__find_by_name_kind(btf, "iomap_dio", BTF_KIND_STRUCT) > 0;
    btf__free(btf);
    return yes;
}

/* Addresses of n kernel text symbols from /proc/kallsyms, in one pass (0 each when absent or
 * hidden). */
static void kallsyms_addrs(const char *const *names, uint64_t *ret, size_t n)
{
    memset(ret, 0, n * sizeof(*ret));
    FILE *f = fopen("/proc/kallsyms", "re");
    if (!f)
        return;
    char line[256], sym[128], type;
    unsigned long long addr;
    size_t found = 0;
    while (found < n && fgets(line, sizeof(line), f))
        if (sscanf(line, "%llx %c %127s", &addr, &type, sym) == 3)
            for (size_t i = 0; i < n; i++)
                if (!ret[i] && !strcmp(sym, names[i])) {
                    ret[i] = addr;
                    found++;
                }
    fclose(f);
}

/* Whether the disk's queue stamps each request's issue time itself (request io_start_time_ns):
 * it keeps I/O statistics when writeback throttling is set up, which a positive
 * queue/wbt_lat_usec shows. Then the issue hook is not needed. */
static bool queue_stamps_issue(unsigned major, unsigned minor)
{
    char p[96];
    snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/queue/wbt_lat_usec", major, minor);
    FILE *f = fopen(p, "re");
    long long v = 0;
    if (f && fscanf(f, "%lld", &v) != 1)
        v = 0;
    if (f)
        fclose(f);
    return v > 0;
}

/* Opens and loads the object with the file hooks of kind h only (none: process attribution
 * alone), attaches the block tracepoints and the hooks: the issue hook only where the queue
 * does not stamp issue times, the exit hook only where the direct-I/O completion handler is
 * unknown (bio_queue trusts a thread's tag for iomap's direct-I/O bios only). 0 or negative
 * errno. */
static int open_attach(unsigned major, unsigned minor, enum hooks h, struct bpfio_bpf **ret)
{
    struct bpfio_bpf *skel = bpfio_bpf__open();
    if (!skel)
        return -errno;
    skel->rodata->target_major = major;
    skel->rodata->target_minor = minor;
    static const char *const syms[] = { "iomap_dio_bio_end_io", "bio_chain_endio" };
    uint64_t addr[2];
    kallsyms_addrs(syms, addr, h == HOOKS_BIO ? 2 : 1);
    skel->rodata->dio_end_io = addr[0];
    skel->rodata->chain_end_io = h == HOOKS_BIO ? addr[1] : 0;
    if (h == HOOKS_BIO && (!skel->rodata->dio_end_io || !kernel_has_iomap_dio())) {
        snprintf(last_libbpf_msg, sizeof(last_libbpf_msg), "%s",
                 skel->rodata->dio_end_io ? "no struct iomap_dio in the kernel's BTF"
                                          : "iomap_dio_bio_end_io not in /proc/kallsyms");
        bpfio_bpf__destroy(skel);
        return -ENOTSUP;
    }
    bool exit_hook = h == HOOKS_FENTRY && !skel->rodata->dio_end_io;
    bool issue_hook = !queue_stamps_issue(major, minor);
    bpf_program__set_autoload(skel->progs.bio_queue, h != HOOKS_BIO);
    bpf_program__set_autoload(skel->progs.bio_queue_dio, h == HOOKS_BIO);
    bpf_program__set_autoload(skel->progs.rq_complete, h != HOOKS_BIO);
    bpf_program__set_autoload(skel->progs.rq_complete_dio, h == HOOKS_BIO);
    bpf_program__set_autoload(skel->progs.dio_enter, h == HOOKS_FENTRY);
    bpf_program__set_autoload(skel->progs.dio_exit, exit_hook);
    bpf_program__set_autoload(skel->progs.dio_begin, h == HOOKS_TRACEPOINT);
    bpf_program__set_autoload(skel->progs.rq_issue, issue_hook);
    bool ok = true;
    int r = bpfio_bpf__load(skel);
    if (r < 0 ||
        (r = h == HOOKS_BIO ? attach(skel->progs.bio_queue_dio, &skel->links.bio_queue_dio, &ok)
                            : attach(skel->progs.bio_queue, &skel->links.bio_queue, &ok)) < 0 ||
        (r = attach(skel->progs.bio_split, &skel->links.bio_split, &ok)) < 0 ||
        (issue_hook && (r = attach(skel->progs.rq_issue, &skel->links.rq_issue, &ok)) < 0) ||
        (r = h == HOOKS_BIO ? attach(skel->progs.rq_complete_dio, &skel->links.rq_complete_dio, &ok)
                            : attach(skel->progs.rq_complete, &skel->links.rq_complete, &ok)) < 0)
        goto out;
    if (h == HOOKS_FENTRY &&
        ((r = attach(skel->progs.dio_enter, &skel->links.dio_enter, &ok)) < 0 ||
         (exit_hook && (r = attach(skel->progs.dio_exit, &skel->links.dio_exit, &ok)) < 0)))
        goto out;
    if (h == HOOKS_TRACEPOINT)
        r = attach(skel->progs.dio_begin, &skel->links.dio_begin, &ok);
out:
    if (r < 0) {
        bpfio_bpf__destroy(skel);
        return r;
    }
    *ret = skel;
    return 0;
}

int bpfio_start_hooks(unsigned major, unsigned minor, const char *hooks, struct bpfio **ret,
                      bool *ret_file_tagging, char *reason)
{
    libbpf_set_print(quiet_print);
    last_libbpf_msg[0] = '\0';
    reason[0] = '\0';
    enum hooks from = HOOKS_BIO, to = HOOKS__COUNT;
    if (hooks) {
        for (from = HOOKS_BIO; from < HOOKS__COUNT && strcmp(hooks, hooks_name[from]); from++)
            ;
        if (from == HOOKS__COUNT) {
            snprintf(reason, BPFIO_REASON_MAX, "unknown file hooks '%.40s'", hooks);
            return -EINVAL;
        }
        to = from + 1;
    }
    struct bpfio_bpf *skel = NULL;
    int r = -EINVAL, first = 0;
    char first_msg[sizeof(last_libbpf_msg)] = "";
    enum hooks h;
    /* the bio names its file on iomap's path; else fentry scopes a thread tag exactly; some
     * kernels and sandboxes refuse fentry but allow the tracepoint; without either, requests
     * are still charged to processes */
    for (h = from; h < to; h++) {
        last_libbpf_msg[0] = '\0';
        if ((r = open_attach(major, minor, h, &skel)) == 0)
            break;
        if (h == from) {
            first = r;
            snprintf(first_msg, sizeof(first_msg), "%s", last_libbpf_msg);
        }
    }
    if (!skel)
        return why(reason, r, "loading the eBPF programs");
    if (h != from)
        snprintf(reason, BPFIO_REASON_MAX, "file hooks %s refused (%s%s%.100s); file hooks: %s%s",
                 hooks_name[from], strerror(-first), first_msg[0] ? ": " : "", first_msg,
                 hooks_name[h], h == HOOKS_NONE ? " (requests are charged to processes only)" : "");
    struct bpfio *b = xcalloc(1, sizeof(*b));
    b->skel = skel;
    b->hooks = h;
    if (ret_file_tagging)
        *ret_file_tagging = h != HOOKS_NONE;
    *ret = b;
    return 0;
}

int bpfio_start(unsigned major, unsigned minor, struct bpfio **ret, bool *ret_file_tagging,
                char *reason)
{
    return bpfio_start_hooks(major, minor, NULL, ret, ret_file_tagging, reason);
}

const char *bpfio_hooks(const struct bpfio *b)
{
    return hooks_name[b->hooks];
}

/* Deletes bio-table entries queued two sweep generations ago or earlier (bios merged into a
 * request they do not head are never looked up again), then starts a new generation. A
 * generation lasts from one snapshot to the next (a sample interval or a phase). */
static void sweep_bios(struct bpfio *b)
{
    int fd = bpf_map__fd(b->skel->maps.bio_tag);
    uint64_t gen = b->skel->bss->sweep_gen, key, next, *prev = NULL;
    size_t n = 0;
    struct bpfio_bio v;
    /* collect first, delete after: deleting while walking restarts get_next_key */
    uint64_t *stale = xcalloc(BPFIO_MAX_BIOS, sizeof(*stale));
    while (n < BPFIO_MAX_BIOS && bpf_map_get_next_key(fd, prev, &next) == 0) {
        if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.gen + 2 <= gen)
            stale[n++] = next;
        key = next;
        prev = &key;
    }
    for (size_t i = 0; i < n; i++)
        bpf_map_delete_elem(fd, &stale[i]);
    free(stale);
    b->skel->bss->sweep_gen = gen + 1;
}

/* Sums one per-CPU value (ncpu copies of n u64 counters) into out. */
static void sum_cpus(const uint64_t *per, int ncpu, size_t n, uint64_t *out)
{
    memset(out, 0, n * sizeof(*out));
    for (int c = 0; c < ncpu; c++)
        for (size_t i = 0; i < n; i++)
            out[i] += per[(size_t)c * n + i];
}

int bpfio_snapshot(struct bpfio *b, struct bpfio_snap *ret)
{
    sweep_bios(b);
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        return ncpu < 0 ? ncpu : -EINVAL;
    /* struct bpfio_val is all u64, so the per-CPU copies need no padding */
    _Static_assert(sizeof(struct bpfio_val) % 8 == 0, "per-CPU value layout");
    const size_t nval = sizeof(struct bpfio_val) / sizeof(uint64_t);
    uint64_t *per = xcalloc((size_t)ncpu * nval, sizeof(*per));
    int fd = bpf_map__fd(b->skel->maps.stats);
    struct bpfio_snap s = { 0 };
    s.e = xcalloc(BPFIO_MAX_KEYS, sizeof(*s.e));
    struct bpfio_key key, next;
    const struct bpfio_key *prev = NULL;
    while (s.n < BPFIO_MAX_KEYS && bpf_map_get_next_key(fd, prev, &next) == 0) {
        if (bpf_map_lookup_elem(fd, &next, per) == 0) {
            s.e[s.n].key = next;
            sum_cpus(per, ncpu, nval, (uint64_t *)&s.e[s.n].val);
            s.n++;
        }
        key = next;
        prev = &key;
    }
    int lfd = bpf_map__fd(b->skel->maps.lost);
    uint64_t v[4] = { 0 };
    for (uint32_t i = 0; i < 4; i++) {
        uint64_t one = 0;
        if (bpf_map_lookup_elem(lfd, &i, per) == 0)
            sum_cpus(per, ncpu, 1, &one);
        v[i] = one;
    }
    free(per);
    s.lost_full = v[0];
    s.lost_early = v[1];
    s.untagged_issue = v[2];
    s.bio_table_full = v[3];
    bpfio_snap_sort(&s);
    *ret = s;
    return 0;
}

int bpfio_prog_stats_each(const struct bpfio *b, struct bpfio_prog_stat *ret, size_t max)
{
    struct bpf_program *progs[] = { b->skel->progs.bio_queue,   b->skel->progs.bio_queue_dio,
                                    b->skel->progs.bio_split,   b->skel->progs.rq_issue,
                                    b->skel->progs.rq_complete, b->skel->progs.rq_complete_dio,
                                    b->skel->progs.dio_enter,   b->skel->progs.dio_exit,
                                    b->skel->progs.dio_begin };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]) && n < max; i++) {
        int fd = bpf_program__fd(progs[i]);
        if (fd < 0)
            continue;
        struct bpf_prog_info info;
        uint32_t len = sizeof(info);
        memset(&info, 0, sizeof(info));
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
            return -errno;
        ret[n++] = (struct bpfio_prog_stat){ .name = bpf_program__name(progs[i]),
                                             .run_ns = info.run_time_ns,
                                             .runs = info.run_cnt,
                                             .misses = info.recursion_misses };
    }
    return (int)n;
}

int bpfio_prog_stats(const struct bpfio *b, uint64_t *ret_run_ns, uint64_t *ret_runs)
{
    struct bpfio_prog_stat st[BPFIO_PROGS];
    int n = bpfio_prog_stats_each(b, st, BPFIO_PROGS);
    if (n < 0)
        return n;
    uint64_t ns = 0, runs = 0;
    for (int i = 0; i < n; i++) {
        ns += st[i].run_ns;
        runs += st[i].runs;
    }
    if (runs == 0 && ns == 0)
        return -ENODATA;
    *ret_run_ns = ns;
    *ret_runs = runs;
    return 0;
}

int bpfio_set_attached(struct bpfio *b, bool on)
{
    const struct bpf_object_skeleton *s = b->skel->skeleton;
    assert(s->prog_cnt <= 32);
    int r = 0;
    for (int i = 0; i < s->prog_cnt; i++) {
        struct bpf_link **link = s->progs[i].link;
        if (!on && *link) {
            bpf_link__destroy(*link);
            *link = NULL;
            b->detached |= 1u << i;
        } else if (on && (b->detached & (1u << i))) {
            *link = bpf_program__attach(*s->progs[i].prog);
            if (!*link && !r)
                r = -errno;
            if (*link)
                b->detached &= ~(1u << i);
        }
    }
    return r;
}

void bpfio_free(struct bpfio *b)
{
    if (!b)
        return;
    bpfio_bpf__destroy(b->skel);
    free(b);
}

#else /* built without eBPF */

struct bpfio {
    int unused;
};

int bpfio_start(unsigned major, unsigned minor, struct bpfio **ret, bool *ret_file_tagging,
                char *reason)
{
    return bpfio_start_hooks(major, minor, NULL, ret, ret_file_tagging, reason);
}

int bpfio_start_hooks(unsigned major, unsigned minor, const char *hooks, struct bpfio **ret,
                      bool *ret_file_tagging, char *reason)
{
    snprintf(reason, BPFIO_REASON_MAX,
             "built without eBPF support (bpftool, clang or /sys/kernel/btf/vmlinux missing at "
             "build time)");
    return -ENOTSUP;
}

int bpfio_snapshot(struct bpfio *b, struct bpfio_snap *ret)
{
    return -ENOTSUP;
}

const char *bpfio_hooks(const struct bpfio *b)
{
    return "none";
}

int bpfio_prog_stats(const struct bpfio *b, uint64_t *ret_run_ns, uint64_t *ret_runs)
{
    return -ENOTSUP;
}

int bpfio_prog_stats_each(const struct bpfio *b, struct bpfio_prog_stat *ret, size_t max)
{
    return -ENOTSUP;
}

int bpfio_set_attached(struct bpfio *b, bool on)
{
    (void)b;
    (void)on;
    return -ENOTSUP;
}

void bpfio_free(struct bpfio *b)
{
    free(b);
}

#endif
