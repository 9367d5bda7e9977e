/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier probe: measures the SSD ceiling (observe/probe.h) with io_uring + O_DIRECT on a file
 * in --dir at the KV block sizes of the model profiles and at 4 KiB over a queue-depth sweep,
 * and writes probe.json (docs/probe.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/clk.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/storprof.h"
#include "common/units.h"
#include "common/xalloc.h"
#include "probe/probe.h"

struct probe_cli {
    struct probe_config cfg; /* the options that are the probe's own settings */
    const char *out, *block_sizes, *qds, *rws, *profiles, *storage_profile, *from;
    bool quiet;
};

#define O(f) offsetof(struct probe_cli, f)
#define C(f) offsetof(struct probe_cli, cfg.f)
static const struct opt_def defs[] = {
    { "dir", 'd', OPT_STR, C(dir), NULL, OPT_UNBOUNDED, NULL, "Target",
      "directory on the KV cache file system (required; never a raw device)" },
    { "size", 's', OPT_SIZE_BYTES, C(size_bytes), "1GiB", 8192, 1e15, NULL, "Target",
      "test file size in bytes (pre-written, removed afterwards)" },
    { "min-free", 0, OPT_SIZE_BYTES, C(min_free_bytes), "1GiB", OPT_UNBOUNDED, NULL, "Target",
      "free space that must remain besides the test file" },
    { "time", 't', OPT_DURATION_NS, C(time_ns), "60s", OPT_UNBOUNDED, NULL, "Shapes",
      "total measuring time, shared equally by the shapes (>= 200 ms each)" },
    { "block-size", 'b', OPT_STR, O(block_sizes), NULL, OPT_UNBOUNDED, NULL, "Shapes",
      "comma-separated block sizes (default: 4KiB plus the KV block sizes of the model "
      "profiles)" },
    { "qd", 'q', OPT_STR, O(qds), "1,4,16,64", OPT_UNBOUNDED, NULL, "Shapes",
      "comma-separated queue depths (1..256)" },
    { "rw", 0, OPT_STR, O(rws), "read,randread,write,randwrite", OPT_UNBOUNDED, NULL, "Shapes",
      "comma-separated directions: read, randread, write, randwrite" },
    { "pread", 0, OPT_BOOL, C(force_pread), NULL, OPT_UNBOUNDED, NULL, "Shapes",
      "use pread/pwrite threads instead of io_uring" },
    { "seed", 0, OPT_U64, C(seed), "1", OPT_UNBOUNDED, NULL, "Shapes",
      "seed of random offsets and data" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Shapes",
      "profile directory for the default KV block sizes" },
    { "out", 'o', OPT_STR, O(out), NULL, OPT_UNBOUNDED, NULL, "Output",
      "probe.json path (required unless --from)" },
    { "storage-profile", 0, OPT_STR, O(storage_profile), NULL, OPT_UNBOUNDED, NULL, "Output",
      "storage profile file whose vendor assertions are set beside the measurement (default: "
      "the profile under <profiles>/storage matching the device's model)" },
    { "from", 0, OPT_STR, O(from), NULL, OPT_UNBOUNDED, NULL, "Output",
      "read this probe.json instead of measuring: print its ceilings and the vendor comparison "
      "(written to --out when given)" },
    { "quiet", 0, OPT_BOOL, O(quiet), NULL, OPT_UNBOUNDED, NULL, "Output", "no per-shape lines" },
    { "proc-root", 0, OPT_STR, C(proc_root), "/proc", OPT_UNBOUNDED, NULL, "Roots", "procfs root" },
    { "sys-root", 0, OPT_STR, C(sys_root), "/sys", OPT_UNBOUNDED, NULL, "Roots", "sysfs root" },
    OPT_END,
};
#undef O
#undef C

static void on_shape(void *ctx, const json_t *j)
{
    if (*(const bool *)ctx)
        return;
    char bs[32];
    units_format_bytes((uint64_t)json_integer_value(json_object_get(j, "block_size_bytes")), bs,
                       sizeof(bs));
    json_t *lat = json_object_get(j, "lat_ns");
    json_t *bp = json_object_get(j, "cache_bypass_verified");
    log_info("%-9s bs=%-9s qd=%-3d %9.1f MB/s %9.0f IOPS  p50 %.0f us  p99 %.0f us  bypass %s",
             json_string_value(json_object_get(j, "rw")), bs,
             (int)json_integer_value(json_object_get(j, "queue_depth")),
             json_number_value(json_object_get(j, "bw_bytes_per_s")) / 1e6,
             json_number_value(json_object_get(j, "iops")),
             json_number_value(json_object_get(lat, "p50")) / 1e3,
             json_number_value(json_object_get(lat, "p99")) / 1e3,
             json_is_true(bp)    ? "yes"
             : json_is_false(bp) ? "NO"
                                 : "unknown");
}

static int add_size(struct probe_config *pc, uint64_t v)
{
    for (size_t i = 0; i < pc->n_block; i++)
        if (pc->block_bytes[i] == v)
            return 0;
    if (pc->n_block >= PROBE_MAX_BLOCK_SIZES)
        return -EMSGSIZE;
    pc->block_bytes[pc->n_block++] = v;
    return 0;
}

/* 4 KiB plus each model profile's KV block (rounded up to 4 KiB) between 1 MiB and 64 MiB. */
static int default_sizes(struct probe_config *pc, const char *profiles)
{
    add_size(pc, 4096);
    char *dir = profile_dir(profiles);
    json_t *names = profile_list(dir, "models");
    size_t i;
    json_t *v;
    json_array_foreach (names, i, v) {
        struct model_profile m;
        struct diag d = { 0 };
        if (profile_load_model(dir, json_string_value(v), &m, &d) < 0)
            continue;
        uint64_t b = (profile_bytes_per_block(&m) + 4095) / 4096 * 4096;
        if (b >= (1u << 20) && b <= (64u << 20))
            add_size(pc, b);
    }
    json_decref(names);
    free(dir);
    return 0;
}

/* Block sizes, queue depths and directions from the options into pc. 0, or 2 (usage). */
static int parse_shapes(const struct probe_cli *c, struct probe_config *pc)
{
    char *copy = NULL, *save = NULL;
    if (c->block_sizes) {
        copy = xstrdup(c->block_sizes);
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            uint64_t v;
            if (units_parse_size_bytes(t, &v) < 0 || v == 0 || v % 4096) {
                log_error("--block-size: '%s' is not a size that is a multiple of 4 KiB", t);
                free(copy);
                return 2;
            }
            if (add_size(pc, v) < 0) {
                log_error("--block-size: more than %d sizes", PROBE_MAX_BLOCK_SIZES);
                free(copy);
                return 2;
            }
        }
        free(copy);
    } else {
        default_sizes(pc, c->profiles);
    }
    copy = xstrdup(c->qds);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (units_parse_u64(t, &v) < 0 || v < 1 || v > 256 || pc->n_qd >= PROBE_MAX_QDS) {
            log_error("--qd: '%s' is not a queue depth in 1..256 (at most %d values)", t,
                      PROBE_MAX_QDS);
            free(copy);
            return 2;
        }
        pc->qds[pc->n_qd++] = (unsigned)v;
    }
    free(copy);
    copy = xstrdup(c->rws);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = -1;
        for (int i = 0; i < PROBE_RW__COUNT; i++)
            if (!strcmp(t, probe_rw_name((enum probe_rw)i)))
                k = i;
        if (k < 0) {
            log_error("--rw: '%s' is not one of read, randread, write, randwrite", t);
            free(copy);
            return 2;
        }
        pc->rw_enabled[k] = true;
    }
    free(copy);
    return 0;
}

