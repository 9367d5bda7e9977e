/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier serve: the emulated Dynamo + TensorRT-LLM + KVBM engine (docs/serve.md). Loads the
 * model and hardware profiles, reads the KVBM environment variables, builds the scheduler with
 * its G1/G2/G3 tiers and the HTTP front end, logs the effective configuration, writes the ready
 * file once both ports accept connections, and runs until SIGTERM, SIGINT or SIGHUP, then shuts
 * down cleanly (the disk cache file was unlinked at start, the ready file is removed). */
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
#include "common/clk.h"
#include "common/fileio.h"
#include "common/profile.h"
#include "common/xalloc.h"
#include "engine/config.h"
#include "engine/http.h"
#include "engine/metrics.h"
#include "engine/sched.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

/* The options land straight in the engine's own configuration (sched_opts, http_opts), as
 * fio's option table points into its thread options; only what the command itself needs
 * (profiles, ports before their range check, the ready file) lives beside them. */
struct serve_cfg {
    struct sched_opts sched;
    struct http_opts http;
    uint64_t port, metrics_port; /* checked 0..65535, then http.port / http.metrics_port */
    const char *model, *hardware, *profiles, *served_model_name, *tokenizer, *ready_file;
    bool verbose;
    struct opt_marks set; /* which options were given */
};

