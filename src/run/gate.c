/* SPDX-License-Identifier: Apache-2.0 */
/* Gate evaluation over an evidence document (see gate.h and docs/bundle.md). Each gate reads
 * only evidence fields, so the same function judges a live run, a re-evaluated bundle and the
 * fixtures of the unit tests. A gate whose inputs were not measured is listed in
 * "not_measured" instead of passing silently; where the missing input is needed to corroborate
 * the mechanism (OS bytes in a disk mode) the gate fails instead. */
#include "run/gate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/quantci.h"
#include "stack/mode.h"

static const char *const code_names[GATE__COUNT] = {
    "SERVER_UNHEALTHY",       "MODEL_NOT_LOADED", "ERROR_RATE_HIGH",    "KVBM_METRICS_UNREACHABLE",
    "FRONTEND_UNREACHABLE",   "MODE_NOT_APPLIED", "RUN_INTERRUPTED",    "KV_VERIFY_FAILED",
    "DISK_TIER_NO_IO",        "KVBM_OS_MISMATCH", "REUSE_NOT_OBSERVED", "PRESSURE_INSUFFICIENT",
    "PAGE_CACHE_SUSPECT",     "IO_UNATTRIBUTED",  "SYSTEM_NOISE",       "THERMAL_THROTTLE",
    "SMART_ERRORS",           "CLIENT_LAG",       "REPEATS_UNSTABLE",   "TAIL_UNDERSAMPLED",
    "PROMPT_TOKENS_MISMATCH", "SETTLE_TIMEOUT",
};

/* one name per code, in the enum's order */
_Static_assert(sizeof(code_names) / sizeof(code_names[0]) == GATE__COUNT, "a code without a name");

const char *gate_code_name(enum gate_code c)
{
    return c < GATE__COUNT ? code_names[c] : "?";
}

bool gate_code_is_hard(enum gate_code c)
{
    return c <= GATE_KV_VERIFY_FAILED;
}

#define T(field)                                        \
    {                                                   \
#field, offsetof(struct gate_thresholds, field) \
    }
static const struct {
    const char *name;
    size_t off;
} fields[] = {
    T(error_rate_max),
    T(disk_min_bytes),
    T(kvbm_os_ratio_min),
    T(kvbm_os_ratio_max),
    T(reuse_min_fraction),
    T(reuse_min_tokens),
    T(pressure_min_ratio),
    T(page_cache_max_fraction),
    T(page_cache_read_ratio_min),
    T(attribution_min_fraction),
    T(noise_other_io_max_fraction),
    T(noise_psi_cpu_max_pct),
    T(noise_psi_io_max_pct),
    T(thermal_events_max),
    T(smart_media_errors_max),
    T(client_lag_p99_max_ms),
    T(repeats_min),
    T(repeats_cv_max),
    T(tail_quantile),
};
#undef T
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

void gate_thresholds_default(struct gate_thresholds *ret)
{
    *ret = (struct gate_thresholds){
        .error_rate_max = 0.01,
        .disk_min_bytes = 1048576,
        .kvbm_os_ratio_min = 0.5,
        .kvbm_os_ratio_max = 2.0,
        .reuse_min_fraction = 0.10,
        .reuse_min_tokens = 1024,
        .pressure_min_ratio = 1.0,
        .page_cache_max_fraction = 0.10,
        .page_cache_read_ratio_min = 0.5,
        .attribution_min_fraction = 0.80,
        .noise_other_io_max_fraction = 0.20,
        .noise_psi_cpu_max_pct = 50,
        .noise_psi_io_max_pct = 30,
        .thermal_events_max = 0,
        .smart_media_errors_max = 0,
        .client_lag_p99_max_ms = 50,
        .repeats_min = 3,
        .repeats_cv_max = 0.25,
        .tail_quantile = 0.95,
    };
}

json_t *gate_thresholds_json(const struct gate_thresholds *t)
{
    json_t *o = json_object();
    for (size_t i = 0; i < NFIELDS; i++)
        jsonx_set_num(o, fields[i].name, *(const double *)((const char *)t + fields[i].off));
    return o;
}

