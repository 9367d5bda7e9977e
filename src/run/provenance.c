/* SPDX-License-Identifier: Apache-2.0 */
/* Observed provenance (see provenance.h). */
#include "run/provenance.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/spawn.h"
#include "common/xalloc.h"
#include "version.h"

extern char **environ;

#define HELPER_TIMEOUT_NS (10 * CLK_NS_PER_S)
#define HELPER_OUT_MAX    (64u << 10)
#define MODEL_FILE_MAX    (64u << 20)

/* The distributions asked of the worker's Python; the probe prints one JSON object. */
static const char probe_py[] =
    "import importlib.metadata as m, json, sys\n"
    "out = {'python': sys.version.split()[0], 'executable': sys.executable}\n"
    "for n in ('ai-dynamo', 'kvbm', 'tensorrt_llm', 'nixl'):\n"
    "    try:\n"
    "        out[n] = m.version(n)\n"
    "    except Exception:\n"
    "        out[n] = None\n"
    "print(json.dumps(out))\n";

/* Runs argv with envp, its standard output into out_path and (at most HELPER_OUT_MAX) into ret.
 * 0, or negative errno (start failure, -ETIMEDOUT, -EIO on a non-zero exit). */
static int capture(char *const *argv, char *const *envp, const char *out_path, struct buf *ret)
{
    struct spawn_opts so = { .argv = argv, .envp = envp, .stdout_path = out_path };
    struct spawn_proc p;
    unlink(out_path);
    int r = spawn_start(&so, &p);
    if (r < 0)
        return r;
    if (spawn_wait(&p, HELPER_TIMEOUT_NS) < 0) {
        spawn_stop(&p, CLK_NS_PER_S);
        return -ETIMEDOUT;
    }
    buf_reset(ret);
    fileio_read_all(out_path, HELPER_OUT_MAX, ret);
    return spawn_exit_code(&p) == 0 ? 0 : -EIO;
}

/* argv[0] of the worker's command resolved in the worker's own PATH. Owned or NULL. */
static char *resolve(const char *prog, const char *path)
{
    if (!prog || !*prog)
        return NULL;
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
    char *dup = xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL, *found = NULL;
    for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *c = xalloc_printf("%s/%s", d, prog);
        if (access(c, X_OK) == 0)
            found = c;
        else
            free(c);
    }
    free(dup);
    return found;
}

/* The launch record of the worker: the process whose pid is the worker's, else the last. */
static const json_t *worker_record(const struct stack *s)
{
    json_t *procs = json_object_get(s->record, "processes");
    size_t i;
    json_t *p;
    json_array_foreach (procs, i, p)
        if (jsonx_i64(p, "pid", 0) == (json_int_t)s->worker_pid)
            return p;
    size_t n = json_array_size(procs);
    return n ? json_array_get(procs, n - 1) : NULL;
}

/* The worker's Python distributions: {source, python, executable, ai-dynamo, ...}. */
static json_t *versions(struct stack *s)
{
    json_t *o = NULL;
    char *out = xalloc_printf("%s/provenance-versions.txt", s->log_dir);
    struct buf b;
    buf_init(&b, 1024);
    struct spawn_env env = { 0 };
    spawn_env_init(&env, NULL, NULL);
    char src[256];
    int r;
    if (s->worker_container[0]) {
        char *argv[] = { s->container_engine, "exec", s->worker_container, "python3", "-c",
                         (char *)probe_py,    NULL };
        snprintf(src, sizeof(src), "%s exec %s python3", s->container_engine, s->worker_container);
        r = capture(argv, environ, out, &b);
    } else {
        /* the interpreter that started the worker: its command's argv[0] in its own PATH */
        const json_t *wr = worker_record(s);
        const char *prog = json_string_value(json_array_get(json_object_get(wr, "argv"), 0));
        r = s->worker_pid ? spawn_env_read_pid(&env, NULL, s->worker_pid) : -ESRCH;
        char *py = r < 0 ? NULL : resolve(prog, spawn_env_get(&env, "PATH"));
        snprintf(src, sizeof(src), "%s -c (environment of pid %d)", py ? py : "?",
                 (int)s->worker_pid);
        if (r >= 0 && !py)
            r = -ENOENT;
        if (r >= 0) {
            char *argv[] = { py, "-c", (char *)probe_py, NULL };
            r = capture(argv, env.v, out, &b);
        }
        free(py);
    }
    struct diag d = { 0 };
    if (r < 0 || jsonx_parse((const char *)b.data, b.len, &o, &d) < 0 || !json_is_object(o)) {
        json_decref(o);
        o = json_object();
        json_object_set_new(o, "error", json_string(r < 0 ? strerror(-r) : "unreadable output"));
    }
    json_object_set_new(o, "source", json_string(src));
    spawn_env_fini(&env);
    buf_fini(&b);
    free(out);
    return o;
}

