/* SPDX-License-Identifier: Apache-2.0 */
/* Modes: KVBM environment and TRT-LLM YAML per mode, and the read-back comparison that turns a
 * silently different configuration into MODE_NOT_APPLIED (see mode.h). */
#include "stack/mode.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "common/xalloc.h"

static const struct {
    const char *name;
    const char *meaning;
    bool host, disk, kvbm;
} modes[MODE__COUNT] = {
    [MODE_B0] = { "B0", "no KVBM: TRT-LLM baseline with device prefix cache only", false, false,
                  false },
    [MODE_B1] = { "B1", "KVBM, CPU (host) tier only", true, false, true },
    [MODE_B2] = { "B2", "KVBM, CPU + SSD tiers, disk offload filter on", true, true, true },
    [MODE_B2P] = { "B2p", "B2 with the disk offload filter disabled (mechanism stress)", true, true,
                   true },
    [MODE_B3] = { "B3", "KVBM, disk tier only (experimental)", false, true, true },
    [MODE_C] = { "C", "B2 constrained: smaller disk cache and/or cgroup io.max limits", true, true,
                 true },
};

/* Variables a mode sets or must not have; everything else DYN_KVBM_* passes untouched. */
static const char *const sizing_vars[] = {
    "DYN_KVBM_CPU_CACHE_GB",
    "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS",
    "DYN_KVBM_DISK_CACHE_GB",
    "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS",
    "DYN_KVBM_DISK_CACHE_DIR",
    "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER",
    "DYN_KVBM_DISK_DISABLE_O_DIRECT",
    "DYN_KVBM_METRICS",
    NULL,
};

int mode_parse(const char *name, enum mode_id *ret)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; i < MODE__COUNT; i++) {
        if (!strcmp(name, modes[i].name)) {
            *ret = (enum mode_id)i;
            return 0;
        }
    }
    if (!strcmp(name, "B2'") || !strcmp(name, "B2P")) {
        *ret = MODE_B2P;
        return 0;
    }
    return -EINVAL;
}

const char *mode_name(enum mode_id id)
{
    return id < MODE__COUNT ? modes[id].name : "?";
}

const char *mode_meaning(enum mode_id id)
{
    return id < MODE__COUNT ? modes[id].meaning : "?";
}

const char *mode_names_list(void)
{
    return "B0, B1, B2, B2p, B3, C";
}

bool mode_has_disk(enum mode_id id)
{
    return id < MODE__COUNT && modes[id].disk;
}

bool mode_has_host(enum mode_id id)
{
    return id < MODE__COUNT && modes[id].host;
}

bool mode_has_kvbm(enum mode_id id)
{
    return id < MODE__COUNT && modes[id].kvbm;
}

static uint64_t gb_to_blocks(double gb, uint64_t bpb)
{
    if (gb <= 0 || bpb == 0)
        return 0;
    return units_sat_u64(floor(gb * 1e9 / (double)bpb));
}

uint64_t mode_cpu_blocks(const struct mode_settings *s)
{
    if (!mode_has_host(s->id))
        return 0;
    if (s->cpu_cache_blocks)
        return s->cpu_cache_blocks;
    return gb_to_blocks(s->cpu_cache_gb, s->bytes_per_block);
}

uint64_t mode_disk_blocks(const struct mode_settings *s)
{
    if (!mode_has_disk(s->id))
        return 0;
    uint64_t b = s->disk_cache_blocks ? s->disk_cache_blocks
                                      : gb_to_blocks(s->disk_cache_gb, s->bytes_per_block);
    if (s->id == MODE_C && s->c_disk_fraction > 0 && s->c_disk_fraction < 1)
        b = (uint64_t)floor((double)b * s->c_disk_fraction);
    return b;
}

static bool is_integer_gb(double gb)
{
    return gb >= 1 && floor(gb) == gb;
}

/* Writes a tier size: integer GB as _GB; otherwise an override block count plus an integer
 * _GB (rounded up, >= 1) so KVBM's u64 bypass check sees the tier as set. */
