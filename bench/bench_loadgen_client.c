/* SPDX-License-Identifier: Apache-2.0 */
/* The load generator against the project's own SSE responder (a child process on 127.0.0.1,
 * pinned to the last CPU and busy-polling; the client runs on CPU 0): the figures that say the
 * client is not what is measured.
 *  1. client-added TTFT with 1,000 concurrent streams (closed loop, slots ramped over one
 *     stream's life, 20 tokens at 20 tokens/s each = 20,000 SSE events/s): TTFT from the
 *     client's send stamp minus the responder's own share (request read -> first token about
 *     to be written, from its --stamp-file; both CLOCK_MONOTONIC) - target p99 <= 200 us.
 *     Run with the default loop and with busy_poll.
 *  2. open-loop schedule error (sent - intended), p99, at 2,000 requests/s - target <= 100 us.
 *  3. concurrent streams held: 10,000 streams open at once (1 token/s, 16 s), all complete.
 * Reference for 1 and 2, measured in the same run on the same CPUs: a minimal raw-socket
 * epoll client (no libcurl, no parsing beyond finding the first "data:" and the last chunk),
 * driven the same way - the floor this machine sets (VM exits, loopback, wake-ups). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

/* Pins the calling process (or a child before exec) to one CPU: the responder gets the last
 * CPU, the client the first, so neither's work delays the other's wake-ups. */
