/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier observe: runs the OS and metrics samplers (observe/observe.h) on their own beside any
 * stack, writing a bundle's os/ files (and the metrics time series and phase deltas) into
 * --out. Stops after --duration or on SIGINT/SIGTERM; with --phase the whole run is one phase
 * whose deltas are written at the end. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cliopt.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "observe/observe.h"

struct observe_cli {
    struct observe_config cfg; /* the options that are the sampler's own settings */
    const char *pids, *kvbm_urls;
    uint64_t port, interval_ms, duration_ns;
    const char *phase, *ready_file;
    int storage_kind; /* index into storage_kinds */
};

static const struct opt_choice storage_kinds[] = {
    { "local_nvme", "the KV tier on a local NVMe" },
    { "shared_nvmeof", "a shared NVMe-oF tier: device evidence from the remote node" },
    { "nfs", "an NFS tier: device evidence from the server" },
    { NULL, NULL },
};

#define O(f) offsetof(struct observe_cli, f)
#define C(f) offsetof(struct observe_cli, cfg.f)
static const struct opt_def defs[] = {
    { "device", 'd', OPT_STR, C(device), NULL, OPT_UNBOUNDED, NULL, "Targets",
      "block device name (nvme0n1, vda); default: resolved from --kv-dir" },
    { "kv-dir", 0, OPT_STR, C(kv_dir), NULL, OPT_UNBOUNDED, NULL, "Targets",
      "KV cache directory (device resolution, page cache, attribution)" },
    { "pid", 'p', OPT_STR, O(pids), NULL, OPT_UNBOUNDED, NULL, "Targets",
      "comma-separated root pids of the serving process tree" },
    { "proc-name", 0, OPT_STR, C(proc_name), NULL, OPT_UNBOUNDED, NULL, "Targets",
      "also follow processes with this comm name" },
    { "port", 0, OPT_U64, O(port), "0", 0, 65535, NULL, "Targets",
      "also follow the process listening on this TCP port (0 = none)" },
    { "cgroup", 0, OPT_STR, C(cgroup_path), NULL, OPT_UNBOUNDED, NULL, "Targets",
      "cgroup directory of the stack (v2 io.stat or v1 blkio); default: the server's" },
    { "kvbm-url", 0, OPT_STR, O(kvbm_urls), NULL, OPT_UNBOUNDED, NULL, "Metrics",
      "comma-separated KVBM /metrics URLs (summed over workers)" },
    { "frontend-url", 0, OPT_STR, C(frontend_url), NULL, OPT_UNBOUNDED, NULL, "Metrics",
      "Dynamo frontend /metrics URL" },
    { "scrape-timeout", 0, OPT_DURATION_NS, C(scrape_timeout_ns), "2s", OPT_UNBOUNDED, NULL,
      "Metrics", "timeout of one scrape" },
    { "interval-ms", 'i', OPT_U64, O(interval_ms), "1000", 10, 3600000, NULL, "Sampling",
      "sampling interval in milliseconds" },
    { "duration", 't', OPT_DURATION_NS, O(duration_ns), "0", OPT_UNBOUNDED, NULL, "Sampling",
      "stop after this long (0 = until SIGINT/SIGTERM)" },
    { "phase", 0, OPT_STR, O(phase), NULL, OPT_UNBOUNDED, NULL, "Sampling",
      "treat the whole run as one phase with this name (writes phase deltas)" },
    { "out", 'o', OPT_STR, C(os_dir), NULL, OPT_UNBOUNDED, NULL, "Output",
      "directory for the os/ files (required)" },
    { "raw-dir", 0, OPT_STR, C(raw_dir), NULL, OPT_UNBOUNDED, NULL, "Output",
      "directory for the metrics time series (default: --out)" },
    { "metrics-dir", 0, OPT_STR, C(metrics_dir), NULL, OPT_UNBOUNDED, NULL, "Output",
      "directory for phase metric snapshots and deltas (default: --out)" },
    { "ready-file", 0, OPT_STR, O(ready_file), NULL, OPT_UNBOUNDED, NULL, "Output",
      "write {\"pid\": P} here once sampling runs" },
    { "proc-root", 0, OPT_STR, C(proc_root), "/proc", OPT_UNBOUNDED, NULL, "Roots",
      "procfs root (fixtures in tests)" },
    { "sys-root", 0, OPT_STR, C(sys_root), "/sys", OPT_UNBOUNDED, NULL, "Roots",
      "sysfs root (fixtures in tests)" },
    { "dev-root", 0, OPT_STR, C(dev_root), "/dev", OPT_UNBOUNDED, NULL, "Roots",
      "device node root (NVMe admin ioctl)" },
    { "nvml", 0, OPT_STR, C(nvml_path), "libnvidia-ml.so.1", OPT_UNBOUNDED, NULL, "Sources",
      "NVML library loaded at run time" },
    { "nvme-cli", 0, OPT_STR, C(nvme_cli), "nvme", OPT_UNBOUNDED, NULL, "Sources",
      "nvme-cli program for the SMART fallback (\"\" = never)" },
    { "no-gpu", 0, OPT_BOOL, C(no_gpu), NULL, OPT_UNBOUNDED, NULL, "Sources",
      "skip GPU telemetry" },
    { "no-smart", 0, OPT_BOOL, C(no_smart), NULL, OPT_UNBOUNDED, NULL, "Sources",
      "skip NVMe SMART" },
    { "no-fanotify", 0, OPT_BOOL, C(no_fanotify), NULL, OPT_UNBOUNDED, NULL, "Sources",
      "attribution by /proc scanning only" },
    { "no-ebpf", 0, OPT_BOOL, C(no_ebpf), NULL, OPT_UNBOUNDED, NULL, "Sources",
      "no block-layer eBPF attribution (the fanotify and /proc path only)" },
    { "storage-kind", 0, OPT_ENUM, O(storage_kind), "local_nvme", OPT_UNBOUNDED, storage_kinds,
      "Remote",
      "where the KV tier lives: local_nvme, shared_nvmeof or nfs (remote kinds expect "
      "--node-exporter)" },
    { "storage-endpoint", 0, OPT_STR, C(storage_endpoint), NULL, OPT_UNBOUNDED, NULL, "Remote",
      "the remote tier's address (NVMe-oF NQN, NFS export), recorded" },
    { "node-exporter", 0, OPT_STR, C(node_exporter_url), NULL, OPT_UNBOUNDED, NULL, "Remote",
      "/metrics URL of a node_exporter on the node holding the KV device (os_iostat_remote.csv)" },
    { "remote-device", 0, OPT_STR, C(remote_device), NULL, OPT_UNBOUNDED, NULL, "Remote",
      "that node's block device name (default: the local device name)" },
    OPT_END,
};
#undef O
#undef C

