/* SPDX-License-Identifier: Apache-2.0 */
/* Profile loading and typed views (see profile.h). */
#include "common/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "common/yamlx.h"

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *profile_dir(const char *override)
{
    if (override && *override)
        return xstrdup(override);
    const char *env = getenv("KVTIER_PROFILES");
    if (env && *env)
        return xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        static const char *rel[] = { "../share/kvtier/profiles", "../../profiles",
                                     "../../../profiles", "../profiles" };
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            char *cand = fileio_join(exe, rel[i]);
            char *models = fileio_join(cand, "models");
            bool ok = is_dir(models);
            free(models);
            if (ok) {
                char *real = realpath(cand, NULL);
                free(cand);
                if (real) {
                    char *r = xstrdup(real);
                    free(real);
                    return r;
                }
                continue;
            }
            free(cand);
        }
    }
    return xstrdup("profiles");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *profile_list(const char *dir, const char *kind)
{
    json_t *arr = json_array();
    char *path = fileio_join(dir, kind);
    DIR *dh = opendir(path);
    free(path);
    if (!dh)
        return arr;
    json_t *items[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && n < 256) {
        size_t l = strlen(e->d_name);
        struct stat st;
        /* regular files only (following symlinks): a FIFO named *.yaml would block a reader */
        if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml") &&
            fstatat(dirfd(dh), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
            items[n++] = json_stringn(e->d_name, l - 5);
    }
    closedir(dh);
    qsort(items, n, sizeof(items[0]), cmp_str);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    return arr;
}

int profile_load(const char *dir, const char *kind, const char *name, json_t **ret, struct diag *d)
{
    if (!name || !*name || strchr(name, '/'))
        return diag_set(d, -EINVAL, 0, 0, "invalid %s profile name '%s'", kind, name ? name : "");
    char *file = xalloc_printf("%s/%s/%s.yaml", dir, kind, name);
    int r;
    if (access(file, R_OK) != 0) {
        json_t *names = profile_list(dir, kind);
        char list[512] = "";
        size_t off = 0;
        size_t i;
        json_t *v;
        json_array_foreach (names, i, v) {
            if (off < sizeof(list))
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                        json_string_value(v));
        }
        json_decref(names);
        r = diag_set(d, -ENOENT, 0, 0, "unknown %s profile '%s' in %s (valid: %s)", kind, name, dir,
                     list[0] ? list : "none found");
        goto out;
    }
    /* opened without blocking and checked before reading: a FIFO (or a device) among the
     * profiles must not hang every command (issue 11 #14) */
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    bool regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    if (!regular) {
        diag_file(d, file);
        r = diag_set(d, -EINVAL, 0, 0, "%s profile '%s' is not a regular file", kind, name);
        goto out;
    }
    r = yamlx_load_file(file, ret, d);
out:
    free(file);
    return r;
}

static int need_u32(const json_t *o, const char *sect, const char *key, uint32_t *out,
                    bool required, struct diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return diag_set(d, -EINVAL, 0, 0, "missing field %s%s%s", sect, *sect ? "." : "", key);
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 4294967295.0)
        return diag_set(d, -EINVAL, 0, 0, "field %s%s%s must be a non-negative integer", sect,
                        *sect ? "." : "", key);
    *out = (uint32_t)json_number_value(v);
    return 0;
}

static int need_num(const json_t *o, const char *sect, const char *key, double *out, bool required,
                    struct diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return diag_set(d, -EINVAL, 0, 0, "missing field %s%s%s", sect, *sect ? "." : "", key);
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < 0)
        return diag_set(d, -EINVAL, 0, 0, "field %s%s%s must be a non-negative number", sect,
                        *sect ? "." : "", key);
    *out = json_number_value(v);
    return 0;
}

static void copy_str(char *dst, size_t n, const json_t *o, const char *key, const char *def)
{
    snprintf(dst, n, "%s", jsonx_str(o, key, def));
}

