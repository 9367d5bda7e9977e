/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier serve: the emulated Dynamo + TensorRT-LLM + KVBM engine (docs/serve.md). Loads the
 * model and hardware profiles, reads the KVBM environment variables, builds the scheduler with
 * its G1/G2/G3 tiers and the HTTP front end, logs the effective configuration, writes the ready
 * file once both ports accept connections, and runs until SIGTERM or SIGINT, then shuts down
 * cleanly (the disk cache file was unlinked at start, the ready file is removed). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cliopt.h"
#include "cli/clisig.h"
#include "cli/cmds.h"
#include "cli/log.h"
#include "common/fileio.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "engine/config.h"
#include "engine/http.h"
#include "engine/metrics.h"
#include "engine/sched.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

struct serve_cfg {
    const char *host;
    uint64_t port, metrics_port;
    const char *model, *hardware, *profiles, *served_model_name, *tokenizer, *ready_file;
    uint64_t g1_blocks, max_num_seqs, max_num_tokens;
    double speedup;
    uint64_t disk_queue_depth;
    bool disk_no_uring;
    uint64_t inject_5xx_every, inject_cut_stream_every;
    uint64_t inject_first_token_delay_ns;
    bool inject_ssd_miss;
    bool verbose;
    struct opt_marks set; /* which options were given */
};

#define O(f) offsetof(struct serve_cfg, f)
static const struct opt_def serve_opts[] = {
    { "host", 0, OPT_STR, O(host), "127.0.0.1", OPT_UNBOUNDED, NULL, "Network",
      "IPv4 address to listen on (both ports)" },
    { "port", 'p', OPT_U64, O(port), "8000", 0, 65535, NULL, "Network",
      "API port (Dynamo frontend); 0 = any free port" },
    { "metrics-port", 0, OPT_U64, O(metrics_port), "6880", 0, 65535, NULL, "Network",
      "KVBM metrics port; 0 = any free port; default DYN_KVBM_METRICS_PORT or 6880" },
    { "ready-file", 0, OPT_STR, O(ready_file), NULL, OPT_UNBOUNDED, NULL, "Network",
      "write {\"pid\",\"http_port\",\"metrics_port\"} here once both ports accept connections" },
    { "model", 'm', OPT_STR, O(model), "llama8b_fp8", OPT_UNBOUNDED, NULL, "Model",
      "model profile name (profiles/models/NAME.yaml)" },
    { "hardware", 0, OPT_STR, O(hardware), "dgx_spark_gb10", OPT_UNBOUNDED, NULL, "Model",
      "hardware profile name (profiles/hardware/NAME.yaml)" },
    { "profiles", 0, OPT_STR, O(profiles), NULL, OPT_UNBOUNDED, NULL, "Model",
      "profile directory (default $KVTIER_PROFILES or the installed profiles)" },
    { "served-model-name", 0, OPT_STR, O(served_model_name), NULL, OPT_UNBOUNDED, NULL, "Model",
      "model name listed and accepted (default the profile's hf_id; the profile name is also "
      "accepted)" },
    { "tokenizer", 0, OPT_STR, O(tokenizer), NULL, OPT_UNBOUNDED, NULL, "Model",
      "tokenizer.json of the model (default: the approximate tokenizer)" },
    { "g1-blocks", 0, OPT_U64, O(g1_blocks), "0", 0, 1073741824.0, NULL, "Engine",
      "device (G1) KV capacity in blocks; 0 = from the profiles" },
    { "max-num-seqs", 0, OPT_U64, O(max_num_seqs), "0", 0, 65536, NULL, "Engine",
      "maximum sequences per iteration; 0 = the profile's max_batch_size" },
    { "max-num-tokens", 0, OPT_U64, O(max_num_tokens), "0", 0, 1048576, NULL, "Engine",
      "token budget per iteration; 0 = the profile's max_num_tokens" },
    { "speedup", 0, OPT_DOUBLE, O(speedup), "1", 0.001, 1e6, NULL, "Engine",
      "divide every modelled time by this factor (1 = real time)" },
    { "disk-queue-depth", 0, OPT_U64, O(disk_queue_depth), "32", 1, 256, NULL, "Engine",
      "disk tier transfers in flight (io_uring entries)" },
    { "disk-no-uring", 0, OPT_BOOL, O(disk_no_uring), NULL, OPT_UNBOUNDED, NULL, "Engine",
      "use pread/pwrite for the disk tier instead of io_uring" },
    { "verbose", 'v', OPT_BOOL, O(verbose), NULL, OPT_UNBOUNDED, NULL, "Engine",
      "log debug events (libmicrohttpd messages)" },
    { "inject-5xx-every", 0, OPT_U64, O(inject_5xx_every), "0", 0, 1e12, NULL, "Failure injection",
      "every Nth completion request fails with HTTP 500 (0 = never)" },
    { "inject-cut-stream-every", 0, OPT_U64, O(inject_cut_stream_every), "0", 0, 1e12, NULL,
      "Failure injection",
      "every Nth streaming request is dropped mid-stream without [DONE] (0 = never)" },
    { "inject-first-token-delay", 0, OPT_DURATION_NS, O(inject_first_token_delay_ns), "0",
      OPT_UNBOUNDED, NULL, "Failure injection", "hold every first token this long (e.g. 2s)" },
    { "inject-ssd-miss", 0, OPT_BOOL, O(inject_ssd_miss), NULL, OPT_UNBOUNDED, NULL,
      "Failure injection",
      "every disk-tier read fails verification: counted, logged, recomputed as a miss" },
    OPT_END_MARKS(struct serve_cfg, set),
};
#undef O