int gate_thresholds_from_json(const json_t *j, struct gate_thresholds *t, const char **ret_bad)
{
    const char *k;
    json_t *v;
    *ret_bad = NULL;
    if (!json_is_object(j))
        return -EINVAL;
    json_object_foreach ((json_t *)j, k, v) {
        size_t i;
        for (i = 0; i < NFIELDS; i++)
            if (!strcmp(k, fields[i].name))
                break;
        if (i == NFIELDS || !json_is_number(v)) {
            *ret_bad = k;
            return -EINVAL;
        }
        if (!isfinite(json_number_value(v)) || json_number_value(v) < 0) {
            *ret_bad = k;
            return -ERANGE;
        }
        *(double *)((char *)t + fields[i].off) = json_number_value(v);
    }
    return 0;
}

struct ev {
    const json_t *e;
    const struct gate_thresholds *t;
    json_t *codes, *details, *not_measured;
    bool hit[GATE__COUNT];
    enum mode_id mode;
    bool disk, kvbm;
    double bpb;
};

/* A number at a dotted path, NaN when absent or null. */
static double num(const json_t *o, const char *path)
{
    json_t *v = jsonx_path(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double num0(const json_t *o, const char *path)
{
    double v = num(o, path);
    return isnan(v) ? 0 : v;
}

static json_t *fire(struct ev *ev, enum gate_code c)
{
    assert(c < GATE__COUNT);
    const char *name = gate_code_name(c);
    if (!ev->hit[c]) {
        ev->hit[c] = true;
        json_object_set_new(ev->details, name, json_object());
    }
    return json_object_get(ev->details, name);
}

/* Appends a human line to details[code].why and returns the details object. */
static json_t *why(struct ev *ev, enum gate_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *why(struct ev *ev, enum gate_code c, const char *fmt, ...)
{
    json_t *d = fire(ev, c);
    json_t *w = json_object_get(d, "why");
    if (!w) {
        w = json_array();
        json_object_set_new(d, "why", w);
    }
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    json_array_append_new(w, json_string(line));
    return d;
}

static void unmeasured(struct ev *ev, const char *what)
{
    json_array_append_new(ev->not_measured, json_string(what));
}

/* Sum of a per-phase number over all phases. */
static double phase_sum(const struct ev *ev, const char *path)
{
    double s = 0;
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p)
        s += num0(p, path);
    return s;
}

static bool phase_has(const struct ev *ev, const char *obj)
{
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p)
        if (json_is_object(json_object_get(p, obj)))
            return true;
    return false;
}

/* The replay phase (or NULL). */
static const json_t *replay(const struct ev *ev)
{
    return json_object_get(json_object_get(ev->e, "phases"), "replay");
}

static void hard_gates(struct ev *ev)
{
    const json_t *e = ev->e;
    const json_t *h = json_object_get(e, "health");
    if (jsonx_bool(e, "interrupted", false)) {
        json_t *d = why(ev, GATE_RUN_INTERRUPTED, "%s",
                        jsonx_str(e, "interrupt_reason", "run interrupted"));
        json_object_set_new(d, "phase", json_string(jsonx_str(e, "interrupted_phase", "")));
    }
    if (!jsonx_bool(h, "started", true))
        why(ev, GATE_SERVER_UNHEALTHY, "stack did not start: %s", jsonx_str(h, "error", "?"));
    else if (!jsonx_bool(h, "healthy_at_start", true))
        why(ev, GATE_SERVER_UNHEALTHY, "stack never became ready: %s", jsonx_str(h, "error", "?"));
    if (jsonx_bool(h, "crashed", false)) {
        json_t *d = why(ev, GATE_SERVER_UNHEALTHY, "a stack process exited during the run: %s",
                        jsonx_str(h, "error", "?"));
        json_object_set(d, "exit_code", json_object_get(h, "exit_code"));
    }
    if (json_is_false(json_object_get(h, "healthy_at_end")))
        why(ev, GATE_SERVER_UNHEALTHY, "/health failed after the last phase");
    if (json_is_false(json_object_get(h, "model_loaded")))
        why(ev, GATE_MODEL_NOT_LOADED, "the served model was not listed by /v1/models: %s",
            jsonx_str(h, "models_listed", ""));
    if (json_is_false(json_object_get(h, "frontend_reachable")))
        why(ev, GATE_FRONTEND_UNREACHABLE, "frontend metrics endpoint did not answer: %s",
            jsonx_str(h, "frontend_error", ""));
    if (ev->kvbm && json_is_false(json_object_get(h, "kvbm_metrics_reachable"))) {
        json_t *d = why(ev, GATE_KVBM_METRICS_UNREACHABLE,
                        "KVBM metrics endpoint did not answer in a KVBM mode: %s",
                        jsonx_str(h, "kvbm_error", ""));
        json_object_set_new(d, "url", json_string(jsonx_str(h, "kvbm_metrics_url", "")));
    }
    if (ev->kvbm && json_object_size(json_object_get(e, "phases")) && !phase_has(ev, "kvbm") &&
        !ev->hit[GATE_KVBM_METRICS_UNREACHABLE])
        why(ev, GATE_KVBM_METRICS_UNREACHABLE, "no KVBM phase deltas were captured");
    /* mode: configuration mismatches read back from the stack */
    json_t *mm = jsonx_path(e, "config.mismatches");
    if (json_array_size(mm)) {
        json_t *d = why(ev, GATE_MODE_NOT_APPLIED,
                        "observed configuration differs from mode %s in %zu field(s)",
                        mode_name(ev->mode), json_array_size(mm));
        json_object_set(d, "mismatches", mm);
    }
    /* mode: the mechanism contradicts the mode */
    double disk_blocks = phase_sum(ev, "kvbm.offload_blocks_h2d") +
                         phase_sum(ev, "kvbm.offload_blocks_d2d") +
                         phase_sum(ev, "kvbm.onboard_blocks_d2d");
    double kv_disk_bytes = phase_sum(ev, "os.kv_read_bytes") + phase_sum(ev, "os.kv_write_bytes");
    if (!ev->disk && (disk_blocks > 0 || kv_disk_bytes > ev->t->disk_min_bytes)) {
        json_t *d =
            why(ev, GATE_MODE_NOT_APPLIED, "mode %s has no disk tier but the disk tier moved data",
                mode_name(ev->mode));
        jsonx_set_num(d, "disk_blocks_moved", disk_blocks);
        jsonx_set_num(d, "kv_file_bytes", kv_disk_bytes);
    }
    double host_blocks =
        phase_sum(ev, "kvbm.offload_blocks_d2h") + phase_sum(ev, "kvbm.onboard_blocks_h2d");
    if (ev->mode == MODE_B0 && host_blocks > 0) {
        json_t *d = why(ev, GATE_MODE_NOT_APPLIED, "B0 has no KVBM but host-tier counters moved");
        jsonx_set_num(d, "host_blocks_moved", host_blocks);
    }
    /* blocks read back but not served (wrong contents, failed reads): recomputed, so the
     * run measured recompute where it meant to measure the tier (issue 11 #2) */
    double vf = phase_sum(ev, "kvbm.verify_failures"), re = phase_sum(ev, "kvbm.disk_read_errors");
    if (vf + re > 0) {
        json_t *d = why(ev, GATE_KV_VERIFY_FAILED,
                        "%.0f block(s) read from a KV tier failed verification and %.0f disk "
                        "read(s) failed: they were recomputed, not served",
                        vf, re);
        jsonx_set_num(d, "verify_failures", vf);
        jsonx_set_num(d, "disk_read_errors", re);
        const json_t *rp = replay(ev);
        if (rp) {
            jsonx_set_num(d, "replay_verify_failures", num0(rp, "kvbm.verify_failures"));
            jsonx_set_num(d, "replay_disk_read_errors", num0(rp, "kvbm.disk_read_errors"));
        }
    }
    double req = phase_sum(ev, "requests"), err = phase_sum(ev, "errors");
    if (req > 0 && err / req > ev->t->error_rate_max) {
        json_t *d = why(ev, GATE_ERROR_RATE_HIGH, "error rate %.4f over %.4f", err / req,
                        ev->t->error_rate_max);
        jsonx_set_num(d, "requests", req);
        jsonx_set_num(d, "errors", err);
        jsonx_set_num(d, "error_rate", err / req);
        jsonx_set_num(d, "threshold", ev->t->error_rate_max);
    }
}

/* OS bytes that represent the server's storage traffic for the KV files: attributed KV bytes
 * when the attribution measured them, else the server processes' storage bytes. */
static double os_bytes(const json_t *phase, const char *dir)
{
    char kv[32], srv[40];
    snprintf(kv, sizeof(kv), "os.kv_%s_bytes", dir);
    snprintf(srv, sizeof(srv), "os.server_%s_bytes", dir);
    double v = num(phase, kv);
    return isnan(v) ? num(phase, srv) : v;
}

/* OS corroboration: onboarded (and verified) bytes must show up as storage reads in replay,
 * offloads as writes. */
static bool os_corroboration(struct ev *ev, double on_rp, double off)
{
    const struct gate_thresholds *t = ev->t;
    const json_t *rp = replay(ev);
    if (!phase_has(ev, "os")) {
        why(ev, GATE_KVBM_OS_MISMATCH, "no OS I/O evidence was captured to corroborate KVBM");
        return false;
    }
    double kv_r = on_rp * ev->bpb;
    double os_r = rp ? os_bytes(rp, "read") : phase_sum(ev, "os.server_read_bytes");
    double kv_w = off * ev->bpb;
    double os_w = 0;
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p) {
        double b = os_bytes(p, "write");
        os_w += isnan(b) ? 0 : b;
    }
    bool ok = true;
    if (kv_r > 0) {
        double ratio = isnan(os_r) ? 0 : os_r / kv_r;
        if (ratio < t->kvbm_os_ratio_min || ratio > t->kvbm_os_ratio_max) {
            json_t *d = why(ev, GATE_KVBM_OS_MISMATCH,
                            "replay storage reads %.0f B vs onboarded %.0f B (ratio %.3f)",
                            isnan(os_r) ? 0 : os_r, kv_r, ratio);
            jsonx_set_num(d, "replay_onboard_bytes", kv_r);
            jsonx_set_num(d, "replay_os_read_bytes", isnan(os_r) ? 0 : os_r);
            jsonx_set_num(d, "read_ratio", ratio);
            ok = false;
        }
    } else if (!isnan(os_r) && os_r > t->disk_min_bytes) {
        json_t *d = why(ev, GATE_KVBM_OS_MISMATCH,
                        "storage reads in replay without any KVBM disk onboarding");
        jsonx_set_num(d, "replay_os_read_bytes", os_r);
        ok = false;
    }
    if (kv_w > 0) {
        double ratio = os_w / kv_w;
        if (ratio < t->kvbm_os_ratio_min || ratio > t->kvbm_os_ratio_max) {
            json_t *d =
                why(ev, GATE_KVBM_OS_MISMATCH,
                    "storage writes %.0f B vs offloaded %.0f B (ratio %.3f)", os_w, kv_w, ratio);
            jsonx_set_num(d, "offload_bytes", kv_w);
            jsonx_set_num(d, "os_write_bytes", os_w);
            jsonx_set_num(d, "write_ratio", ratio);
            ok = false;
        }
    }
    return ok && kv_r > 0;
}