int profile_model_from_json(const json_t *j, struct model_profile *ret, struct diag *d)
{
    struct model_profile m = { .tokens_per_block = 32, .kv_dtype_bytes = 2 };
    const json_t *a = json_object_get(j, "architecture");
    const json_t *w = json_object_get(j, "weights");
    const json_t *kv = json_object_get(j, "kv");
    const json_t *e = json_object_get(j, "engine");
    int r = 0;
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "name")))
        return diag_set(d, -EINVAL, 0, 0, "missing field name");
    if (!json_is_object(a) || !json_is_object(w) || !json_is_object(kv) || !json_is_object(e))
        return diag_set(d, -EINVAL, 0, 0,
                        "model profile needs the sections architecture, weights, kv and engine");
    copy_str(m.name, sizeof(m.name), j, "name", "");
    copy_str(m.display_name, sizeof(m.display_name), j, "display_name", m.name);
    copy_str(m.hf_id, sizeof(m.hf_id), j, "hf_id", "");
    copy_str(m.tokenizer, sizeof(m.tokenizer), j, "tokenizer", "approx");
    copy_str(m.chat_template, sizeof(m.chat_template), j, "chat_template", "llama3");
    if ((r = need_u32(a, "architecture", "layers", &m.layers, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "hidden", &m.hidden, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "q_heads", &m.q_heads, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "kv_heads", &m.kv_heads, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "head_dim", &m.head_dim, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "ffn", &m.ffn, false, d)) < 0 ||
        (r = need_u32(a, "architecture", "vocab", &m.vocab, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "swa_layers", &m.swa_layers, false, d)) < 0 ||
        (r = need_u32(a, "architecture", "swa_window", &m.swa_window, false, d)) < 0 ||
        (r = need_num(a, "architecture", "params_total", &m.params_total, true, d)) < 0 ||
        (r = need_num(a, "architecture", "params_active", &m.params_active, true, d)) < 0 ||
        (r = need_u32(a, "architecture", "experts", &m.experts, false, d)) < 0 ||
        (r = need_u32(a, "architecture", "experts_topk", &m.experts_topk, false, d)) < 0 ||
        (r = need_num(w, "weights", "bytes_per_step", &m.weight_bytes, true, d)) < 0 ||
        (r = need_u32(kv, "kv", "dtype_bytes", &m.kv_dtype_bytes, true, d)) < 0 ||
        (r = need_u32(kv, "kv", "tokens_per_block", &m.tokens_per_block, true, d)) < 0 ||
        (r = need_u32(e, "engine", "max_sequence_length", &m.max_sequence_length, true, d)) < 0 ||
        (r = need_u32(e, "engine", "max_num_tokens", &m.max_num_tokens, true, d)) < 0 ||
        (r = need_u32(e, "engine", "max_batch_size", &m.max_batch_size, true, d)) < 0)
        return r;
    copy_str(m.gemm_precision, sizeof(m.gemm_precision), w, "gemm_precision", "bf16");
    copy_str(m.kv_dtype, sizeof(m.kv_dtype), kv, "dtype", "bf16");
    copy_str(m.build_id, sizeof(m.build_id), e, "build_id", "unknown");
    if (m.tokens_per_block == 0 || (m.tokens_per_block & (m.tokens_per_block - 1)) ||
        m.tokens_per_block > 1024)
        return diag_set(d, -EINVAL, 0, 0, "kv.tokens_per_block must be a power of two <= 1024");
    if (m.layers == 0 || m.kv_heads == 0 || m.head_dim == 0 || m.kv_dtype_bytes == 0)
        return diag_set(d, -EINVAL, 0, 0, "architecture and kv sizes must be positive");
    if (m.swa_layers > m.layers)
        return diag_set(d, -EINVAL, 0, 0, "architecture.swa_layers exceeds layers");
    *ret = m;
    return 0;
}