static void put_size(struct spawn_env *env, const char *gb_var, const char *ovr_var, double gb,
                     uint64_t blocks_override, uint64_t blocks, uint64_t bpb)
{
    char v[64];
    if (!blocks_override && is_integer_gb(gb) && blocks == gb_to_blocks(gb, bpb)) {
        snprintf(v, sizeof(v), "%.0f", gb);
        spawn_env_set(env, gb_var, v);
        return;
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long)blocks);
    spawn_env_set(env, ovr_var, v);
    double need = (double)blocks * (double)bpb / 1e9;
    snprintf(v, sizeof(v), "%.0f", need < 1 ? 1 : ceil(need));
    spawn_env_set(env, gb_var, v);
}

int mode_env_apply(const struct mode_settings *s, struct spawn_env *env)
{
    if (s->id >= MODE__COUNT)
        return -EINVAL;
    uint64_t cpu = mode_cpu_blocks(s), disk = mode_disk_blocks(s);
    if (mode_has_host(s->id) && cpu == 0)
        return -EINVAL;
    if (mode_has_disk(s->id) && (disk == 0 || !s->disk_cache_dir[0]))
        return -EINVAL;
    if (s->id == MODE_C && !(s->c_disk_fraction > 0 && s->c_disk_fraction < 1) && !s->c_read_bps &&
        !s->c_write_bps)
        return -EINVAL;
    if (mode_has_kvbm(s->id) && s->bytes_per_block == 0)
        return -EINVAL;
    for (size_t i = 0; sizing_vars[i]; i++)
        spawn_env_unset(env, sizing_vars[i]);
    if (!mode_has_kvbm(s->id))
        return 0;
    spawn_env_set(env, "DYN_KVBM_METRICS", "true");
    if (s->metrics_port) {
        char v[16];
        snprintf(v, sizeof(v), "%u", (unsigned)s->metrics_port);
        spawn_env_set(env, "DYN_KVBM_METRICS_PORT", v);
    }
    if (mode_has_host(s->id))
        put_size(env, "DYN_KVBM_CPU_CACHE_GB", "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS",
                 s->cpu_cache_gb, s->cpu_cache_blocks, cpu, s->bytes_per_block);
    if (mode_has_disk(s->id)) {
        put_size(env, "DYN_KVBM_DISK_CACHE_GB", "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS",
                 s->id == MODE_C ? 0 : s->disk_cache_gb,
                 s->id == MODE_C ? disk : s->disk_cache_blocks, disk, s->bytes_per_block);
        spawn_env_set(env, "DYN_KVBM_DISK_CACHE_DIR", s->disk_cache_dir);
        if (s->disable_o_direct)
            spawn_env_set(env, "DYN_KVBM_DISK_DISABLE_O_DIRECT", "1");
    }
    if (s->id == MODE_B2P)
        spawn_env_set(env, "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER", "true");
    return 0;
}

json_t *mode_trtllm_args(enum mode_id id, double free_fraction)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "backend", json_string("pytorch"));
    json_object_set_new(doc, "cuda_graph_config", json_null());
    json_t *kv = json_object();
    json_object_set_new(kv, "enable_partial_reuse", json_false());
    json_object_set_new(kv, "free_gpu_memory_fraction", json_real(free_fraction));
    json_object_set_new(doc, "kv_cache_config", kv);
    if (mode_has_kvbm(id)) {
        json_t *c = json_object();
        json_object_set_new(c, "connector_module",
                            json_string("kvbm.trtllm_integration.connector"));
        json_object_set_new(c, "connector_scheduler_class",
                            json_string("DynamoKVBMConnectorLeader"));
        json_object_set_new(c, "connector_worker_class", json_string("DynamoKVBMConnectorWorker"));
        json_object_set_new(doc, "kv_connector_config", c);
    }
    return doc;
}