/* The KV file must bypass the page cache: O_DIRECT, not resident, reads served by storage. */
static void page_cache_gate(struct ev *ev, double on_rp)
{
    const struct gate_thresholds *t = ev->t;
    const json_t *rp = replay(ev);
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p) {
        if (json_is_false(jsonx_path(p, "os.o_direct"))) {
            json_t *d =
                why(ev, GATE_PAGE_CACHE_SUSPECT, "KV disk file not opened O_DIRECT in %s", k);
            json_object_set_new(d, "o_direct", json_false());
        }
        double res = num(p, "os.kv_resident_bytes");
        double g3 = num(ev->e, "capacity.g3_blocks") * ev->bpb;
        if (!isnan(res) && g3 > 0 && res / g3 > t->page_cache_max_fraction) {
            json_t *d = why(ev, GATE_PAGE_CACHE_SUSPECT,
                            "%.0f B of the KV file resident in the page cache in %s", res, k);
            jsonx_set_num(d, "kv_resident_bytes", res);
            jsonx_set_num(d, "resident_fraction", res / g3);
        }
    }
    if (rp && phase_has(ev, "os") && on_rp > 0) {
        double rchar = num(rp, "os.server_rchar_bytes");
        double storage = num0(rp, "os.server_read_bytes");
        double kv_r = on_rp * ev->bpb;
        if (!isnan(rchar) && rchar >= kv_r * t->page_cache_read_ratio_min &&
            storage < kv_r * t->page_cache_read_ratio_min) {
            json_t *d = why(ev, GATE_PAGE_CACHE_SUSPECT,
                            "the server read the onboarded bytes but storage did not serve them");
            jsonx_set_num(d, "replay_rchar_bytes", rchar);
            jsonx_set_num(d, "replay_storage_read_bytes", storage);
            jsonx_set_num(d, "replay_onboard_bytes", kv_r);
        }
    }
}