/* The vendor's assertions beside the measurement (doc.storage_profile) for the device's model:
 * the profile named by --storage-profile, else the one matching under <profiles>/storage. 0, or
 * 2 when a storage profile is malformed (named with its field). */
static int vendor_compare(const struct probe_cli *c, json_t *doc)
{
    const char *model = jsonx_str(json_object_get(doc, "device"), "model", NULL);
    struct storprof p;
    struct diag d = { 0 };
    int r;
    if (c->storage_profile) {
        r = storprof_load_file(c->storage_profile, &p, &d);
    } else {
        char *dir = profile_dir(c->profiles);
        r = storprof_find(dir, model, &p, &d);
        free(dir);
    }
    if (r < 0 && r != -ENOENT) {
        char msg[700];
        diag_format(&d, msg, sizeof(msg));
        log_error("storage profile: %s", msg);
        return 2;
    }
    if (r == -ENOENT && c->storage_profile) {
        log_error("storage profile %s: %s", c->storage_profile, strerror(-r));
        return 2;
    }
    json_t *cmp = storprof_compare(r == 0 ? &p : NULL, model, "sysfs device/model", doc);
    if (r == 0 && !json_object_get(cmp, "comparisons"))
        log_info("storage profile %s does not match the device's model '%s'", p.name,
                 model ? model : "unknown");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(cmp, "comparisons"), i, v)
        log_info("%s", jsonx_str(v, "text", ""));
    json_array_foreach (json_object_get(cmp, "conflicts"), i, v)
        log_info("conflict: %s", jsonx_str(v, "text", ""));
    if (json_object_get(cmp, "reason"))
        log_info("%s", jsonx_str(cmp, "reason", ""));
    json_object_set_new(doc, "storage_profile", cmp);
    return 0;
}

