/* SPDX-License-Identifier: Apache-2.0 */
/* The control-surface doctor (see doctor.h). The disk-tier switch, metrics and KV disk I/O
 * checks run as a real B1 + B2p bundle group, so the doctor judges exactly what a bundle would
 * record (observed environment, KVBM deltas, the worker's /proc/PID/io); long context and
 * streaming are probed on a freshly launched B1 stack with plain HTTP requests. */
#include "run/doctor.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/emit.h"
#include "common/fileio.h"
#include "common/httpget.h"
#include "common/jsonx.h"
#include "common/profile.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "common/yamlx.h"
#include "stack/stack.h"
#include "version.h"
#include "workload/longprompt.h"

#define POST_BODY_MAX_BYTES (8u << 20)
#define REQUEST_TIMEOUT_NS  (300 * CLK_NS_PER_S)

struct post {
    struct buf body;
    uint64_t t0_ns;
    uint64_t first_content_ns; /* 0 until a non-empty "content" arrives */
    size_t scanned;
    bool stream;
};

static int post_data(void *ctx, const char *p, size_t len, uint64_t now)
{
    struct post *ps = ctx;
    if (buf_append(&ps->body, p, len) < 0)
        return -EMSGSIZE;
    if (ps->stream && !ps->first_content_ns) {
        const char *s = buf_str(&ps->body);
        size_t from = ps->scanned > 16 ? ps->scanned - 16 : 0;
        const char *key = "\"content\":\"";
        for (const char *m = strstr(s + from, key); m; m = strstr(m + 1, key)) {
            const char *v = m + strlen(key);
            if (*v && *v != '"') {
                ps->first_content_ns = now;
                break;
            }
        }
        ps->scanned = ps->body.len;
    }
    return 0;
}

/* POSTs a chat request; 0 with the HTTP status, first-content and end times. */
static int chat(const char *url, const char *model, const char *prompt, unsigned max_tokens,
                bool stream, long *ret_status, double *ret_ttfc_ms, double *ret_e2e_ms,
                json_t **ret_body)
{
    json_t *req = json_object();
    json_object_set_new(req, "model", json_string(model));
    json_t *msgs = json_array();
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string("user"));
    json_object_set_new(m, "content", json_string(prompt));
    json_array_append_new(msgs, m);
    json_object_set_new(req, "messages", msgs);
    json_object_set_new(req, "max_tokens", json_integer(max_tokens));
    json_object_set_new(req, "min_tokens", json_integer(max_tokens));
    json_object_set_new(req, "ignore_eos", json_true());
    json_object_set_new(req, "stream", json_boolean(stream));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *full = xalloc_printf("%s/v1/chat/completions", url);
    struct post ps = { .stream = stream };
    buf_init(&ps.body, POST_BODY_MAX_BYTES);
    const char *key = getenv("KVTIER_API_KEY");
    if (!key)
        key = getenv("OPENAI_API_KEY");
    struct httpget_opts ho = { .post_json = body, .bearer = key, .on_data = post_data, .ctx = &ps };
    struct httpget_result hr;
    ps.t0_ns = clk_now_ns();
    int r = httpget_request(NULL, full, REQUEST_TIMEOUT_NS, &ho, NULL, &hr);
    uint64_t end = clk_now_ns();
    if (r == 0) {
        *ret_status = hr.status;
        *ret_e2e_ms = (double)(end - ps.t0_ns) / 1e6;
        *ret_ttfc_ms = ps.first_content_ns ? (double)(ps.first_content_ns - ps.t0_ns) / 1e6 : NAN;
        if (ret_body && !stream) {
            json_t *j = NULL;
            jsonx_parse((const char *)ps.body.data, ps.body.len, &j, NULL);
            *ret_body = j;
        }
    }
    free(full);
    free(body);
    buf_fini(&ps.body);
    return r;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), stats_cmp_double);
    return stats_quantile_sorted(v, n, 0.5);
}