/* Attribution of device bytes: the server's KV I/O must be most of what the device moved. */
static void attribution_gate(struct ev *ev)
{
    const struct gate_thresholds *t = ev->t;
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p) {
        double dev = num0(p, "os.device_read_bytes") + num0(p, "os.device_write_bytes");
        if (dev <= t->disk_min_bytes)
            continue;
        double kvb = num(p, "os.kv_read_bytes") + num(p, "os.kv_write_bytes");
        if (isnan(kvb))
            kvb = num0(p, "os.server_read_bytes") + num0(p, "os.server_write_bytes");
        double share = kvb / dev;
        if (share < t->attribution_min_fraction) {
            json_t *d =
                why(ev, GATE_IO_UNATTRIBUTED,
                    "only %.1f%% of device bytes in %s are the server's KV I/O", share * 100, k);
            json_t *ph = json_object();
            jsonx_set_num(ph, "device_bytes", dev);
            jsonx_set_num(ph, "kv_bytes", kvb);
            jsonx_set_num(ph, "share", share);
            json_object_set_new(d, k, ph);
        }
    }
}

static void disk_gates(struct ev *ev, bool *mech, bool *os_ok)
{
    const struct gate_thresholds *t = ev->t;
    const json_t *rp = replay(ev);
    double off =
        phase_sum(ev, "kvbm.offload_blocks_h2d") + phase_sum(ev, "kvbm.offload_blocks_d2d");
    /* onboarded AND verified: blocks that failed verification or whose read failed were
     * counted as onboarded by the engine but never served */
    double lost_rp =
        rp ? num0(rp, "kvbm.verify_failures") + num0(rp, "kvbm.disk_read_errors")
           : phase_sum(ev, "kvbm.verify_failures") + phase_sum(ev, "kvbm.disk_read_errors");
    double on_rp =
        rp ? num0(rp, "kvbm.onboard_blocks_d2d") : phase_sum(ev, "kvbm.onboard_blocks_d2d");
    on_rp = on_rp > lost_rp ? on_rp - lost_rp : 0;
    double srv_w = phase_sum(ev, "os.server_write_bytes");
    *mech = off > 0 && on_rp > 0;
    if (off == 0) {
        json_t *d = why(ev, GATE_DISK_TIER_NO_IO, "no blocks were offloaded to the disk tier");
        jsonx_set_num(d, "offload_blocks_to_disk", off);
        json_object_set_new(d, "disk_offload_filter",
                            json_boolean(ev->mode == MODE_B2 || ev->mode == MODE_C));
    }
    if (on_rp == 0) {
        json_t *d = why(ev, GATE_DISK_TIER_NO_IO,
                        "no disk->device onboarding in replay: write-only evidence never passes");
        jsonx_set_num(d, "replay_onboard_blocks_d2d", on_rp);
    }
    if (phase_has(ev, "os") && srv_w < t->disk_min_bytes && off > 0) {
        json_t *d = why(ev, GATE_DISK_TIER_NO_IO, "the server wrote under %.0f bytes to storage",
                        t->disk_min_bytes);
        jsonx_set_num(d, "server_write_bytes", srv_w);
    }
    *os_ok = os_corroboration(ev, on_rp, off);
    page_cache_gate(ev, on_rp);
    attribution_gate(ev);
}

