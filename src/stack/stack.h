/* SPDX-License-Identifier: Apache-2.0 */
/* Serving stacks (profiles/stacks/<name>.yaml): launching the builtin engine or Dynamo +
 * TRT-LLM with a mode's environment, each stack in its own process group (and cgroup where
 * possible) with logs under raw/stack/; readiness (/health answers, /v1/models lists the model,
 * the metrics endpoints answer) with timeouts and errors that say which check failed; the
 * configuration read back from the running worker; teardown that leaves nothing running.
 * An `external` stack launches nothing and only verifies. Library code: never prints. */
#ifndef KVTIER_STACK_STACK_H
#define KVTIER_STACK_STACK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/diag.h"
#include "common/spawn.h"
#include "stack/cgroup.h"
#include "stack/mode.h"

#define STACK_MAX_PROCS 4

enum stack_kind { STACK_BUILTIN, STACK_DYNAMO_TRTLLM, STACK_EXTERNAL };

struct stack_opts {
    const json_t *profile; /* borrowed: the stack profile document */
    const char *model;     /* kvtier model profile name */
    const char *hf_id;     /* the model's Hugging Face id ("{hf_id}" in templates); may be NULL */
    const char *served_model; /* name the server lists in /v1/models (NULL = profile/model) */
    const char *hardware;     /* hardware profile name for the builtin engine (NULL = profile's) */
    const char *profiles_dir; /* passed to the engine as --profiles */
    const char *kvtier_path;  /* the kvtier binary (builtin) */
    const char *log_dir;      /* raw/stack/ of the bundle; created */
    const char *work_dir;     /* for the ready file and engine args YAML; created */
    const char *cgroup_name;  /* cgroup to create ("" = do not place) */
    const char *cgroup_root;  /* NULL = /sys/fs/cgroup */
    uint64_t g1_blocks;       /* builtin --g1-blocks; 0 = engine's default */
    /* engine limits of the model profile, written into the TRT-LLM engine args (0 = leave
     * the key out): max_seq_len, max_num_tokens, max_batch_size, kv tokens_per_block; with
     * g1_blocks, kv_cache_config.max_tokens = g1_blocks x tokens_per_block pins G1 */
    uint32_t max_seq_len, max_num_tokens, max_batch_size, tokens_per_block;
    struct mode_settings mode; /* the mode asked for */
    /* external stacks and overrides */
    const char *url;              /* http base, e.g. http://127.0.0.1:8000 (external / override) */
    const char *kvbm_metrics_url; /* full URL of the KVBM /metrics (NULL = profile's) */
    const char *frontend_metrics_url; /* NULL = <url>/metrics */
    pid_t observe_pid; /* external: worker pid whose environment to read (0 = none) */
    bool dry_run;      /* stack_launch only records: no directory, file, cgroup or process */
};

struct stack_proc {
    char name[32];
    struct spawn_proc proc;
    bool started;
    char container[128]; /* container name when the runtime is a container, else "" */
};

struct stack {
    enum stack_kind kind;
    char name[64];
    struct stack_proc procs[STACK_MAX_PROCS];
    size_t nprocs;
    char http_url[256];         /* base URL of the OpenAI API */
    char kvbm_metrics_url[256]; /* "" when the mode has no KVBM */
    char frontend_metrics_url[256];
    char served_model[128];
    pid_t worker_pid;           /* process whose environment and /proc/PID/io are observed */
    char worker_container[128]; /* container of the worker ("" on the host) */
    char worker_log[512];       /* the worker's output file ("" when not launched here) */
    char container_engine[32];  /* "docker" or "podman" for container runtimes */
    struct cgroup_place cgroup;
    json_t *record; /* owned: launch record for the manifest (commands, env) */
    char log_dir[512];
    char ready_file[560];
    bool stopped;
};

/* Names of stack kinds, for messages. */
const char *stack_kind_name(enum stack_kind k);
/* Validates a stack profile document: kind, processes and templates. -EINVAL with d. */
int stack_profile_check(const json_t *profile, struct diag *d);
/* Tier sizes for a model from the profile's `tiers` table (model entry, else `default`):
 * fills cpu/disk GB or blocks, and g1 blocks; mode C constraints from `mode_c`. */
void stack_profile_tiers(const json_t *profile, const char *model, struct mode_settings *m,
                         uint64_t *ret_g1_blocks);

/* With o->dry_run, stack_launch builds the same record (argv, environment with secrets
 * redacted, engine_args and engine_args_yaml) and starts, creates and writes nothing. */
