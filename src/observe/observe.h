/* SPDX-License-Identifier: Apache-2.0 */
/* The OS and mechanism sampler of kvtier: one thread that samples /proc/diskstats (iostat -x
 * columns), /proc/PID/io of the serving process tree (pidstat -d columns), cgroup io, noise
 * (PSI, load, CPU frequency, thermal, dirty pages), network counters, GPU telemetry (NVML at
 * run time) and the KVBM and frontend Prometheus endpoints into CSV time series; phase marks
 * that snapshot every endpoint and OS counter and write per-phase metric deltas; and the NVMe
 * SMART, page-cache and attribution reports. `kvtier observe` runs it alone, `kvtier bundle`
 * beside a stack. Everything a machine lacks becomes an "unavailable" record with a reason.
 *
 * Files (paths relative to the configured directories; formats in docs/observe.md):
 *   os_dir:      os_iostat.csv os_pid_io.csv cgroup_io.csv noise.csv gpu.csv net_dev.csv
 *                nvme_smart_pre.json nvme_smart_post.json nvme_smart_delta.json
 *                io_attribution_report.json sources.json phase_<name>_os_delta.json
 *   raw_dir:     kvbm_timeseries.csv frontend_timeseries.csv
 *   metrics_dir: phase_<name>_{kvbm,frontend}_metrics_{start,end,delta}.json
 *
 * Threading: observe_start() spawns the sampler thread; the other calls are made from one
 * controlling thread (the bundle runner or the cli), never concurrently with each other. */
#ifndef KVTIER_OBSERVE_OBSERVE_H
#define KVTIER_OBSERVE_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/clk.h"

#define OBSERVE_SCHEMA_VERSION 1
#define OBSERVE_MAX_PIDS       256 /* root pids given by the caller */
#define OBSERVE_MAX_URLS       32  /* KVBM endpoints (one per worker) */
#define OBSERVE_PHASE_NAME_MAX 64  /* [A-Za-z0-9_.-]+ */

struct observe_config {
    const char *proc_root;         /* borrowed; "/proc" when NULL */
    const char *sys_root;          /* borrowed; "/sys" when NULL */
    const char *dev_root;          /* borrowed; "/dev" when NULL (NVMe admin ioctl) */
    const char *device;            /* borrowed; block device name ("nvme0n1", "vda"); NULL: resolve
                                      from kv_dir (partitions and dm devices map to the whole disk) */
    const char *kv_dir;            /* borrowed; KV cache directory (page cache, attribution); may be
                                      NULL */
    const pid_t *pids;             /* borrowed; roots of the serving process tree (children found
                                      through /proc); copied at start */
    size_t n_pids;                 /* <= OBSERVE_MAX_PIDS */
    const char *proc_name;         /* borrowed; also adopt processes whose comm equals this; NULL */
    unsigned listen_port;          /* also adopt the process listening on this TCP port; 0 = none */
    const char *cgroup_path;       /* borrowed; cgroup directory of the stack (v2 with io.stat or v1
                                      blkio); NULL = none */
    const char *const *kvbm_urls;  /* borrowed; KVBM /metrics URLs, summed (several workers) */
    size_t n_kvbm_urls;            /* <= OBSERVE_MAX_URLS */
    const char *frontend_url;      /* borrowed; dynamo_frontend_* /metrics URL; NULL = none */
    uint64_t interval_ns;          /* sampling interval; 0 = 1 s; minimum 10 ms */
    uint64_t scrape_timeout_ns;    /* per HTTP scrape; 0 = 2 s */
    const char *os_dir;            /* borrowed; created; required */
    const char *raw_dir;           /* borrowed; created; NULL = os_dir */
    const char *metrics_dir;       /* borrowed; created; NULL = os_dir */
    const struct clk *clk;         /* borrowed; clk_system() when NULL */
    const char *nvml_path;         /* borrowed; NVML library; NULL = "libnvidia-ml.so.1" */
    const char *nvme_cli;          /* borrowed; nvme-cli program for the SMART fallback; NULL =
                                      "nvme" from PATH; "" = do not use nvme-cli */
    bool no_gpu;                   /* skip NVML */
    bool no_smart;                 /* skip SMART (pre/post files say so) */
    bool no_fanotify;              /* attribution by /proc scanning only */
    bool no_ebpf;                  /* no block-layer eBPF attribution (observe/bpfio.h) */
    const char *storage_tier;      /* borrowed; "local_nvme" (NULL), "shared_nvmeof" or "nfs" */
    const char *storage_endpoint;  /* borrowed; the remote tier's address (NVMe-oF NQN, NFS
                                      export); NULL for local */
    const char *node_exporter_url; /* borrowed; /metrics of the node holding the KV device;
                                      NULL = no remote evidence */
    const char *remote_device;     /* borrowed; that node's device name; NULL = the local name */
    bool manual;                   /* no thread: samples only in observe_sample_now() and at
                                      phase marks (golden tests, single-shot use) */
    const struct sampler_ops *const *samplers; /* borrowed; the samplers in order
                                     (observe/sampler.h); NULL = every source */
    size_t n_samplers;
};