int profile_hw_from_json(const json_t *j, struct hw_profile *ret, struct diag *d)
{
    struct hw_profile h = { .free_gpu_memory_fraction = 0.9 };
    const json_t *c = json_object_get(j, "compute");
    const json_t *l = json_object_get(j, "links");
    int r;
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "name")))
        return diag_set(d, -EINVAL, 0, 0, "missing field name");
    if (!json_is_object(c) || !json_is_object(l))
        return diag_set(d, -EINVAL, 0, 0, "hardware profile needs the sections compute and links");
    copy_str(h.name, sizeof(h.name), j, "name", "");
    h.unified_memory = jsonx_bool(j, "unified_memory", false);
    if ((r = need_num(j, "", "memory_bytes", &h.memory_bytes, true, d)) < 0 ||
        (r = need_num(j, "", "memory_bw_bytes_per_s", &h.memory_bw_bytes_per_s, true, d)) < 0 ||
        (r = need_num(j, "", "gpu_visible_bytes", &h.gpu_visible_bytes, true, d)) < 0 ||
        (r = need_num(j, "", "free_gpu_memory_fraction", &h.free_gpu_memory_fraction, false, d)) <
            0 ||
        (r = need_num(c, "compute", "fp4_flops", &h.fp4_flops, true, d)) < 0 ||
        (r = need_num(c, "compute", "fp8_flops", &h.fp8_flops, true, d)) < 0 ||
        (r = need_num(c, "compute", "bf16_flops", &h.bf16_flops, true, d)) < 0 ||
        (r = need_num(c, "compute", "mfu_prefill", &h.mfu_prefill, true, d)) < 0 ||
        (r = need_num(c, "compute", "mbu_decode", &h.mbu_decode, true, d)) < 0 ||
        (r = need_num(c, "compute", "attn_mfu", &h.attn_mfu, false, d)) < 0 ||
        (r = need_num(c, "compute", "kv_read_bytes_per_s", &h.kv_read_bytes_per_s, true, d)) < 0 ||
        (r = need_num(c, "compute", "step_overhead_s", &h.step_overhead_s, true, d)) < 0 ||
        (r = need_num(c, "compute", "per_seq_overhead_s", &h.per_seq_overhead_s, true, d)) < 0 ||
        (r = need_num(l, "links", "g1_g2_bytes_per_s", &h.g1_g2_bytes_per_s, true, d)) < 0 ||
        (r = need_num(l, "links", "ssd_read_bytes_per_s", &h.ssd_read_bytes_per_s, true, d)) < 0 ||
        (r = need_num(l, "links", "ssd_write_bytes_per_s", &h.ssd_write_bytes_per_s, true, d)) < 0)
        return r;
    if (h.mfu_prefill <= 0 || h.mfu_prefill > 1 || h.mbu_decode <= 0 || h.mbu_decode > 1)
        return diag_set(d, -EINVAL, 0, 0, "compute.mfu_prefill and mbu_decode must be in (0, 1]");
    if (h.attn_mfu < 0 || h.attn_mfu > 1)
        return diag_set(d, -EINVAL, 0, 0, "compute.attn_mfu must be in (0, 1] (or absent)");
    *ret = h;
    return 0;
}

int profile_load_model(const char *dir, const char *name, struct model_profile *ret, struct diag *d)
{
    json_t *j = NULL;
    int r = profile_load(dir, "models", name, &j, d);
    if (r == 0)
        r = profile_model_from_json(j, ret, d);
    json_decref(j);
    return r;
}

int profile_load_hw(const char *dir, const char *name, struct hw_profile *ret, struct diag *d)
{
    json_t *j = NULL;
    int r = profile_load(dir, "hardware", name, &j, d);
    if (r == 0)
        r = profile_hw_from_json(j, ret, d);
    json_decref(j);
    return r;
}

uint64_t profile_kv_bytes_per_token(const struct model_profile *m)
{
    uint32_t full = m->layers - m->swa_layers;
    return 2ULL * full * m->kv_heads * m->head_dim * m->kv_dtype_bytes;
}

uint64_t profile_bytes_per_block(const struct model_profile *m)
{
    return profile_kv_bytes_per_token(m) * m->tokens_per_block;
}

double profile_peak_flops(const struct hw_profile *h, const struct model_profile *m)
{
    if (!strcmp(m->gemm_precision, "fp4"))
        return h->fp4_flops;
    if (!strcmp(m->gemm_precision, "fp8"))
        return h->fp8_flops;
    return h->bf16_flops;
}

double profile_weight_total_bytes(const struct model_profile *m)
{
    double per = !strcmp(m->gemm_precision, "fp4")   ? 0.5625
                 : !strcmp(m->gemm_precision, "fp8") ? 1.0
                                                     : 2.0;
    return m->params_total * per;
}

uint64_t profile_g1_blocks(const struct hw_profile *h, const struct model_profile *m)
{
    double free_bytes = h->gpu_visible_bytes - profile_weight_total_bytes(m);
    uint64_t bpb = profile_bytes_per_block(m);
    if (free_bytes <= 0 || bpb == 0)
        return 0;
    return (uint64_t)(free_bytes * h->free_gpu_memory_fraction / (double)bpb);
}