/* Launches the stack (nothing for external) with the mode's environment; returns an owned
 * stack even when a process failed to start (so its logs can be bundled): 0 started,
 * negative errno with d naming the process and the reason. *ret always set. */
int stack_launch(const struct stack_opts *o, struct stack **ret, struct diag *d);
/* Polls until /health answers 2xx, /v1/models lists the served model and every metrics
 * endpoint answers, or timeout_ns passes, or a stack process exits, or *stop (borrowed, may be
 * NULL; set by a signal handler) becomes non-zero. 0 ready; -ETIMEDOUT, -ECHILD (a process
 * died; d has its exit code and log path), -ENOENT (model not listed; d lists what was),
 * -EINTR (stopped) with d naming the last failed check. *ret_checks (owned) records each check. */
int stack_wait_ready(struct stack *s, uint64_t timeout_ns, const volatile sig_atomic_t *stop,
                     json_t **ret_checks, struct diag *d);
/* 0 while every launched process runs; -ECHILD with d when one has exited. */
int stack_check_alive(struct stack *s, struct diag *d);
/* Reads the worker's real environment (/proc/PID/environ) and the live KVBM metrics page, and
 * compares with the mode asked for. Returns an owned object {source, env (DYN_KVBM_* only),
 * observed, mismatches[], metrics_registered}; mismatches non-empty = MODE_NOT_APPLIED. */
json_t *stack_observe_config(struct stack *s, const struct mode_settings *want);
/* KVBM's report of its device pool and KV layout from the worker's log (kvbm.md §6: the
 * "Initializing KvbmWorker with params: num_device_blocks=.., page_size=.., dtype_width_bytes=.."
 * and "Inferred layout: num_layers=.., outer_dim=.., page_size=.., inner_dim=.." lines, within
 * the first STACK_LOG_SCAN_BYTES): owned {source, the numbers found, bytes_per_block when the
 * layout is complete}, or NULL when neither line is there. In stack_observe_config as
 * "worker_layout". */
#define STACK_LOG_SCAN_BYTES (16u << 20)
json_t *stack_worker_layout(const char *log_path);
/* Pids of the stack's processes (the worker first) into pids (at most max); the count. */
size_t stack_pids(const struct stack *s, pid_t *pids, size_t max);
/* Stops every process group (SIGTERM, grace, SIGKILL), removes the cgroup; records exit codes
 * in the launch record. Safe to call twice. */
void stack_stop(struct stack *s);
/* Stops (if needed) and frees; NULL is a no-op. */
void stack_free(struct stack *s);

/* kvtier's disk cache lives in a subdirectory it creates and marks, never in the directory the
 * user names: <dir>/STACK_CACHE_SUBDIR with the file STACK_CACHE_MARKER. Only KV cache files
 * (STACK_CACHE_FILE_PREFIX*, the mkostemp template of KVBM and of kvtier serve) are deleted
 * from it. */
#define STACK_CACHE_SUBDIR      "kvtier-kvcache"
#define STACK_CACHE_MARKER      ".kvtier-kvcache-owner"
#define STACK_CACHE_FILE_PREFIX "dynamo-kvbm-disk-cache-"
/* Creates parent when missing and claims parent/STACK_CACHE_SUBDIR: creates and marks it, or
 * accepts it when it carries the marker (or is empty, then marks it). Refuses with -EEXIST and
 * d when that name is a symlink, a file, or a non-empty directory without the marker. 0 with
 * *ret_dir (owned) the cache directory, as an absolute path. */
int stack_cache_dir_claim(const char *parent, char **ret_dir, struct diag *d);
/* Deletes the regular files named STACK_CACHE_FILE_PREFIX* from dir, a directory claimed by
 * stack_cache_dir_claim (refused without the marker or through a symlink; never recursing);
 * stale files of an earlier, killed run go too. Records {dir, files_removed, bytes_removed,
 * emptied, error}. Owned JSON. */
json_t *stack_clear_cache_dir(const char *dir);
/* sync() always (earlier runs' writes must not land as writeback in this run's phases), then
 * drop the page cache through proc_root/sys/vm/drop_caches ("/proc" when NULL) when attempt
 * and permitted; records {synced, attempted, dropped, reason}. Owned JSON. */
json_t *stack_drop_page_cache(const char *proc_root, bool attempt);
/* Whether an environment variable name looks like a secret (KEY, TOKEN, SECRET, PASSWORD,
 * CREDENTIAL, AUTH in its name): such values never reach a file. */
bool stack_is_secret_name(const char *name);

#endif