static void pin_cpu(int cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu < 0 ? (int)n - 1 : cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static int start_responder(struct responder *r, const char *interval_us, const char *stamp_file)
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
        pin_cpu(-1);
        char *argv[] = { path,
                         "--port",
                         "0",
                         "--ready-file",
                         ready,
                         "--interval-us",
                         (char *)interval_us,
                         "--busy-poll",
                         "--stamp-file",
                         (char *)stamp_file,
                         NULL };
        if (!stamp_file)
            argv[8] = NULL; /* no --stamp-file */
        execv(path, argv);
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

struct runopts {
    uint64_t requests, osl, conc, warm, ramp_ns;
    enum loadgen_arrival arr;
    double rate;
    bool busy;
    const char *out_dir;
};

static json_t *run(int port, const struct runopts *o, struct peak *pk)
{
    struct reqplan *plan = NULL;
    struct reqplan_synth_opts so = { .requests = o->requests, .isl = 32, .osl = o->osl, .seed = 1 };
    if (reqplan_synthetic(&so, &plan) < 0)
        return NULL;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    struct loadgen_config cfg;
    loadgen_config_init(&cfg);
    cfg.url = url;
    cfg.model = "bench";
    cfg.arrival = o->arr;
    cfg.rate_per_s = o->rate;
    cfg.concurrency = o->conc;
    cfg.warm_connections = o->warm;
    cfg.ramp_ns = o->ramp_ns;
    cfg.busy_poll = o->busy;
    cfg.recv_buffer_bytes = 4096;
    cfg.first_token_timeout_ns = 60 * CLK_NS_PER_S;
    cfg.out_dir = o->out_dir;
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

/* ---- the responder's stamps ---- */

/* Responder share (first token written - request read), ns, by X-Request-Id. */
static json_t *load_stamps(const char *path)
{
    json_t *by_id = json_object();
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        char id[64];
        unsigned long long tr, tf;
        if (sscanf(line, "%63s %llu %llu", id, &tr, &tf) == 3)
            json_object_set_new(by_id, id, json_real((double)(tf - tr)));
    }
    if (f)
        fclose(f);
    return by_id;
}

/* Client-added TTFT of kvtier's records, us: TTFT from send minus the responder's share. */
static size_t added_from_records(const char *records, json_t *stamps, double *v, size_t cap)
{
    size_t n = 0;
    FILE *f = fopen(records, "r");
    char *l = NULL;
    size_t lcap = 0;
    while (f && getline(&l, &lcap, f) > 0 && n < cap) {
        json_t *o = json_loads(l, 0, NULL);
        json_t *srv = json_object_get(stamps, jsonx_str(o, "id", ""));
        uint64_t ts = (uint64_t)jsonx_i64(o, "t_sent_ns", 0);
        uint64_t tf = (uint64_t)jsonx_i64(o, "t_first_token_ns", 0);
        if (srv && ts && tf)
            v[n++] = ((double)(tf - ts) - json_real_value(srv)) / 1e3;
        json_decref(o);
    }
    free(l);
    if (f)
        fclose(f);
    return n;
}

/* ---- the reference: a minimal raw-socket client ---- */

#define RAW_SLACK_NS (100 * CLK_NS_PER_US)

struct rawconn {
    int fd;
    bool busy, first;
    size_t req;
    char tail[8];
    size_t tail_len;
};

struct rawrun {
    int port, epfd;
    struct rawconn *c;
    size_t n_conn, requests, next_req, done;
    uint64_t *t_intended, *t_sent, *t_first;
};

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void raw_send(struct rawrun *w, struct rawconn *c, uint64_t intended)
{
    char body[160], req[512];
    int bn = snprintf(body, sizeof(body),
                      "{\"model\":\"m\",\"prompt\":\"the quick brown fox\",\"max_tokens\":%d,"
                      "\"stream\":true}",
                      20);
    size_t k = w->next_req++;
    int rn = snprintf(req, sizeof(req),
                      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nX-Request-Id: raw-%zu\r\nContent-Length: %d\r\n\r\n%s",
                      k, bn, body);
    c->busy = true;
    c->first = false;
    c->req = k;
    c->tail_len = 0;
    w->t_intended[k] = intended;
    w->t_sent[k] = clk_now_ns();
    if (write(c->fd, req, (size_t)rn) != rn)
        fprintf(stderr, "reference client: short write\n");
}

/* Reads what a connection has; true when its response ended. */
static bool raw_read(struct rawrun *w, struct rawconn *c)
{
    char buf[16384 + 8];
    bool ended = false;
    for (;;) {
        memcpy(buf, c->tail, c->tail_len);
        ssize_t n = read(c->fd, buf + c->tail_len, sizeof(buf) - 8);
        uint64_t now = clk_now_ns(); /* stamped before looking at the bytes */
        if (n <= 0)
            break;
        size_t len = c->tail_len + (size_t)n;
        if (!c->first && memmem(buf, len, "data: ", 6)) {
            c->first = true;
            w->t_first[c->req] = now;
        }
        if (memmem(buf, len, "\r\n0\r\n\r\n", 7))
            ended = true;
        c->tail_len = len < 7 ? len : 7;
        memmove(c->tail, buf + len - c->tail_len, c->tail_len);
    }
    return ended;
}

/* Closed loop (rate 0: each connection sends again when its response ends, connections start
 * ramp_ns / n apart) or open loop at `rate` (constant; the next free connection sends at each
 * intended time, spun to like kvtier does). Never sleeps. */
static int raw_run(struct rawrun *w, int port, size_t n_conn, size_t requests, double rate,
                   uint64_t ramp_ns)
{
    memset(w, 0, sizeof(*w));
    w->port = port;
    w->n_conn = n_conn;
    w->requests = requests;
    w->c = xcalloc(n_conn, sizeof(*w->c));
    w->t_intended = xcalloc(requests, sizeof(uint64_t));
    w->t_sent = xcalloc(requests, sizeof(uint64_t));
    w->t_first = xcalloc(requests, sizeof(uint64_t));
    w->epfd = epoll_create1(0);
    for (size_t i = 0; i < n_conn; i++) {
        w->c[i].fd = raw_connect(port);
        if (w->c[i].fd < 0)
            return -1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->c[i] };
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->c[i].fd, &ev);
    }
    uint64_t t0 = clk_now_ns() + 2 * CLK_NS_PER_MS;
    size_t opened = 0;
    struct epoll_event evs[64];
    while (w->done < requests) {
        uint64_t now = clk_now_ns();
        if (rate > 0) {
            while (w->next_req < requests) {
                uint64_t due = t0 + (uint64_t)((double)w->next_req * 1e9 / rate);
                if (due > now + RAW_SLACK_NS)
                    break;
                while ((now = clk_now_ns()) < due)
                    ;
                size_t i = 0;
                while (i < n_conn && w->c[i].busy)
                    i++;
                if (i == n_conn)
                    break; /* all busy: waits for a response */
                raw_send(w, &w->c[i], due);
            }
        } else {
            while (opened < n_conn && w->next_req < requests &&
                   now >= t0 + (uint64_t)((double)ramp_ns * (double)opened / (double)n_conn))
                raw_send(w, &w->c[opened++], now);
        }
        int n = epoll_wait(w->epfd, evs, 64, 0);
        for (int i = 0; i < n; i++) {
            struct rawconn *c = evs[i].data.ptr;
            if (!raw_read(w, c))
                continue;
            c->busy = false;
            w->done++;
            if (rate <= 0 && w->next_req < requests)
                raw_send(w, c, clk_now_ns());
        }
    }
    for (size_t i = 0; i < n_conn; i++)
        close(w->c[i].fd);
    close(w->epfd);
    free(w->c);
    return 0;
}

