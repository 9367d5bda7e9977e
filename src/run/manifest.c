/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest facts of a bundle (see manifest.h and docs/bundle.md "manifest.json"). */
#include "run/manifest.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/devinfo.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/redact.h"
#include "common/xalloc.h"
#include "run/provenance.h"
#include "stack/cgroup.h"
#include "version.h"

static char *read_text(const char *path, size_t max)
{
    struct buf b;
    buf_init(&b, max);
    if (fileio_read_all(path, max, &b) < 0) {
        buf_fini(&b);
        return NULL;
    }
    return buf_take_str(&b);
}

json_t *manifest_host(void)
{
    json_t *h = json_object();
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(h, "hostname", json_string(u.nodename));
        json_object_set_new(h, "kernel", json_string(u.release));
        json_object_set_new(h, "kernel_version", json_string(u.version));
        json_object_set_new(h, "arch", json_string(u.machine));
    }
    char *ci = read_text("/proc/cpuinfo", 1 << 20);
    if (ci) {
        const char *keys[] = { "model name", "CPU part", NULL };
        for (size_t i = 0; keys[i]; i++) {
            char *m = strstr(ci, keys[i]);
            if (m && (m = strchr(m, ':'))) {
                char *nl = strchr(m, '\n');
                json_object_set_new(h, "cpu_model",
                                    json_stringn(m + 2, nl ? (size_t)(nl - m - 2) : strlen(m + 2)));
                break;
            }
        }
        free(ci);
    }
    json_object_set_new(h, "cpus_online", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        json_object_set_new(h, "memory_bytes", json_integer((json_int_t)pages * psz));
    return h;
}

json_t *manifest_storage(const struct bundle_config *cfg, const char *cache_dir, uint64_t bpb)
{
    json_t *s = json_object();
    json_object_set_new(s, "kind",
                        json_string(cfg->storage_kind ? cfg->storage_kind : "local_nvme"));
    json_object_set_new(s, "path", json_string(cache_dir));
    char majmin[32] = "";
    int r = cgroup_disk_of_path(NULL, cache_dir, majmin, sizeof(majmin));
    json_object_set_new(s, "device_number", r == 0 ? json_string(majmin) : json_null());
    char devname[64] = "";
    if (cfg->device) {
        snprintf(devname, sizeof(devname), "%s", cfg->device);
    } else if (r == 0) {
        char *ue = xalloc_printf("/sys/dev/block/%s/uevent", majmin);
        char *t = read_text(ue, 4096);
        char *d = t ? strstr(t, "DEVNAME=") : NULL;
        if (d) {
            d += 8;
            char *nl = strchr(d, '\n');
            if (nl)
                *nl = 0;
            snprintf(devname, sizeof(devname), "%s", d);
        }
        free(t);
        free(ue);
    }
    json_object_set_new(s, "device", devname[0] ? json_string(devname) : json_null());
    if (devname[0]) {
        /* the shared sysfs identity reader (src/common/devinfo.c), mapped onto the fields the
         * manifest has always had */
        json_t *di = devinfo_json(NULL, devname);
        json_t *dl = json_object_get(di, "pcie_link");
        json_object_set(s, "model",
                        json_object_get(di, "model") ? json_object_get(di, "model") : json_null());
        json_object_set(s, "firmware",
                        json_object_get(di, "firmware") ? json_object_get(di, "firmware")
                                                        : json_null());
        json_t *link = json_object();
        json_t *speed = json_object_get(dl, "current_link_speed");
        json_t *width = json_object_get(dl, "current_link_width");
        json_object_set(link, "speed", speed ? speed : json_null());
        json_object_set(link, "width", width ? width : json_null());
        json_object_set_new(s, "pcie_link", link);
        json_decref(di);
    }
    /* the SSD ceiling: probe.json as measured by kvtier probe, recorded whole so the report
     * can compute storage efficiency (KV read bandwidth in replay / ceiling at the block size) */
    json_t *ceil = json_null();
    if (cfg->probe_path) {
        json_t *probe = NULL;
        struct diag d = { 0 };
        ceil = json_object();
        json_object_set_new(ceil, "probe_file", json_string(cfg->probe_path));
        json_object_set_new(ceil, "block_bytes_of_interest", json_integer((json_int_t)bpb));
        if (jsonx_load_file(cfg->probe_path, &probe, &d) == 0)
            json_object_set_new(ceil, "probe", probe);
        else
            json_object_set_new(ceil, "error", json_string(d.msg));
    }
    json_object_set_new(s, "probe_ceiling", ceil);
    return s;
}

