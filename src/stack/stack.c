/* SPDX-License-Identifier: Apache-2.0 */
/* Stack launching, readiness, observed configuration and teardown (see stack.h).
 *
 * A profile lists processes with argv templates; "{name}" placeholders are filled from the
 * launch variables (kvtier, model, served_model, hardware, profiles, ready_file, engine_args,
 * work_dir, log_dir, disk_cache_dir, g1_blocks, http_port, metrics_port). An argv element may
 * be an object {if: VAR, args: [...]} that expands only when VAR is non-empty. Processes marked
 * kvbm_env get the mode's DYN_KVBM_* variables; inherited DYN_KVBM_* variables are dropped so
 * the caller's shell cannot change the mode behind kvtier's back (what was dropped is
 * recorded). */
#include "stack/stack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/httpget.h"
#include "common/jsonx.h"
#include "common/prom.h"
#include "common/units.h"
#include "common/xalloc.h"
#include "common/yamlx.h"

extern char **environ;

#define READY_FILE_MAX_BYTES 4096
#define MODELS_MAX_BYTES     (1u << 20)
#define POLL_NS              (100 * CLK_NS_PER_MS)
#define CHECK_TIMEOUT_NS     (2 * CLK_NS_PER_S)

/* snprintf that truncates silently (bounded fields of records and messages). */
static void sfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sfmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static const char *const kind_names[] = { "builtin", "dynamo-trtllm", "external" };

const char *stack_kind_name(enum stack_kind k)
{
    return k <= STACK_EXTERNAL ? kind_names[k] : "?";
}

static int kind_parse(const char *s, enum stack_kind *ret)
{
    for (int i = 0; i <= STACK_EXTERNAL; i++)
        if (s && !strcmp(s, kind_names[i])) {
            *ret = (enum stack_kind)i;
            return 0;
        }
    return -EINVAL;
}

bool stack_is_secret_name(const char *name)
{
    static const char *const words[] = { "KEY",        "TOKEN", "SECRET", "PASSWORD", "PASSWD",
                                         "CREDENTIAL", "AUTH",  "COOKIE", NULL };
    for (size_t i = 0; words[i]; i++)
        if (strcasestr(name, words[i]))
            return true;
    return false;
}

int stack_profile_check(const json_t *p, struct diag *d)
{
    enum stack_kind k;
    if (!json_is_object(p))
        return diag_set(d, -EINVAL, 0, 0, "stack profile is not a mapping");
    if (kind_parse(jsonx_str(p, "kind", NULL), &k) < 0)
        return diag_set(d, -EINVAL, 0, 0,
                        "stack profile: 'kind' must be one of builtin, "
                        "dynamo-trtllm, external");
    json_t *procs = json_object_get(p, "processes");
    if (k == STACK_EXTERNAL)
        return 0;
    if (!json_is_array(procs) || json_array_size(procs) == 0 ||
        json_array_size(procs) > STACK_MAX_PROCS)
        return diag_set(d, -EINVAL, 0, 0, "stack profile: 'processes' must list 1 to %d processes",
                        STACK_MAX_PROCS);
    size_t i;
    json_t *pr;
    json_array_foreach (procs, i, pr) {
        if (!jsonx_str(pr, "name", NULL))
            return diag_set(d, -EINVAL, 0, 0, "stack profile: processes[%zu] has no 'name'", i);
        json_t *cmd = json_object_get(pr, "command");
        if (!json_is_array(cmd) || json_array_size(cmd) == 0)
            return diag_set(d, -EINVAL, 0, 0,
                            "stack profile: processes[%zu].command must be a non-empty list", i);
    }
    return 0;
}

static void tier_from(const json_t *t, struct mode_settings *m, uint64_t *g1)
{
    if (!json_is_object(t))
        return;
    if (json_object_get(t, "cpu_cache_gb"))
        m->cpu_cache_gb = jsonx_num(t, "cpu_cache_gb", 0);
    if (json_object_get(t, "cpu_cache_blocks"))
        m->cpu_cache_blocks = jsonx_u64(t, "cpu_cache_blocks", 0);
    if (json_object_get(t, "disk_cache_gb"))
        m->disk_cache_gb = jsonx_num(t, "disk_cache_gb", 0);
    if (json_object_get(t, "disk_cache_blocks"))
        m->disk_cache_blocks = jsonx_u64(t, "disk_cache_blocks", 0);
    if (json_object_get(t, "g1_blocks"))
        *g1 = jsonx_u64(t, "g1_blocks", 0);
}

static uint64_t size_field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (uint64_t)json_integer_value(v);
    uint64_t b = 0;
    if (json_is_string(v))
        units_parse_size_bytes(json_string_value(v), &b);
    return b;
}

void stack_profile_tiers(const json_t *profile, const char *model, struct mode_settings *m,
                         uint64_t *ret_g1_blocks)
{
    uint64_t g1 = 0;
    json_t *tiers = json_object_get(profile, "tiers");
    tier_from(json_object_get(tiers, "default"), m, &g1);
    if (model)
        tier_from(json_object_get(tiers, model), m, &g1);
    json_t *c = json_object_get(profile, "mode_c");
    if (json_is_object(c)) {
        m->c_disk_fraction = jsonx_num(c, "disk_fraction", m->c_disk_fraction);
        if (json_object_get(c, "read_bps"))
            m->c_read_bps = size_field(c, "read_bps");
        if (json_object_get(c, "write_bps"))
            m->c_write_bps = size_field(c, "write_bps");
    }
    *ret_g1_blocks = g1;
}

/* Fills "{var}" placeholders from vars (string values); unknown placeholders stay as they are
 * so the error is visible in the launch record. Owned result. */
static char *expand(const char *tmpl, const json_t *vars)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = tmpl; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close) {
            char key[64];
            size_t kl = (size_t)(close - p - 1);
            if (kl < sizeof(key)) {
                memcpy(key, p + 1, kl);
                key[kl] = 0;
                const char *v = jsonx_str(vars, key, NULL);
                if (v) {
                    buf_append_str(&b, v);
                    p = close + 1;
                    continue;
                }
            }
        }
        buf_append(&b, p, 1);
        p++;
    }
    return buf_take_str(&b);
}

