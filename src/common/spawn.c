/* SPDX-License-Identifier: Apache-2.0 */
/* Process spawning into a process group with logs, cgroup placement, timed waits and group
 * kills (see spawn.h). Exec failures travel back over a close-on-exec pipe so the caller gets
 * -ENOENT for a missing program instead of a child that silently died. */
#include "common/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/xalloc.h"

#define ENVIRON_MAX_BYTES (4u << 20)

/* The process groups this process started and has not stopped yet, for spawn_kill_all from a
 * signal handler (a second Ctrl-C): the one piece of process-wide state here, because a signal
 * handler can reach nothing else. Slots hold a pgid or 0; written with plain stores of
 * sig_atomic_t so the handler never sees half a value. */
#define GROUPS_MAX 64
static volatile sig_atomic_t groups[GROUPS_MAX];

static void group_add(pid_t pgid)
{
    for (size_t i = 0; i < GROUPS_MAX; i++)
        if (groups[i] == 0) {
            groups[i] = (sig_atomic_t)pgid;
            return;
        }
}

static void group_del(pid_t pgid)
{
    for (size_t i = 0; i < GROUPS_MAX; i++)
        if (groups[i] == (sig_atomic_t)pgid)
            groups[i] = 0;
}

void spawn_kill_all(void)
{
    bool any = false;
    for (size_t i = 0; i < GROUPS_MAX; i++)
        if (groups[i] > 0 && kill(-(pid_t)groups[i], SIGTERM) == 0)
            any = true;
    /* a short grace (async-signal-safe waits only), then SIGKILL to whatever is left */
    for (int t = 0; any && t < 30; t++) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        any = false;
        for (size_t i = 0; i < GROUPS_MAX; i++)
            if (groups[i] > 0 && kill(-(pid_t)groups[i], 0) == 0)
                any = true;
    }
    for (size_t i = 0; i < GROUPS_MAX; i++)
        if (groups[i] > 0)
            kill(-(pid_t)groups[i], SIGKILL);
}

struct child_msg {
    int kind; /* 1 = cgroup placement failures (count in err), 2 = fatal errno before exec */
    int err;
};

static void child_fail(int fd, int err)
{
    struct child_msg m = { .kind = 2, .err = err };
    ssize_t w = write(fd, &m, sizeof(m));
    (void)w;
    _exit(127);
}

static int open_log(const char *path)
{
    if (!path)
        return open("/dev/null", O_WRONLY | O_CLOEXEC);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void child_main(const struct spawn_opts *o, int fd, pid_t parent)
{
    setpgid(0, 0);
    /* the stack must not outlive a runner that dies (SIGKILL, crash): SIGTERM when the parent
     * thread goes; a parent already gone before prctl took effect is caught by getppid */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        child_fail(fd, ESRCH);
    /* default signal dispositions and an empty mask for the new program */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int cg_errs = 0;
    for (int i = 0; i < SPAWN_CGROUP_MAX && o->cgroup_procs[i]; i++) {
        int cfd = open(o->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (cfd < 0 || write(cfd, pid, (size_t)n) != n)
            cg_errs++;
        if (cfd >= 0)
            close(cfd);
    }
    if (cg_errs) {
        struct child_msg m = { .kind = 1, .err = cg_errs };
        ssize_t w = write(fd, &m, sizeof(m));
        (void)w;
    }
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open_log(o->stdout_path);
    int err = o->stderr_path ? open_log(o->stderr_path) : out;
    if (in < 0 || out < 0 || err < 0)
        child_fail(fd, errno);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        child_fail(fd, errno);
    if (o->cwd && chdir(o->cwd) < 0)
        child_fail(fd, errno);
    execvpe(o->argv[0], o->argv, o->envp);
    child_fail(fd, errno);
}

int spawn_start(const struct spawn_opts *o, struct spawn_proc *ret)
{
    if (!o->argv || !o->argv[0] || !o->envp)
        return -EINVAL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(pfd[0]);
        close(pfd[1]);
        return e;
    }
    if (pid == 0) {
        close(pfd[0]);
        child_main(o, pfd[1], self);
    }
    /* both sides call setpgid so the group exists before anyone signals it */
    setpgid(pid, pid);
    close(pfd[1]);
    struct spawn_proc p = { .pid = pid, .pipe_fd = -1 };
    int r = 0;
    for (;;) {
        struct child_msg m;
        ssize_t n = read(pfd[0], &m, sizeof(m));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(m))
            break;
        if (m.kind == 1)
            p.cgroup_errs = m.err;
        else if (m.kind == 2)
            r = m.err > 0 ? -m.err : -EIO;
    }
    close(pfd[0]);
    if (r < 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        return r;
    }
    group_add(pid);
    *ret = p;
    return 0;
}

int spawn_poll(struct spawn_proc *p)
{
    if (!p->pid)
        return 1;
    if (p->exited)
        return 1;
    int st;
    pid_t w = waitpid(p->pid, &st, WNOHANG);
    if (w == p->pid) {
        p->exited = true;
        p->status = st;
        if (kill(-p->pid, 0) < 0 && errno == ESRCH)
            group_del(p->pid);
        return 1;
    }
    if (w < 0 && errno == ECHILD) {
        p->exited = true;
        p->status = 0;
        return 1;
    }
    return 0;
}

int spawn_wait(struct spawn_proc *p, uint64_t timeout_ns)
{
    uint64_t deadline = clk_now_ns() + timeout_ns;
    for (;;) {
        if (spawn_poll(p))
            return 0;
        if (clk_now_ns() >= deadline)
            return -ETIMEDOUT;
        clk_sleep_ns(10 * CLK_NS_PER_MS);
    }
}

