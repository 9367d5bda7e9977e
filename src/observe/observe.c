/* SPDX-License-Identifier: Apache-2.0 */
/* The sampler core (see observe.h): the thread and the phase marks. Every source is a sampler
 * (sampler.h), called in table order; this file never names one.
 *
 * Design: all sampling state lives in struct observe and is guarded by one mutex. A sample
 * (sample_once) asks every sampler for its reading, each writing its CSV rows against the
 * previous sample (rates over the measured interval). The thread calls it on absolute
 * deadlines; phase marks call it too, so every phase edge has an exact sample, and then ask
 * every sampler for a snapshot. Per-phase figures are the samplers' differences of the two
 * snapshots, assembled into one OS delta. */
#include "observe/observe.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fileio.h"
#include "common/xalloc.h"
#include "observe/sampler.h"

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

static void observe_flush(struct observe *o)
{
    for (size_t i = 0; i < o->n_ops; i++)
        if (o->csv[i] && fflush(o->csv[i]) != 0)
            sampler_note_write(o, -errno);
}

/* One sample of everything. Lock held. */
static int sample_once(struct observe *o)
{
    uint64_t t = sampler_now_ns(o), tw = sampler_wall_ns(o);
    double itv = o->have_last ? (double)(t - o->last_ns) / 1e9 : 0;
    double ts = (double)(t - o->t0_ns) / 1e9;
    char tcols[128], tcols2[96];
    snprintf(tcols, sizeof(tcols), "%" PRIu64 ",%.3f,%.3f,", tw, ts, itv);
    snprintf(tcols2, sizeof(tcols2), "%" PRIu64 ",%.3f,", tw, ts);
    if (o->have_last && t == o->last_ns)
        return 0; /* no time passed: nothing to rate */
    struct sampler_tick tick = {
        .t_ns = t, .itv_s = itv, .have_last = o->have_last, .tcols = tcols, .tcols_nointv = tcols2
    };
    for (size_t i = 0; i < o->n_ops; i++)
        if (o->ops[i]->sample)
            o->ops[i]->sample(o, o->state[i], &tick, o->csv[i]);
    /* Flush at most once a second (and at every phase mark and stop): a crash loses at most
     * the last second of rows, and fast intervals do not pay a write per file per sample. */
    uint64_t real = clk_now_ns();
    if (real - o->flush_ns >= CLK_NS_PER_S || o->in_phase != o->was_in_phase) {
        observe_flush(o);
        o->flush_ns = real;
    }
    o->was_in_phase = o->in_phase;
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

/* ---- start ---- */

static char *dup_or(const char *s, const char *def)
{
    return s ? xstrdup(s) : (def ? xstrdup(def) : NULL);
}

/* Each sampler's setup in table order, then the CSVs of those that write one. */
static int setup_samplers(struct observe *o, const struct observe_config *cfg)
{
    bool csv[SAMPLER_MAX];
    for (size_t i = 0; i < o->n_ops; i++) {
        int r = o->ops[i]->setup ? o->ops[i]->setup(o, cfg, &o->state[i]) : 0;
        if (r < 0)
            return r;
        csv[i] = r != SAMPLER_NO_CSV && o->ops[i]->csv_name;
    }
    for (size_t i = 0; i < o->n_ops; i++) {
        if (!csv[i])
            continue;
        char *p = fileio_join(o->ops[i]->csv_raw ? o->raw_dir : o->os_dir, o->ops[i]->csv_name);
        o->csv[i] = fopen(p, "w+e"); /* readable too, for fileio_close_lines */
        int e = errno;
        free(p);
        if (!o->csv[i])
            return -e;
        fprintf(o->csv[i], "%s\n", o->ops[i]->csv_header);
        fflush(o->csv[i]);
    }
    return 0;
}

static int write_sources(struct observe *o)
{
    json_t *src = json_object();
    json_object_set_new(src, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(src, "t_unix_ns", json_integer((json_int_t)sampler_wall_ns(o)));
    json_object_set_new(src, "interval_ns", json_integer((json_int_t)o->interval_ns));
    json_object_set_new(src, "proc_root", json_string(o->proc_root));
    json_object_set_new(src, "sys_root", json_string(o->sys_root));
    json_object_set_new(src, "kv_dir", o->kv_dir ? json_string(o->kv_dir) : json_null());
    json_object_set(src, "sources", o->sources);
    int r = sampler_write_json(o, o->os_dir, "sources.json", src);
    json_decref(src);
    return r;
}

static struct observe *observe_new(const struct observe_config *cfg)
{
    struct observe *o = xcalloc(1, sizeof(*o));
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
    o->ops = cfg->samplers ? cfg->samplers : sampler_table;
    o->n_ops = cfg->samplers ? cfg->n_samplers : sampler_table_len;
    assert(o->n_ops <= SAMPLER_MAX);
    if (cfg->n_pids)
        memcpy(o->roots, cfg->pids, cfg->n_pids * sizeof(pid_t));
    o->n_roots = cfg->n_pids;
    o->sources = json_object();
    kfile_init(&o->kf);
    buf_init(&o->rbuf, 4u << 20);
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    return o;
}

int observe_start(const struct observe_config *cfg, struct observe **ret)
{
    if (!cfg || !cfg->os_dir || cfg->n_pids > OBSERVE_MAX_PIDS ||
        cfg->n_kvbm_urls > OBSERVE_MAX_URLS || (cfg->n_pids && !cfg->pids) ||
        (cfg->n_kvbm_urls && !cfg->kvbm_urls) || cfg->n_samplers > SAMPLER_MAX ||
        (cfg->n_samplers && !cfg->samplers))
        return -EINVAL;
    if (cfg->interval_ns && cfg->interval_ns < 10 * CLK_NS_PER_MS)
        return -EINVAL;
    struct observe *o = observe_new(cfg);
    int r;
    const char *dirs[] = { o->os_dir, o->raw_dir, o->metrics_dir };
    for (int i = 0; i < 3; i++) {
        r = fileio_mkdir_p(dirs[i]);
        if (r < 0)
            goto fail;
    }
    r = setup_samplers(o, cfg);
    if (r < 0)
        goto fail;
    r = write_sources(o);
    if (r < 0)
        goto fail;
    o->t0_ns = sampler_now_ns(o);
    for (size_t i = 0; i < o->n_ops; i++)
        assert(o->ops[i] && o->ops[i]->name && (!o->ops[i]->csv_name || o->ops[i]->csv_header));
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
        sampler_scan_tree(o, sampler_now_ns(o));
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

static void take_snap(struct observe *o, struct snap *s, bool end)
{
    s->t_ns = o->last_ns;
    s->t_unix_ns = sampler_wall_ns(o);
    for (size_t i = 0; i < o->n_ops; i++)
        if (o->ops[i]->snapshot)
            o->ops[i]->snapshot(o, o->state[i], s, end);
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
    take_snap(o, &o->begin, false);
    o->in_phase = true;
    observe_flush(o);
    r = o->write_err;
out:
    pthread_mutex_unlock(&o->lock);
    return r;
}

/* The phase's OS delta: its edges, then every sampler's part in table order. */
static json_t *os_delta(struct observe *o, const struct snap *b, const struct snap *e)
{
    json_t *d = json_object();
    struct sampler_phase f = { .dur_s = (double)(e->t_ns - b->t_ns) / 1e9 };
    json_object_set_new(d, "schema_version", json_integer(OBSERVE_SCHEMA_VERSION));
    json_object_set_new(d, "phase", json_string(o->phase));
    json_object_set_new(d, "t_start_unix_ns", json_integer((json_int_t)b->t_unix_ns));
    json_object_set_new(d, "t_end_unix_ns", json_integer((json_int_t)e->t_unix_ns));
    json_object_set_new(d, "duration_s", json_real(f.dur_s));
    for (size_t i = 0; i < o->n_ops; i++)
        if (o->ops[i]->delta)
            o->ops[i]->delta(o, o->state[i], b, e, &f, d);
    return d;
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
    assert(o->in_phase);
    take_snap(o, &e, true);
    json_t *d = os_delta(o, &o->begin, &e);
    observe_flush(o);
    char fname[128];
    snprintf(fname, sizeof(fname), "phase_%s_os_delta.json", o->phase);
    sampler_write_json(o, o->os_dir, fname, d);
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
    for (size_t i = 0; i < o->n_ops; i++)
        if (o->ops[i]->finish)
            o->ops[i]->finish(o, o->state[i]);
    for (size_t i = 0; i < o->n_ops; i++) {
        int rc = fileio_close_lines(&o->csv[i]); /* a partial last line cut on a full disk */
        if (rc < 0)
            sampler_note_write(o, rc);
    }
    pthread_mutex_unlock(&o->lock);
summary:
    if (ret_summary) {
        json_t *s = json_object();
        json_object_set_new(s, "samples", sampler_j_u64(o->samples));
        json_object_set_new(s, "sampler_cpu_ns", sampler_j_u64(o->final_cpu_ns));
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
    for (size_t i = 0; i < o->n_ops; i++) {
        fileio_close_lines(&o->csv[i]);
        if (o->ops[i]->fini)
            o->ops[i]->fini(o, o->state[i]);
    }
    snap_fini(&o->begin);
    json_decref(o->sources);
    kfile_fini(&o->kf);
    buf_fini(&o->rbuf);
    free(o->proc_root);
    free(o->sys_root);
    free(o->dev_root);
    free(o->kv_dir);
    free(o->proc_name);
    free(o->os_dir);
    free(o->raw_dir);
    free(o->metrics_dir);
    free(o->nvml_path);
    free(o->nvme_cli);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}