static void reuse_gate(struct ev *ev, bool *mech)
{
    const json_t *rp = replay(ev);
    double opp =
        rp ? num(rp, "reuse.opportunity_tokens") : phase_sum(ev, "reuse.opportunity_tokens");
    if (isnan(opp)) {
        unmeasured(ev, "reuse.opportunity_tokens");
        return;
    }
    double cached = rp ? num0(rp, "reuse.cached_tokens") : phase_sum(ev, "reuse.cached_tokens");
    double matched = rp ? num0(rp, "kvbm.matched_tokens") : phase_sum(ev, "kvbm.matched_tokens");
    double seen = cached > matched ? cached : matched;
    if (ev->mode == MODE_B0 || ev->mode == MODE_B1)
        *mech = *mech || seen > 0;
    if (opp < ev->t->reuse_min_tokens)
        return;
    if (seen / opp < ev->t->reuse_min_fraction) {
        json_t *d = why(ev, GATE_REUSE_NOT_OBSERVED,
                        "reuse opportunity %.0f tokens but only %.0f reused (%.1f%%)", opp, seen,
                        100 * seen / opp);
        jsonx_set_num(d, "opportunity_tokens", opp);
        jsonx_set_num(d, "cached_tokens", cached);
        jsonx_set_num(d, "matched_tokens", matched);
        jsonx_set_num(d, "fraction", seen / opp);
        jsonx_set_num(d, "threshold", ev->t->reuse_min_fraction);
    }
}