int spawn_kill_group(const struct spawn_proc *p, int sig)
{
    if (!p->pid)
        return -ESRCH;
    if (kill(-p->pid, sig) < 0)
        return -errno;
    return 0;
}

bool spawn_group_alive(pid_t pgid)
{
    if (pgid <= 0)
        return false;
    if (kill(-pgid, 0) < 0 && errno != EPERM)
        return false;
    /* kill() also succeeds for zombies nobody reaped yet: look for a live member */
    DIR *d = opendir("/proc");
    if (!d)
        return true;
    bool alive = false;
    struct dirent *e;
    while (!alive && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], line[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, line, sizeof(line) - 1);
        close(fd);
        if (n <= 0)
            continue;
        line[n] = 0;
        /* pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses */
        char *rp = strrchr(line, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}

int spawn_stop(struct spawn_proc *p, uint64_t grace_ns)
{
    if (!p->pid)
        return 0;
    int killed = 0;
    spawn_kill_group(p, SIGTERM);
    if (spawn_wait(p, grace_ns) < 0) {
        spawn_kill_group(p, SIGKILL);
        killed = 1;
        spawn_wait(p, 5 * CLK_NS_PER_S);
    }
    /* members that outlive the leader (a frontend's children) get the grace too, then KILL */
    uint64_t deadline = clk_now_ns() + (grace_ns < CLK_NS_PER_S ? grace_ns : CLK_NS_PER_S);
    while (spawn_group_alive(p->pid) && clk_now_ns() < deadline)
        clk_sleep_ns(10 * CLK_NS_PER_MS);
    deadline = clk_now_ns() + 2 * CLK_NS_PER_S;
    while (spawn_group_alive(p->pid) && clk_now_ns() < deadline) {
        if (spawn_kill_group(p, SIGKILL) < 0)
            break;
        killed = 1;
        clk_sleep_ns(20 * CLK_NS_PER_MS);
    }
    group_del(p->pid);
    return killed;
}

int spawn_exit_code(const struct spawn_proc *p)
{
    if (!p->exited)
        return -1;
    if (WIFEXITED(p->status))
        return WEXITSTATUS(p->status);
    if (WIFSIGNALED(p->status))
        return 128 + WTERMSIG(p->status);
    return -1;
}

static void env_push(struct spawn_env *e, char *kv)
{
    xalloc_grow((void **)&e->v, &e->cap, e->n + 2, sizeof(char *));
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
}

void spawn_env_init(struct spawn_env *e, char *const *base, const char *const *drop_prefixes)
{
    *e = (struct spawn_env){ 0 };
    xalloc_grow((void **)&e->v, &e->cap, 1, sizeof(char *));
    e->v[0] = NULL;
    for (size_t i = 0; base && base[i]; i++) {
        bool drop = false;
        for (size_t k = 0; drop_prefixes && drop_prefixes[k]; k++)
            if (!strncmp(base[i], drop_prefixes[k], strlen(drop_prefixes[k])))
                drop = true;
        if (!drop && strchr(base[i], '='))
            env_push(e, xstrdup(base[i]));
    }
}

void spawn_env_fini(struct spawn_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    *e = (struct spawn_env){ 0 };
}

static ssize_t env_find(const struct spawn_env *e, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (!strncmp(e->v[i], name, nl) && e->v[i][nl] == '=')
            return (ssize_t)i;
    return -1;
}

void spawn_env_set(struct spawn_env *e, const char *name, const char *value)
{
    char *kv = xalloc_printf("%s=%s", name, value);
    ssize_t i = env_find(e, name);
    if (i >= 0) {
        free(e->v[i]);
        e->v[i] = kv;
        return;
    }
    env_push(e, kv);
}

void spawn_env_unset(struct spawn_env *e, const char *name)
{
    ssize_t i = env_find(e, name);
    if (i < 0)
        return;
    free(e->v[i]);
    memmove(&e->v[i], &e->v[i + 1], (e->n - (size_t)i) * sizeof(char *));
    e->n--;
}

const char *spawn_env_get(const struct spawn_env *e, const char *name)
{
    ssize_t i = env_find(e, name);
    return i < 0 ? NULL : e->v[i] + strlen(name) + 1;
}

int spawn_env_parse_block(struct spawn_env *e, const char *block, size_t len)
{
    if (!e->v)
        spawn_env_init(e, NULL, NULL);
    size_t i = 0;
    while (i < len) {
        const char *s = block + i;
        size_t n = strnlen(s, len - i);
        if (n && memchr(s, '=', n)) {
            if (e->n >= SPAWN_ENV_MAX_ENTRIES)
                return -EMSGSIZE;
            char *kv = xalloc_strndup(s, n);
            char *eq = strchr(kv, '=');
            *eq = 0;
            spawn_env_set(e, kv, eq + 1);
            free(kv);
        }
        i += n + 1;
    }
    return 0;
}

int spawn_env_read_pid(struct spawn_env *e, const char *proc_root, pid_t pid)
{
    char *path = xalloc_printf("%s/%d/environ", proc_root ? proc_root : "/proc", (int)pid);
    struct buf b;
    buf_init(&b, ENVIRON_MAX_BYTES);
    int r = fileio_read_all(path, ENVIRON_MAX_BYTES, &b);
    if (r >= 0)
        r = spawn_env_parse_block(e, (const char *)b.data, b.len);
    buf_fini(&b);
    free(path);
    return r < 0 ? r : 0;
}