static json_t *provenance_json(const struct manifest_facts *g, const struct stack *s)
{
    json_t *p = json_object();
    json_object_set_new(p, "max_sequence_length",
                        json_integer((json_int_t)g->model->max_sequence_length));
    json_object_set_new(p, "max_num_tokens", json_integer((json_int_t)g->model->max_num_tokens));
    json_object_set_new(p, "build_id", json_string(g->model->build_id));
    json_t *prov = json_object_get(g->stack_profile, "provenance");
    const char *keys[] = { "container_image", "dynamo_version", "trtllm_version", "nixl_version",
                           NULL };
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(prov, keys[i]);
        json_object_set_new(p, keys[i], v ? json_incref(v) : json_null());
    }
    if (!strcmp(jsonx_str(g->stack_profile, "kind", ""), "builtin")) {
        json_object_set_new(p, "engine", json_string("kvtier serve (emulated)"));
        json_object_set_new(p, "engine_version", json_string(KVTIER_VERSION));
    }
    json_t *ea = s ? json_object_get(s->record, "engine_args_path") : NULL;
    json_object_set_new(p, "engine_args_path", ea ? json_incref(ea) : json_null());
    return p;
}

static json_t *stack_json(const struct manifest_facts *g)
{
    const struct stack *s = g->stack;
    json_t *st = json_object();
    json_object_set_new(st, "name", json_string(g->stack_label));
    json_object_set_new(st, "kind", json_string(jsonx_str(g->stack_profile, "kind", "")));
    json_object_set_new(st, "runtime", json_string(jsonx_str(g->stack_profile, "runtime", "host")));
    json_object_set_new(st, "profile", json_deep_copy(g->stack_profile));
    json_object_set_new(st, "launch", s ? json_deep_copy(s->record) : json_null());
    json_object_set_new(st, "readiness",
                        g->ready_checks ? json_deep_copy(g->ready_checks) : json_null());
    json_object_set_new(st, "observed_config",
                        g->observed_config ? json_deep_copy(g->observed_config) : json_null());
    char *url = redact_url(s ? s->http_url : ""); /* no credentials in a manifest */
    json_object_set_new(st, "http_url", json_string(url));
    free(url);
    json_object_set_new(st, "served_model", json_string(s ? s->served_model : ""));
    return st;
}

static json_t *model_json(const struct manifest_facts *g)
{
    json_t *mo = json_object();
    json_object_set_new(mo, "name", json_string(g->model->name));
    json_object_set_new(mo, "profile", json_deep_copy(g->model_json));
    json_object_set_new(mo, "bytes_per_block",
                        json_integer((json_int_t)profile_bytes_per_block(g->model)));
    json_object_set_new(mo, "kv_bytes_per_token",
                        json_integer((json_int_t)profile_kv_bytes_per_token(g->model)));
    json_object_set_new(mo, "engine_provenance", provenance_json(g, g->stack));
    return mo;
}

/* The mode as asked for, with the TRT-LLM arguments and the DYN_KVBM_* environment that the
 * launched processes really got. */