int doctor_streaming(const char *url, const char *model, unsigned samples,
                     struct doctor_stream_result *res)
{
    *res = (struct doctor_stream_result){ 0 };
    if (samples < 1 || samples > 16)
        samples = 3;
    const char *prompt = "Write a short note about storage tiers for KV caches.";
    double t8[16], t256[16], e8[16], e256[16];
    long st = 0;
    double dummy;
    for (unsigned i = 0; i < samples; i++) {
        int r = chat(url, model, prompt, 8, true, &st, &t8[i], &dummy, NULL);
        if (r == 0 && st == 200)
            r = chat(url, model, prompt, 256, true, &st, &t256[i], &dummy, NULL);
        if (r == 0 && st == 200)
            r = chat(url, model, prompt, 8, false, &st, &dummy, &e8[i], NULL);
        if (r == 0 && st == 200)
            r = chat(url, model, prompt, 256, false, &st, &dummy, &e256[i], NULL);
        if (r < 0 || st != 200) {
            snprintf(res->error, sizeof(res->error), "request failed: %s",
                     r < 0 ? strerror(-r) : "non-200 status");
            return r < 0 ? r : -EPROTO;
        }
        if (isnan(t8[i]) || isnan(t256[i])) {
            snprintf(res->error, sizeof(res->error),
                     "streamed response carried no delta content (SSE not OpenAI chat chunks?)");
            return -EPROTO;
        }
    }
    res->ttfc_8_ms = median(t8, samples);
    res->ttfc_256_ms = median(t256, samples);
    res->e2e_8_ms = median(e8, samples);
    res->e2e_256_ms = median(e256, samples);
    res->ttfc_ratio = res->ttfc_256_ms / res->ttfc_8_ms;
    res->e2e_ratio = res->e2e_256_ms / res->e2e_8_ms;
    res->ok = res->ttfc_ratio <= DOCTOR_STREAM_TTFC_MAX_RATIO &&
              res->e2e_ratio >= DOCTOR_NONSTREAM_MIN_RATIO;
    return 0;
}

int doctor_long_context(const char *url, const char *model, unsigned min_tokens, const char *prompt,
                        long *ret_status, long *ret_prompt_tokens, char *ret_detail,
                        size_t detail_len)
{
    if (detail_len)
        ret_detail[0] = 0;
    static const char *const words[] = { "tier", "cache",  "block",  "prefix", "reuse", "disk",
                                         "host", "device", "replay", "phase",  "token", "graph" };
    *ret_status = 0;
    *ret_prompt_tokens = 0;
    /* without the model's tokenizer the prompt is sized from what the server itself counts:
     * start below the target, then scale by the measured tokens per word */
    size_t nwords = (size_t)min_tokens * 4 / 5;
    int r = -EPROTO;
    for (int attempt = 0; attempt < (prompt ? 1 : 3); attempt++) {
        struct buf b;
        buf_init(&b, 0);
        if (prompt)
            buf_append_str(&b, prompt);
        for (size_t i = 0; !prompt && i < nwords; i++)
            buf_printf(&b, "%s ", words[(i * 7 + i / 12) % 12]);
        long st = 0;
        double ttfc, e2e;
        json_t *body = NULL;
        r = chat(url, model, buf_str(&b), 1, false, &st, &ttfc, &e2e, &body);
        buf_fini(&b);
        *ret_status = st;
        long pt = (long)jsonx_i64(json_object_get(body, "usage"), "prompt_tokens", 0);
        const char *msg = jsonx_str(json_object_get(body, "error"), "message", NULL);
        if (msg && detail_len)
            snprintf(ret_detail, detail_len, "%s", msg);
        json_decref(body);
        *ret_prompt_tokens = pt;
        if (r < 0)
            return r;
        if (st != 200)
            return -EPROTO;
        if (pt >= (long)min_tokens)
            return 0;
        if (pt <= 0)
            return -EPROTO;
        nwords = (size_t)((double)nwords * (double)min_tokens * 1.03 / (double)pt) + 16;
        r = -EPROTO;
    }
    return r;
}

/* ---- the doctor run ---------------------------------------------------------------------- */

static json_t *check(json_t *checks, const char *name, bool ok, const char *summary)
{
    json_t *c = json_object();
    json_object_set_new(c, "check", json_string(name));
    json_object_set_new(c, "ok", json_boolean(ok));
    json_object_set_new(c, "summary", json_string(summary));
    json_array_append_new(checks, c);
    return c;
}