static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(void *ctx, enum elog_level level, const char *line)
{
    (void)ctx;
    pthread_mutex_lock(&sink_mu);
    log_msg((enum log_level)level, "%s", line);
    pthread_mutex_unlock(&sink_mu);
}

static int write_ready(const char *path, uint16_t port, uint16_t mport)
{
    char text[128];
    int n = snprintf(text, sizeof(text), "{\"pid\": %d, \"http_port\": %u, \"metrics_port\": %u}\n",
                     (int)getpid(), port, mport);
    return fileio_write_atomic(path, text, (size_t)n);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void set_info(struct metrics *m, const struct serve_cfg *c, const struct config_kvbm *k,
                     const struct sched *s, const char *served, const struct tokenizer *tok)
{
    char model[200], hw[200], dir[CONFIG_DIR_MAX + 64], path[1200], sm[300];
    metrics_escape_label(c->model, model, sizeof(model));
    metrics_escape_label(c->hardware, hw, sizeof(hw));
    metrics_escape_label(k->disk_dir, dir, sizeof(dir));
    metrics_escape_label(sched_disk_path(s), path, sizeof(path));
    metrics_escape_label(served, sm, sizeof(sm));
    char labels[4096];
    snprintf(
        labels, sizeof(labels),
        "model=\"%s\",hardware=\"%s\",served_model=\"%s\",mode=\"%s\",disk_dir=\"%s\","
        "disk_file=\"%s\",io_path=\"%s\",tokenizer=\"%s\"",
        model, hw, sm, config_mode_name(k), k->disk_blocks ? dir : "", k->disk_blocks ? path : "",
        k->disk_blocks ? (sched_disk_io_uring(s) ? "io_uring" : "pread") : "", tokenizer_kind(tok));
    metrics_set_info(m, labels);
}

int cmd_serve_main(int argc, char **argv)
{
    struct serve_cfg c = { 0 };
    int rc =
        cliopt_parse_noargs("serve", serve_opts, argc, argv, &c, "kvtier serve [OPTIONS]",
                            "Run the emulated Dynamo + TensorRT-LLM + KVBM engine. KVBM tiers come "
                            "from the DYN_KVBM_* environment variables (docs/serve.md).");
    if (rc >= 0)
        return rc;
    if (c.verbose)
        log_setup("kvtier serve", LOG_LEVEL_DEBUG);
    struct diag d = { 0 };
    struct model_profile model;
    struct hw_profile hw;
    struct tokenizer *tok = NULL;
    struct sched *s = NULL;
    struct http *h = NULL;
    struct metrics *m = NULL;
    char *pdir = profile_dir(c.profiles);
    rc = CLIOPT_EXIT_USAGE;
    if (profile_load_model(pdir, c.model, &model, &d) < 0 ||
        profile_load_hw(pdir, c.hardware, &hw, &d) < 0) {
        log_diag(&d);
        goto out;
    }
    enum chat_template tpl;
    if (chat_template_from_name(model.chat_template, &tpl) < 0) {
        log_error("model profile %s: unknown chat_template '%s'", c.model, model.chat_template);
        goto out;
    }
    if (c.tokenizer) {
        int r = tokenizer_new_from_file(c.tokenizer, &tok, &d);
        if (r == -EOPNOTSUPP) {
            log_error("--tokenizer %s: loading tokenizer.json is not supported by this build yet; "
                      "omit --tokenizer to use the approximate tokenizer",
                      c.tokenizer);
            goto out;
        }
        if (r < 0) {
            log_diag(&d);
            goto out;
        }
    } else {
        tok = tokenizer_new_approx(model.vocab ? model.vocab : 32000);
    }
    uint64_t bpb = profile_bytes_per_block(&model);
    struct config_kvbm kvbm;
    if (config_kvbm_from_env(config_getenv_process, NULL, bpb, &kvbm) < 0) {
        log_error("DYN_KVBM_DISK_CACHE_DIR is too long or the model has no KV bytes per block");
        goto out;
    }
    for (unsigned i = 0; i < kvbm.n_warnings; i++)
        log_warn("%s", kvbm.warnings[i]);
    if (!opt_was_set(serve_opts, &c, "metrics-port"))
        c.metrics_port = kvbm.metrics_port;
    uint64_t g1 = c.g1_blocks ? c.g1_blocks : profile_g1_blocks(&hw, &model);
    if (g1 == 0) {
        log_error("the %s weights do not fit the %s memory: no G1 KV capacity (use --g1-blocks)",
                  c.model, c.hardware);
        goto out;
    }
    const char *served = c.served_model_name ? c.served_model_name : model.hf_id;
    if (!*served)
        served = model.name;
    m = xcalloc(1, sizeof(*m));
    metrics_init(m, served);
    struct sched_opts so = {
        .model = &model,
        .hw = &hw,
        .kvbm = &kvbm,
        .tok = tok,
        .metrics = m,
        .log = { log_sink, NULL },
        .served_model = served,
        .g1_blocks = g1,
        .max_num_seqs = (uint32_t)(c.max_num_seqs ? c.max_num_seqs : model.max_batch_size),
        .max_num_tokens = (uint32_t)(c.max_num_tokens ? c.max_num_tokens : model.max_num_tokens),
        .first_token_delay_ns = c.inject_first_token_delay_ns,
        .inject_ssd_miss = c.inject_ssd_miss,
        .disk_force_pread = c.disk_no_uring,
        .disk_queue_depth = (unsigned)c.disk_queue_depth,
        .speedup = c.speedup,
    };
    if (so.max_num_seqs == 0)
        so.max_num_seqs = 64;
    if (so.max_num_tokens == 0)
        so.max_num_tokens = 8192;
    rc = CLIOPT_EXIT_FAIL;
    d = (struct diag){ 0 };
    if (sched_new(&so, &s, &d) < 0) {
        log_diag(&d);
        goto out;
    }
    metrics_set(m, METRICS_CFG_KVBM_ENABLED, kvbm.enabled);
    metrics_set(m, METRICS_CFG_KVBM_METRICS_ENABLED, kvbm.enabled && kvbm.metrics_enabled);
    metrics_set(m, METRICS_CFG_G1_CAPACITY, g1);
    metrics_set(m, METRICS_CFG_G2_CAPACITY, kvbm.host_blocks);
    metrics_set(m, METRICS_CFG_G3_CAPACITY, kvbm.disk_blocks);
    metrics_set(m, METRICS_CFG_BYTES_PER_BLOCK, bpb);
    metrics_set(m, METRICS_CFG_TOKENS_PER_BLOCK, model.tokens_per_block);
    metrics_set(m, METRICS_CFG_FILTER_ENABLED, kvbm.filter_enabled);
    metrics_set(m, METRICS_CFG_BYPASS_CPU, kvbm.enabled && kvbm.bypass_cpu);
    metrics_set(m, METRICS_CFG_O_DIRECT_REQUESTED, kvbm.o_direct);
    metrics_set(m, METRICS_CFG_O_DIRECT, sched_disk_o_direct(s));
    metrics_set(m, METRICS_CFG_IO_URING, sched_disk_io_uring(s));
    metrics_set(m, METRICS_CFG_MAX_NUM_SEQS, so.max_num_seqs);
    metrics_set(m, METRICS_CFG_MAX_NUM_TOKENS, so.max_num_tokens);
    m->model_total_kv_blocks = g1;
    m->model_max_num_seqs = so.max_num_seqs;
    m->model_max_num_batched_tokens = so.max_num_tokens;
    m->model_context_length = model.max_sequence_length;
    m->model_block_size = model.tokens_per_block;
    set_info(m, &c, &kvbm, s, served, tok);
    if (kvbm.disk_blocks && kvbm.o_direct && !sched_disk_o_direct(s))
        log_warn("O_DIRECT refused on %s (%s): the disk tier falls back to buffered I/O",
                 kvbm.disk_dir, strerror(-sched_disk_o_direct_error(s)));
    /* signals: handled by sigwait in this thread only */
    sigset_t sigs;
    clisig_block_stop(&sigs);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (sched_start(s) < 0) {
        log_error("cannot start the scheduler thread");
        goto out;
    }
    struct http_opts ho = {
        .host = c.host,
        .port = (uint16_t)c.port,
        .metrics_port = (uint16_t)c.metrics_port,
        .sched = s,
        .metrics = m,
        .tok = tok,
        .tpl = tpl,
        .model = &model,
        .served_model = served,
        .model_alias = model.name,
        .kvbm_metrics = kvbm.enabled && kvbm.metrics_enabled,
        .inject_5xx_every = c.inject_5xx_every,
        .inject_cut_every = c.inject_cut_stream_every,
        .log = { log_sink, NULL },
    };
    if (http_start(&ho, &h, &d) < 0) {
        log_diag(&d);
        goto out;
    }
    log_info("ready: mode=%s model=%s (%s) hardware=%s served_model=%s tokenizer=%s "
             "g1_blocks=%" PRIu64 " g2_blocks=%" PRIu64 " g3_blocks=%" PRIu64
             " bytes_per_block=%" PRIu64 " disk_only=%s filter=%s o_direct=%s (requested %s) "
             "disk_io=%s disk_dir=%s disk_file=%s (unlinked) prealloc=%s kvbm_metrics=%s "
             "max_num_seqs=%u max_num_tokens=%u speedup=%g http=%s:%u metrics_port=%u",
             config_mode_name(&kvbm), c.model, model.display_name, c.hardware, served,
             tokenizer_kind(tok), g1, kvbm.host_blocks, kvbm.disk_blocks, bpb,
             kvbm.enabled && kvbm.bypass_cpu ? "on" : "off", kvbm.filter_enabled ? "on" : "off",
             sched_disk_o_direct(s) ? "on" : "off", kvbm.o_direct ? "on" : "off",
             kvbm.disk_blocks ? (sched_disk_io_uring(s) ? "io_uring" : "pread") : "none",
             kvbm.disk_blocks ? kvbm.disk_dir : "-", kvbm.disk_blocks ? sched_disk_path(s) : "-",
             kvbm.disk_blocks ? sched_disk_prealloc(s) : "-",
             kvbm.enabled && kvbm.metrics_enabled ? "on" : "off", so.max_num_seqs,
             so.max_num_tokens, c.speedup, c.host, http_port(h), http_metrics_port(h));
    if (c.ready_file && write_ready(c.ready_file, http_port(h), http_metrics_port(h)) < 0) {
        log_error("cannot write the ready file %s: %s", c.ready_file, strerror(errno));
        goto out;
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    if (h)
        http_quiesce(h);
    sched_stop(s);
    http_stop(h);
    sched_free(s);
    tokenizer_free(tok);
    if (c.ready_file && rc == 0)
        unlink(c.ready_file);
    free(m);
    free(pdir);
    return rc;
}
