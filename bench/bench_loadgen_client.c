/* SPDX-License-Identifier: Apache-2.0 */
/* The load generator against the project's own instant SSE responder (a child process on
 * 127.0.0.1): the figures that say the client is not what is measured.
 *  1. client-added TTFT: TTFT from actual send, p99, with 1,000 concurrent streams (closed
 *     loop; the responder answers the first token at once) - target <= 200 us. It includes
 *     the responder and loopback, so it is an upper bound of what the client adds.
 *  2. open-loop schedule error (sent - intended), p99, at 2,000 requests/s - target <= 100 us.
 *  3. concurrent streams held: 10,000 streams open at once (1 token/s, 16 s), all complete.
 * Reference: the loopback round trip of a plain blocking socket to the same responder. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clk.h"
#include "common/jsonx.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "loadgen/loadgen.h"
#include "loadgen/reqplan.h"

struct responder {
    pid_t pid;
    int port;
};

static int start_responder(struct responder *r, const char *interval_us)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    char path[PATH_MAX + 64], ready[64];
    snprintf(path, sizeof(path), "%s/../src/loadgen/kvtier-sse-responder", exe);
    snprintf(ready, sizeof(ready), "/tmp/kvtier-bench-ready.%d", (int)getpid());
    unlink(ready);
    r->pid = fork();
    if (r->pid == 0) {
        execl(path, path, "--port", "0", "--ready-file", ready, "--interval-us", interval_us,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        json_t *j = NULL;
        if (jsonx_load_file(ready, &j, NULL) == 0) {
            r->port = (int)jsonx_i64(j, "http_port", 0);
            json_decref(j);
            unlink(ready);
            return 0;
        }
        clk_sleep_ns(20 * CLK_NS_PER_MS);
    }
    fprintf(stderr, "responder %s did not start\n", path);
    return -1;
}

static void stop_responder(struct responder *r)
{
    kill(r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
}

struct peak {
    uint64_t inflight;
};

static void on_progress(void *ctx, const struct loadgen_progress *p)
{
    struct peak *k = ctx;
    if (p->inflight_count > k->inflight)
        k->inflight = p->inflight_count;
}

static json_t *run(int port, uint64_t requests, uint64_t osl, enum loadgen_arrival arr, double rate,
                   uint64_t conc, uint64_t warm, struct peak *pk)
{
    struct reqplan *plan = NULL;
    struct reqplan_synth_opts so = { .requests = requests, .isl = 32, .osl = osl, .seed = 1 };
    if (reqplan_synthetic(&so, &plan) < 0)
        return NULL;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    struct loadgen_config cfg;
    loadgen_config_init(&cfg);
    cfg.url = url;
    cfg.model = "bench";
    cfg.arrival = arr;
    cfg.rate_per_s = rate;
    cfg.concurrency = conc;
    cfg.warm_connections = warm;
    cfg.recv_buffer_bytes = 4096;
    cfg.first_token_timeout_ns = 60 * CLK_NS_PER_S;
    struct loadgen_hooks hooks = { .ctx = pk, .progress = on_progress };
    json_t *s = NULL;
    struct diag d = { 0 };
    if (loadgen_run(&cfg, plan, &hooks, &s, &d) < 0)
        fprintf(stderr, "run failed: %s\n", d.msg);
    reqplan_free(plan);
    return s;
}

static double get(json_t *s, const char *path)
{
    json_t *v = jsonx_path(s, path);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* Reference: blocking request/first-byte round trips over one keep-alive socket. */