static void argv_push(char ***argv, size_t *n, size_t *cap, char *s)
{
    xalloc_grow((void **)argv, cap, *n + 2, sizeof(char *));
    (*argv)[(*n)++] = s;
    (*argv)[*n] = NULL;
}

static char **build_argv(const json_t *cmd, const json_t *vars, size_t *ret_n)
{
    char **argv = NULL;
    size_t n = 0, cap = 0;
    argv_push(&argv, &n, &cap, NULL);
    n = 0;
    size_t i;
    json_t *el;
    json_array_foreach (cmd, i, el) {
        if (json_is_string(el)) {
            argv_push(&argv, &n, &cap, expand(json_string_value(el), vars));
        } else if (json_is_object(el)) {
            const char *cond = jsonx_str(el, "if", "");
            const char *v = jsonx_str(vars, cond, "");
            if (!*v || !strcmp(v, "0"))
                continue;
            size_t k;
            json_t *a;
            json_array_foreach (json_object_get(el, "args"), k, a)
                if (json_is_string(a))
                    argv_push(&argv, &n, &cap, expand(json_string_value(a), vars));
        }
    }
    *ret_n = n;
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static json_t *argv_json(char **argv)
{
    json_t *a = json_array();
    bool redact_next = false;
    for (size_t i = 0; argv[i]; i++) {
        bool secret = redact_next;
        redact_next =
            !strncmp(argv[i], "--", 2) && stack_is_secret_name(argv[i]) && !strchr(argv[i], '=');
        if (!strncmp(argv[i], "--", 2) && strchr(argv[i], '=') && stack_is_secret_name(argv[i]))
            secret = true;
        /* a container engine's -e NAME=VALUE carries the environment on the command line */
        const char *eq = strchr(argv[i], '=');
        if (!secret && i > 0 && eq &&
            (!strcmp(argv[i - 1], "-e") || !strcmp(argv[i - 1], "--env"))) {
            char *name = xalloc_strndup(argv[i], (size_t)(eq - argv[i]));
            if (stack_is_secret_name(name)) {
                char *red = xalloc_printf("%s=<redacted>", name);
                json_array_append_new(a, json_string(red));
                free(red);
                free(name);
                continue;
            }
            free(name);
        }
        json_array_append_new(a, json_string(secret ? "<redacted>" : argv[i]));
    }
    return a;
}

/* The environment entries kvtier chose (mode + profile), secrets redacted. */
static json_t *env_json(const struct spawn_env *e, const json_t *profile_env)
{
    json_t *o = json_object();
    for (size_t i = 0; i < e->n; i++) {
        const char *kv = e->v[i];
        const char *eq = strchr(kv, '=');
        char name[256];
        size_t nl = (size_t)(eq - kv);
        if (nl >= sizeof(name))
            continue;
        memcpy(name, kv, nl);
        name[nl] = 0;
        bool ours = !strncmp(name, "DYN_", 4) || json_object_get(profile_env, name);
        if (!ours)
            continue;
        json_object_set_new(o, name,
                            json_string(stack_is_secret_name(name) ? "<redacted>" : eq + 1));
    }
    return o;
}

static void set_var(json_t *vars, const char *k, const char *v)
{
    json_object_set_new(vars, k, json_string(v ? v : ""));
}

static void set_var_u64(json_t *vars, const char *k, uint64_t v)
{
    char s[32];
    if (v)
        sfmt(s, sizeof(s), "%llu", (unsigned long long)v);
    else
        s[0] = 0;
    set_var(vars, k, s);
}

static int write_engine_args(const struct stack_opts *o, const char *path, json_t *record,
                             struct diag *d)
{
    double frac = jsonx_num(o->profile, "free_gpu_memory_fraction", 0.80);
    json_t *doc = mode_trtllm_args(o->mode.id, frac);
    mode_trtllm_limits(doc, o->max_seq_len, o->max_num_tokens, o->max_batch_size,
                       o->tokens_per_block, o->g1_blocks);
    struct buf b;
    buf_init(&b, 0);
    int r = yamlx_emit(doc, &b);
    if (r >= 0)
        json_object_set_new(record, "engine_args_yaml", json_stringn((const char *)b.data, b.len));
    if (r >= 0 && !o->dry_run)
        r = fileio_write_atomic(path, b.data, b.len);
    if (r < 0)
        diag_set(d, r, 0, 0, "cannot write the TRT-LLM engine args %s: %s", path, strerror(-r));
    buf_fini(&b);
    json_object_set_new(record, "engine_args", doc);
    return r;
}

/* Container runtime: wraps argv in `<engine> run --rm --name N <args> -e K=V... image argv`. */
static char **containerize(const json_t *ctr, char **argv, const struct spawn_env *env,
                           const char *cname, const json_t *vars)
{
    char **out = NULL;
    size_t n = 0, cap = 0;
    argv_push(&out, &n, &cap, xstrdup(jsonx_str(ctr, "engine", "docker")));
    argv_push(&out, &n, &cap, xstrdup("run"));
    argv_push(&out, &n, &cap, xstrdup("--rm"));
    argv_push(&out, &n, &cap, xstrdup("--name"));
    argv_push(&out, &n, &cap, xstrdup(cname));
    size_t i;
    json_t *a;
    json_array_foreach (json_object_get(ctr, "args"), i, a)
        if (json_is_string(a))
            argv_push(&out, &n, &cap, expand(json_string_value(a), vars));
    for (size_t k = 0; k < env->n; k++)
        if (!strncmp(env->v[k], "DYN_", 4) || !strncmp(env->v[k], "CUFILE", 6)) {
            argv_push(&out, &n, &cap, xstrdup("-e"));
            argv_push(&out, &n, &cap, xstrdup(env->v[k]));
        }
    const char *dirs[3] = { jsonx_str(vars, "disk_cache_dir", ""), jsonx_str(vars, "work_dir", ""),
                            NULL };
    for (size_t k = 0; dirs[k]; k++)
        if (*dirs[k]) {
            argv_push(&out, &n, &cap, xstrdup("-v"));
            argv_push(&out, &n, &cap, xalloc_printf("%s:%s", dirs[k], dirs[k]));
        }
    /* the cuFile configuration the worker is pointed at, read-only at the same path */
    const char *cf = spawn_env_get(env, "CUFILE_ENV_PATH_JSON");
    if (cf && cf[0] == '/') {
        argv_push(&out, &n, &cap, xstrdup("-v"));
        argv_push(&out, &n, &cap, xalloc_printf("%s:%s:ro", cf, cf));
    }
    /* the model snapshot, when it is a local directory, read-only at the same path */
    const char *mp = jsonx_str(vars, "model_path", "");
    if (mp[0] == '/') {
        argv_push(&out, &n, &cap, xstrdup("-v"));
        argv_push(&out, &n, &cap, xalloc_printf("%s:%s:ro", mp, mp));
    }
    argv_push(&out, &n, &cap, expand(jsonx_str(ctr, "image", ""), vars));
    for (size_t k = 0; argv[k]; k++)
        argv_push(&out, &n, &cap, xstrdup(argv[k]));
    free_argv(argv);
    return out;
}

static int launch_proc(struct stack *s, const struct stack_opts *o, const json_t *pj,
                       const json_t *vars, struct diag *d)
{
    struct stack_proc *sp = &s->procs[s->nprocs];
    sfmt(sp->name, sizeof(sp->name), "%s", jsonx_str(pj, "name", "proc"));
    static const char *const drop[] = { "DYN_KVBM_", NULL };
    struct spawn_env env;
    spawn_env_init(&env, environ, drop);
    json_t *dropped = json_array();
    for (size_t i = 0; environ[i]; i++)
        if (!strncmp(environ[i], "DYN_KVBM_", 9)) {
            const char *eq = strchr(environ[i], '=');
            if (eq)
                json_array_append_new(dropped, json_stringn(environ[i], (size_t)(eq - environ[i])));
        }
    json_t *penv = json_object_get(pj, "env");
    const char *k;
    json_t *v;
    json_object_foreach (penv, k, v) {
        /* a profile's KVBM variable (e.g. the stats interval) belongs to modes with KVBM: a
         * B0 worker runs without any */
        if (!strncmp(k, "DYN_KVBM_", 9) && !mode_has_kvbm(o->mode.id))
            continue;
        char *val = json_is_string(v) ? expand(json_string_value(v), vars) : jsonx_dump_line(v);
        spawn_env_set(&env, k, val);
        free(val);
    }
    int r = 0;
    if (jsonx_bool(pj, "kvbm_env", false)) {
        /* the mode wins over the profile for the sizing variables */
        r = mode_env_apply(&o->mode, &env);
        if (r < 0) {
            diag_set(d, r, 0, 0, "mode %s: settings contradict the mode (sizes, disk dir)",
                     mode_name(o->mode.id));
            goto out;
        }
        /* a profile may deliberately add variables after the mode (tests do, to smuggle) */
        json_object_foreach (json_object_get(pj, "env_after_mode"), k, v) {
            char *val = json_is_string(v) ? expand(json_string_value(v), vars) : jsonx_dump_line(v);
            spawn_env_set(&env, k, val);
            free(val);
        }
    }
    size_t argc;
    char **argv = build_argv(json_object_get(pj, "command"), vars, &argc);
    const char *runtime = jsonx_str(o->profile, "runtime", "host");
    if (!strcmp(runtime, "container")) {
        char cname[128];
        sfmt(cname, sizeof(cname), "kvtier-%s-%s",
             o->cgroup_name && *o->cgroup_name ? o->cgroup_name : "run", sp->name);
        argv = containerize(json_object_get(o->profile, "container"), argv, &env, cname, vars);
        sfmt(sp->container, sizeof(sp->container), "%s", cname);
        sfmt(s->container_engine, sizeof(s->container_engine), "%s",
             jsonx_str(json_object_get(o->profile, "container"), "engine", "docker"));
    }
    char *logp = xalloc_printf("%s/%s.log", s->log_dir, sp->name);
    struct spawn_opts so = { .argv = argv, .envp = env.v, .stdout_path = logp };
    if (s->cgroup.kind != CGROUP_NONE)
        so.cgroup_procs[0] = s->cgroup.procs;
    json_t *rec = json_object();
    json_object_set_new(rec, "name", json_string(sp->name));
    json_object_set_new(rec, "argv", argv_json(argv));
    json_object_set_new(rec, "env", env_json(&env, penv));
    json_object_set_new(rec, "inherited_kvbm_env_dropped", dropped);
    dropped = NULL;
    json_object_set_new(rec, "log", json_string(logp));
    r = o->dry_run ? 0 : spawn_start(&so, &sp->proc);
    if (o->dry_run) {
        json_object_set_new(rec, "dry_run", json_true());
    } else if (r < 0) {
        diag_set(d, r, 0, 0, "cannot start %s (%s): %s", sp->name, argv[0], strerror(-r));
        json_object_set_new(rec, "start_error", json_string(strerror(-r)));
    } else {
        sp->started = true;
        json_object_set_new(rec, "pid", json_integer(sp->proc.pid));
        json_object_set_new(rec, "cgroup_placement_errors", json_integer(sp->proc.cgroup_errs));
        if (jsonx_bool(pj, "worker", false) || !s->worker_pid) {
            s->worker_pid = sp->proc.pid;
            sfmt(s->worker_container, sizeof(s->worker_container), "%s", sp->container);
            sfmt(s->worker_log, sizeof(s->worker_log), "%s", logp);
        }
    }
    json_array_append_new(json_object_get(s->record, "processes"), rec);
    s->nprocs++;
    free(logp);
    free_argv(argv);
out:
    json_decref(dropped);
    spawn_env_fini(&env);
    return r;
}

static char *absolute(const char *path);
static int launch(const struct stack_opts *o, struct stack **ret, struct diag *d);

int stack_launch(const struct stack_opts *o, struct stack **ret, struct diag *d)
{
    struct stack_opts a = *o;
    char *ld = absolute(o->log_dir), *wd = absolute(o->work_dir);
    char *cd = absolute(o->mode.disk_cache_dir);
    a.log_dir = ld;
    a.work_dir = wd;
    sfmt(a.mode.disk_cache_dir, sizeof(a.mode.disk_cache_dir), "%s", cd);
    int r = launch(&a, ret, d);
    free(ld);
    free(wd);
    free(cd);
    return r;
}

static int launch(const struct stack_opts *o, struct stack **ret, struct diag *d)
{
    struct stack *s = xcalloc(1, sizeof(*s));
    *ret = s;
    s->record = json_object();
    json_object_set_new(s->record, "processes", json_array());
    int r = stack_profile_check(o->profile, d);
    if (r < 0)
        return r;
    kind_parse(jsonx_str(o->profile, "kind", NULL), &s->kind);
    sfmt(s->name, sizeof(s->name), "%s", jsonx_str(o->profile, "name", "stack"));
    sfmt(s->log_dir, sizeof(s->log_dir), "%s", o->log_dir);
    json_object_set_new(s->record, "stack", json_string(s->name));
    json_object_set_new(s->record, "kind", json_string(stack_kind_name(s->kind)));
    json_object_set_new(s->record, "runtime",
                        json_string(jsonx_str(o->profile, "runtime", "host")));
    if (!o->dry_run &&
        ((r = fileio_mkdir_p(o->log_dir)) < 0 || (r = fileio_mkdir_p(o->work_dir)) < 0))
        return diag_set(d, r, 0, 0, "cannot create %s: %s", o->log_dir, strerror(-r));
    const char *served =
        o->served_model ? o->served_model : jsonx_str(o->profile, "served_model", o->model);
    json_t *vars = json_object();
    set_var(vars, "kvtier", o->kvtier_path);
    set_var(vars, "model", o->model);
    set_var(vars, "hf_id", o->hf_id ? o->hf_id : o->model);
    set_var(vars, "hardware", o->hardware ? o->hardware : jsonx_str(o->profile, "hardware", ""));
    set_var(vars, "profiles", o->profiles_dir);
    set_var(vars, "work_dir", o->work_dir);
    set_var(vars, "log_dir", o->log_dir);
    set_var(vars, "disk_cache_dir", o->mode.disk_cache_dir);
    set_var_u64(vars, "g1_blocks", o->g1_blocks);
    char *rf = fileio_join(o->work_dir, "ready.json");
    sfmt(s->ready_file, sizeof(s->ready_file), "%s", rf);
    set_var(vars, "ready_file", rf);
    free(rf);
    char *ea = fileio_join(o->work_dir, "engine_args.yaml");
    set_var(vars, "engine_args", ea);
    /* served model may itself be a template ("{model}") */
    char *sm = expand(served ? served : o->model, vars);
    sfmt(s->served_model, sizeof(s->served_model), "%s", sm);
    set_var(vars, "served_model", sm);
    free(sm);
    json_t *paths = json_object_get(o->profile, "paths");
    const char *pk;
    json_t *pv;
    json_object_foreach (paths, pk, pv) {
        if (!json_is_string(pv))
            continue;
        char *x = expand(json_string_value(pv), vars);
        set_var(vars, pk, x);
        free(x);
    }
    json_object_set_new(s->record, "served_model", json_string(s->served_model));
    json_object_set_new(s->record, "work_dir", json_string(o->work_dir));
    const char *mpv = jsonx_str(vars, "model_path", NULL);
    json_object_set_new(s->record, "model_path", mpv ? json_string(mpv) : json_null());

    /* the TRT-LLM document is generated for every mode and recorded, even for builtin */
    if (s->kind != STACK_EXTERNAL) {
        r = write_engine_args(o, ea, s->record, d);
        json_object_set_new(s->record, "engine_args_path", json_string(ea));
    }
    free(ea);
    if (r < 0)
        goto out;

    s->cgroup.kind = CGROUP_NONE;
    if (s->kind != STACK_EXTERNAL && o->cgroup_name && *o->cgroup_name && !o->dry_run) {
        char dev[32] = "";
        if (o->mode.disk_cache_dir[0])
            cgroup_disk_of_path(NULL, o->mode.disk_cache_dir, dev, sizeof(dev));
        uint64_t rb = o->mode.id == MODE_C ? o->mode.c_read_bps : 0;
        uint64_t wb = o->mode.id == MODE_C ? o->mode.c_write_bps : 0;
        cgroup_setup(o->cgroup_root, o->cgroup_name, dev, rb, wb, &s->cgroup);
    }
    json_object_set_new(s->record, "cgroup", cgroup_json(&s->cgroup));

    if (s->kind == STACK_EXTERNAL) {
        const char *url = o->url ? o->url : jsonx_str(o->profile, "url", NULL);
        if (!url) {
            r = diag_set(d, -EINVAL, 0, 0, "external stack: give --url (or 'url' in the profile)");
            goto out;
        }
        sfmt(s->http_url, sizeof(s->http_url), "%s", url);
        s->worker_pid = o->observe_pid;
    } else {
        if (!o->dry_run)
            unlink(s->ready_file);
        size_t i;
        json_t *pj;
        json_array_foreach (json_object_get(o->profile, "processes"), i, pj) {
            r = launch_proc(s, o, pj, vars, d);
            if (r < 0)
                goto out;
        }
        const char *url = o->url ? o->url : jsonx_str(o->profile, "url", NULL);
        if (url)
            sfmt(s->http_url, sizeof(s->http_url), "%s", url);
    }
    const char *km =
        o->kvbm_metrics_url ? o->kvbm_metrics_url : jsonx_str(o->profile, "kvbm_metrics_url", NULL);
    if (km)
        sfmt(s->kvbm_metrics_url, sizeof(s->kvbm_metrics_url), "%s", km);
    if (o->frontend_metrics_url)
        sfmt(s->frontend_metrics_url, sizeof(s->frontend_metrics_url), "%s",
             o->frontend_metrics_url);
out:
    json_decref(vars);
    return r;
}

static int read_ready_file(struct stack *s)
{
    json_t *j = NULL;
    struct diag dd = { 0 };
    if (access(s->ready_file, R_OK) < 0)
        return -EAGAIN;
    if (jsonx_load_file(s->ready_file, &j, &dd) < 0)
        return -EAGAIN;
    uint64_t hp = jsonx_u64(j, "http_port", 0), mp = jsonx_u64(j, "metrics_port", 0);
    pid_t pid = (pid_t)jsonx_i64(j, "pid", 0);
    json_decref(j);
    if (!hp)
        return -EAGAIN;
    sfmt(s->http_url, sizeof(s->http_url), "http://127.0.0.1:%llu", (unsigned long long)hp);
    if (mp && !s->kvbm_metrics_url[0])
        sfmt(s->kvbm_metrics_url, sizeof(s->kvbm_metrics_url), "http://127.0.0.1:%llu/metrics",
             (unsigned long long)mp);
    if (pid > 0)
        s->worker_pid = pid;
    return 0;
}

int stack_check_alive(struct stack *s, struct diag *d)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        struct stack_proc *p = &s->procs[i];
        if (p->started && spawn_poll(&p->proc))
            return diag_set(d, -ECHILD, 0, 0, "%s (pid %d) exited with code %d; see %s/%s.log",
                            p->name, (int)p->proc.pid, spawn_exit_code(&p->proc), s->log_dir,
                            p->name);
    }
    return 0;
}