void mode_trtllm_limits(json_t *doc, uint32_t max_seq_len, uint32_t max_num_tokens,
                        uint32_t max_batch_size, uint32_t tokens_per_block, uint64_t g1_blocks)
{
    if (max_seq_len)
        json_object_set_new(doc, "max_seq_len", json_integer(max_seq_len));
    if (max_num_tokens)
        json_object_set_new(doc, "max_num_tokens", json_integer(max_num_tokens));
    if (max_batch_size)
        json_object_set_new(doc, "max_batch_size", json_integer(max_batch_size));
    if (max_seq_len && max_num_tokens)
        json_object_set_new(doc, "enable_chunked_prefill",
                            json_boolean(max_num_tokens < max_seq_len));
    json_t *kv = json_object_get(doc, "kv_cache_config");
    if (!kv)
        return;
    if (tokens_per_block)
        json_object_set_new(kv, "tokens_per_block", json_integer(tokens_per_block));
    if (tokens_per_block && g1_blocks)
        json_object_set_new(kv, "max_tokens",
                            json_integer((json_int_t)(g1_blocks * tokens_per_block)));
}

/* KVBM's usize parse: digits only. */
static bool parse_usize(const char *s, uint64_t *ret)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno)
        return false;
    *ret = v;
    return true;
}

static double parse_f64(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0)
        return 0;
    return v;
}

static uint64_t tier_blocks(const struct spawn_env *env, const char *gb_var, const char *ovr_var,
                            uint64_t bpb)
{
    uint64_t b;
    if (parse_usize(spawn_env_get(env, ovr_var), &b))
        return b;
    return gb_to_blocks(parse_f64(spawn_env_get(env, gb_var)), bpb);
}

void mode_observe_env(const struct spawn_env *env, uint64_t bytes_per_block,
                      struct mode_observed *ret)
{
    struct mode_observed o = { 0 };
    o.cpu_blocks = tier_blocks(env, "DYN_KVBM_CPU_CACHE_GB",
                               "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS", bytes_per_block);
    o.disk_blocks = tier_blocks(env, "DYN_KVBM_DISK_CACHE_GB",
                                "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS", bytes_per_block);
    o.kvbm = o.cpu_blocks > 0 || o.disk_blocks > 0;
    uint64_t cpu_gb_u64 = 0;
    parse_usize(spawn_env_get(env, "DYN_KVBM_CPU_CACHE_GB"), &cpu_gb_u64);
    o.disk_only = o.disk_blocks > 0 && cpu_gb_u64 == 0;
    const char *f = spawn_env_get(env, "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER");
    bool filter_disabled = f && (!strcmp(f, "true") || !strcmp(f, "1"));
    o.filter_on = o.disk_blocks > 0 && o.cpu_blocks > 0 && !o.disk_only && !filter_disabled;
    o.o_direct = spawn_env_get(env, "DYN_KVBM_DISK_DISABLE_O_DIRECT") == NULL;
    const char *m = spawn_env_get(env, "DYN_KVBM_METRICS");
    o.metrics_on = m && (!strcasecmp(m, "1") || !strcasecmp(m, "true"));
    const char *dir = spawn_env_get(env, "DYN_KVBM_DISK_CACHE_DIR");
    snprintf(o.disk_cache_dir, sizeof(o.disk_cache_dir), "%s", dir ? dir : "/tmp/");
    *ret = o;
}

static void add_diff(json_t *arr, const char *field, json_t *expected, json_t *observed)
{
    json_t *d = json_object();
    json_object_set_new(d, "field", json_string(field));
    json_object_set_new(d, "expected", expected);
    json_object_set_new(d, "observed", observed);
    json_array_append_new(arr, d);
}

static bool same_dir(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && !memcmp(a, b, la);
}