static int parse_list(const char *s, char ***ret, size_t max, size_t *ret_n)
{
    char *copy = xstrdup(s);
    char **items = xcalloc(max + 1, sizeof(*items));
    size_t n = 0;
    int r = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n >= max) {
            r = -EMSGSIZE;
            break;
        }
        items[n++] = xstrdup(t);
    }
    free(copy);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        free(items);
        return r;
    }
    *ret = items;
    *ret_n = n;
    return 0;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

/* The lists of --pid and --kvbm-url into the sampler's config (pids into pids[], the URL
 * strings owned by *ret_urls). 0, or 2 with the problem logged. */
static int parse_targets(struct observe_cli *c, pid_t *pids, char ***ret_urls, size_t *ret_n_url)
{
    char **pid_s = NULL;
    size_t n_pid = 0;
    int rc = 2;
    if (c->pids && parse_list(c->pids, &pid_s, OBSERVE_MAX_PIDS, &n_pid) < 0) {
        log_error("--pid: more than %d pids", OBSERVE_MAX_PIDS);
        goto out;
    }
    for (size_t i = 0; i < n_pid; i++) {
        char *e;
        long v = strtol(pid_s[i], &e, 10);
        if (*e || v <= 0 || v > 0x3fffffff) {
            log_error("--pid: '%s' is not a process id", pid_s[i]);
            goto out;
        }
        pids[i] = (pid_t)v;
    }
    if (c->kvbm_urls && parse_list(c->kvbm_urls, ret_urls, OBSERVE_MAX_URLS, ret_n_url) < 0) {
        log_error("--kvbm-url: more than %d URLs", OBSERVE_MAX_URLS);
        goto out;
    }
    c->cfg.pids = pids;
    c->cfg.n_pids = n_pid;
    c->cfg.kvbm_urls = (const char *const *)*ret_urls;
    c->cfg.n_kvbm_urls = *ret_n_url;
    c->cfg.listen_port = (unsigned)c->port;
    c->cfg.interval_ns = c->interval_ms * CLK_NS_PER_MS;
    c->cfg.storage_tier = storage_kinds[c->storage_kind].name;
    rc = 0;
out:
    free_list(pid_s, n_pid);
    return rc;
}