static void pressure_gate(struct ev *ev)
{
    const json_t *cap = json_object_get(ev->e, "capacity");
    double ws = num(cap, "pressure_unique_blocks");
    double g1 = num0(cap, "g1_blocks"), g2 = num0(cap, "g2_blocks");
    if (isnan(ws) || g1 == 0) {
        unmeasured(ev, "capacity.pressure_unique_blocks");
        return;
    }
    /* the tier under test must be reached: beyond G1 for B1, beyond G1+G2 for disk modes */
    double bound = ev->disk ? (ev->mode == MODE_B3 ? g1 : g1 + g2) : g1;
    if (ws < ev->t->pressure_min_ratio * bound) {
        json_t *d = why(ev, GATE_PRESSURE_INSUFFICIENT,
                        "pressure working set %.0f blocks does not exceed %.0f blocks", ws, bound);
        jsonx_set_num(d, "pressure_unique_blocks", ws);
        jsonx_set_num(d, "bound_blocks", bound);
        jsonx_set_num(d, "g1_blocks", g1);
        jsonx_set_num(d, "g2_blocks", g2);
    }
    const json_t *rp = replay(ev);
    if (ev->disk && ev->mode != MODE_B3 && rp && num0(rp, "kvbm.onboard_blocks_h2d") > 0 &&
        num0(rp, "kvbm.onboard_blocks_d2d") == 0) {
        json_t *d = why(ev, GATE_PRESSURE_INSUFFICIENT,
                        "replay was served from the host tier alone: nothing reached the disk");
        jsonx_set_num(d, "replay_onboard_blocks_h2d", num0(rp, "kvbm.onboard_blocks_h2d"));
    }
}