struct observe;
struct sampler_ops;

/* Validates cfg, resolves the device, writes os/sources.json (what is available and why not)
 * and os/nvme_smart_pre.json, opens the CSV files and starts the sampler thread, which takes
 * its first sample at once and then every interval (absolute deadlines, no drift).
 * Errors: -EINVAL bad config (too many pids/urls, no os_dir), -ENOENT named device absent,
 * or a negative errno from creating the output directories. An unreachable endpoint or a
 * missing OS source is not an error: it is recorded as unavailable. *ret owned
 * (observe_free). Controlling thread. */
int observe_start(const struct observe_config *cfg, struct observe **ret);

/* Adds a root pid to the serving tree after start (the stack may be launched after the
 * sampler). 0, or -EMSGSIZE past OBSERVE_MAX_PIDS. Any thread. */
int observe_add_pid(struct observe *o, pid_t pid);

/* Marks the start of a phase: snapshots every metrics endpoint and OS counter now and writes
 * metrics_dir/phase_<name>_{kvbm,frontend}_metrics_start.json. -EINVAL for a bad name or a
 * phase already open, 0 otherwise (an unreachable endpoint is recorded, not an error).
 * Controlling thread. */
int observe_phase_begin(struct observe *o, const char *name);

/* Ends the open phase `name`: snapshots again, writes the _end and _delta metric files
 * (counter deltas with reset detection, gauge start and end, histogram bucket deltas) and
 * os_dir/phase_<name>_os_delta.json, and returns the same OS delta object in *ret_os_delta
 * (owned): device bytes read/written and iostat figures, server process-tree read/write bytes,
 * cgroup bytes, attribution shares, page-cache state of the KV files, noise, SMART-free
 * counters. -EINVAL if `name` is not the open phase. Controlling thread. */
int observe_phase_end(struct observe *o, const char *name, json_t **ret_os_delta);

/* Stops and joins the sampler thread, flushes the CSVs, writes os/nvme_smart_post.json,
 * os/nvme_smart_delta.json and os/io_attribution_report.json. Returns 0 or the first write
 * error (all files are still attempted). *ret_summary (may be NULL) gets an owned summary:
 * samples taken, sampler CPU time, sources. Idempotent. Controlling thread. */
int observe_stop(struct observe *o, json_t **ret_summary);

/* Takes one sample now on the calling thread (all CSVs get a row computed against the
 * previous sample). For manual mode and tests; safe beside the thread (a lock serialises
 * samples). 0 or the first CSV write error. */
int observe_sample_now(struct observe *o);

/* Sampler-thread CPU time so far (ns, CLOCK_THREAD_CPUTIME_ID of the thread) and the number
 * of samples taken; for the overhead benchmark. Any thread. */
void observe_cpu_stats(const struct observe *o, uint64_t *ret_cpu_ns, uint64_t *ret_samples);

/* Stops if still running and frees. NULL is a no-op. */
void observe_free(struct observe *o);

#endif