static void blocker(json_t *c, const char *repro, const char *hook, const char *change)
{
    json_t *b = json_object();
    json_object_set_new(b, "repro", json_string(repro));
    json_object_set_new(b, "missing_hook", json_string(hook));
    json_object_set_new(b, "must_change", json_string(change));
    json_object_set_new(c, "blocker", b);
}

static json_t *bundle_file(const json_t *group, const char *mode, const char *file)
{
    size_t i;
    json_t *b;
    json_array_foreach (json_object_get(group, "bundles"), i, b) {
        if (strcmp(jsonx_str(b, "mode", ""), mode))
            continue;
        char *p = fileio_join(jsonx_str(b, "dir", ""), file);
        json_t *j = NULL;
        jsonx_load_file(p, &j, NULL);
        free(p);
        return j;
    }
    return NULL;
}

static char *cmd_line(const struct bundle_config *cfg, const char *mode)
{
    return xalloc_printf("kvtier bundle --stack %s --model %s --workload %s --dataset %s "
                         "--mode %s --repeats 1 --out <dir>",
                         cfg->stack, cfg->model, cfg->workload, cfg->dataset, mode);
}

static void write_dossier(const char *dir, const struct bundle_config *cfg, json_t *checks)
{
    struct buf md;
    buf_init(&md, 0);
    buf_printf(&md,
               "# Blocker dossier\n\nStack `%s`, model `%s`, kvtier %s.\n\n"
               "This dossier is written by `kvtier doctor` when a control-surface check "
               "fails (test plan, outcome A). Each blocker gives minimal repro steps, the "
               "exact hook that is missing and what must change in the platform.\n\n",
               cfg->stack, cfg->model, KVTIER_VERSION);
    size_t i;
    json_t *c;
    json_array_foreach (checks, i, c) {
        if (jsonx_bool(c, "ok", true))
            continue;
        json_t *b = json_object_get(c, "blocker");
        buf_printf(&md,
                   "## %s\n\n%s\n\n**Minimal repro**\n\n```\n%s\n```\n\n"
                   "**Missing hook:** %s\n\n**What must change:** %s\n\n",
                   jsonx_str(c, "check", "?"), jsonx_str(c, "summary", ""),
                   jsonx_str(b, "repro", "-"), jsonx_str(b, "missing_hook", "-"),
                   jsonx_str(b, "must_change", "-"));
        json_t *ev = json_object_get(c, "evidence");
        if (ev) {
            char *s = json_dumps(ev, JSON_INDENT(2));
            buf_printf(&md, "**Evidence**\n\n```json\n%s\n```\n\n", s);
            free(s);
        }
    }
    char *p = fileio_join(dir, "blocker_dossier.md");
    fileio_write_atomic(p, md.data, md.len);
    free(p);
    buf_fini(&md);
    json_t *j = json_object();
    json_object_set_new(j, "kind", json_string("kvtier.blocker_dossier"));
    json_object_set_new(j, "stack", json_string(cfg->stack));
    json_object_set_new(j, "model", json_string(cfg->model));
    json_t *bl = json_array();
    json_array_foreach (checks, i, c)
        if (!jsonx_bool(c, "ok", true))
            json_array_append(bl, c);
    json_object_set_new(j, "blockers", bl);
    p = fileio_join(dir, "blocker_dossier.json");
    jsonx_write_file(p, j);
    free(p);
    json_decref(j);
}