json_t *mode_compare(const struct mode_settings *want, const struct mode_observed *got)
{
    json_t *d = json_array();
    enum mode_id id = want->id;
    bool kvbm = mode_has_kvbm(id);
    if (got->kvbm != kvbm)
        add_diff(d, "kvbm", json_boolean(kvbm), json_boolean(got->kvbm));
    uint64_t cpu = mode_cpu_blocks(want), disk = mode_disk_blocks(want);
    if (got->cpu_blocks != cpu && !(id == MODE_B3 && got->disk_only))
        add_diff(d, "cpu_cache_blocks", json_integer((json_int_t)cpu),
                 json_integer((json_int_t)got->cpu_blocks));
    if (got->disk_blocks != disk)
        add_diff(d, "disk_cache_blocks", json_integer((json_int_t)disk),
                 json_integer((json_int_t)got->disk_blocks));
    bool want_bypass = id == MODE_B3;
    if (disk > 0 && got->disk_only != want_bypass)
        add_diff(d, "disk_only", json_boolean(want_bypass), json_boolean(got->disk_only));
    bool want_filter = id == MODE_B2 || id == MODE_C;
    if (disk > 0 && got->filter_on != want_filter)
        add_diff(d, "disk_offload_filter", json_boolean(want_filter), json_boolean(got->filter_on));
    if (disk > 0 && got->o_direct == want->disable_o_direct)
        add_diff(d, "o_direct", json_boolean(!want->disable_o_direct), json_boolean(got->o_direct));
    if (disk > 0 && !same_dir(want->disk_cache_dir, got->disk_cache_dir))
        add_diff(d, "disk_cache_dir", json_string(want->disk_cache_dir),
                 json_string(got->disk_cache_dir));
    if (kvbm && !got->metrics_on)
        add_diff(d, "kvbm_metrics", json_true(), json_false());
    return d;
}

json_t *mode_settings_json(const struct mode_settings *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(mode_name(s->id)));
    json_object_set_new(o, "meaning", json_string(mode_meaning(s->id)));
    json_object_set_new(o, "kvbm", json_boolean(mode_has_kvbm(s->id)));
    uint64_t cpu = mode_cpu_blocks(s), disk = mode_disk_blocks(s);
    json_object_set_new(o, "cpu_cache_blocks", json_integer((json_int_t)cpu));
    json_object_set_new(o, "cpu_cache_bytes", json_integer((json_int_t)(cpu * s->bytes_per_block)));
    json_object_set_new(o, "disk_cache_blocks", json_integer((json_int_t)disk));
    json_object_set_new(o, "disk_cache_bytes",
                        json_integer((json_int_t)(disk * s->bytes_per_block)));
    json_object_set_new(o, "bytes_per_block", json_integer((json_int_t)s->bytes_per_block));
    json_object_set_new(o, "disk_cache_dir",
                        mode_has_disk(s->id) ? json_string(s->disk_cache_dir) : json_null());
    json_object_set_new(o, "disk_offload_filter",
                        mode_has_disk(s->id) ? json_boolean(s->id == MODE_B2 || s->id == MODE_C)
                                             : json_null());
    json_object_set_new(o, "disk_only", json_boolean(s->id == MODE_B3));
    json_object_set_new(o, "o_direct",
                        mode_has_disk(s->id) ? json_boolean(!s->disable_o_direct) : json_null());
    if (s->id == MODE_C) {
        json_t *c = json_object();
        json_object_set_new(
            c, "disk_fraction",
            json_real(s->c_disk_fraction > 0 && s->c_disk_fraction < 1 ? s->c_disk_fraction : 1.0));
        json_object_set_new(c, "io_max_rbps", json_integer((json_int_t)s->c_read_bps));
        json_object_set_new(c, "io_max_wbps", json_integer((json_int_t)s->c_write_bps));
        json_object_set_new(o, "constraints", c);
    }
    return o;
}

json_t *mode_observed_json(const struct mode_observed *g)
{
    json_t *o = json_object();
    json_object_set_new(o, "kvbm", json_boolean(g->kvbm));
    json_object_set_new(o, "cpu_cache_blocks", json_integer((json_int_t)g->cpu_blocks));
    json_object_set_new(o, "disk_cache_blocks", json_integer((json_int_t)g->disk_blocks));
    json_object_set_new(o, "disk_only", json_boolean(g->disk_only));
    json_object_set_new(o, "disk_offload_filter", json_boolean(g->filter_on));
    json_object_set_new(o, "o_direct", json_boolean(g->o_direct));
    json_object_set_new(o, "kvbm_metrics", json_boolean(g->metrics_on));
    json_object_set_new(o, "disk_cache_dir", json_string(g->disk_cache_dir));
    return o;
}