static void env_gates(struct ev *ev)
{
    const struct gate_thresholds *t = ev->t;
    const json_t *n = json_object_get(ev->e, "noise");
    if (!json_is_object(n)) {
        unmeasured(ev, "noise");
    } else {
        double other = num(n, "other_io_fraction"), cpu = num(n, "psi_cpu_some_pct_max"),
               io = num(n, "psi_io_some_pct_max"), th = num(n, "thermal_events");
        /* other processes' disk traffic can only disturb a mode whose KV path uses the disk
         * (B2, B2p, C); in B0 and B1 the SSD is not in the measured path, and on a quiet
         * machine the harness's own files and the journal are all the device moves. Nor does
         * a device that moved no more than disk_min_bytes in the run have traffic to disturb. */
        double dev = num(n, "device_bytes");
        if (!ev->disk || (!isnan(dev) && dev <= t->disk_min_bytes))
            other = NAN;
        if (!isnan(other) && other > t->noise_other_io_max_fraction) {
            json_t *d = why(ev, GATE_SYSTEM_NOISE,
                            "%.1f%% of the device's bytes came from other processes", other * 100);
            jsonx_set_num(d, "other_io_fraction", other);
            jsonx_set_num(d, "threshold", t->noise_other_io_max_fraction);
        }
        if (!isnan(cpu) && cpu > t->noise_psi_cpu_max_pct) {
            json_t *d =
                why(ev, GATE_SYSTEM_NOISE, "CPU pressure (PSI some) took %.1f%% of a phase", cpu);
            jsonx_set_num(d, "psi_cpu_some_pct_max", cpu);
        }
        /* PSI is system-wide: a KV tier that saturates the SSD stalls its own server, which is
         * the effect under test, not noise. I/O pressure counts as noise only when the
         * device's bytes are not known to be (almost all) the server's own. */
        bool io_is_ours = !isnan(other) && other <= t->noise_other_io_max_fraction;
        if (!isnan(io) && io > t->noise_psi_io_max_pct && !io_is_ours) {
            json_t *d =
                why(ev, GATE_SYSTEM_NOISE, "I/O pressure (PSI some) took %.1f%% of a phase", io);
            jsonx_set_num(d, "psi_io_some_pct_max", io);
            jsonx_set_num(d, "other_io_fraction", other);
        }
        if (!isnan(th) && th > t->thermal_events_max) {
            json_t *d = why(ev, GATE_THERMAL_THROTTLE, "%.0f thermal throttle events", th);
            jsonx_set_num(d, "thermal_events", th);
        }
        const json_t *sp = json_object_get(n, "ssd_throttled_phases");
        if (json_array_size(sp) > 0) {
            json_t *d = why(ev, GATE_THERMAL_THROTTLE,
                            "the SSD's thermal management throttled it in %zu phase(s)",
                            json_array_size(sp));
            json_object_set(d, "ssd_throttled_phases", (json_t *)sp);
        }
    }
    const json_t *s = json_object_get(ev->e, "smart");
    if (!json_is_object(s) || !jsonx_bool(s, "available", false)) {
        unmeasured(ev, "smart");
    } else {
        double me = num0(s, "media_errors_delta"), cw = num0(s, "critical_warning");
        if (me > t->smart_media_errors_max || cw != 0) {
            json_t *d = why(ev, GATE_SMART_ERRORS, "NVMe media errors +%.0f, critical warning %.0f",
                            me, cw);
            jsonx_set_num(d, "media_errors_delta", me);
            jsonx_set_num(d, "critical_warning", cw);
        }
    }
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p) {
        /* the client's own lateness: time a request waited for the workload's concurrency cap
         * is the server's slowness, inside TTFT from intended, not a fault of the harness
         * (evidence written before send_lag existed is judged on the whole lag) */
        double all = num(p, "client_lag_p99_ms"), own = num(p, "send_lag_p99_ms");
        double lag = isnan(own) ? all : own;
        if (!strcmp(k, "warmup"))
            continue; /* warmup is kept apart from measurement */
        if (!isnan(lag) && lag > t->client_lag_p99_max_ms) {
            json_t *d = why(ev, GATE_CLIENT_LAG, "client %s p99 %.1f ms in %s",
                            isnan(own) ? "lag" : "send lag (beyond waits for the cap)", lag, k);
            json_t *ph = json_object();
            jsonx_set_num(ph, "client_lag_p99_ms", all);
            jsonx_set_num(ph, "send_lag_p99_ms", own);
            jsonx_set_num(ph, "threshold_ms", t->client_lag_p99_max_ms);
            json_object_set_new(d, k, ph);
        }
    }
    /* the prompts the server counted are the ones planned (limits.h states the tolerance) */
    const json_t *pt = json_object_get(ev->e, "prompt_tokens");
    if (json_is_object(pt) && num0(pt, "mismatched") > 0) {
        json_t *d =
            why(ev, GATE_PROMPT_TOKENS_MISMATCH,
                "%.0f of %.0f requests: server usage.prompt_tokens differs from the plan by "
                "more than max(%.0f tokens, %.0f%%) (largest %.0f tokens)",
                num0(pt, "mismatched"), num0(pt, "compared"), num0(pt, "tolerance_tokens"),
                num0(pt, "tolerance_fraction") * 100, num0(pt, "max_abs_diff"));
        json_object_set(d, "examples", json_object_get(pt, "examples"));
    }
    const json_t *r = json_object_get(ev->e, "repeats");
    double nrep = json_is_object(r) ? num0(r, "n") : 1;
    double cv = json_is_object(r) ? num(r, "cv_replay_ttft_p50") : NAN;
    if (nrep < t->repeats_min) {
        json_t *d = why(ev, GATE_REPEATS_UNSTABLE, "%.0f repeat(s) < %.0f: stability unknown", nrep,
                        t->repeats_min);
        jsonx_set_num(d, "repeats", nrep);
        jsonx_set_num(d, "repeats_min", t->repeats_min);
    } else if (!isnan(cv) && cv > t->repeats_cv_max) {
        json_t *d = why(ev, GATE_REPEATS_UNSTABLE,
                        "replay TTFT p50 varies %.1f%% across repeats (CV)", cv * 100);
        jsonx_set_num(d, "cv_replay_ttft_p50", cv);
        jsonx_set_num(d, "threshold", t->repeats_cv_max);
        json_object_set(d, "values", json_object_get(r, "replay_ttft_p50_ms"));
    }
}

/* TAIL_UNDERSAMPLED: the replay phase's headline TTFT quantile has no order-statistic
 * interval (too few requests to support it), so it cannot carry a claim. Evidence written
 * before the intervals existed carries no ttft_n and is not judged. */
static void tail_gate(struct ev *ev)
{
    const json_t *rp = replay(ev);
    double n = num(rp, "ttft_n");
    if (!rp || isnan(n))
        return;
    double q = ev->t->tail_quantile;
    /* the gate's quantile: p99, p95 (the default) or the median a short run may claim */
    int pct = q >= 0.99 ? 99 : q >= 0.95 || q <= 0 ? 95 : 50;
    char key[32];
    snprintf(key, sizeof(key), "ttft_p%d_supported", pct);
    const json_t *sup = json_object_get(rp, key);
    if (json_is_false(sup)) {
        json_t *d = why(ev, GATE_TAIL_UNDERSAMPLED,
                        "replay TTFT p%d from %.0f requests has no 95%% interval", pct, n);
        jsonx_set_num(d, "requests", n);
        jsonx_set_num(d, "quantile", pct / 100.0);
        jsonx_set_num(d, "requests_needed", (double)quantci_min_n(pct / 100.0, QUANTCI_LEVEL));
    }
}