static json_t *image_digest(struct stack *s, const char *image)
{
    json_t *o = json_object();
    json_object_set_new(o, "image", json_string(image));
    char *out = xalloc_printf("%s/provenance-image.txt", s->log_dir);
    char *argv[] = { s->container_engine,        "image",       "inspect", "-f",
                     "{{index .RepoDigests 0}}", (char *)image, NULL };
    struct buf b;
    buf_init(&b, 256);
    int r = capture(argv, environ, out, &b);
    char *t = xstrdup(buf_str(&b));
    t[strcspn(t, "\r\n")] = 0;
    if (r == 0 && *t)
        json_object_set_new(o, "repo_digest", json_string(t));
    else
        json_object_set_new(o, "error", json_string(r < 0 ? strerror(-r) : "no digest"));
    free(t);
    buf_fini(&b);
    free(out);
    return o;
}

/* "key": true|false in a cufile.json (either spelling, comments allowed); NULL when absent. */
static json_t *cufile_flag(const char *text, const char *key)
{
    char alt[64];
    snprintf(alt, sizeof(alt), "%s", key);
    for (char *p = alt; *p; p++)
        if (*p == '_')
            *p = '-';
    const char *names[2] = { key, alt };
    for (size_t i = 0; i < 2; i++) {
        char q[80];
        snprintf(q, sizeof(q), "\"%s\"", names[i]);
        const char *at = strstr(text, q);
        if (!at)
            continue;
        at += strlen(q);
        at += strspn(at, " \t:");
        if (!strncmp(at, "true", 4))
            return json_true();
        if (!strncmp(at, "false", 5))
            return json_false();
    }
    return NULL;
}

/* GDS / cuFile and NIXL as the worker sees them: its CUFILE_* and NIXL_* variables, the
 * cufile.json it would load (CUFILE_ENV_PATH_JSON, else /etc/cufile.json, read through
 * /proc/PID/root so a container's own file is the one read) with its compat-mode switches, and
 * whether the nvidia-fs (GDS) driver is present on the host. */
static json_t *gds_state(const struct stack *s)
{
    json_t *o = json_object();
    struct spawn_env env = { 0 };
    spawn_env_init(&env, NULL, NULL);
    json_t *vars = json_object();
    bool have_env = s->worker_pid && spawn_env_read_pid(&env, NULL, s->worker_pid) >= 0;
    for (size_t i = 0; have_env && i < env.n; i++)
        if (!strncmp(env.v[i], "CUFILE_", 7) || !strncmp(env.v[i], "NIXL_", 5)) {
            const char *eq = strchr(env.v[i], '=');
            char *name = xalloc_strndup(env.v[i], (size_t)(eq - env.v[i]));
            json_object_set_new(vars, name, json_string(eq + 1));
            free(name);
        }
    json_object_set_new(o, "worker_env", vars);
    const char *cf = have_env ? spawn_env_get(&env, "CUFILE_ENV_PATH_JSON") : NULL;
    char *path = xstrdup(cf && *cf ? cf : "/etc/cufile.json");
    char *full =
        s->worker_pid ? xalloc_printf("/proc/%d/root%s", (int)s->worker_pid, path) : xstrdup(path);
    json_t *cj = json_object();
    json_object_set_new(cj, "path", json_string(path));
    struct buf b;
    buf_init(&b, 4096);
    if (fileio_read_all(full, HELPER_OUT_MAX, &b) >= 0) {
        const char *t = buf_str(&b);
        XXH128_hash_t h = XXH3_128bits(t, strlen(t));
        char hex[64];
        snprintf(hex, sizeof(hex), "xxh3-128:%016llx%016llx", (unsigned long long)h.high64,
                 (unsigned long long)h.low64);
        json_object_set_new(cj, "present", json_true());
        json_object_set_new(cj, "digest", json_string(hex));
        static const char *const keys[] = { "allow_compat_mode", "use_compat_mode",
                                            "force_compat_mode", "use_pci_p2pdma", NULL };
        for (size_t k = 0; keys[k]; k++) {
            json_t *v = cufile_flag(t, keys[k]);
            json_object_set_new(cj, keys[k], v ? v : json_null());
        }
        json_object_set_new(cj, "text", json_string(t));
    } else {
        json_object_set_new(cj, "present", json_false());
    }
    buf_fini(&b);
    json_object_set_new(o, "cufile_json", cj);
    json_object_set_new(o, "nvidia_fs_driver", json_boolean(access("/dev/nvidia-fs0", F_OK) == 0));
    free(path);
    free(full);
    spawn_env_fini(&env);
    return o;
}

