/* SPDX-License-Identifier: Apache-2.0 */
/* Process spawning for stacks and helpers: a child in its own process group, with an explicit
 * environment, standard output and error appended to log files, optional placement into cgroups
 * (the pid is written to each cgroup.procs path before exec), waits with a timeout and group kills,
 * so a teardown leaves nothing running. Also environment-list helpers (K=V arrays). */
#ifndef KVTIER_COMMON_SPAWN_H
#define KVTIER_COMMON_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SPAWN_ENV_MAX_ENTRIES 4096 /* environment entries accepted from input */
#define SPAWN_CGROUP_MAX      4    /* cgroup.procs files a child can be placed into */

struct spawn_opts {
    char *const *argv;       /* borrowed, NULL-terminated; argv[0] searched in PATH */
    char *const *envp;       /* borrowed, NULL-terminated K=V list: the child's whole env */
    const char *stdout_path; /* borrowed; output log, appended (0644); NULL = /dev/null */
    const char *stderr_path; /* borrowed; error log; NULL = the output log */
    const char *cwd;         /* borrowed; NULL = inherit */
    const char *cgroup_procs[SPAWN_CGROUP_MAX]; /* borrowed; NULL-padded; see spawn_start */
};

struct spawn_proc {
    pid_t pid;       /* child pid = its process group id; 0 when none */
    bool exited;     /* reaped */
    int status;      /* wait status once exited */
    int cgroup_errs; /* cgroup.procs writes that failed in the child (placement degraded) */
    int pipe_fd;     /* internal: reports exec/cgroup failures from the child; -1 when closed */
};

/* Forks a child that becomes leader of a new process group and gets SIGTERM when the calling
 * thread ends (PR_SET_PDEATHSIG: a runner killed by SIGKILL or a crash leaves no stack behind;
 * call from a thread that lives as long as the child should), writes its pid to every
 * cgroup_procs path (a failure is counted in ret->cgroup_errs, not fatal), redirects
 * standard input from /dev/null and output/errors to the logs, changes to cwd and execs argv with
 * envp. Returns 0 once exec succeeded, or negative errno: the child's exec or open failure (-ENOENT
 * for an unknown program), fork failure. ret is written on success only. Any thread, but
 * children are reaped by spawn_wait (do not install a SIGCHLD reaper). */
int spawn_start(const struct spawn_opts *o, struct spawn_proc *ret);
/* Non-blocking: 1 if the child has exited (reaped now or before), 0 if running. */
int spawn_poll(struct spawn_proc *p);
/* Waits up to timeout_ns for the child to exit: 0 exited, -ETIMEDOUT still running. */
int spawn_wait(struct spawn_proc *p, uint64_t timeout_ns);
/* Sends sig to the whole process group; 0, or -ESRCH when the group is gone. */
int spawn_kill_group(const struct spawn_proc *p, int sig);
/* Stops the group: SIGTERM, waits grace_ns for the leader, then SIGKILL to the group, reaps the
 * leader and waits (bounded) until no member of the group is left. Returns 1 if SIGKILL was
 * needed, 0 if it stopped on SIGTERM or had already exited. Safe to call twice. */
int spawn_stop(struct spawn_proc *p, uint64_t grace_ns);
/* Exit code for a normal exit, 128+signal for a signal death, -1 if still running. */
int spawn_exit_code(const struct spawn_proc *p);
/* Whether any process of group pgid still exists (scans /proc). */
bool spawn_group_alive(pid_t pgid);
/* SIGTERM to every process group spawn_start started and spawn_stop has not stopped, up to 3 s
 * for them to go, then SIGKILL. Async-signal-safe: for a signal handler that is about to end
 * the process (a second Ctrl-C), so nothing it started lives on. */
void spawn_kill_all(void);

/* Environment lists (NULL-terminated arrays of owned "K=V" strings). */
struct spawn_env {
    char **v;   /* owned; v[n] == NULL */
    size_t n;   /* entries */
    size_t cap; /* allocated slots */
};
/* Starts from base (borrowed, may be NULL = empty), dropping entries whose name starts with any
 * of the drop_prefixes (NULL-terminated; may be NULL). */
void spawn_env_init(struct spawn_env *e, char *const *base, const char *const *drop_prefixes);
void spawn_env_fini(struct spawn_env *e);
/* Sets name=value, replacing an existing entry. */
void spawn_env_set(struct spawn_env *e, const char *name, const char *value);
/* Removes name if present. */
void spawn_env_unset(struct spawn_env *e, const char *name);
/* The value of name, borrowed, or NULL. */
const char *spawn_env_get(const struct spawn_env *e, const char *name);
/* Parses a NUL-separated environ block (as /proc/PID/environ) into e (appending); entries
 * without '=' are skipped. -EMSGSIZE past SPAWN_ENV_MAX_ENTRIES (what was read is kept). */
int spawn_env_parse_block(struct spawn_env *e, const char *block, size_t len);
/* Reads /proc/<pid>/environ under proc_root ("/proc" when NULL) into e. -errno on failure
 * (-EACCES for another user's process, -ENOENT when gone). */
int spawn_env_read_pid(struct spawn_env *e, const char *proc_root, pid_t pid);

#endif