static json_t *mode_json(const struct manifest_facts *g)
{
    const struct mode_settings *ms = g->ms;
    json_t *md = mode_settings_json(ms);
    /* the document the stack really wrote (with the engine limits), else the mode's */
    json_t *wea = g->stack ? json_object_get(g->stack->record, "engine_args") : NULL;
    json_object_set_new(
        md, "trtllm_extra_engine_args",
        wea ? json_deep_copy(wea)
            : mode_trtllm_args(ms->id,
                               jsonx_num(g->stack_profile, "free_gpu_memory_fraction", 0.80)));
    json_t *procs = g->stack ? json_object_get(g->stack->record, "processes") : NULL;
    json_t *env = json_object();
    size_t i;
    json_t *pr;
    json_array_foreach (procs, i, pr) {
        const char *k;
        json_t *v;
        json_object_foreach (json_object_get(pr, "env"), k, v)
            if (!strncmp(k, "DYN_KVBM_", 9))
                json_object_set(env, k, v);
    }
    json_object_set_new(md, "kvbm_env", env);
    return md;
}

static json_t *capacity_json(const struct manifest_facts *g)
{
    const struct mode_settings *ms = g->ms;
    json_t *cap = json_object();
    json_object_set_new(cap, "g1_blocks", json_integer((json_int_t)g->g1_blocks));
    json_object_set_new(cap, "g2_blocks", json_integer((json_int_t)mode_cpu_blocks(ms)));
    json_object_set_new(cap, "g3_blocks", json_integer((json_int_t)mode_disk_blocks(ms)));
    json_object_set_new(cap, "bytes_per_block", json_integer((json_int_t)ms->bytes_per_block));
    json_object_set_new(
        cap, "g1_source",
        json_string(g->g1_blocks ? "stack profile tiers / --g1-blocks" : "engine default"));
    json_t *pc = json_object_get(g->plan_header, "capacity");
    json_object_set_new(cap, "plan_capacity", pc ? json_deep_copy(pc) : json_null());
    json_t *pa = json_object_get(g->plan_header, "pressure");
    json_object_set_new(cap, "pressure", pa ? json_deep_copy(pa) : json_null());
    /* how the pressure phase was sized: the observed capacity after launch against the
     * profile arithmetic, each figure with its source */
    json_object_set_new(cap, "sizing", g->sizing ? json_deep_copy(g->sizing) : json_null());
    const uint64_t planned[3] = { g->g1_blocks, mode_cpu_blocks(ms), mode_disk_blocks(ms) };
    json_object_set_new(cap, "observed",
                        g->observed_config
                            ? provenance_capacity(g->observed_config,
                                                  profile_kv_bytes_per_token(g->model), planned,
                                                  ms->bytes_per_block)
                            : json_null());
    return cap;
}

/* Equal hashes = the same experiment: what was asked for and what was observed. */
static json_t *config_hash(const json_t *m, const json_t *provenance)
{
    static const char *const defining[] = { "model",    "hardware",   "mode", "workload",
                                            "capacity", "thresholds", NULL };
    json_t *hd = json_object();
    for (size_t k = 0; defining[k]; k++)
        json_object_set(hd, defining[k], json_object_get(m, defining[k]));
    json_t *st = json_object_get(m, "stack");
    json_t *hst = json_object();
    json_object_set(hst, "profile", json_object_get(st, "profile"));
    json_object_set(hst, "engine_args",
                    json_object_get(json_object_get(st, "launch"), "engine_args"));
    json_object_set_new(hd, "stack", hst);
    json_object_set(hd, "observed", provenance ? json_object_get(provenance, "observed") : NULL);
    static const char *const keys[] = { "stack",    "model",      "hardware", "mode", "workload",
                                        "capacity", "thresholds", "observed", NULL };
    char *h = provenance_config_hash(hd, keys);
    json_t *ch = json_object();
    json_object_set_new(ch, "value", json_string(h));
    json_t *over = json_array();
    for (size_t k = 0; keys[k]; k++)
        json_array_append_new(over, json_string(keys[k]));
    json_object_set_new(ch, "over", over);
    free(h);
    json_decref(hd);
    return ch;
}

