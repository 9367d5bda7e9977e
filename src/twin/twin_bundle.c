/* SPDX-License-Identifier: Apache-2.0 */
/* A run bundle as the twin sees it (see twin_bundle.h). */
#include "twin/twin_bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

/* --speedup X of the engine's launch command, 1 when absent. */
static double launch_speedup(const json_t *man)
{
    json_t *procs = jsonx_path(man, "stack.launch.processes");
    size_t i, k;
    json_t *p, *a;
    json_array_foreach (procs, i, p) {
        json_t *argv = json_object_get(p, "argv");
        json_array_foreach (argv, k, a) {
            const char *s = json_string_value(a);
            const char *v = json_string_value(json_array_get(argv, k + 1));
            if (s && v && strcmp(s, "--speedup") == 0) {
                double x = strtod(v, NULL);
                return x > 0 ? x : 1;
            }
        }
    }
    return 1;
}

static int read_mode(struct twin_bundle *b, const json_t *man, struct diag *d)
{
    json_t *mode = json_object_get(man, "mode");
    json_t *cap = json_object_get(man, "capacity");
    if (!json_is_object(mode) || !json_is_object(cap))
        return diag_set(d, -EINVAL, 0, 0, "manifest.json: \"mode\" or \"capacity\" missing");
    snprintf(b->mode, sizeof(b->mode), "%s", jsonx_str(mode, "mode", "?"));
    struct twin_config *c = &b->cfg;
    c->kvbm = jsonx_bool(mode, "kvbm", false);
    c->g2_blocks = jsonx_u64(mode, "cpu_cache_blocks", 0);
    c->g3_blocks = jsonx_u64(mode, "disk_cache_blocks", 0);
    c->filter = jsonx_bool(mode, "disk_offload_filter", true);
    c->disk_only = jsonx_bool(mode, "disk_only", false);
    uint64_t g1 = jsonx_u64(cap, "g1_blocks", 0);
    if (g1)
        c->g1_blocks = g1;
    c->speedup = launch_speedup(man);
    uint64_t bpb = jsonx_u64(mode, "bytes_per_block", 0);
    if (bpb && bpb != profile_bytes_per_block(&b->model))
        return diag_set(d, -EINVAL, 0, 0,
                        "manifest.json: bytes_per_block %llu differs from model profile %s (%llu)",
                        (unsigned long long)bpb, b->model.name,
                        (unsigned long long)profile_bytes_per_block(&b->model));
    return 0;
}

int twin_bundle_load(const char *dir, const char *profiles_dir, const char *hw_override,
                     struct twin_bundle *b, struct diag *d)
{
    *b = (struct twin_bundle){ 0 };
    snprintf(b->dir, sizeof(b->dir), "%s", dir);
    char *path = fileio_join(dir, "manifest.json");
    int rc = jsonx_load_file(path, &b->manifest, d);
    if (rc < 0)
        goto out;
    diag_file(d, path);
    const json_t *man = b->manifest;
    const char *model = jsonx_str(jsonx_path(man, "model"), "name", NULL);
    const char *hw = hw_override ? hw_override : jsonx_str(man, "hardware", NULL);
    if (!model || !hw) {
        rc = diag_set(d, -EINVAL, 0, 0, "no \"model.name\" or \"hardware\" (pass --hardware)");
        goto out;
    }
    snprintf(b->model_name, sizeof(b->model_name), "%s", model);
    snprintf(b->hw_name, sizeof(b->hw_name), "%s", hw);
    snprintf(b->engine, sizeof(b->engine), "%s", jsonx_str(jsonx_path(man, "stack"), "kind", "?"));
    if ((rc = profile_load_model(profiles_dir, model, &b->model, d)) < 0 ||
        (rc = profile_load_hw(profiles_dir, hw, &b->hw, d)) < 0)
        goto out;
    if ((rc = twin_config_init(&b->cfg, &b->model, &b->hw, d)) < 0)
        goto out;
    diag_file(d, path);
    if ((rc = read_mode(b, man, d)) < 0)
        goto out;
    b->probe = jsonx_path(man, "storage.probe_ceiling.probe");
    free(path);
    path = fileio_join(dir, "verdict.json");
    if (access(path, F_OK) == 0 && (rc = jsonx_load_file(path, &b->verdict, d)) < 0)
        goto out;
    free(path);
    path = fileio_join(dir, "raw/requests.jsonl");
    char *rec = fileio_join(dir, "raw/records.jsonl");
    rc = twin_plan_load(path, rec, &b->plan, d);
    free(rec);
    if (rc == 0)
        twin_metrics_measured(&b->plan, NULL, &b->measured);
out:
    free(path);
    if (rc < 0)
        twin_bundle_free(b);
    return rc;
}

void twin_bundle_free(struct twin_bundle *b)
{
    twin_plan_free(&b->plan);
    json_decref(b->manifest);
    json_decref(b->verdict);
    b->manifest = b->verdict = NULL;
    b->probe = NULL;
}