/* NVML as in nvml.h: nvmlInit_v2, nvmlSystemGetDriverVersion, nvmlSystemGetCudaDriverVersion,
 * nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetName, nvmlShutdown. */
json_t *provenance_gpu(void)
{
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string("nvml (libnvidia-ml.so.1)"));
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        json_object_set_new(o, "present", json_false());
        json_object_set_new(o, "reason", json_string(e ? e : "not loadable"));
        return o;
    }
    int (*init)(void), (*shutdown)(void), (*drv)(char *, unsigned), (*cuda)(int *),
        (*count)(unsigned *), (*handle)(unsigned, void **), (*name)(void *, char *, unsigned);
    *(void **)&init = dlsym(lib, "nvmlInit_v2");
    *(void **)&shutdown = dlsym(lib, "nvmlShutdown");
    *(void **)&drv = dlsym(lib, "nvmlSystemGetDriverVersion");
    *(void **)&cuda = dlsym(lib, "nvmlSystemGetCudaDriverVersion_v2");
    if (!cuda)
        *(void **)&cuda = dlsym(lib, "nvmlSystemGetCudaDriverVersion");
    *(void **)&count = dlsym(lib, "nvmlDeviceGetCount_v2");
    *(void **)&handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&name = dlsym(lib, "nvmlDeviceGetName");
    if (!init || !shutdown || init() != 0) {
        json_object_set_new(o, "present", json_false());
        json_object_set_new(o, "reason", json_string("nvmlInit failed or missing"));
        goto out;
    }
    json_object_set_new(o, "present", json_true());
    char s[96];
    if (drv && drv(s, sizeof(s)) == 0)
        json_object_set_new(o, "driver_version", json_string(s));
    int cv = 0;
    if (cuda && cuda(&cv) == 0) {
        snprintf(s, sizeof(s), "%d.%d", cv / 1000, (cv % 1000) / 10);
        json_object_set_new(o, "cuda_driver_version", json_string(s));
    }
    unsigned n = 0;
    json_t *gpus = json_array();
    if (count && handle && name && count(&n) == 0)
        for (unsigned i = 0; i < n && i < 16; i++) {
            void *h = NULL;
            if (handle(i, &h) == 0 && name(h, s, sizeof(s)) == 0)
                json_array_append_new(gpus, json_string(s));
        }
    json_object_set_new(o, "gpus", gpus);
    shutdown();
out:
    dlclose(lib);
    return o;
}

/* KEY=VALUE lines of a release file into an object (quotes stripped); NULL when absent. */
static json_t *release_file(const char *path)
{
    struct buf b;
    buf_init(&b, 4096);
    json_t *o = NULL;
    if (fileio_read_all(path, 64u << 10, &b) < 0)
        goto out;
    o = json_object();
    char *t = xstrdup(buf_str(&b)), *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '=');
        if (!eq || *l == '#')
            continue;
        *eq = 0;
        char *v = eq + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v[vl - 1] = 0;
            v++;
        }
        json_object_set_new(o, l, json_string(v));
    }
    free(t);
