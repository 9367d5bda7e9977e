/* SPDX-License-Identifier: Apache-2.0 */
/* The samplers behind observe (internal to src/observe and its tests). Every source the
 * sampler reads is a struct sampler_ops: its name, its CSV file and header, and hooks the
 * core calls in table order: setup at start (record the source in sources.json), sample at
 * every tick (one CSV row per device, process or series), snapshot at each phase edge, delta
 * at a phase end (its part of phase_<name>_os_delta.json), finish at stop (its report files)
 * and fini. observe.c keeps only the thread, the phase marks and the files common to all; it
 * never branches on a sampler. sampler_null.c is the test double.
 *
 * Samplers see the whole struct observe: the serving tree, the device and the shared read
 * cache are facts several of them use. What one sampler finds for a later one in the same
 * tick or phase travels in struct sampler_tick and struct sampler_phase, so the table order is
 * a dependency order: disk before processes (noise and attribution compare the two), processes
 * before cgroup (the cgroup is found through the server's pid). */
#ifndef KVTIER_OBSERVE_SAMPLER_H
#define KVTIER_OBSERVE_SAMPLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/kfile.h"
#include "common/procio.h"
#include "observe/attrib.h"
#include "observe/cgio.h"
#include "observe/diskstats.h"
#include "observe/gpu.h"
#include "observe/netdev.h"
#include "observe/noise.h"
#include "observe/observe.h"
#include "observe/promdelta.h"
#include "observe/scrape.h"
#include "observe/smart.h"

#define SAMPLER_MAX    16 /* samplers in one table */
#define SAMPLER_NO_CSV 1  /* setup: the sampler runs but writes no CSV this time */

struct observe;
struct snap;

/* The facts of one tick: time columns and what earlier samplers measured. */
struct sampler_tick {
    uint64_t t_ns;
    double itv_s;             /* since the previous sample; 0 at the first */
    bool have_last;           /* a previous sample exists (rates can be computed) */
    const char *tcols;        /* "t_unix_ns,t_s,interval_s," */
    const char *tcols_nointv; /* "t_unix_ns,t_s," */
    /* written by the disk sampler */
    bool disk_ok; /* this tick and the previous one read the device */
    struct diskstats_rates disk;
    /* written by the process sampler: the serving tree's bytes in this interval */
    uint64_t server_read_bytes, server_write_bytes;
    /* written by the GPU sampler */
    bool gpu_throttled;
};

/* The facts of one phase, filled by the deltas in table order. */
struct sampler_phase {
    double dur_s;
    bool dev_ok; /* the device was read at both edges */
    struct diskstats_rates dr;
    uint64_t server[PROCIO_KEY__COUNT];
    uint64_t other_read_bytes, other_write_bytes;
};

/* The iostat -x columns of os_iostat.csv (and os_iostat_remote.csv, the same columns from a
 * node_exporter): one row per interval (sampler_disk_row), and a phase's device object
 * (sampler_disk_json). */
#define SAMPLER_IOSTAT_HEADER                                                                \
    "t_unix_ns,t_s,interval_s,device,r/s,w/s,rkB/s,wkB/s,rrqm/s,wrqm/s,%rrqm,%wrqm,r_await," \
    "w_await,aqu-sz,rareq-sz,wareq-sz,%util,d/s,dkB/s,drqm/s,%drqm,d_await,dareq-sz,f/s,"    \
    "f_await,read_bytes,write_bytes,discard_bytes,in_flight,reset"