#define O(f) offsetof(struct serve_cfg, f)
static const struct opt_def serve_opts[] = {
    { "host", 0, OPT_STR, O(http.host), "127.0.0.1", OPT_UNBOUNDED, NULL, "Network",
      "IPv4 address to listen on (both ports)" },
    { "port", 'p', OPT_U64, O(port), "8000", 0, 65535, NULL, "Network",
      "API port (Dynamo frontend); 0 = any free port" },
    { "metrics-port", 0, OPT_U64, O(metrics_port), "6880", 0, 65535, NULL, "Network",
      "KVBM metrics port; 0 = any free port; default DYN_KVBM_METRICS_PORT or 6880" },
    { "ready-file", 0, OPT_STR, O(ready_file), NULL, OPT_UNBOUNDED, NULL, "Network",
      "write {\"pid\",\"http_port\",\"metrics_port\"} here once both ports accept connections" },
    { "idle-timeout", 0, OPT_DURATION_NS, O(http.idle_timeout_ns), "120s", 0, 86400e9, NULL,
      "Network", "close a connection idle this long (whole seconds; 0 = never)" },
    { "upload-timeout", 0, OPT_DURATION_NS, O(http.upload_timeout_ns), "30s", 0, 86400e9, NULL,
      "Network", "drop a request whose body takes longer than this to arrive (0 = never)" },
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
    { "g1-blocks", 0, OPT_U64, O(sched.g1_blocks), "0", 0, 1073741824.0, NULL, "Engine",
      "device (G1) KV capacity in blocks; 0 = from the profiles" },
    { "max-num-seqs", 0, OPT_U64, O(sched.max_num_seqs), "0", 0, 65536, NULL, "Engine",
      "maximum sequences per iteration; 0 = the profile's max_batch_size" },
    { "max-num-tokens", 0, OPT_U64, O(sched.max_num_tokens), "0", 0, 1048576, NULL, "Engine",
      "token budget per iteration; 0 = the profile's max_num_tokens" },
    { "speedup", 0, OPT_DOUBLE, O(sched.speedup), "1", 0.001, 1e6, NULL, "Engine",
      "divide every modelled time by this factor (1 = real time)" },
    { "disk-queue-depth", 0, OPT_U64, O(sched.disk_queue_depth), "32", 1, 256, NULL, "Engine",
      "disk tier transfers in flight (io_uring entries)" },
    { "disk-no-uring", 0, OPT_BOOL, O(sched.disk_force_pread), NULL, OPT_UNBOUNDED, NULL, "Engine",
      "use pread/pwrite for the disk tier instead of io_uring" },
    { "verbose", 'v', OPT_BOOL, O(verbose), NULL, OPT_UNBOUNDED, NULL, "Engine",
      "log debug events (libmicrohttpd messages)" },
    { "inject-5xx-every", 0, OPT_U64, O(http.inject_5xx_every), "0", 0, 1e12, NULL,
      "Failure injection", "every Nth completion request fails with HTTP 500 (0 = never)" },
    { "inject-cut-stream-every", 0, OPT_U64, O(http.inject_cut_every), "0", 0, 1e12, NULL,
      "Failure injection",
      "every Nth streaming request is dropped mid-stream without [DONE] (0 = never)" },
    { "inject-first-token-delay", 0, OPT_DURATION_NS, O(sched.first_token_delay_ns), "0",
      OPT_UNBOUNDED, NULL, "Failure injection", "hold every first token this long (e.g. 2s)" },
    { "inject-ssd-miss", 0, OPT_BOOL, O(sched.inject_ssd_miss), NULL, OPT_UNBOUNDED, NULL,
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

/* "ram" for a disk tier on tmpfs/ramfs, "storage" for a real file system, "" without one. */
static const char *disk_medium(const struct config_kvbm *k, const struct sched *s)
{
    if (!k->disk_blocks)
        return "";
    return sched_disk_in_ram(s) ? "ram" : "storage";
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
    snprintf(labels, sizeof(labels),
             "model=\"%s\",hardware=\"%s\",served_model=\"%s\",mode=\"%s\",disk_dir=\"%s\","
             "disk_file=\"%s\",disk_medium=\"%s\",io_path=\"%s\",tokenizer=\"%s\"",
             model, hw, sm, config_mode_name(k), k->disk_blocks ? dir : "",
             k->disk_blocks ? path : "", disk_medium(k, s),
             k->disk_blocks ? (sched_disk_io_uring(s) ? "io_uring" : "pread") : "",
             tokenizer_kind(tok));
    metrics_set_info(m, labels);
}

/* What serve loads before the engine exists; owned by the command. */
struct serve_inputs {
    struct model_profile model;
    struct hw_profile hw;
    enum chat_template tpl;
    struct tokenizer *tok;
    struct config_kvbm kvbm;
    const char *served; /* the model name listed and accepted */
    char *pdir;
};

/* Profiles, chat template, tokenizer and the KVBM environment. Usage errors: logged, -EINVAL. */
static int load_inputs(struct serve_cfg *c, struct serve_inputs *in)
{
    struct diag d = { 0 };
    in->pdir = profile_dir(c->profiles);
    if (profile_load_model(in->pdir, c->model, &in->model, &d) < 0 ||
        profile_load_hw(in->pdir, c->hardware, &in->hw, &d) < 0) {
        log_diag(&d);
        return -EINVAL;
    }
    if (chat_template_from_name(in->model.chat_template, &in->tpl) < 0) {
        log_error("model profile %s: unknown chat_template '%s'", c->model,
                  in->model.chat_template);
        return -EINVAL;
    }
    if (c->tokenizer) {
        d = (struct diag){ 0 };
        int r = tokenizer_new_from_file(c->tokenizer, &in->tok, &d);
        if (r == -EOPNOTSUPP)
            log_error("--tokenizer %s: loading tokenizer.json is not supported by this build yet; "
                      "omit --tokenizer to use the approximate tokenizer",
                      c->tokenizer);
        else if (r < 0)
            log_diag(&d);
        if (r < 0)
            return -EINVAL;
    } else {
        in->tok = tokenizer_new_approx(in->model.vocab ? in->model.vocab : 32000);
    }
    if (config_kvbm_from_env(config_getenv_process, NULL, profile_bytes_per_block(&in->model),
                             &in->kvbm) < 0) {
        log_error("DYN_KVBM_DISK_CACHE_DIR is too long or the model has no KV bytes per block");
        return -EINVAL;
    }
    for (unsigned i = 0; i < in->kvbm.n_warnings; i++)
        log_warn("%s", in->kvbm.warnings[i]);
    in->served = c->served_model_name ? c->served_model_name : in->model.hf_id;
    if (!*in->served)
        in->served = in->model.name;
    return 0;
}

/* Fills the rest of the engine configuration (borrowed inputs, profile defaults for what the
 * options left at 0) and checks the capacities against this machine's memory. Usage errors:
 * logged, -EINVAL. */
static int configure(struct serve_cfg *c, struct serve_inputs *in, struct metrics *m)
{
    struct sched_opts *so = &c->sched;
    so->model = &in->model;
    so->hw = &in->hw;
    so->kvbm = &in->kvbm;
    so->tok = in->tok;
    so->metrics = m;
    so->log = (struct elog){ log_sink, NULL };
    so->served_model = in->served;
    if (!so->g1_blocks)
        so->g1_blocks = profile_g1_blocks(&in->hw, &in->model);
    if (!so->g1_blocks) {
        log_error("the %s weights do not fit the %s memory: no G1 KV capacity (use --g1-blocks)",
                  c->model, c->hardware);
        return -EINVAL;
    }
    if (!so->max_num_seqs)
        so->max_num_seqs = in->model.max_batch_size ? in->model.max_batch_size : 64;
    if (!so->max_num_tokens)
        so->max_num_tokens = in->model.max_num_tokens ? in->model.max_num_tokens : 8192;
    if (!opt_was_set(serve_opts, c, "metrics-port"))
        c->metrics_port = in->kvbm.metrics_port;
    struct http_opts *ho = &c->http;
    ho->port = (uint16_t)c->port;
    ho->metrics_port = (uint16_t)c->metrics_port;
    ho->metrics = m;
    ho->tok = in->tok;
    ho->tpl = in->tpl;
    ho->model = &in->model;
    ho->served_model = in->served;
    ho->model_alias = in->model.name;
    ho->kvbm_metrics = in->kvbm.enabled && in->kvbm.metrics_enabled;
    ho->log = (struct elog){ log_sink, NULL };
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    struct diag d = { 0 };
    if (sched_check_capacity(so, pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0, &d) <
        0) {
        log_diag(&d);
        return -EINVAL;
    }
    return 0;
}

/* The effective configuration as gauges and info labels, and warnings about the disk tier. */
static void publish(struct metrics *m, const struct serve_cfg *c, const struct serve_inputs *in,
                    const struct sched *s)
{
    const struct config_kvbm *k = &in->kvbm;
    const struct sched_opts *so = &c->sched;
    metrics_set(m, METRICS_CFG_KVBM_ENABLED, k->enabled);
    metrics_set(m, METRICS_CFG_KVBM_METRICS_ENABLED, k->enabled && k->metrics_enabled);
    metrics_set(m, METRICS_CFG_G1_CAPACITY, so->g1_blocks);
    metrics_set(m, METRICS_CFG_G2_CAPACITY, k->host_blocks);
    metrics_set(m, METRICS_CFG_G3_CAPACITY, k->disk_blocks);
    metrics_set(m, METRICS_CFG_BYTES_PER_BLOCK, profile_bytes_per_block(&in->model));
    metrics_set(m, METRICS_CFG_TOKENS_PER_BLOCK, in->model.tokens_per_block);
    metrics_set(m, METRICS_CFG_FILTER_ENABLED, k->filter_enabled);
    metrics_set(m, METRICS_CFG_BYPASS_CPU, k->enabled && k->bypass_cpu);
    metrics_set(m, METRICS_CFG_O_DIRECT_REQUESTED, k->o_direct);
    metrics_set(m, METRICS_CFG_O_DIRECT, sched_disk_o_direct(s));
    metrics_set(m, METRICS_CFG_IO_URING, sched_disk_io_uring(s));
    metrics_set(m, METRICS_CFG_MAX_NUM_SEQS, so->max_num_seqs);
    metrics_set(m, METRICS_CFG_MAX_NUM_TOKENS, so->max_num_tokens);
    m->model_total_kv_blocks = so->g1_blocks;
    m->model_max_num_seqs = so->max_num_seqs;
    m->model_max_num_batched_tokens = so->max_num_tokens;
    m->model_context_length = in->model.max_sequence_length;
    m->model_block_size = in->model.tokens_per_block;
    set_info(m, c, k, s, in->served, in->tok);
    if (k->disk_blocks && sched_disk_in_ram(s))
        log_warn("%s is on tmpfs/ramfs: the disk tier is memory, not an SSD, and O_DIRECT is not "
                 "in effect",
                 k->disk_dir);
    else if (k->disk_blocks && k->o_direct && !sched_disk_o_direct(s))
        log_warn("O_DIRECT refused on %s (%s): the disk tier falls back to buffered I/O",
                 k->disk_dir, strerror(-sched_disk_o_direct_error(s)));
}

/* The start-up line: everything mode-relevant, for the harness to check (docs/serve.md). */
static void log_ready(const struct serve_cfg *c, const struct serve_inputs *in,
                      const struct sched *s, const struct http *h)
{
    const struct config_kvbm *k = &in->kvbm;
    bool disk = k->disk_blocks > 0;
    log_info(
        "ready: mode=%s model=%s (%s) hardware=%s served_model=%s tokenizer=%s "
        "g1_blocks=%" PRIu64 " g2_blocks=%" PRIu64 " g3_blocks=%" PRIu64 " bytes_per_block=%" PRIu64
        " disk_only=%s filter=%s o_direct=%s (requested %s) "
        "disk_io=%s disk_medium=%s disk_dir=%s disk_file=%s (unlinked) prealloc=%s "
        "kvbm_metrics=%s max_num_seqs=%" PRIu64 " max_num_tokens=%" PRIu64
        " speedup=%g http=%s:%u metrics_port=%u",
        config_mode_name(k), c->model, in->model.display_name, c->hardware, in->served,
        tokenizer_kind(in->tok), c->sched.g1_blocks, k->host_blocks, k->disk_blocks,
        profile_bytes_per_block(&in->model), k->enabled && k->bypass_cpu ? "on" : "off",
        k->filter_enabled ? "on" : "off", sched_disk_o_direct(s) ? "on" : "off",
        k->o_direct ? "on" : "off", disk ? (sched_disk_io_uring(s) ? "io_uring" : "pread") : "none",
        disk ? disk_medium(k, s) : "-", disk ? k->disk_dir : "-", disk ? sched_disk_path(s) : "-",
        disk ? sched_disk_prealloc(s) : "-", k->enabled && k->metrics_enabled ? "on" : "off",
        c->sched.max_num_seqs, c->sched.max_num_tokens, c->sched.speedup, c->http.host,
        http_port(h), http_metrics_port(h));
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
    /* stop signals (SIGHUP too: a closed terminal) are taken by sigwait in this thread only;
     * blocked before the first thread starts, so none of them can take one */
    sigset_t sigs;
    clisig_block_stop(&sigs);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct serve_inputs in = { 0 };
    struct sched *s = NULL;
    struct http *h = NULL;
    struct metrics *m = NULL;
    rc = CLIOPT_EXIT_USAGE;
    if (load_inputs(&c, &in) < 0)
        goto out;
    m = xcalloc(1, sizeof(*m));
    metrics_init(m, in.served);
    if (configure(&c, &in, m) < 0)
        goto out;
    rc = CLIOPT_EXIT_FAIL;
    struct diag d = { 0 };
    if (sched_new(&c.sched, &s, &d) < 0) {
        log_diag(&d);
        goto out;
    }
    publish(m, &c, &in, s);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (sched_start(s) < 0) {
        log_error("cannot start the scheduler thread");
        goto out;
    }
    c.http.sched = s;
    if (http_start(&c.http, &h, &d) < 0) {
        log_diag(&d);
        goto out;
    }
    log_ready(&c, &in, s, h);
    if (c.ready_file && write_ready(c.ready_file, http_port(h), http_metrics_port(h)) < 0) {
        log_error("cannot write the ready file %s: %s", c.ready_file, strerror(errno));
        goto out;
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s: shutting down", sig == SIGINT   ? "SIGINT"
                                           : sig == SIGHUP ? "SIGHUP"
                                                           : "SIGTERM");
    rc = 0;
out:
    if (h)
        http_quiesce(h);
    sched_stop(s);
    http_stop(h);
    sched_free(s);
    tokenizer_free(in.tok);
    if (c.ready_file && rc == 0)
        unlink(c.ready_file);
    free(m);
    free(in.pdir);
    return rc;
}