out:
    buf_fini(&b);
    return o;
}

json_t *provenance_os(const char *root)
{
    json_t *o = json_object();
    const char *r = root ? root : "";
    char *p = xalloc_printf("%s/etc/os-release", r);
    json_t *osr = release_file(p);
    free(p);
    json_object_set_new(o, "os_release", osr ? osr : json_null());
    json_object_set_new(o, "pretty_name",
                        json_string(osr ? jsonx_str(osr, "PRETTY_NAME", "") : ""));
    p = xalloc_printf("%s/etc/dgx-release", r);
    json_t *dgx = release_file(p);
    free(p);
    json_object_set_new(o, "dgx_os", json_boolean(dgx != NULL));
    json_object_set_new(o, "dgx_release", dgx ? dgx : json_null());
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(o, "kernel", json_string(u.release));
        json_object_set_new(o, "kernel_version", json_string(u.version));
        json_object_set_new(o, "machine", json_string(u.machine));
    }
    return o;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_hashed(const char *n)
{
    size_t l = strlen(n);
    return !strcmp(n, "config.json") || !strcmp(n, "generation_config.json") ||
           (l > 11 && !strcmp(n + l - 11, ".index.json"));
}

static bool is_weight(const char *n)
{
    size_t l = strlen(n);
    return (l > 12 && !strcmp(n + l - 12, ".safetensors")) || (l > 4 && !strcmp(n + l - 4, ".bin"));
}

json_t *provenance_model_digest(const char *dir)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(dir ? dir : ""));
    DIR *dp = dir && *dir == '/' ? opendir(dir) : NULL;
    if (!dp) {
        json_object_set_new(o, "error", json_string("not a local checkpoint directory"));
        return o;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (is_hashed(e->d_name) || is_weight(e->d_name)) {
            xalloc_grow((void **)&names, &cap, n + 1, sizeof(char *));
            names[n++] = xstrdup(e->d_name);
        }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof(char *), name_cmp);
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    json_t *files = json_array();
    bool config = false;
    struct buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < n; i++) {
        char *p = fileio_join(dir, names[i]);
        struct stat sb;
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(names[i]));
        if (stat(p, &sb) == 0)
            json_object_set_new(f, "bytes", json_integer((json_int_t)sb.st_size));
        XXH3_128bits_update(st, names[i], strlen(names[i]) + 1);
        if (is_hashed(names[i])) {
            buf_reset(&b);
            if (fileio_read_all(p, MODEL_FILE_MAX, &b) >= 0)
                XXH3_128bits_update(st, b.data, b.len);
            json_object_set_new(f, "hashed", json_true());
            config = config || !strcmp(names[i], "config.json");
        } else {
            uint64_t sz = (uint64_t)sb.st_size;
            XXH3_128bits_update(st, &sz, sizeof(sz));
        }
        json_array_append_new(files, f);
        free(p);
        free(names[i]);
    }
    free(names);
    buf_fini(&b);
    XXH128_hash_t h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    char hex[64];
    snprintf(hex, sizeof(hex), "xxh3-128:%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "digest", config ? json_string(hex) : json_null());
    if (!config)
        json_object_set_new(o, "error", json_string("no config.json in the directory"));
    return o;
}

char *provenance_config_hash(const json_t *doc, const char *const *keys)
{
    json_t *sel = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(doc, keys[i]);
        json_object_set_new(sel, keys[i], v ? json_deep_copy(v) : json_null());
    }
    char *txt = json_dumps(sel, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(sel);
    XXH128_hash_t h = XXH3_128bits(txt ? txt : "", txt ? strlen(txt) : 0);
    free(txt);
    return xalloc_printf("xxh3-128:%016llx%016llx", (unsigned long long)h.high64,
                         (unsigned long long)h.low64);
}

static void differ(json_t *diffs, const char *field, const json_t *expected, const char *observed)
{
    const char *e = json_string_value(expected);
    if (!e || !observed || !strcmp(e, observed))
        return;
    json_t *d = json_object();
    json_object_set_new(d, "field", json_string(field));
    json_object_set_new(d, "expected", json_string(e));
    json_object_set_new(d, "observed", json_string(observed));
    json_array_append_new(diffs, d);
}