/* Waits for --duration or a stop signal, ends the --phase, stops the sampler. The exit code. */
static int run_until_stop(struct observe *o, const struct observe_cli *c, sigset_t *set)
{
    if (c->ready_file) {
        char txt[64];
        int n = snprintf(txt, sizeof(txt), "{\"pid\": %d}\n", (int)getpid());
        if (fileio_write_atomic(c->ready_file, txt, (size_t)n) < 0)
            log_warn("cannot write the ready file %s", c->ready_file);
    }
    int sig = 0;
    if (c->duration_ns) {
        struct timespec ts = { .tv_sec = (time_t)(c->duration_ns / CLK_NS_PER_S),
                               .tv_nsec = (long)(c->duration_ns % CLK_NS_PER_S) };
        sig = sigtimedwait(set, NULL, &ts);
    } else {
        sigwait(set, &sig);
    }
    if (sig > 0)
        log_info("signal %d: stopping", sig);
    int r = 0;
    if (c->phase) {
        json_t *d = NULL;
        r = observe_phase_end(o, c->phase, &d);
        if (r == 0 && d) {
            char *line = jsonx_dump_line(json_object_get(d, "device"));
            log_info("phase %s device: %s", c->phase, line);
            free(line);
        }
        json_decref(d);
    }
    json_t *sum = NULL;
    int rs = observe_stop(o, &sum);
    if (r == 0)
        r = rs;
    int rc = 1;
    if (r < 0) {
        log_error("writing the observe files in %s failed: %s", c->cfg.os_dir, strerror(-r));
    } else {
        log_info("%" PRIu64 " samples written to %s", (uint64_t)jsonx_u64(sum, "samples", 0),
                 c->cfg.os_dir);
        rc = 0;
    }
    json_decref(sum);
    return rc;
}

int cmd_observe_main(int argc, char **argv)
{
    struct observe_cli c = { 0 };
    int rc =
        cliopt_parse_noargs("observe", defs, argc, argv, &c,
                            "kvtier observe --out DIR [--device NAME | --kv-dir DIR] [--pid P,...] "
                            "[--kvbm-url URL,...] [--duration 60s]",
                            "Runs the OS and metrics samplers alone and writes os/ files.");
    if (rc >= 0)
        return rc;
    if (!c.cfg.os_dir) {
        log_error("--out DIR is required");
        return 2;
    }
    char **urls = NULL;
    size_t n_url = 0;
    pid_t pids[OBSERVE_MAX_PIDS];
    struct observe *o = NULL;
    rc = parse_targets(&c, pids, &urls, &n_url);
    if (rc)
        goto out;
    if (c.phase && !c.duration_ns)
        log_info("phase '%s' ends at SIGINT/SIGTERM", c.phase);
    /* Block the stop signals before the sampler thread exists so it inherits the mask. */
    sigset_t set;
    clisig_block_stop(&set);
    int r = observe_start(&c.cfg, &o);
    if (r < 0) {
        if (r == -ENOENT && c.cfg.device)
            log_error("device '%s' is not in %s/diskstats", c.cfg.device, c.cfg.proc_root);
        else
            log_error("cannot start the sampler (out %s): %s", c.cfg.os_dir, strerror(-r));
        rc = r == -EINVAL || r == -ENOENT ? 2 : 1;
        goto out;
    }
    if (c.phase) {
        r = observe_phase_begin(o, c.phase);
        if (r < 0) {
            log_error("--phase '%s': %s", c.phase,
                      r == -EINVAL ? "invalid name (use [A-Za-z0-9_.-])" : strerror(-r));
            rc = r == -EINVAL ? 2 : 1;
            goto out;
        }
    }
    rc = run_until_stop(o, &c, &set);
out:
    observe_free(o);
    free_list(urls, n_url);
    return rc;
}