/* data[].id of a /v1/models answer as a comma list; whether want is among them. */
static bool models_lists(const char *body, size_t len, const char *want, char *list, size_t ll)
{
    json_t *j = NULL;
    struct diag dd = { 0 };
    list[0] = 0;
    if (jsonx_parse(body, len, &j, &dd) < 0)
        return false;
    bool found = false;
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(j, "data"), i, m) {
        const char *id = jsonx_str(m, "id", "");
        size_t l = strlen(list);
        sfmt(list + l, ll - l, "%s%s", l ? ", " : "", id);
        if (!strcmp(id, want))
            found = true;
    }
    json_decref(j);
    return found;
}

static json_t *check_json(const char *name, const char *url, long status, bool ok,
                          const char *detail)
{
    json_t *c = json_object();
    json_object_set_new(c, "check", json_string(name));
    json_object_set_new(c, "url", json_string(url));
    json_object_set_new(c, "status", json_integer(status));
    json_object_set_new(c, "ok", json_boolean(ok));
    json_object_set_new(c, "detail", json_string(detail ? detail : ""));
    return c;
}

int stack_wait_ready(struct stack *s, uint64_t timeout_ns, const volatile sig_atomic_t *stop,
                     json_t **ret_checks, struct diag *d)
{
    uint64_t t0 = clk_now_ns(), deadline = t0 + timeout_ns;
    json_t *checks = json_array();
    char last[400] = "no check ran";
    int r = -ETIMEDOUT;
    struct buf b;
    buf_init(&b, HTTPGET_BODY_MAX_BYTES);
    bool need_ready_file = s->kind == STACK_BUILTIN;
    for (;;) {
        if (stop && *stop) {
            r = diag_set(d, -EINTR, 0, 0, "interrupted after %.1f s waiting for stack %s: %s",
                         (double)(clk_now_ns() - t0) / 1e9, s->name, last);
            goto out;
        }
        if ((r = stack_check_alive(s, d)) < 0)
            goto out;
        if (need_ready_file && read_ready_file(s) < 0) {
            sfmt(last, sizeof(last), "ready file %s not written yet", s->ready_file);
            goto again;
        }
        if (!s->frontend_metrics_url[0] && s->http_url[0])
            sfmt(s->frontend_metrics_url, sizeof(s->frontend_metrics_url), "%s/metrics",
                 s->http_url);
        {
            char url[320];
            struct httpget_result hr;
            sfmt(url, sizeof(url), "%s/health", s->http_url);
            buf_reset(&b);
            if (httpget(url, CHECK_TIMEOUT_NS, &b, &hr) < 0 || hr.status / 100 != 2) {
                sfmt(last, sizeof(last), "GET %s: %s", url, hr.status ? "non-2xx status" : hr.err);
                goto again;
            }
            sfmt(url, sizeof(url), "%s/v1/models", s->http_url);
            buf_reset(&b);
            char list[512];
            if (httpget(url, CHECK_TIMEOUT_NS, &b, &hr) < 0 || hr.status != 200) {
                sfmt(last, sizeof(last), "GET %s: %s", url, hr.status ? "status" : hr.err);
                goto again;
            }
            if (!models_lists((const char *)b.data, b.len, s->served_model, list, sizeof(list))) {
                sfmt(last, sizeof(last), "GET %s does not list model '%s' (listed: %s)", url,
                     s->served_model, list[0] ? list : "none");
                r = -ENOENT;
                goto again;
            }
            json_array_append_new(checks, check_json("health", s->http_url, 200, true, NULL));
            json_array_append_new(checks, check_json("models", url, 200, true, list));
            buf_reset(&b);
            if (httpget(s->frontend_metrics_url, CHECK_TIMEOUT_NS, &b, &hr) < 0 ||
                hr.status != 200) {
                sfmt(last, sizeof(last), "frontend metrics %s: %s", s->frontend_metrics_url,
                     hr.status ? "status" : hr.err);
                json_array_clear(checks);
                goto again;
            }
            json_array_append_new(checks, check_json("frontend_metrics", s->frontend_metrics_url,
                                                     hr.status, true, NULL));
            if (s->kvbm_metrics_url[0]) {
                buf_reset(&b);
                int hr_rc = httpget(s->kvbm_metrics_url, CHECK_TIMEOUT_NS, &b, &hr);
                bool ok = hr_rc >= 0 && hr.status == 200;
                json_array_append_new(checks, check_json("kvbm_metrics", s->kvbm_metrics_url,
                                                         hr.status, ok, ok ? NULL : hr.err));
            }
            r = 0;
            goto out;
        }
again:
        if (clk_now_ns() >= deadline) {
            if (r != -ENOENT)
                r = -ETIMEDOUT;
            diag_set(d, r, 0, 0, "stack %s not ready after %.1f s: %s", s->name,
                     (double)(clk_now_ns() - t0) / 1e9, last);
            json_array_append_new(checks, check_json("ready", s->http_url, 0, false, last));
            goto out;
        }
        r = -ETIMEDOUT;
        clk_sleep_ns(POLL_NS);
    }
out:
    buf_fini(&b);
    *ret_checks = checks;
    return r;
}

