/* SPDX-License-Identifier: Apache-2.0 */
/* Storage efficiency of a phase against the probe ceilings (efficiency.h). */
#include "run/efficiency.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "observe/smart.h"

/* The probe ceiling of direction (0 read, 1 write) nearest to request_bytes: random access
 * first (KV blocks land anywhere), sequential when the probe measured no random shape. */
static const json_t *nearest_ceiling(const json_t *ceilings, int dir, double request_bytes)
{
    static const char *const names[2][2] = { { "randread", "read" }, { "randwrite", "write" } };
    for (int k = 0; k < 2; k++) {
        const json_t *best = NULL;
        double best_d = INFINITY;
        size_t i;
        json_t *c;
        json_array_foreach (ceilings, i, c) {
            if (strcmp(jsonx_str(c, "rw", ""), names[dir][k]) != 0)
                continue;
            double bs = jsonx_num(c, "block_size_bytes", 0);
            if (bs <= 0 || jsonx_num(c, "bw_bytes_per_s", 0) <= 0)
                continue;
            double d = request_bytes > 0 ? fabs(log2(bs / request_bytes)) : 0;
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
        if (best)
            return best;
    }
    return NULL;
}

static json_t *frac(double a, double b)
{
    return b > 0 && !isnan(a) ? json_real(a / b) : json_null();
}

/* One direction's figures: bytes and ios of the phase, its duration, the device peaks. */
static json_t *direction(int dir, double bytes, double ios, double dur_s, double peak_bps,
                         double peak_iops, const json_t *ceilings)
{
    if (!(ios > 0) || !(bytes > 0))
        return json_null();
    json_t *j = json_object();
    double bps = bytes / dur_s, iops = ios / dur_s, req = bytes / ios;
    jsonx_set_num(j, "achieved_bytes_per_s", bps);
    jsonx_set_num(j, "achieved_iops", iops);
    jsonx_set_num(j, "request_bytes", req);
    jsonx_set_num(j, "peak_bytes_per_s", peak_bps);
    jsonx_set_num(j, "peak_iops", peak_iops);
    const json_t *c = nearest_ceiling(ceilings, dir, req);
    if (!c) {
        json_object_set_new(j, "ceiling", json_null());
        json_object_set_new(j, "reason",
                            json_string("the probe measured no shape of this "
                                        "direction"));
        return j;
    }
    json_t *cj = json_object();
    json_object_set_new(cj, "rw", json_string(jsonx_str(c, "rw", "?")));
    jsonx_set_num(cj, "block_size_bytes", jsonx_num(c, "block_size_bytes", 0));
    jsonx_set_num(cj, "bw_bytes_per_s", jsonx_num(c, "bw_bytes_per_s", 0));
    jsonx_set_num(cj, "iops", jsonx_num(c, "iops", 0));
    json_object_set_new(j, "ceiling", cj);
    double cbw = jsonx_num(c, "bw_bytes_per_s", 0), ciops = jsonx_num(c, "iops", 0);
    json_object_set_new(j, "bw_fraction", frac(bps, cbw));
    json_object_set_new(j, "peak_bw_fraction", frac(peak_bps, cbw));
    json_object_set_new(j, "iops_fraction", frac(iops, ciops));
    return j;
}

json_t *efficiency_phase(const json_t *os_delta, const json_t *ceilings)
{
    const char *why = NULL;
    double dur = jsonx_num(os_delta, "duration_s", NAN);
    if (!json_is_array(ceilings) || json_array_size(ceilings) == 0)
        why = "no probe ceilings (run kvtier probe and pass --probe to the bundle)";
    else if (!(dur > 0))
        why = "the phase has no duration";
    if (why)
        return json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
    const json_t *dev = json_object_get(os_delta, "device");
    const json_t *kv = jsonx_path(os_delta, "attribution.ebpf.kv_files");
    bool ebpf = json_is_object(kv);
    const json_t *src = ebpf ? kv : dev;
    json_t *j = json_object();
    json_object_set_new(j, "status", json_string("ok"));
    json_object_set_new(j, "source", json_string(ebpf ? "ebpf_kv_files" : "device"));
    json_object_set_new(j, "read",
                        direction(0, jsonx_num(src, "read_bytes", 0), jsonx_num(src, "read_ios", 0),
                                  dur, jsonx_num(dev, "peak_read_bytes_per_s", NAN),
                                  jsonx_num(dev, "peak_r_per_s", NAN), ceilings));
    json_object_set_new(j, "write",
                        direction(1, jsonx_num(src, "write_bytes", 0),
                                  jsonx_num(src, "write_ios", 0), dur,
                                  jsonx_num(dev, "peak_write_bytes_per_s", NAN),
                                  jsonx_num(dev, "peak_w_per_s", NAN), ceilings));
    return j;
}

json_t *efficiency_endurance(const json_t *smart_delta, const struct storprof *p,
                             const char *no_rating_reason)
{
    const json_t *dl = json_object_get(smart_delta, "delta");
    const json_t *w = json_object_get(dl, "data_written_bytes");
    if (strcmp(jsonx_str(smart_delta, "status", ""), "ok") != 0 || !json_is_integer(w) ||
        json_integer_value(w) < 0) {
        char why[400];
        snprintf(why, sizeof(why), "no SMART data units over the run: %s",
                 !smart_delta         ? "os/nvme_smart_delta.json missing"
                 : json_is_integer(w) ? "the counter went backwards (another drive, or a reset)"
                                      : jsonx_str(smart_delta, "reason", "no data_written_bytes"));
        return json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
    }
    double bytes = (double)json_integer_value(w);
    double units = bytes / (double)SMART_DATA_UNIT_BYTES;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    jsonx_set_num(o, "data_units_written", units);
    jsonx_set_num(o, "bytes_written", bytes);
    json_object_set_new(o, "unit_bytes", json_integer(SMART_DATA_UNIT_BYTES));
    /* each reading rounds up to a whole unit: the difference is good to one unit */
    json_object_set_new(o, "granularity_bytes", json_integer(SMART_DATA_UNIT_BYTES));
    const struct storprof_assertion *e = storprof_endurance(p);
    char text[600];
    if (e) {
        jsonx_set_num(o, "rated_endurance_bytes", e->value);
        json_object_set_new(o, "rated_source", json_string(e->source));
        jsonx_set_num(o, "share_of_rated", bytes / e->value);
        snprintf(text, sizeof(text),
                 "the run wrote %.3f GB to the SSD (%.0f SMART data units): %.3g%% of the rated "
                 "%.0f TBW (vendor assertion, %s)",
                 bytes / 1e9, units, bytes / e->value * 100, e->value / 1e12, e->source);
    } else {
        json_object_set_new(o, "rated_endurance_bytes", json_null());
        json_object_set_new(o, "share_of_rated", json_null());
        json_object_set_new(
            o, "reason",
            json_string(no_rating_reason ? no_rating_reason : "no rated endurance known"));
        snprintf(text, sizeof(text),
                 "the run wrote %.3f GB to the SSD (%.0f SMART data units); share of rated "
                 "endurance unknown: %s",
                 bytes / 1e9, units, no_rating_reason ? no_rating_reason : "no rating");
    }
    json_object_set_new(o, "text", json_string(text));
    return o;
}

static json_t *load_opt(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    json_t *j = NULL;
    if (jsonx_load_file(p, &j, NULL) < 0)
        j = NULL;
    free(p);
    return j;
}

json_t *efficiency_storage(const char *dir, const char *profiles_dir, const json_t *probe,
                           const char *fallback_model)
{
    json_t *id = load_opt(dir, "os/nvme_id.json");
    const char *model = jsonx_str(jsonx_path(id, "identity"), "model", NULL);
    const char *source = "os/nvme_id.json";
    if (!model || !*model) {
        model = fallback_model && *fallback_model ? fallback_model : NULL;
        source = model ? "sysfs device/model" : "none";
    }
    struct storprof p;
    struct diag d = { 0 };
    int r = profiles_dir ? storprof_find(profiles_dir, model, &p, &d) : -ENOENT;
    json_t *s = json_object();
    json_t *cmp = storprof_compare(r == 0 ? &p : NULL, model, source, probe);
    char why[700];
    if (r < 0 && r != -ENOENT) {
        char msg[600];
        diag_format(&d, msg, sizeof(msg));
        snprintf(why, sizeof(why), "a storage profile is malformed: %s", msg);
        json_object_set_new(cmp, "reason", json_string(why));
    } else {
        snprintf(why, sizeof(why), "%s",
                 jsonx_str(cmp, "reason", "the storage profile asserts no endurance"));
    }
    json_object_set_new(s, "vendor_vs_measured", cmp);
    json_t *sd = load_opt(dir, "os/nvme_smart_delta.json");
    json_object_set_new(s, "endurance", efficiency_endurance(sd, r == 0 ? &p : NULL, why));
    json_decref(sd);
    json_decref(id);
    return s;
}