static void raw_free(struct rawrun *w)
{
    free(w->t_intended);
    free(w->t_sent);
    free(w->t_first);
}

/* Client-added TTFT of the reference client's requests, us. */
static size_t added_from_raw(const struct rawrun *w, json_t *stamps, double *v, size_t cap)
{
    size_t n = 0;
    for (size_t k = 0; k < w->requests && n < cap; k++) {
        char id[32];
        snprintf(id, sizeof(id), "raw-%zu", k);
        json_t *srv = json_object_get(stamps, id);
        if (srv && w->t_sent[k] && w->t_first[k])
            v[n++] = ((double)(w->t_first[k] - w->t_sent[k]) - json_real_value(srv)) / 1e3;
    }
    return n;
}

static void rm_tree(const char *dir)
{
    const char *names[] = { "stamps.tsv", "records.jsonl", "profile_export.jsonl", "summary.json" };
    char p[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

#define S1_REQUESTS 4000
#define S1_STREAMS  1000

/* Scenario 1 for one client (kind 0 = kvtier, 1 = kvtier busy_poll, 2 = reference). */
static int client_added(int kind, struct stats_summary *ret, uint64_t *ret_peak)
{
    char dir[] = "/tmp/kvtier-bench-lg-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char stamps[256], records[256];
    snprintf(stamps, sizeof(stamps), "%s/stamps.tsv", dir);
    snprintf(records, sizeof(records), "%s/records.jsonl", dir);
    struct responder r;
    if (start_responder(&r, "50000", stamps) < 0)
        return -1;
    static double v[S1_REQUESTS];
    size_t n = 0;
    struct rawrun w;
    json_t *s = NULL;
    struct peak pk = { 0 };
    if (kind < 2) {
        struct runopts o = { .requests = S1_REQUESTS,
                             .osl = 20,
                             .conc = S1_STREAMS,
                             .warm = S1_STREAMS,
                             .ramp_ns = CLK_NS_PER_S,
                             .arr = LOADGEN_ARRIVAL_CLOSED,
                             .busy = kind == 1,
                             .out_dir = dir };
        s = run(r.port, &o, &pk);
    } else if (raw_run(&w, r.port, S1_STREAMS, S1_REQUESTS, 0, CLK_NS_PER_S) < 0) {
        stop_responder(&r);
        return -1;
    }
    stop_responder(&r); /* writes the stamps */
    json_t *st = load_stamps(stamps);
    if (kind < 2) {
        n = added_from_records(records, st, v, S1_REQUESTS);
        if (get(s, "phases.all.errors") != 0)
            n = 0;
        *ret_peak = pk.inflight;
    } else {
        n = added_from_raw(&w, st, v, S1_REQUESTS);
        raw_free(&w);
        *ret_peak = S1_STREAMS;
    }
    json_decref(st);
    json_decref(s);
    rm_tree(dir);
    memset(ret, 0, sizeof(*ret));
    stats_summarize(v, n, ret);
    return n == S1_REQUESTS ? 0 : -1;
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
    pin_cpu(0);
    int rc = 0;
    struct responder r;
    struct peak pk = { 0 };
    json_t *s;

    if (only && only != 1)
        goto two;
    {
        struct stats_summary ref, k[2];
        uint64_t peak[3] = { 0 };
        int ok_ref = client_added(2, &ref, &peak[2]);
        int ok0 = client_added(0, &k[0], &peak[0]);
        int ok1 = client_added(1, &k[1], &peak[1]);
        printf("1. client-added TTFT, 1000 concurrent streams, 20,000 SSE events/s:\n");
        const char *names[2] = { "kvtier load           ", "kvtier load --busy-poll" };
        for (int i = 0; i < 2; i++)
            printf("   %s p50 %4.0f us, p99 %4.0f us (target <= 200 us): %s; peak in flight %llu, "
                   "p99 / reference %.2f\n",
                   names[i], k[i].p50, k[i].p99,
                   (i ? ok1 : ok0) == 0 && k[i].p99 <= 200 ? "PASS" : "FAIL",
                   (unsigned long long)peak[i], ref.p99 > 0 ? k[i].p99 / ref.p99 : NAN);
        printf("   reference raw client   p50 %4.0f us, p99 %4.0f us%s (same responder, CPUs and "
               "load: this machine's floor)\n",
               ref.p50, ref.p99, ok_ref == 0 ? "" : " (incomplete)");
    }

two:
    /* 2. open-loop schedule error at 2,000 requests/s (instant responder); 16 keep-alive
     *    connections: answers take ~100 us, so a handful are ever in flight, and each idle
     *    pooled connection costs libcurl a liveness poll once a second */
    if (only && only != 2)
        goto three;
    {
        if (start_responder(&r, "0", NULL) < 0)
            return 1;
        struct rawrun w;
        double lag[10000];
        size_t nl = 0;
        if (raw_run(&w, r.port, 16, 10000, 2000, 0) == 0) {
            for (size_t i = 0; i < w.requests; i++)
                if (w.t_sent[i])
                    lag[nl++] = (double)(w.t_sent[i] - w.t_intended[i]) / 1e3;
            raw_free(&w);
        }
        struct stats_summary ref = { 0 };
        stats_summarize(lag, nl, &ref);
        struct runopts o = {
            .requests = 10000, .osl = 4, .warm = 16, .arr = LOADGEN_ARRIVAL_CONSTANT, .rate = 2000
        };
        pk.inflight = 0;
        s = run(r.port, &o, &pk);
        stop_responder(&r);
        double lag99 = get(s, "phases.all.client_lag_ms.p99") * 1e3;
        double lag50 = get(s, "phases.all.client_lag_ms.p50") * 1e3;
        printf("2. schedule error (sent - intended) at 2000 req/s: p50 %.0f us, p99 %.0f us "
               "(target <= 100 us): %s; achieved %.1f req/s, errors %.0f\n",
               lag50, lag99, lag99 <= 100 && lag99 >= 0 ? "PASS" : "FAIL",
               get(s, "phases.all.throughput_rps"), get(s, "phases.all.errors"));
        printf(
            "   reference raw client (spins to each send the same way): p50 %.0f us, p99 %.0f us "
            "(p99 / reference %.2f)\n",
            ref.p50, ref.p99, ref.p99 > 0 ? lag99 / ref.p99 : NAN);
        json_decref(s);
    }

three:
    /* 3. 10,000 concurrent streams (one token per second, 16 tokens: long enough that every
     *    stream is open at once even when starting 10,000 takes a few seconds) */
    if (only && only != 3)
        goto out;
    if (start_responder(&r, "1000000", NULL) < 0)
        return 1;
    pk.inflight = 0;
    uint64_t t0 = clk_now_ns();
    struct runopts o3 = {
        .requests = 10000, .osl = 16, .conc = 10000, .warm = 10000, .arr = LOADGEN_ARRIVAL_CLOSED
    };
    s = run(r.port, &o3, &pk);
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