json_t *provenance_observe(struct stack *s, const json_t *stack_profile)
{
    json_t *o = json_object();
    json_t *exp = json_object_get(stack_profile, "provenance");
    json_object_set_new(o, "expected", exp ? json_deep_copy(exp) : json_object());
    json_t *obs = json_object();
    json_t *diffs = json_array();
    bool builtin = s->kind == STACK_BUILTIN;
    if (builtin) {
        json_t *v = json_object();
        json_object_set_new(v, "source", json_string("kvtier serve (emulated engine)"));
        json_object_set_new(v, "kvtier", json_string(KVTIER_VERSION));
        json_object_set_new(obs, "versions", v);
    } else if (s->kind == STACK_DYNAMO_TRTLLM) {
        json_t *v = versions(s);
        json_object_set_new(obs, "versions", v);
        differ(diffs, "dynamo_version", json_object_get(exp, "dynamo_version"),
               jsonx_str(v, "ai-dynamo", NULL));
        differ(diffs, "trtllm_version", json_object_get(exp, "trtllm_version"),
               jsonx_str(v, "tensorrt_llm", NULL));
        differ(diffs, "nixl_version", json_object_get(exp, "nixl_version"),
               jsonx_str(v, "nixl", NULL));
    }
    const char *image = jsonx_str(json_object_get(stack_profile, "container"), "image", NULL);
    if (s->worker_container[0] && image) {
        json_t *im = image_digest(s, image);
        json_object_set_new(obs, "container", im);
        differ(diffs, "container_image", json_object_get(exp, "container_image"), image);
    }
    json_object_set_new(obs, "gpu", provenance_gpu());
    if (!builtin)
        json_object_set_new(obs, "gds", gds_state(s));
    json_object_set_new(obs, "os", provenance_os(NULL));
    const char *mp = jsonx_str(s->record, "model_path", NULL);
    if (mp)
        json_object_set_new(obs, "model_checkpoint", provenance_model_digest(mp));
    const char *wd = jsonx_str(s->record, "work_dir", NULL);
    if (wd && !builtin) {
        char *p = fileio_join(wd, "worker_config.json");
        json_t *wc = NULL;
        struct diag d = { 0 };
        if (access(p, R_OK) == 0 && jsonx_load_file(p, &wc, &d) == 0)
            json_object_set_new(obs, "engine_config_reported", wc);
        else
            json_object_set_new(obs, "engine_config_reported", json_null());
        free(p);
    }
    json_object_set_new(o, "observed", obs);
    json_object_set_new(o, "differences", diffs);
    return o;
}

static void cap_entry(json_t *o, const char *key, double v, const char *source)
{
    json_t *e = json_object();
    jsonx_set_num(e, "value", v);
    json_object_set_new(e, "source", json_string(source));
    json_object_set_new(o, key, e);
}

/* G2 or G3 blocks by KVBM's sizing rule on the worker's own DYN_KVBM_<tier>_* variables
 * (tier "CPU" or "DISK"): the override count wins, else floor(GB x 1e9 / bytes_per_block).
 * -1 when neither is set. */
static double env_blocks(const json_t *env, const char *tier, double bytes_per_block)
{
    char k[64];
    snprintf(k, sizeof(k), "DYN_KVBM_%s_CACHE_OVERRIDE_NUM_BLOCKS", tier);
    const char *ov = jsonx_str(env, k, NULL);
    char *end = NULL;
    if (ov && *ov) {
        unsigned long long n = strtoull(ov, &end, 10);
        if (end && !*end)
            return (double)n;
    }
    snprintf(k, sizeof(k), "DYN_KVBM_%s_CACHE_GB", tier);
    const char *gb = jsonx_str(env, k, NULL);
    if (!gb || !*gb || bytes_per_block <= 0)
        return -1;
    double g = strtod(gb, &end);
    return end && !*end && g >= 0 ? floor(g * 1e9 / bytes_per_block) : -1;
}