json_t *manifest_engine(const json_t *stack_profile, const char *stack_label)
{
    bool emulated = !strcmp(jsonx_str(stack_profile, "kind", ""), "builtin");
    json_t *e = json_object();
    json_object_set_new(e, "kind", json_string(emulated ? "emulated" : "real"));
    json_object_set_new(e, "stack", json_string(stack_label ? stack_label : ""));
    json_object_set_new(e, "stack_kind", json_string(jsonx_str(stack_profile, "kind", "")));
    json_t *v = json_object();
    if (emulated) {
        json_object_set_new(v, "engine", json_string("kvtier serve (emulated)"));
        json_object_set_new(v, "kvtier", json_string(KVTIER_VERSION));
    } else {
        const char *keys[] = { "container_image", "dynamo_version", "trtllm_version",
                               "nixl_version", NULL };
        json_t *prov = json_object_get(stack_profile, "provenance");
        for (size_t i = 0; keys[i]; i++)
            if (json_is_string(json_object_get(prov, keys[i])))
                json_object_set(v, keys[i], json_object_get(prov, keys[i]));
    }
    json_object_set_new(e, "versions", v);
    return e;
}

json_t *manifest_build(const struct manifest_facts *g)
{
    assert(g && g->cfg && g->ms && g->model);
    const struct bundle_config *cfg = g->cfg;
    json_t *m = json_object();
    json_object_set_new(m, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(m, "kind", json_string("kvtier.manifest"));
    json_object_set_new(m, "engine", manifest_engine(g->stack_profile, g->stack_label));
    json_t *tool = json_object();
    json_object_set_new(tool, "name", json_string("kvtier"));
    json_object_set_new(tool, "version", json_string(KVTIER_VERSION));
    json_object_set_new(tool, "git", json_string(KVTIER_VERSION));
    json_object_set_new(m, "tool", tool);
    json_object_set_new(m, "command_line",
                        cfg->command_line ? json_deep_copy(cfg->command_line) : json_null());
    json_object_set_new(m, "options", cfg->options ? json_deep_copy(cfg->options) : json_null());
    json_object_set_new(m, "created_unix_ns", json_integer((json_int_t)clk_wall_unix_ns()));
    json_object_set_new(m, "host", manifest_host());
    json_object_set_new(m, "stack", stack_json(g));
    json_object_set_new(m, "model", model_json(g));
    json_object_set_new(m, "hardware", json_string(g->hardware));
    json_object_set_new(m, "mode", mode_json(g));
    json_object_set_new(m, "storage", manifest_storage(cfg, g->cache_dir, g->ms->bytes_per_block));
    json_t *wl = json_object();
    json_object_set_new(wl, "workload", json_string(cfg->workload));
    json_object_set_new(wl, "dataset", json_string(cfg->dataset));
    json_object_set_new(wl, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(wl, "plan_header", json_deep_copy(g->plan_header));
    json_object_set_new(m, "workload", wl);
    json_t *pp = json_object_get(g->plan_header, "phases");
    json_object_set_new(m, "phase_plan", pp ? json_deep_copy(pp) : json_null());
    json_object_set_new(m, "capacity", capacity_json(g));
    json_object_set_new(m, "thresholds", gate_thresholds_json(&cfg->thresholds));
    json_t *rp = json_object();
    json_object_set_new(rp, "index", json_integer(g->rep));
    json_object_set_new(rp, "of", json_integer(cfg->repeats));
    json_object_set_new(rp, "block_position", json_integer(g->block_pos));
    json_object_set_new(rp, "group_dir", json_string(g->group_dir));
    json_object_set_new(m, "repeat", rp);
    json_t *prep = json_object();
    json_object_set_new(prep, "disk_cache_dir",
                        g->cache_clear ? json_deep_copy(g->cache_clear) : json_null());
    json_object_set_new(prep, "page_cache",
                        g->page_cache ? json_deep_copy(g->page_cache) : json_null());
    json_object_set_new(m, "preparation", prep);
    json_object_set_new(m, "cgroup",
                        g->stack ? json_deep_copy(json_object_get(g->stack->record, "cgroup"))
                                 : json_null());
    json_object_set_new(m, "phases", g->phases ? json_deep_copy(g->phases) : json_array());
    json_object_set_new(m, "provenance",
                        g->provenance ? json_deep_copy(g->provenance) : json_null());
    json_object_set_new(m, "config_hash", config_hash(m, g->provenance));
    return m;
}