/* Host pid of the worker's container (`<engine> inspect -f {{.State.Pid}} NAME`), 0 if unknown. */
static pid_t container_pid(const struct stack *s)
{
    char *out = xalloc_printf("%s/container-inspect.txt", s->log_dir);
    char *argv[] = { (char *)s->container_engine, "inspect", "-f", "{{.State.Pid}}",
                     (char *)s->worker_container, NULL };

    struct spawn_opts so = { .argv = argv, .envp = environ, .stdout_path = out };
    struct spawn_proc p;
    pid_t pid = 0;
    unlink(out);
    if (spawn_start(&so, &p) == 0) {
        if (spawn_wait(&p, 10 * CLK_NS_PER_S) < 0)
            spawn_stop(&p, CLK_NS_PER_S);
        struct buf b;
        buf_init(&b, 256);
        if (fileio_read_all(out, 256, &b) >= 0)
            pid = (pid_t)strtol(buf_str(&b), NULL, 10);
        buf_fini(&b);
    }
    free(out);
    return pid > 0 ? pid : 0;
}

/* The limits the serving engine reports through the frontend's model gauges
 * (dynamo_frontend_model_*): context length, device KV blocks, block size, batch limits. */
static json_t *engine_limits(const struct stack *s)
{
    static const char *const gauges[][2] = {
        { "dynamo_frontend_model_context_length", "context_length" },
        { "dynamo_frontend_model_total_kv_blocks", "total_kv_blocks" },
        { "dynamo_frontend_model_kv_cache_block_size", "kv_cache_block_size" },
        { "dynamo_frontend_model_max_num_seqs", "max_num_seqs" },
        { "dynamo_frontend_model_max_num_batched_tokens", "max_num_batched_tokens" },
    };
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string(s->frontend_metrics_url));
    struct buf b;
    buf_init(&b, HTTPGET_BODY_MAX_BYTES);
    struct httpget_result hr;
    struct prom_page pg = { 0 };
    if (s->frontend_metrics_url[0] &&
        httpget(s->frontend_metrics_url, CHECK_TIMEOUT_NS, &b, &hr) >= 0 && hr.status == 200) {
        prom_parse_lenient((const char *)b.data, b.len, &pg, NULL);
        for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
            double v;
            if (prom_sum(&pg, gauges[i][0], &v) > 0)
                jsonx_set_num(o, gauges[i][1], v);
        }
        prom_page_fini(&pg);
    } else {
        json_object_set_new(o, "error", json_string("frontend metrics not readable"));
    }
    buf_fini(&b);
    return o;
}