json_t *provenance_capacity(const json_t *observed_config, uint64_t kv_bytes_per_token,
                            const uint64_t planned[3], uint64_t planned_bytes_per_block)
{
    json_t *o = json_object();
    const json_t *el = json_object_get(observed_config, "engine_limits");
    const json_t *rep = json_object_get(observed_config, "engine_reported");
    const json_t *env = json_object_get(observed_config, "env");
    const json_t *lay = json_object_get(observed_config, "worker_layout");
    double v;
    double got[3] = { -1, -1, -1 };
    if ((v = jsonx_num(el, "total_kv_blocks", -1)) >= 0) {
        cap_entry(o, "g1_blocks", v, "dynamo_frontend_model_total_kv_blocks");
        got[0] = v;
    } else if ((v = jsonx_num(lay, "num_device_blocks", -1)) >= 0) {
        cap_entry(o, "g1_blocks", v, "worker log: KvbmWorker num_device_blocks");
        got[0] = v;
    } else if ((v = jsonx_num(rep, "kvtier_engine_g1_capacity_blocks", -1)) >= 0) {
        cap_entry(o, "g1_blocks", v, "kvtier_engine_g1_capacity_blocks");
        got[0] = v;
    }
    /* bytes per block: KVBM's inferred layout, else the engine's gauge, else the live block
     * size times the model's KV bytes per token */
    double tpb = jsonx_num(el, "kv_cache_block_size", -1);
    if (tpb > 0)
        cap_entry(o, "tokens_per_block", tpb, "dynamo_frontend_model_kv_cache_block_size");
    if ((v = jsonx_num(lay, "bytes_per_block", -1)) > 0)
        cap_entry(o, "bytes_per_block", v,
                  "worker log: Inferred layout num_layers x outer_dim x page_size x inner_dim x "
                  "dtype_width_bytes");
    else if ((v = jsonx_num(rep, "kvtier_engine_bytes_per_block", -1)) > 0)
        cap_entry(o, "bytes_per_block", v, "kvtier_engine_bytes_per_block");
    else if (tpb > 0 && kv_bytes_per_token)
        cap_entry(o, "bytes_per_block", tpb * (double)kv_bytes_per_token,
                  "kv_cache_block_size x the model profile's KV bytes per token");
    double bpb = jsonx_num(json_object_get(o, "bytes_per_block"), "value", -1);
    if (bpb <= 0)
        bpb = (double)planned_bytes_per_block;
    static const char *const gauges[2] = { "kvtier_engine_g2_capacity_blocks",
                                           "kvtier_engine_g3_capacity_blocks" };
    static const char *const tiers[2] = { "CPU", "DISK" };
    static const char *const keys[2] = { "g2_blocks", "g3_blocks" };
    for (size_t i = 0; i < 2; i++) {
        if ((v = jsonx_num(rep, gauges[i], -1)) >= 0)
            cap_entry(o, keys[i], v, gauges[i]);
        else if ((v = env_blocks(env, tiers[i], bpb)) >= 0)
            cap_entry(o, keys[i], v,
                      "worker environment (DYN_KVBM_*) by KVBM's sizing rule with the observed "
                      "bytes per block");
        got[i + 1] = v;
    }
    json_t *diffs = json_array();
    static const char *const names[3] = { "g1_blocks", "g2_blocks", "g3_blocks" };
    for (size_t i = 0; i < 3; i++)
        if (got[i] >= 0 && planned[i] && got[i] != (double)planned[i]) {
            json_t *d = json_object();
            json_object_set_new(d, "field", json_string(names[i]));
            jsonx_set_num(d, "planned", (double)planned[i]);
            jsonx_set_num(d, "observed", got[i]);
            json_array_append_new(diffs, d);
        }
    bpb = jsonx_num(json_object_get(o, "bytes_per_block"), "value", -1);
    if (bpb > 0 && planned_bytes_per_block && bpb != (double)planned_bytes_per_block) {
        json_t *d = json_object();
        json_object_set_new(d, "field", json_string("bytes_per_block"));
        jsonx_set_num(d, "planned", (double)planned_bytes_per_block);
        jsonx_set_num(d, "observed", bpb);
        json_array_append_new(diffs, d);
    }
    json_object_set_new(o, "differences", diffs);
    return o;
}