struct sampler_ops {
    const char *name;
    const char *csv_name;   /* NULL: no CSV */
    const char *csv_header; /* the CSV's first line, without the newline */
    bool csv_raw;           /* the CSV goes to raw_dir instead of os_dir */
    /* At start, in table order. 0, SAMPLER_NO_CSV, or a negative errno that fails the start.
     * *ret_state (NULL before the call) is the sampler's own state, if any. */
    int (*setup)(struct observe *o, const struct observe_config *cfg, void **ret_state);
    /* One sample; csv is NULL when the sampler writes none. Lock held. */
    void (*sample)(struct observe *o, void *state, struct sampler_tick *t, FILE *csv);
    /* Copies what the phase delta needs into s; end: the phase's last edge. Lock held. */
    void (*snapshot)(struct observe *o, void *state, struct snap *s, bool end);
    /* Adds its part of the phase's OS delta to d. Lock held. */
    void (*delta)(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d);
    /* At stop, after the last sample: the sampler's own report files. Lock held. */
    void (*finish)(struct observe *o, void *state);
    /* Frees the state and what the sampler holds in o. */
    void (*fini)(struct observe *o, void *state);
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

/* The raw readings at one phase edge. */
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

/* Extremes of the noise sources over the open phase. */
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

    /* the samplers */
    const struct sampler_ops *const *ops;
    size_t n_ops;
    void *state[SAMPLER_MAX];
    FILE *csv[SAMPLER_MAX];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop, stopped, started;
    uint64_t final_cpu_ns;
    clockid_t thread_clock;
    bool have_thread_clock;

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

/* The samplers, one file each. */
extern const struct sampler_ops sampler_disk_ops;   /* /proc/diskstats: os_iostat.csv */
extern const struct sampler_ops sampler_proc_ops;   /* serving tree /proc/PID/io: os_pid_io.csv */
extern const struct sampler_ops sampler_cgroup_ops; /* cgroup io: cgroup_io.csv */
extern const struct sampler_ops sampler_net_ops;    /* /proc/net/dev: net_dev.csv */
extern const struct sampler_ops sampler_gpu_ops;    /* NVML: gpu.csv */
extern const struct sampler_ops sampler_noise_ops;  /* PSI, load, cpufreq, thermal: noise.csv */
extern const struct sampler_ops sampler_attrib_ops; /* fanotify and the KV files' page cache */
extern const struct sampler_ops sampler_kvbm_ops;   /* KVBM /metrics: kvbm_timeseries.csv */
extern const struct sampler_ops sampler_fe_ops;     /* frontend /metrics */
extern const struct sampler_ops sampler_smart_ops;  /* NVMe SMART pre/post */
extern const struct sampler_ops sampler_remote_ops; /* node_exporter: os_iostat_remote.csv */
extern const struct sampler_ops sampler_null_ops;   /* test double: counts its calls */

/* The default table in dependency order, and its length. */
extern const struct sampler_ops *const sampler_table[];
extern const size_t sampler_table_len;

/* Shared helpers of the samplers (sampler.c). */
uint64_t sampler_now_ns(const struct observe *o);
uint64_t sampler_wall_ns(const struct observe *o);
/* Records a source in sources.json: status ok/unavailable, reason, and extra's fields (taken). */
void sampler_source(struct observe *o, const char *name, bool ok, const char *reason,
                    json_t *extra);
/* {schema_version, status: "unavailable", reason} (owned). */
json_t *sampler_unavailable(const char *reason);
/* Keeps the first write error. */
void sampler_note_write(struct observe *o, int r);
/* One CSV row into csv (NULL: nothing). */
void sampler_row(struct observe *o, FILE *csv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A CSV number cell: empty when NaN. */
const char *sampler_numcell(char *buf, size_t len, double v);
int sampler_write_json(struct observe *o, const char *dir, const char *name, json_t *j);
/* Reads a kept /proc or /sys file into o->rbuf. */
int sampler_kread(struct observe *o, const char *path);
json_t *sampler_j_u64(uint64_t v);
void sampler_disk_row(struct observe *o, FILE *csv, const char *tcols, const char *name,
                      const struct diskstats_rates *dr, uint64_t in_flight);
void sampler_disk_json(json_t *dev, const struct diskstats_rates *dr);
uint64_t sampler_sat_sub(uint64_t a, uint64_t b);
const struct pidstate *sampler_find_pid(const struct pidstate *a, size_t n, pid_t pid);
/* The serving tree rebuilt from the roots, the process name and the listening port. */
void sampler_scan_tree(struct observe *o, uint64_t t);

#endif