/* KVBM's own report of the device pool and the KV layout, from the worker's log lines
 * "Initializing KvbmWorker with params: num_device_blocks=N, page_size=P, dtype_width_bytes=W"
 * and "Inferred layout: num_layers=L, outer_dim=O, page_size=P, inner_dim=I" (kvbm.md §6):
 * {source, num_device_blocks, ..., bytes_per_block = L x O x P x I x W} with what was found;
 * NULL when the log has neither line. */
json_t *stack_worker_layout(const char *log_path)
{
    static const char *const keys[] = { "num_device_blocks", "page_size", "dtype_width_bytes",
                                        "num_layers",        "outer_dim", "inner_dim" };
    struct buf b;
    buf_init(&b, STACK_LOG_SCAN_BYTES + 1);
    json_t *o = NULL;
    int fd = log_path && log_path[0] ? open(log_path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        goto out;
    /* the start-up lines come first: the head of a log of any size */
    char chunk[65536];
    ssize_t n;
    while (b.len < STACK_LOG_SCAN_BYTES && (n = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(&b, chunk, (size_t)n);
    close(fd);
    const char *t = buf_str(&b);
    const char *init = strstr(t, "Initializing KvbmWorker with params:");
    const char *lay = strstr(t, "Inferred layout:");
    if (!init && !lay)
        goto out;
    o = json_object();
    json_object_set_new(o, "source", json_string(log_path));
    double v[6] = { 0 };
    for (size_t i = 0; i < 6; i++) {
        char pat[40];
        sfmt(pat, sizeof(pat), "%s=", keys[i]);
        const char *from = i >= 3 ? lay : init;
        const char *eol = from ? strchr(from, '\n') : NULL;
        const char *at = from ? strstr(from, pat) : NULL;
        if (!at || (eol && at > eol))
            continue;
        char *end = NULL;
        unsigned long long x = strtoull(at + strlen(pat), &end, 10);
        if (end == at + strlen(pat))
            continue;
        v[i] = (double)x;
        jsonx_set_num(o, keys[i], v[i]);
    }
    if (v[1] > 0 && v[2] > 0 && v[3] > 0 && v[4] > 0 && v[5] > 0)
        jsonx_set_num(o, "bytes_per_block", v[3] * v[4] * v[1] * v[5] * v[2]);
out:
    buf_fini(&b);
    return o;
}

json_t *stack_observe_config(struct stack *s, const struct mode_settings *want)
{
    const struct mode_settings *w = want;
    json_t *o = json_object();
    struct spawn_env env = { 0 };
    spawn_env_init(&env, NULL, NULL);
    /* in a container the launched pid is the container client: read the environment of the
     * container's own first process instead (its host pid, from the engine's inspect) */
    pid_t pid = s->worker_pid;
    if (s->worker_container[0]) {
        pid_t cp = container_pid(s);
        if (cp > 0) {
            pid = cp;
            s->worker_pid = cp;
        }
    }
    int r = pid ? spawn_env_read_pid(&env, NULL, pid) : -ESRCH;
    json_t *mism;
    if (r < 0) {
        json_object_set_new(o, "source", json_string("none"));
        json_object_set_new(o, "env_error",
                            json_string(s->worker_pid ? strerror(-r) : "no worker pid known"));
        mism = json_array();
    } else {
        char src[64];
        sfmt(src, sizeof(src), "/proc/%d/environ%s%s", (int)pid,
             s->worker_container[0] ? " of container " : "", s->worker_container);
        json_object_set_new(o, "source", json_string(src));
        json_t *ej = json_object();
        for (size_t i = 0; i < env.n; i++)
            if (!strncmp(env.v[i], "DYN_KVBM_", 9)) {
                const char *eq = strchr(env.v[i], '=');
                char *name = xalloc_strndup(env.v[i], (size_t)(eq - env.v[i]));
                json_object_set_new(
                    ej, name, json_string(stack_is_secret_name(name) ? "<redacted>" : eq + 1));
                free(name);
            }
        json_object_set_new(o, "env", ej);
        struct mode_observed got;
        mode_observe_env(&env, want->bytes_per_block, &got);
        json_object_set_new(o, "observed", mode_observed_json(&got));
        mism = mode_compare(want, &got);
    }
    spawn_env_fini(&env);
    json_object_set_new(o, "engine_limits", engine_limits(s));
    json_t *lay = stack_worker_layout(s->worker_log);
    if (lay)
        json_object_set_new(o, "worker_layout", lay);
    /* live metrics: which KVBM counters exist, and engine-reported tier capacities */
    if (s->kvbm_metrics_url[0]) {
        struct buf b;
        buf_init(&b, HTTPGET_BODY_MAX_BYTES);
        struct httpget_result hr;
        struct prom_page pg = { 0 };
        if (httpget(s->kvbm_metrics_url, CHECK_TIMEOUT_NS, &b, &hr) >= 0 && hr.status == 200) {
            prom_parse_lenient((const char *)b.data, b.len, &pg, NULL);
            json_object_set_new(o, "kvbm_metrics_registered",
                                json_boolean(prom_has_prefix(&pg, "kvbm_")));
            /* the engine's own report of its tiers (builtin engine: kvtier_engine_* gauges) */
            json_t *reported = json_object();
            static const struct {
                const char *gauge;
                const char *field;
            } g[] = {
                { "kvtier_engine_g1_capacity_blocks", NULL },
                { "kvtier_engine_g2_capacity_blocks", "cpu_cache_blocks" },
                { "kvtier_engine_g3_capacity_blocks", "disk_cache_blocks" },
                { "kvtier_engine_disk_offload_filter_enabled", "disk_offload_filter" },
                { "kvtier_engine_disk_only_mode", "disk_only" },
                { "kvtier_engine_disk_o_direct", "o_direct" },
                { "kvtier_engine_kvbm_enabled", "kvbm" },
                { "kvtier_engine_bytes_per_block", NULL },
            };
            double exp[8] = { 0 };
            exp[1] = (double)mode_cpu_blocks(w);
            exp[2] = (double)mode_disk_blocks(w);
            exp[3] = w->id == MODE_B2 || w->id == MODE_C;
            exp[4] = w->id == MODE_B3;
            exp[5] = !w->disable_o_direct;
            exp[6] = mode_has_kvbm(w->id);
            for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
                double v;
                if (prom_sum(&pg, g[i].gauge, &v) <= 0)
                    continue;
                jsonx_set_num(reported, g[i].gauge, v);
                if (!g[i].field)
                    continue;
                /* filter, disk-only and O_DIRECT only mean something with a disk tier */
                if (i >= 3 && i <= 5 && !mode_has_disk(w->id))
                    continue;
                if (i == 1 && w->id == MODE_B3)
                    continue;
                if (v != exp[i]) {
                    json_t *dd = json_object();
                    char f[80];
                    sfmt(f, sizeof(f), "engine_reported_%s", g[i].field);
                    json_object_set_new(dd, "field", json_string(f));
                    jsonx_set_num(dd, "expected", exp[i]);
                    jsonx_set_num(dd, "observed", v);
                    json_array_append_new(mism, dd);
                }
            }
            json_object_set_new(o, "engine_reported", reported);
        } else {
            json_object_set_new(o, "kvbm_metrics_error",
                                json_string(hr.status ? "non-200 status" : hr.err));
        }
        prom_page_fini(&pg);
        buf_fini(&b);
    }
    json_object_set_new(o, "mismatches", mism);
    return o;
}

size_t stack_pids(const struct stack *s, pid_t *pids, size_t max)
{
    size_t n = 0;
    if (s->worker_pid && n < max)
        pids[n++] = s->worker_pid;
    for (size_t i = 0; i < s->nprocs && n < max; i++)
        if (s->procs[i].started && s->procs[i].proc.pid != s->worker_pid)
            pids[n++] = s->procs[i].proc.pid;
    return n;
}

void stack_stop(struct stack *s)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    json_t *procs = json_object_get(s->record, "processes");
    /* stop in reverse order: worker before frontend */
    for (size_t i = s->nprocs; i-- > 0;) {
        struct stack_proc *p = &s->procs[i];
        if (!p->started)
            continue;
        bool was_running = !spawn_poll(&p->proc);
        int killed = spawn_stop(&p->proc, 10 * CLK_NS_PER_S);
        json_t *rec = json_array_get(procs, i);
        if (rec) {
            json_object_set_new(rec, "running_at_stop", json_boolean(was_running));
            json_object_set_new(rec, "exit_code", json_integer(spawn_exit_code(&p->proc)));
            json_object_set_new(rec, "needed_sigkill", json_boolean(killed == 1));
            json_object_set_new(rec, "left_running", json_boolean(spawn_group_alive(p->proc.pid)));
        }
    }
    cgroup_teardown(&s->cgroup);
}

void stack_free(struct stack *s)
{
    if (!s)
        return;
    stack_stop(s);
    json_decref(s->record);
    free(s);
}

static bool is_cache_file_name(const char *name)
{
    return !strncmp(name, STACK_CACHE_FILE_PREFIX, strlen(STACK_CACHE_FILE_PREFIX));
}

/* Whether the directory open at fd holds anything but "." and "..". */
static bool dir_has_entries(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *dp = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!dp) {
        if (dup_fd >= 0)
            close(dup_fd);
        return true;
    }
    bool any = false;
    struct dirent *e;
    while (!any && (e = readdir(dp)))
        any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dp);
    return any;
}

