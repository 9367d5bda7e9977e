/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence extraction from a bundle directory (see evidence.h and docs/bundle.md). */
#include "run/evidence.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "run/bundle.h"
#include "run/efficiency.h"
#include "run/limits.h"

static const char *const kvbm_counters[] = {
    "kvbm_matched_tokens",
    "kvbm_offload_blocks_d2h",
    "kvbm_offload_blocks_h2d",
    "kvbm_offload_blocks_d2d",
    "kvbm_onboard_blocks_h2d",
    "kvbm_onboard_blocks_d2d",
    NULL,
};

static json_t *load_json_opt(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    json_t *j = NULL;
    if (access(p, R_OK) == 0)
        jsonx_load_file(p, &j, NULL);
    free(p);
    return j;
}

/* Sum of the deltas of counter `name` (any labels) in an observe delta document. */
static double counter_delta(const json_t *delta, const char *name, bool *found)
{
    double s = 0;
    size_t nl = strlen(name);
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(delta, "counters"), k, v) {
        if (strncmp(k, name, nl) || (k[nl] && k[nl] != '{'))
            continue;
        s += jsonx_num(v, "delta", 0);
        *found = true;
    }
    return s;
}

json_t *evidence_phase_kvbm(const char *dir, const char *phase)
{
    char *name = xalloc_printf("metrics_delta/phase_%s_kvbm_metrics_delta.json", phase);
    json_t *d = load_json_opt(dir, name);
    free(name);
    if (!d || jsonx_u64(d, "endpoints_used", 1) == 0) {
        json_decref(d);
        return NULL;
    }
    json_t *o = json_object();
    bool any = false;
    for (size_t i = 0; kvbm_counters[i]; i++) {
        bool f = false;
        double v = counter_delta(d, kvbm_counters[i], &f);
        any |= f;
        json_object_set_new(o, kvbm_counters[i] + 5, f ? json_real(v) : json_null());
    }
    /* disk blocks read but not served: failed verification or failed reads (issue 11 #2) */
    static const char *const lost[][2] = {
        { EVIDENCE_VERIFY_FAILURES_COUNTER, "verify_failures" },
        { EVIDENCE_DISK_READ_ERRORS_COUNTER, "disk_read_errors" },
    };
    for (size_t i = 0; i < 2; i++) {
        bool f = false;
        double v = counter_delta(d, lost[i][0], &f);
        json_object_set_new(o, lost[i][1], f ? json_real(v) : json_null());
    }
    json_decref(d);
    if (!any) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* First number found among candidate dotted paths. */
static double pick(const json_t *o, const char *const *paths)
{
    for (size_t i = 0; paths[i]; i++) {
        json_t *v = jsonx_path(o, paths[i]);
        if (json_is_number(v))
            return json_number_value(v);
    }
    return NAN;
}

/* The KV file's bytes from the attribution: fanotify marks on the cache directory tell which
 * files the server touched. When every file event of the server in the phase was on a KV file,
 * its storage bytes are KV bytes; when it touched no file and moved no bytes, or touched only
 * other files, the KV file moved nothing. Mixed events, an overflow, or no fanotify: unknown,
 * and the gates fall back to the server's storage bytes. */
static void kv_file_bytes(json_t *o, const json_t *att)
{
    /* measured at the block layer (eBPF): the KV files' own bytes, whatever else ran */
    double ebr = jsonx_num(att, "kv_read_bytes", NAN), ebw = jsonx_num(att, "kv_write_bytes", NAN);
    if (!isnan(ebr) && !isnan(ebw)) {
        jsonx_set_num(o, "kv_read_bytes", ebr);
        jsonx_set_num(o, "kv_write_bytes", ebw);
        json_object_set_new(o, "kv_bytes_method", json_string("ebpf"));
        return;
    }
    if (!strstr(jsonx_str(att, "method", ""), "fanotify") ||
        jsonx_num(att, "fanotify_overflows", 0) > 0)
        return;
    double kv = jsonx_num(att, "kv_events_server", NAN);
    double other = jsonx_num(att, "fs_other_events_server", NAN);
    double rd = jsonx_num(att, "server_read_bytes", NAN);
    double wr = jsonx_num(att, "server_write_bytes", NAN);
    if (isnan(kv) || isnan(other) || isnan(rd) || isnan(wr))
        return;
    if (kv > 0 && other == 0) {
        jsonx_set_num(o, "kv_read_bytes", rd);
        jsonx_set_num(o, "kv_write_bytes", wr);
    } else if (kv == 0 && (other > 0 || rd + wr == 0)) {
        jsonx_set_num(o, "kv_read_bytes", 0);
        jsonx_set_num(o, "kv_write_bytes", 0);
    }
}

static void worker_io(json_t *o, const char *dir, const char *phase)
{
    json_t *w = load_json_opt(dir, "raw/worker_pid_io.json");
    json_t *io = json_object_get(json_object_get(w, "phases"), phase);
    json_t *s = json_object_get(io, "start"), *e = json_object_get(io, "end");
    if (json_is_object(s) && json_is_object(e)) {
        static const char *const k[][2] = { { "read_bytes", "server_read_bytes" },
                                            { "write_bytes", "server_write_bytes" },
                                            { "rchar", "server_rchar_bytes" },
                                            { "wchar", "server_wchar_bytes" } };
        for (size_t i = 0; i < 4; i++)
            jsonx_set_num(o, k[i][1], jsonx_num(e, k[i][0], 0) - jsonx_num(s, k[i][0], 0));
    }
    json_decref(w);
}

json_t *evidence_phase_os(const char *dir, const char *phase)
{
    json_t *o = json_object();
    worker_io(o, dir, phase);
    char *name = xalloc_printf("os/phase_%s_os_delta.json", phase);
    json_t *d = load_json_opt(dir, name);
    free(name);
    if (d) {
        static const char *const dev_r[] = { "device.read_bytes", NULL };
        static const char *const dev_w[] = { "device.write_bytes", NULL };
        static const char *const srv[][2] = { { "server.read_bytes", "server_read_bytes" },
                                              { "server.write_bytes", "server_write_bytes" },
                                              { "server.rchar", "server_rchar_bytes" } };
        jsonx_set_num(o, "device_read_bytes", pick(d, dev_r));
        jsonx_set_num(o, "device_write_bytes", pick(d, dev_w));
        /* the sampler follows the whole process tree; prefer it over the worker alone */
        for (size_t i = 0; i < 3; i++) {
            const char *path[] = { srv[i][0], NULL };
            double v = pick(d, path);
            if (!isnan(v))
                jsonx_set_num(o, srv[i][1], v);
        }
        static const char *const cp[] = { "page_cache.cached_pages", NULL };
        double cached = pick(d, cp);
        if (!isnan(cached))
            jsonx_set_num(o, "kv_resident_bytes", cached * (double)sysconf(_SC_PAGESIZE));
        json_t *od = jsonx_path(d, "page_cache.o_direct_all");
        if (json_is_boolean(od) && jsonx_u64(json_object_get(d, "page_cache"), "kv_files_open", 0))
            json_object_set(o, "o_direct", od);
        static const char *const ob[] = { "noise.other_process_bytes", NULL };
        double other = pick(d, ob);
        if (!isnan(other))
            jsonx_set_num(o, "other_process_bytes", other);
        const json_t *att = json_object_get(d, "attribution");
        json_object_set_new(o, "attribution_method",
                            json_string(jsonx_str(att, "method", "unknown")));
        kv_file_bytes(o, att);
        /* storage efficiency against the probe ceilings recorded in the manifest */
        json_t *man = load_json_opt(dir, "manifest.json");
        json_object_set_new(
            o, "storage_efficiency",
            efficiency_phase(d, jsonx_path(man, "storage.probe_ceiling.probe.ceilings")));
        json_decref(man);
        json_decref(d);
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *evidence_records_by_phase(const char *dir)
{
    json_t *out = json_object();
    char *p = fileio_join(dir, "raw/records.jsonl");
    struct buf b;
    buf_init(&b, EVIDENCE_RECORDS_MAX_BYTES);
    if (fileio_read_all(p, EVIDENCE_RECORDS_MAX_BYTES, &b) >= 0 && b.len) {
        char *save = NULL;
        for (char *line = strtok_r((char *)b.data, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            json_t *rec = NULL;
            if (jsonx_parse(line, strlen(line), &rec, NULL) < 0)
                continue; /* a record cut by a full disk or a kill: skipped, not fatal */
            const char *ph = jsonx_str(rec, "phase", "?");
            json_t *o = json_object_get(out, ph);
            if (!o) {
                o = json_object();
                json_object_set_new(out, ph, o);
            }
            /* requests the runner itself cancelled on Ctrl-C are neither requests the server
             * failed nor ones it served: counted apart (issue 11 #14) */
            if (!strcmp(jsonx_str(rec, "error", ""), "cancelled") &&
                !strcmp(jsonx_str(rec, "error_detail", ""), "interrupted")) {
                json_object_set_new(o, "cancelled_by_interrupt",
                                    json_integer(jsonx_i64(o, "cancelled_by_interrupt", 0) + 1));
                json_decref(rec);
                continue;
            }
            json_object_set_new(o, "requests", json_integer(jsonx_i64(o, "requests", 0) + 1));
            json_t *err = json_object_get(rec, "error");
            if (err && !json_is_null(err))
                json_object_set_new(o, "errors", json_integer(jsonx_i64(o, "errors", 0) + 1));
            json_object_set_new(o, "cached_tokens",
                                json_integer(jsonx_i64(o, "cached_tokens", 0) +
                                             jsonx_i64(rec, "cached_tokens", 0)));
            json_decref(rec);
        }
    }
    buf_fini(&b);
    free(p);
    return out;
}

json_t *evidence_plan_header(const char *dir)
{
    char *p = fileio_join(dir, "raw/requests.jsonl");
    FILE *f = fopen(p, "re");
    free(p);
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    json_t *h = NULL;
    if (n > 0 && (size_t)n <= EVIDENCE_HEADER_MAX_BYTES &&
        jsonx_parse(line, (size_t)n, &h, NULL) == 0 &&
        strcmp(jsonx_str(h, "kind", ""), "kvtier.plan")) {
        json_decref(h);
        h = NULL;
    }
    free(line);
    return h;
}

/* The wait after a phase (raw/phases.json "settle", docs/bundle.md "Phase settling"):
 * {status, waited_s, moved{...}}; absent when the runner did not settle after it. */
static void settle_fact(json_t *ph, const json_t *entry)
{
    /* KVBM's hit-rate gauges read after the refresh that followed the phase (bundle.c) */
    const json_t *hr = json_object_get(entry, "kvbm_hit_rate");
    if (json_is_object(hr))
        json_object_set_new(ph, "kvbm_hit_rate", json_deep_copy(hr));
    const json_t *st = json_object_get(entry, "settle");
    if (!json_is_object(st))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(jsonx_str(st, "status", "?")));
    jsonx_set_num(o, "waited_s", jsonx_num(st, "waited_s", NAN));
    jsonx_set_num(o, "quiet_required_s", jsonx_num(st, "quiet_required_s", NAN));
    jsonx_set_num(o, "timeout_s", jsonx_num(st, "timeout_s", NAN));
    json_t *m = json_object_get(st, "moved");
    json_object_set_new(o, "moved", json_is_object(m) ? json_deep_copy(m) : json_object());
    json_object_set_new(ph, "settle_after", o);
}

static json_t *phase_json(const char *dir, const char *name, const json_t *entry, const json_t *rec,
                          const json_t *sp, const json_t *plan_header)
{
    json_t *ph = json_object();
    settle_fact(ph, entry);
    json_object_set_new(ph, "requests", json_integer(jsonx_i64(rec, "requests", 0)));
    json_object_set_new(ph, "errors", json_integer(jsonx_i64(rec, "errors", 0)));
    if (jsonx_i64(rec, "cancelled_by_interrupt", 0))
        json_object_set(ph, "cancelled_by_interrupt",
                        json_object_get(rec, "cancelled_by_interrupt"));
    jsonx_set_num(ph, "ttft_p50_ms", jsonx_num(json_object_get(sp, "ttft_ms"), "p50", NAN));
    jsonx_set_num(ph, "ttft_p95_ms", jsonx_num(json_object_get(sp, "ttft_ms"), "p95", NAN));
    jsonx_set_num(ph, "client_lag_p99_ms",
                  jsonx_num(json_object_get(sp, "client_lag_ms"), "p99", NAN));
    jsonx_set_num(ph, "send_lag_p99_ms", jsonx_num(json_object_get(sp, "send_lag_ms"), "p99", NAN));
    /* whether the sample supports the tail quantiles (TAIL_UNDERSAMPLED) */
    json_t *tci = json_object_get(sp, "ttft_ms");
    if (json_object_get(tci, "p95_ci")) {
        jsonx_set_num(ph, "ttft_n", jsonx_num(tci, "n", NAN));
        json_object_set(ph, "ttft_p50_supported", jsonx_path(tci, "p50_ci.supported"));
        json_object_set(ph, "ttft_p95_supported", jsonx_path(tci, "p95_ci.supported"));
        json_object_set(ph, "ttft_p99_supported", jsonx_path(tci, "p99_ci.supported"));
    }
    json_t *k = evidence_phase_kvbm(dir, name);
    json_object_set_new(ph, "kvbm", k ? k : json_null());
    json_t *o = evidence_phase_os(dir, name);
    json_object_set_new(ph, "os", o ? o : json_null());
    json_t *reuse = json_object();
    json_t *ov = json_object_get(jsonx_path(plan_header, "reuse_opportunity_tokens"), name);
    json_object_set_new(reuse, "opportunity_tokens", ov ? json_incref(ov) : json_null());
    json_object_set_new(reuse, "cached_tokens", json_integer(jsonx_i64(rec, "cached_tokens", 0)));
    json_object_set_new(ph, "reuse", reuse);
    return ph;
}

/* Noise from observe's phase deltas: the worst phase counts. */
static json_t *noise_json(const char *dir, const json_t *phase_list)
{
    json_t *noise = json_null();
    double dev_bytes = 0, other_bytes = 0;
    size_t i, ebpf_phases = 0, proc_phases = 0;
    json_t *p;
    json_array_foreach (phase_list, i, p) {
        char *name = xalloc_printf("os/phase_%s_os_delta.json", jsonx_str(p, "name", "?"));
        json_t *d = load_json_opt(dir, name);
        free(name);
        json_t *n = json_object_get(d, "noise");
        if (!json_is_object(n)) {
            json_decref(d);
            continue;
        }
        if (json_is_null(noise))
            noise = json_object();
        static const char *const src[] = { "psi_cpu_some_pct", "psi_io_some_pct" };
        static const char *const dst[] = { "psi_cpu_some_pct_max", "psi_io_some_pct_max" };
        for (size_t q = 0; q < 2; q++) {
            double v = jsonx_num(n, src[q], NAN);
            double cur = jsonx_num(noise, dst[q], NAN);
            if (!isnan(v) && (isnan(cur) || v > cur))
                jsonx_set_num(noise, dst[q], v);
        }
        json_t *gt = json_object_get(n, "gpu_throttled");
        double th = jsonx_num(noise, "thermal_events", 0);
        if (json_is_true(gt))
            th += 1;
        double fr = jsonx_num(n, "cpufreq_ratio_min", NAN);
        if (!isnan(fr) && fr < 0.9)
            th += 1;
        if (json_is_boolean(gt) || !isnan(fr) || json_object_get(noise, "thermal_events"))
            jsonx_set_num(noise, "thermal_events", th);
        /* the SSD's own thermal management during the phase (per-phase SMART) */
        if (json_is_true(json_object_get(json_object_get(d, "smart"), "thermal_throttled"))) {
            json_t *tp = json_object_get(noise, "ssd_throttled_phases");
            if (!tp)
                json_object_set_new(noise, "ssd_throttled_phases", tp = json_array());
            json_array_append_new(tp, json_string(jsonx_str(p, "name", "?")));
        }
        dev_bytes += jsonx_num(json_object_get(d, "device"), "read_bytes", 0) +
                     jsonx_num(json_object_get(d, "device"), "write_bytes", 0);
        /* other processes' bytes on this device: eBPF's block-layer count where it ran, else
         * /proc/PID/io over every file system (an upper bound that can exceed the device's) */
        const json_t *eo = jsonx_path(d, "attribution.ebpf.other_processes");
        if (json_is_object(eo)) {
            other_bytes += jsonx_num(eo, "read_bytes", 0) + jsonx_num(eo, "write_bytes", 0);
            ebpf_phases++;
        } else {
            other_bytes += jsonx_num(n, "other_process_bytes", 0);
            proc_phases++;
        }
        json_decref(d);
    }
    if (json_is_object(noise) && dev_bytes > 0) {
        jsonx_set_num(noise, "device_bytes", dev_bytes);
        jsonx_set_num(noise, "other_io_fraction",
                      other_bytes / dev_bytes > 1 ? 1 : other_bytes / dev_bytes);
        json_object_set_new(noise, "other_io_source",
                            json_string(!proc_phases   ? "ebpf_block_layer"
                                        : !ebpf_phases ? "proc_io_upper_bound"
                                                       : "mixed"));
    }
    return noise;
}

static json_t *smart_json(const char *dir)
{
    json_t *sd = load_json_opt(dir, "os/nvme_smart_delta.json");
    json_t *smart = json_object();
    bool avail = sd && strcmp(jsonx_str(sd, "status", "ok"), "unavailable") != 0;
    json_object_set_new(smart, "available", json_boolean(avail));
    if (avail) {
        static const char *const me[] = { "media_errors_delta", "media_errors",
                                          "delta.media_errors", NULL };
        static const char *const cw[] = { "critical_warning", "post.critical_warning", NULL };
        jsonx_set_num(smart, "media_errors_delta", pick(sd, me));
        jsonx_set_num(smart, "critical_warning", pick(sd, cw));
    }
    json_decref(sd);
    return smart;
}

json_t *evidence_build(const char *dir, const struct evidence_facts *f)
{
    assert(dir && f);
    json_t *e = json_object();
    json_object_set_new(e, "schema_version", json_integer(BUNDLE_SCHEMA_VERSION));
    json_object_set_new(e, "kind", json_string("kvtier.evidence"));
    json_object_set_new(e, "mode", json_string(mode_name(f->mode)));
    json_object_set_new(e, "interrupted", json_boolean(f->interrupted));
    /* planned prompt tokens against the server's usage.prompt_tokens (PROMPT_TOKENS_MISMATCH) */
    char *recp = fileio_join(dir, "raw/records.jsonl");
    json_t *ptk = limits_prompt_tokens(recp);
    json_object_set_new(e, "prompt_tokens", ptk ? ptk : json_null());
    free(recp);
    if (f->interrupted) {
        json_object_set_new(
            e, "interrupt_reason",
            json_string(f->interrupt_reason ? f->interrupt_reason : "interrupted by a signal"));
        /* no phase began: the stop came while the stack was starting */
        json_object_set_new(e, "interrupted_phase",
                            json_string(f->interrupted_phase && f->interrupted_phase[0]
                                            ? f->interrupted_phase
                                            : "startup"));
    }
    json_object_set_new(e, "bytes_per_block", json_integer((json_int_t)f->bytes_per_block));
    json_object_set_new(e, "health", f->health ? json_deep_copy(f->health) : json_object());
    json_t *cfg = json_object();
    json_object_set_new(cfg, "mismatches",
                        f->mismatches ? json_deep_copy(f->mismatches) : json_array());
    json_object_set_new(e, "config", cfg);
    json_t *plan_header = evidence_plan_header(dir);
    json_t *cap = json_object();
    json_object_set_new(cap, "g1_blocks", json_integer((json_int_t)f->g1_blocks));
    json_object_set_new(cap, "g2_blocks", json_integer((json_int_t)f->g2_blocks));
    json_object_set_new(cap, "g3_blocks", json_integer((json_int_t)f->g3_blocks));
    json_t *ub = jsonx_path(plan_header, "pressure.unique_blocks");
    json_object_set_new(cap, "pressure_unique_blocks", ub ? json_incref(ub) : json_null());
    json_object_set_new(e, "capacity", cap);
    json_t *phase_doc = load_json_opt(dir, "raw/phases.json");
    json_t *phase_list = json_object_get(phase_doc, "phases");
    json_t *summary = load_json_opt(dir, "summary.json");
    json_t *recs = evidence_records_by_phase(dir);
    json_t *phases = json_object();
    size_t i;
    json_t *p;
    json_array_foreach (phase_list, i, p) {
        const char *name = jsonx_str(p, "name", "?");
        json_t *sp = json_object_get(jsonx_path(summary, "phases"), name);
        json_object_set_new(phases, name,
                            phase_json(dir, name, p, json_object_get(recs, name), sp, plan_header));
    }
    json_object_set_new(e, "phases", phases);
    json_object_set_new(e, "noise", noise_json(dir, phase_list));
    json_object_set_new(e, "smart", smart_json(dir));
    json_object_set_new(e, "repeats", json_null());
    json_decref(recs);
    json_decref(summary);
    json_decref(phase_doc);
    json_decref(plan_header);
    return e;
}