/* SETTLE_TIMEOUT: a wait between phases that gave up with counters still moving (the
 * runner's --settle-timeout; evidence phases.<p>.settle_after). */
static void settle_gate(struct ev *ev)
{
    const char *k;
    json_t *p;
    json_object_foreach (json_object_get(ev->e, "phases"), k, p) {
        const json_t *st = json_object_get(p, "settle_after");
        if (!json_is_object(st) || strcmp(jsonx_str(st, "status", ""), "timed_out"))
            continue;
        json_t *d = why(ev, GATE_SETTLE_TIMEOUT,
                        "KVBM offloads or device writes still moving %.1f s after %s ended",
                        num(st, "waited_s"), k);
        json_t *ph = json_object();
        jsonx_set_num(ph, "waited_s", num(st, "waited_s"));
        jsonx_set_num(ph, "quiet_required_s", num(st, "quiet_required_s"));
        json_object_set(ph, "moved", json_object_get(st, "moved"));
        json_object_set_new(d, k, ph);
    }
}

json_t *gate_evaluate(const json_t *evidence, const struct gate_thresholds *t)
{
    struct ev ev = { .e = evidence, .t = t };
    ev.details = json_object();
    ev.codes = json_array();
    ev.not_measured = json_array();
    if (mode_parse(jsonx_str(evidence, "mode", ""), &ev.mode) < 0)
        ev.mode = MODE_B0;
    ev.disk = mode_has_disk(ev.mode);
    ev.kvbm = mode_has_kvbm(ev.mode);
    ev.bpb = num0(evidence, "bytes_per_block");

    hard_gates(&ev);
    bool mech = false, os_ok = false;
    if (ev.disk) {
        disk_gates(&ev, &mech, &os_ok);
    } else {
        /* no disk tier: the OS side corroborates by showing no KV disk reads (the KV file's
         * bytes where the attribution tells them, else the server's storage reads) */
        double kvr = 0;
        const char *k;
        json_t *p;
        json_object_foreach (json_object_get(evidence, "phases"), k, p) {
            double b = os_bytes(p, "read");
            kvr += isnan(b) ? 0 : b;
        }
        os_ok = kvr <= t->disk_min_bytes;
    }
    reuse_gate(&ev, &mech);
    pressure_gate(&ev);
    env_gates(&ev);
    tail_gate(&ev);
    settle_gate(&ev);

    const json_t *rp = replay(&ev);
    const json_t *plane = rp ? rp : json_object_get(json_object_get(evidence, "phases"), "all");
    double rq = num0(plane, "requests"), er = num0(plane, "errors");
    bool request_plane = rq > 0 && (rq - er) > 0 && !isnan(num(plane, "ttft_p50_ms"));

    bool run_valid = true, soft = false;
    for (int c = 0; c < GATE__COUNT; c++) {
        if (!ev.hit[c])
            continue;
        json_array_append_new(ev.codes, json_string(gate_code_name((enum gate_code)c)));
        if (gate_code_is_hard((enum gate_code)c))
            run_valid = false;
        else
            soft = true;
    }
    json_t *v = json_object();
    json_object_set_new(v, "schema_version", json_integer(JSONX_SCHEMA_VERSION));
    json_object_set_new(v, "run_valid", json_boolean(run_valid));
    json_object_set_new(v, "decision_grade",
                        json_boolean(run_valid && !soft && mech && os_ok && request_plane));
    json_object_set_new(v, "reason_codes", ev.codes);
    json_object_set_new(v, "details", ev.details);
    json_t *chain = json_object();
    json_object_set_new(chain, "mechanism", json_boolean(mech));
    json_object_set_new(chain, "os_corroboration", json_boolean(os_ok));
    json_object_set_new(chain, "request_plane", json_boolean(request_plane));
    json_object_set_new(v, "chain", chain);
    json_object_set_new(v, "not_measured", ev.not_measured);
    json_object_set_new(v, "mode", json_string(mode_name(ev.mode)));
    json_object_set_new(v, "thresholds", gate_thresholds_json(t));
    return v;
}