static void print_ceilings(const json_t *doc)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(doc, "ceilings"), i, v) {
        char bs[32];
        units_format_bytes((uint64_t)json_integer_value(json_object_get(v, "block_size_bytes")), bs,
                           sizeof(bs));
        log_info("ceiling %-9s bs=%-9s %9.1f MB/s at qd %d (knee qd %d)",
                 json_string_value(json_object_get(v, "rw")), bs,
                 json_number_value(json_object_get(v, "bw_bytes_per_s")) / 1e6,
                 (int)json_integer_value(json_object_get(v, "queue_depth")),
                 (int)json_integer_value(json_object_get(v, "knee_queue_depth")));
    }
}

int cmd_probe_main(int argc, char **argv)
{
    struct probe_cli c = { 0 };
    int rc =
        cliopt_parse_noargs("probe", defs, argc, argv, &c,
                            "kvtier probe --dir DIR --out probe.json [--size 8G] [--time 60s] "
                            "[--block-size 4KiB,2MiB] [--qd 1,4,16,64] | kvtier probe --from "
                            "probe.json [--storage-profile FILE]",
                            "Measures the SSD ceiling with the KV tier's I/O shapes (io_uring, "
                            "O_DIRECT, on a file; never a raw device), beside the vendor's "
                            "assertions of a matching storage profile.");
    if (rc >= 0)
        return rc;
    json_t *doc = NULL;
    struct diag d = { 0 };
    if (c.from) {
        if (jsonx_load_file(c.from, &doc, &d) < 0 || !json_is_object(doc)) {
            char msg[700];
            diag_format(&d, msg, sizeof(msg));
            log_error("--from: %s", d.msg[0] ? msg : "not a probe.json object");
            json_decref(doc);
            return 2;
        }
    } else {
        if (!c.cfg.dir || !c.out) {
            log_error("--dir and --out are required (or --from probe.json)");
            return 2;
        }
        struct probe_config pc = c.cfg;
        pc.progress = on_shape;
        pc.progress_ctx = &c.quiet;
        if ((rc = parse_shapes(&c, &pc)) != 0)
            return rc;
        int r = probe_run(&pc, &doc, &d);
        if (r < 0) {
            log_error("%s", d.msg[0] ? d.msg : strerror(-r));
            return r == -EINVAL || r == -ENOTDIR || r == -ENOENT ? 2 : 1;
        }
    }
    /* a malformed storage profile is bad input, but a measurement is never lost to it */
    rc = vendor_compare(&c, doc);
    if (c.out) {
        int r = jsonx_write_file(c.out, doc);
        if (r < 0) {
            log_error("cannot write %s: %s", c.out, strerror(-r));
            json_decref(doc);
            return 1;
        }
    }
    print_ceilings(doc);
    json_decref(doc);
    return rc;
}