static double ref_rtt_p99_us(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    const char *body = "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":1,\"stream\":true}";
    char req[512];
    int rn = snprintf(req, sizeof(req),
                      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    double v[2000];
    char buf[8192];
    for (int i = 0; i < 2000; i++) {
        uint64_t t0 = clk_now_ns();
        if (write(fd, req, (size_t)rn) != rn)
            break;
        ssize_t got = read(fd, buf, sizeof(buf));
        v[i] = (double)(clk_now_ns() - t0) / 1e3;
        /* drain the rest of the (short) response */
        while (got > 0 && !memmem(buf, (size_t)got, "0\r\n\r\n", 5))
            got = read(fd, buf, sizeof(buf));
    }
    close(fd);
    struct stats_summary s;
    stats_summarize(v, 2000, &s);
    return s.p99;
}

int main(int argc, char **argv)
{
    /* optional argument: run only scenario 1, 2 or 3 */
    int only = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int rc = 0;

    struct responder r;
    struct peak pk = { 0 };
    json_t *s;
    /* 1. client-added TTFT with 1,000 concurrent streams (20 tokens/s each, 20 tokens) */
    if (only && only != 1)
        goto two;
    if (start_responder(&r, "50000") < 0)
        return 1;
    double ref = ref_rtt_p99_us(r.port);
    s = run(r.port, 4000, 20, LOADGEN_ARRIVAL_CLOSED, 0, 1000, 1000, &pk);
    stop_responder(&r);
    double ttft_p99 = get(s, "phases.all.ttft_sent_ms.p99") * 1e3;
    double ttft_p50 = get(s, "phases.all.ttft_sent_ms.p50") * 1e3;
    printf("1. TTFT from send with 1000 concurrent streams: p50 %.0f us, p99 %.0f us (target <= "
           "200 us): %s; errors %.0f, peak in flight %llu\n",
           ttft_p50, ttft_p99, ttft_p99 <= 200 && ttft_p99 > 0 ? "PASS" : "FAIL",
           get(s, "phases.all.errors"), (unsigned long long)pk.inflight);
    printf("   reference: blocking socket round trip to the same responder p99 %.0f us "
           "(ratio %.2f)\n",
           ref, ttft_p99 / ref);
    json_decref(s);

two:
    /* 2. open-loop schedule error at 2,000 requests/s (instant responder) */
    if (only && only != 2)
        goto three;
    if (start_responder(&r, "0") < 0)
        return 1;
    pk.inflight = 0;
    s = run(r.port, 10000, 4, LOADGEN_ARRIVAL_CONSTANT, 2000, 0, 512, &pk);
    stop_responder(&r);
    double lag99 = get(s, "phases.all.client_lag_ms.p99") * 1e3;
    double lag50 = get(s, "phases.all.client_lag_ms.p50") * 1e3;
    printf("2. schedule error (sent - intended) at 2000 req/s: p50 %.0f us, p99 %.0f us (target "
           "<= 100 us): %s; achieved %.1f req/s, errors %.0f\n",
           lag50, lag99, lag99 <= 100 && lag99 >= 0 ? "PASS" : "FAIL",
           get(s, "phases.all.throughput_rps"), get(s, "phases.all.errors"));
    json_decref(s);

three:
    /* 3. 10,000 concurrent streams (one token per second, 16 tokens: long enough that every
     *    stream is open at once even when starting 10,000 takes a few seconds) */
    if (only && only != 3)
        goto out;
    if (start_responder(&r, "1000000") < 0)
        return 1;
    pk.inflight = 0;
    uint64_t t0 = clk_now_ns();
    s = run(r.port, 10000, 16, LOADGEN_ARRIVAL_CLOSED, 0, 10000, 10000, &pk);
    stop_responder(&r);
    printf("3. concurrent streams: peak in flight %llu of 10000 (target >= 10000): %s; "
           "%.0f completed, %.0f errors, warm connections %.0f, %.1f s (RLIMIT_NOFILE %llu)\n",
           (unsigned long long)pk.inflight, pk.inflight >= 10000 ? "PASS" : "FAIL",
           get(s, "phases.all.requests") - get(s, "phases.all.errors"), get(s, "phases.all.errors"),
           get(s, "connections.warmed"), (double)(clk_now_ns() - t0) / 1e9,
           (unsigned long long)rl.rlim_cur);
    json_decref(s);
out:
    curl_global_cleanup();
    return rc;
}