static int write_marker(int dfd)
{
    static const char text[] = "kvtier disk cache directory (docs/bundle.md): kvtier deletes the "
                               "KV cache files " STACK_CACHE_FILE_PREFIX "* in it before "
                               "every run and nothing else\n";
    int fd =
        openat(dfd, STACK_CACHE_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int r = write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1) ? 0 : -EIO;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

/* path made absolute against the working directory (a container's working directory is not
 * ours, so every path handed to a stack process is absolute). Owned. */
static char *absolute(const char *path)
{
    char cwd[4096];
    if (!path || !*path || path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return xstrdup(path ? path : "");
    return xalloc_printf("%s/%s", cwd, path);
}

int stack_cache_dir_claim(const char *parent, char **ret_dir, struct diag *d)
{
    int r, pfd = -1, sfd = -1;
    char *dir = NULL;
    if (!parent || !*parent)
        return diag_set(d, -EINVAL, 0, 0, "empty --disk-cache-dir");
    if ((r = fileio_mkdir_p(parent)) < 0)
        return diag_set(d, r, 0, 0, "cannot create disk cache directory %s: %s", parent,
                        strerror(-r));
    dir = fileio_join(parent, STACK_CACHE_SUBDIR);
    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        r = -errno;
        diag_set(d, r, 0, 0, "disk cache directory %s: %s", parent, strerror(-r));
        goto out;
    }
    bool created = mkdirat(pfd, STACK_CACHE_SUBDIR, 0755) == 0;
    if (!created && errno != EEXIST) {
        r = -errno;
        diag_set(d, r, 0, 0, "cannot create %s: %s", dir, strerror(-r));
        goto out;
    }
    /* never through a symlink: the directory kvtier empties must be the one it made */
    sfd = openat(pfd, STACK_CACHE_SUBDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        r = errno == ELOOP || errno == ENOTDIR ? -EEXIST : -errno;
        diag_set(d, r, 0, 0,
                 "%s exists and is not a directory (a symlink or a file): kvtier will not use it "
                 "as its disk cache; remove it or choose another --disk-cache-dir",
                 dir);
        goto out;
    }
    struct stat st;
    bool marked =
        fstatat(sfd, STACK_CACHE_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (!marked && !created && dir_has_entries(sfd)) {
        r = -EEXIST;
        diag_set(d, r, 0, 0,
                 "%s is not empty and has no %s marker: it is not a kvtier disk cache, and "
                 "kvtier deletes only in its own; remove it or choose another --disk-cache-dir",
                 dir, STACK_CACHE_MARKER);
        goto out;
    }
    if (!marked && (r = write_marker(sfd)) < 0) {
        diag_set(d, r, 0, 0, "cannot mark %s/%s: %s", dir, STACK_CACHE_MARKER, strerror(-r));
        goto out;
    }
    r = 0;
    /* absolute, as every path handed to a stack process is: the mode's expected directory
     * and the one the worker reports must be the same string (relative --out, make demo) */
    *ret_dir = absolute(dir);
out:
    if (sfd >= 0)
        close(sfd);
    if (pfd >= 0)
        close(pfd);
    free(dir);
    return r;
}

json_t *stack_clear_cache_dir(const char *dir)
{
    json_t *o = json_object();
    json_object_set_new(o, "dir", json_string(dir));
    uint64_t files = 0, bytes = 0;
    const char *err = NULL;
    DIR *dp = NULL;
    int fd = dir && *dir ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0) {
        err = dir && *dir ? strerror(errno) : "no directory";
        goto out;
    }
    if (fstatat(fd, STACK_CACHE_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
        err = "no kvtier marker in this directory: refusing to delete anything";
        close(fd);
        goto out;
    }
    dp = fdopendir(fd);
    if (!dp) {
        err = strerror(errno);
        close(fd);
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!is_cache_file_name(e->d_name))
            continue;
        if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(dp), e->d_name, 0) == 0) {
            files++;
            bytes += (uint64_t)st.st_size;
        }
    }
    closedir(dp);
