/* SPDX-License-Identifier: Apache-2.0 */
/* Storage efficiency of a phase against the probe ceilings (efficiency.h). */
#include "run/efficiency.h"

#include <math.h>
#include <string.h>

#include "common/jsonx.h"

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