static void dnote(const struct bundle_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dnote(const struct bundle_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(cfg->note, cfg->note_ctx, fmt, ap);
    va_end(ap);
}

static void control_checks(const struct bundle_config *cfg, const json_t *group, json_t *checks)
{
    json_t *m1 = bundle_file(group, "B1", "manifest.json");
    json_t *m2 = bundle_file(group, "B2p", "manifest.json");
    json_t *v1 = bundle_file(group, "B1", "verdict.json");
    json_t *v2 = bundle_file(group, "B2p", "verdict.json");
    json_t *o1 = jsonx_path(m1, "stack.observed_config");
    json_t *o2 = jsonx_path(m2, "stack.observed_config");
    double d1 = jsonx_num(json_object_get(o1, "observed"), "disk_cache_blocks", NAN);
    double d2 = jsonx_num(json_object_get(o2, "observed"), "disk_cache_blocks", NAN);
    bool f2 = jsonx_bool(json_object_get(o2, "observed"), "disk_offload_filter", true);
    size_t mm = json_array_size(json_object_get(o1, "mismatches")) +
                json_array_size(json_object_get(o2, "mismatches"));
    bool sw = d1 == 0 && d2 > 0 && !f2 && mm == 0;
    char s[640];
    snprintf(s, sizeof(s),
             "B1 worker sees %.0f disk blocks, B2p worker sees %.0f (filter %s); %zu mismatch(es) "
             "between the mode asked for and the worker's real configuration",
             d1, d2, f2 ? "on" : "off", mm);
    json_t *c = check(checks, "disk_tier_switch", sw, s);
    json_t *ev = json_object();
    json_object_set(ev, "B1", o1 ? o1 : json_null());
    json_object_set(ev, "B2p", o2 ? o2 : json_null());
    json_object_set_new(c, "evidence", ev);
    char *r1 = cmd_line(cfg, "B1"), *r2 = cmd_line(cfg, "B2p");
    char *repro = xalloc_printf("%s\n%s\n# compare manifest.json stack.observed_config", r1, r2);
    if (!sw)
        blocker(c, repro,
                isnan(d1) || isnan(d2) ? "the worker's environment cannot be read back "
                                         "(/proc/PID/environ or the container's config)"
                                       : "the DYN_KVBM_* variables the launcher sets do not "
                                         "reach the worker process",
                "the launcher must pass DYN_KVBM_DISK_CACHE_GB/_DIR and "
                "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER to the worker exactly, and the worker "
                "should report its tier capacities (a KVBM gauge or log line)");
    free(repro);
    /* metrics */
    bool fr = jsonx_bool(jsonx_path(v1, "evidence.health"), "frontend_reachable", false) &&
              jsonx_bool(jsonx_path(v2, "evidence.health"), "frontend_reachable", false);
    bool kr = jsonx_bool(jsonx_path(v1, "evidence.health"), "kvbm_metrics_reachable", false) &&
              jsonx_bool(jsonx_path(v2, "evidence.health"), "kvbm_metrics_reachable", false);
    bool kd = json_is_object(jsonx_path(v2, "evidence.phases.replay.kvbm"));
    snprintf(s, sizeof(s), "frontend metrics %s, KVBM metrics %s, KVBM phase deltas %s",
             fr ? "reachable" : "UNREACHABLE", kr ? "reachable" : "UNREACHABLE",
             kd ? "captured" : "MISSING");
    c = check(checks, "metrics_reachable", fr && kr && kd, s);
    if (!(fr && kr && kd))
        blocker(c, r2,
                !kr   ? "KVBM metrics endpoint (DYN_KVBM_METRICS=true, DYN_KVBM_METRICS_PORT) does "
                        "not answer"
                : !fr ? "the frontend's /metrics (dynamo_frontend_*) does not answer"
                      : "kvbm_* counters are not exported, so no phase deltas",
                "start the KVBM metrics server with the worker and expose it to the host; keep "
                "the counters registered at start-up");
    /* KV-attributable disk I/O in a forced B2p replay */
    json_t *rp = jsonx_path(v2, "evidence.phases.replay");
    double on = jsonx_num(json_object_get(rp, "kvbm"), "onboard_blocks_d2d", 0);
    double rb = jsonx_num(json_object_get(rp, "os"), "server_read_bytes", 0);
    double off = 0;
    const char *k;
    json_t *p;
    json_object_foreach (jsonx_path(v2, "evidence.phases"), k, p)
        off += jsonx_num(json_object_get(p, "kvbm"), "offload_blocks_h2d", 0);
    bool mismatch = false;
    size_t i;
    json_t *code;
    json_array_foreach (json_object_get(v2, "reason_codes"), i, code)
        mismatch |= !strcmp(json_string_value(code), "KVBM_OS_MISMATCH");
    bool io = off > 0 && on > 0 && rb > 0 && !mismatch;
    snprintf(s, sizeof(s),
             "B2p: %.0f blocks offloaded to disk, %.0f onboarded from disk in replay, worker read "
             "%.0f bytes from storage in replay%s",
             off, on, rb, mismatch ? "; KVBM and OS disagree (KVBM_OS_MISMATCH)" : "");
    c = check(checks, "kv_disk_io_b2p_replay", io, s);
    json_t *ev2 = json_object();
    json_object_set(ev2, "replay", rp ? rp : json_null());
    json_object_set(ev2, "reason_codes", json_object_get(v2, "reason_codes"));
    json_object_set_new(c, "evidence", ev2);
    if (!io)
        blocker(c, r2,
                off == 0  ? "no host->disk offload (kvbm_offload_blocks_h2d stays 0 with the "
                            "filter disabled)"
                : on == 0 ? "no disk->device onboarding (kvbm_onboard_blocks_d2d stays 0): on "
                            "GB10 this needs GDS or cuFile compat mode (ai-dynamo/dynamo#6032)"
                          : "onboarded blocks are not matched by storage reads of the worker",
                "a working G3->G1 path whose reads reach the SSD (O_DIRECT), visible in "
                "/proc/PID/io of the worker");
    free(r1);
    free(r2);
    json_decref(m1);
    json_decref(m2);
    json_decref(v1);
    json_decref(v2);
}

/* The B1 probe stack's checks: a >= 32k context is served, the server really streams. */
/* Long context and streaming on a ready probe stack. */
static void probe_requests(const struct stack *st, const struct model_profile *mp,
                           const char *tokenizer, json_t *checks)
{
    char s[900];
    long status = 0, pt = 0;
    char detail[200], how[300];
    /* the prompt sized by the model's own tokenizer through its chat template when there is
     * one; otherwise by the server's count of a first guess */
    struct longprompt lp;
    struct diag ld = { 0 };
    bool sized = tokenizer && longprompt_build(tokenizer, mp->vocab, mp->chat_template,
                                               DOCTOR_LONG_CONTEXT_TOKENS, &lp, &ld) == 0;
    if (sized)
        snprintf(how, sizeof(how), "; prompt of %zu tokens by %.200s (%s template)", lp.tokens,
                 tokenizer, lp.chat_template);
    else
        snprintf(how, sizeof(how), "; prompt sized by the server's count (%.200s)",
                 tokenizer ? ld.msg : "no tokenizer.json given or in the model snapshot");
    int rr =
        doctor_long_context(st->http_url, st->served_model, DOCTOR_LONG_CONTEXT_TOKENS,
                            sized ? buf_str(&lp.text) : NULL, &status, &pt, detail, sizeof(detail));
    snprintf(s, sizeof(s),
             "a %u-token request: HTTP %ld, server counted %ld prompt tokens (model profile "
             "max_sequence_length %u, build %s)%s%s%s",
             DOCTOR_LONG_CONTEXT_TOKENS, status, pt, mp->max_sequence_length, mp->build_id,
             detail[0] ? ": " : "", detail, how);
    json_t *c = check(checks, "long_context_32k", rr == 0, s);
    json_t *lev = json_object();
    json_object_set_new(lev, "tokenizer", json_string(sized ? lp.tokenizer : "server_count"));
    json_object_set_new(lev, "tokenizer_file", sized ? json_string(tokenizer) : json_null());
    json_object_set_new(lev, "planned_prompt_tokens",
                        sized ? json_integer((json_int_t)lp.tokens) : json_null());
    json_object_set_new(lev, "server_prompt_tokens", json_integer(pt));
    json_object_set_new(c, "evidence", lev);
    if (sized)
        longprompt_fini(&lp);
    if (rr != 0)
        blocker(c,
                "curl -s $URL/v1/chat/completions -d '{\"model\":...,\"messages\":[{\"role\":"
                "\"user\",\"content\":\"<33k tokens>\"}],\"max_tokens\":1}'",
                "an engine built for >= 32k input tokens (max_seq_len and max_num_tokens)",
                "rebuild the TRT-LLM engine with max_seq_len >= 32768 and record it in a "
                "model profile (e.g. llama33_70b_nvfp4_ctx32k) -- test plan P2.1");
    struct doctor_stream_result sr;
    rr = doctor_streaming(st->http_url, st->served_model, 3, &sr);
    if (rr < 0)
        snprintf(s, sizeof(s), "streaming check failed: %s", sr.error);
    else
        snprintf(s, sizeof(s),
                 "TTFC 8 vs 256 tokens: %.1f vs %.1f ms (x%.2f, must be <= %.2f); "
                 "non-streamed latency %.1f vs %.1f ms (x%.2f, must be >= %.2f)",
                 sr.ttfc_8_ms, sr.ttfc_256_ms, sr.ttfc_ratio, DOCTOR_STREAM_TTFC_MAX_RATIO,
                 sr.e2e_8_ms, sr.e2e_256_ms, sr.e2e_ratio, DOCTOR_NONSTREAM_MIN_RATIO);
    c = check(checks, "streaming_sanity", rr == 0 && sr.ok, s);
    if (rr == 0) {
        json_t *ev = json_object();
        jsonx_set_num(ev, "ttfc_8_ms", sr.ttfc_8_ms);
        jsonx_set_num(ev, "ttfc_256_ms", sr.ttfc_256_ms);
        jsonx_set_num(ev, "e2e_8_ms", sr.e2e_8_ms);
        jsonx_set_num(ev, "e2e_256_ms", sr.e2e_256_ms);
        json_object_set_new(c, "evidence", ev);
    }
    if (!(rr == 0 && sr.ok))
        blocker(c, "kvtier doctor --stack <stack> --model <model>",
                "token-by-token SSE streaming of chat completions",
                "the server must flush each token as an SSE chunk; otherwise TTFT/TTFC "
                "measure the whole generation");
}

static void probe_checks(const struct bundle_config *cfg, const char *dir, json_t *checks)
{
    json_t *profile = NULL;
    struct diag pd = { 0 };
    size_t sl = strlen(cfg->stack);
    if (strchr(cfg->stack, '/') || (sl > 5 && !strcmp(cfg->stack + sl - 5, ".yaml")))
        yamlx_load_file(cfg->stack, &profile, &pd);
    else
        profile_load(cfg->profiles_dir, "stacks", cfg->stack, &profile, &pd);
    struct model_profile mp = { 0 };
    profile_load_model(cfg->profiles_dir, cfg->model, &mp, &pd);
    struct mode_settings ms = { .id = MODE_B1, .bytes_per_block = profile_bytes_per_block(&mp) };
    uint64_t g1 = 0;
    stack_profile_tiers(profile, mp.name, &ms, &g1);
    (void)g1;
    if (cfg->cpu_cache_gb > 0)
        ms.cpu_cache_gb = cfg->cpu_cache_gb;
    ms.metrics_port = (uint16_t)jsonx_u64(profile, "kvbm_metrics_port", 0);
    /* the model's tokenizer: --tokenizer, else the snapshot's tokenizer.json (as bundle) */
    const char *tok = cfg->tokenizer_path;
    char *snap = NULL;
    const char *mpath = json_string_value(jsonx_path(profile, "paths.model_path"));
    if (!tok && mpath && mpath[0] == '/' && !strchr(mpath, '{')) {
        snap = fileio_join(mpath, "tokenizer.json");
        if (access(snap, R_OK) == 0)
            tok = snap;
    }
    char *ld = fileio_join(dir, "probe_stack");
    char *wd = fileio_join(dir, "probe_stack/work");
    struct stack_opts so = { .profile = profile,
                             .model = mp.name,
                             .hf_id = mp.hf_id,
                             .served_model = cfg->served_model,
                             .hardware = cfg->hardware ? cfg->hardware
                                                       : jsonx_str(profile, "hardware", NULL),
                             .profiles_dir = cfg->profiles_dir,
                             .kvtier_path = cfg->kvtier_path,
                             .log_dir = ld,
                             .work_dir = wd,
                             .cgroup_name = "",
                             /* the engine's own device pool: the question is what the
                              * engine can serve, not the shaped G1 of the experiments */
                             .g1_blocks = cfg->g1_blocks,
                             .max_seq_len = mp.max_sequence_length,
                             .max_num_tokens = mp.max_num_tokens,
                             .max_batch_size = mp.max_batch_size,
                             .tokens_per_block = mp.tokens_per_block,
                             .mode = ms,
                             .url = cfg->url,
                             .kvbm_metrics_url = cfg->kvbm_metrics_url,
                             .frontend_metrics_url = cfg->frontend_metrics_url };
    struct stack *st = NULL;
    struct diag sd = { 0 };
    json_t *rc_checks = NULL;
    int lr = stack_launch(&so, &st, &sd);
    if (lr == 0)
        lr =
            stack_wait_ready(st, cfg->ready_timeout_ns ? cfg->ready_timeout_ns : 120 * CLK_NS_PER_S,
                             cfg->interrupt_flag, &rc_checks, &sd);
    json_decref(rc_checks);
    char s[640];
    if (lr < 0) {
        snprintf(s, sizeof(s), "the B1 probe stack did not become ready: %s", sd.msg);
        json_t *c = check(checks, "long_context_32k", false, s);
        blocker(c, "kvtier doctor --stack <stack> --model <model>", "a stack that starts",
                "fix the start-up error in the probe stack logs");
        c = check(checks, "streaming_sanity", false, s);
        blocker(c, "kvtier doctor --stack <stack> --model <model>", "a stack that starts",
                "fix the start-up error in the probe stack logs");
    } else {
        probe_requests(st, &mp, tok, checks);
    }
    stack_free(st);
    free(ld);
    free(wd);
    free(snap);
    json_decref(profile);
}

int doctor_run(const struct bundle_config *cfg_in, json_t **ret, struct diag *d)
{
    struct bundle_config cfg = *cfg_in;
    if (cfg.dry_run) {
        /* the B1 and B2p launches doctor makes (its probe stack is the B1 one) */
        cfg.modes[0] = MODE_B1;
        cfg.modes[1] = MODE_B2P;
        cfg.n_modes = 2;
        cfg.repeats = 1;
        return bundle_dry_run(&cfg, ret, d);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    char *dir = xalloc_printf("%s/doctor_%s", cfg_in->out_dir, stamp);
    int r = fileio_mkdir_p(dir);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot create %s: %s", dir, strerror(-r));
        free(dir);
        return r;
    }
    cfg.out_dir = dir;
    cfg.modes[0] = MODE_B1;
    cfg.modes[1] = MODE_B2P;
    cfg.n_modes = 2;
    cfg.repeats = 1;
    /* the doctor checks the switch and the evidence paths, not decision-grade figures: short
     * settle waits between phases keep it brief */
    if (cfg.settle_quiet_ns > CLK_NS_PER_S / 2)
        cfg.settle_quiet_ns = CLK_NS_PER_S / 2;
    if (cfg.settle_timeout_ns > 3 * CLK_NS_PER_S)
        cfg.settle_timeout_ns = 3 * CLK_NS_PER_S;
    if (cfg.hit_rate == 0)
        cfg.hit_rate = 2; /* no wait for KVBM's hit-rate refresh unless asked */
    json_t *checks = json_array();
    json_t *group = NULL;
    dnote(&cfg, "doctor: B1 and B2p bundles (switch, metrics, KV disk I/O)");
    r = bundle_run(&cfg, &group, d);
    if (r < 0) {
        json_decref(group);
        json_decref(checks);
        free(dir);
        return r;
    }
    control_checks(&cfg, group, checks);
    /* long context and streaming on a fresh B1 stack */
    dnote(&cfg, "doctor: long context and streaming checks");
    probe_checks(&cfg, dir, checks);
    bool all = true;
    size_t i;
    json_t *c;
    json_array_foreach (checks, i, c)
        all &= jsonx_bool(c, "ok", false);
    json_t *out = json_object();
    json_object_set_new(out, "schema_version", json_integer(1));
    json_object_set_new(out, "kind", json_string("kvtier.doctor"));
    json_object_set_new(out, "stack", json_string(cfg.stack));
    json_object_set_new(out, "model", json_string(cfg.model));
    json_object_set_new(out, "dir", json_string(dir));
    json_object_set_new(out, "checks", checks);
    json_object_set_new(out, "all_ok", json_boolean(all));
    json_object_set(out, "bundles", json_object_get(group, "bundles"));
    if (!all) {
        write_dossier(dir, &cfg, checks);
        char *p = fileio_join(dir, "blocker_dossier.md");
        json_object_set_new(out, "dossier", json_string(p));
        free(p);
    } else {
        json_object_set_new(out, "dossier", json_null());
    }
    char *p = fileio_join(dir, "doctor.json");
    r = jsonx_write_file(p, out);
    if (r < 0) {
        diag_set(d, r, 0, 0, "cannot write %s: %s", p, strerror(-r));
        json_decref(out);
    } else {
        *ret = out;
    }
    free(p);
    json_decref(group);
    free(dir);
    return r < 0 ? r : 0;
}