out:
    json_object_set_new(o, "files_removed", json_integer((json_int_t)files));
    json_object_set_new(o, "bytes_removed", json_integer((json_int_t)bytes));
    json_object_set_new(o, "emptied", json_boolean(err == NULL));
    json_object_set_new(o, "error", err ? json_string(err) : json_null());
    return o;
}

json_t *stack_drop_page_cache(const char *proc_root, bool attempt)
{
    json_t *o = json_object();
    /* always: the writes of earlier runs (bundle files, logs) reach the disk now, not as
     * writeback inside this run's measured phases, where they would count as foreign I/O */
    sync();
    json_object_set_new(o, "synced", json_true());
    json_object_set_new(o, "attempted", json_boolean(attempt));
    if (!attempt) {
        json_object_set_new(o, "dropped", json_false());
        json_object_set_new(o, "reason", json_string("disabled by --drop-caches no"));
        return o;
    }
    char *p = xalloc_printf("%s/sys/vm/drop_caches", proc_root ? proc_root : "/proc");
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    int r = fd < 0 ? -errno : (write(fd, "1\n", 2) == 2 ? 0 : -errno);
    if (fd >= 0)
        close(fd);
    json_object_set_new(o, "dropped", json_boolean(r == 0));
    json_object_set_new(o, "reason", r == 0 ? json_null() : json_string(strerror(-r)));
    free(p);
    return o;
}