/* One capacity of the sizing: profile, observed (or null), used, source. */
static uint64_t sizing_entry(json_t *o, const char *key, uint64_t profile, double observed,
                             const char *obs_source, uint64_t derived, const char *der_source)
{
    json_t *e = json_object();
    json_object_set_new(e, "profile", json_integer((json_int_t)profile));
    json_object_set_new(e, "observed",
                        observed >= 0 ? json_integer((json_int_t)observed) : json_null());
    uint64_t used = observed >= 0 ? (uint64_t)observed : derived;
    json_object_set_new(e, "used", json_integer((json_int_t)used));
    json_object_set_new(e, "source", json_string(observed >= 0 ? obs_source : der_source));
    json_object_set_new(o, key, e);
    return used;
}

/* G2 or G3 as sized: observed when the running mode asked for the B2 size, else the B2
 * profile size (blocks as given, GB by KVBM's rule with the bytes per block used). */
static uint64_t sizing_tier(json_t *o, const json_t *cap, const char *key, bool same_as_b2,
                            double gb, uint64_t blocks, uint64_t profile, double bpb,
                            bool bpb_observed)
{
    const json_t *ob = json_object_get(cap, key);
    double v = same_as_b2 ? jsonx_num(ob, "value", -1) : -1;
    uint64_t derived = profile;
    const char *how = "stack profile tiers (mode B2)";
    if (!blocks && gb > 0 && bpb > 0) {
        derived = (uint64_t)floor(gb * 1e9 / bpb);
        how = bpb_observed ? "stack profile GB by KVBM's rule floor(GB x 1e9 / bytes_per_block) "
                             "with the observed bytes per block"
                           : "stack profile tiers (mode B2)";
    }
    return sizing_entry(o, key, profile, v, jsonx_str(ob, "source", "observed"), derived, how);
}

json_t *provenance_sizing(const json_t *cap, const struct mode_settings *running,
                          const struct mode_settings *b2, uint64_t g1_profile,
                          struct workload_capacity *ret)
{
    json_t *o = json_object();
    const json_t *ob = json_object_get(cap, "bytes_per_block");
    double bpb_obs = jsonx_num(ob, "value", -1);
    uint64_t bpb = sizing_entry(o, "bytes_per_block", b2->bytes_per_block, bpb_obs,
                                jsonx_str(ob, "source", "observed"), b2->bytes_per_block,
                                "model profile (KVBM's formula on its architecture)");
    const json_t *g1o = json_object_get(cap, "g1_blocks");
    uint64_t g1 = sizing_entry(o, "g1_blocks", g1_profile, jsonx_num(g1o, "value", -1),
                               jsonx_str(g1o, "source", "observed"), g1_profile,
                               "stack profile tiers / --g1-blocks, else the hardware profile");
    uint64_t g2 = sizing_tier(
        o, cap, "g2_blocks",
        mode_has_host(running->id) && mode_cpu_blocks(running) == mode_cpu_blocks(b2),
        b2->cpu_cache_gb, b2->cpu_cache_blocks, mode_cpu_blocks(b2), (double)bpb, bpb_obs > 0);
    uint64_t g3 = sizing_tier(
        o, cap, "g3_blocks",
        mode_has_disk(running->id) && mode_disk_blocks(running) == mode_disk_blocks(b2),
        b2->disk_cache_gb, b2->disk_cache_blocks, mode_disk_blocks(b2), (double)bpb, bpb_obs > 0);
    bool resized = bpb != b2->bytes_per_block || g1 != g1_profile || g2 != mode_cpu_blocks(b2) ||
                   g3 != mode_disk_blocks(b2);
    json_object_set_new(o, "resized", json_boolean(resized));
    json_object_set_new(o, "observed_mode", json_string(mode_name(running->id)));
    *ret = (struct workload_capacity){ .g1_blocks = g1,
                                       .g2_blocks = g2,
                                       .g3_blocks = g3,
                                       .bytes_per_block = bpb,
                                       .source = "kvtier bundle: observed capacity after launch "
                                                 "(manifest capacity.sizing)" };
    return o;
}
