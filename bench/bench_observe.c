/* SPDX-License-Identifier: Apache-2.0 */
/* Sampling overhead of the observe sampler thread on this machine: CPU time of the thread
 * (CLOCK_THREAD_CPUTIME_ID) over wall time, as a percentage of one core, at 1 s and 100 ms
 * intervals. The sampler runs as `kvtier observe` would beside a stack: real /proc and /sys, the
 * disk of the current directory, this process as the serving tree, a KV directory (fanotify
 * mark on its file system when permitted), and two local /metrics endpoints (a KVBM-like page
 * and a frontend-like page with histograms) served by an in-process HTTP thread. Budgets (issue
 * 5): <= 0.5% at 1 s, <= 2% at 100 ms. Usage: bench_observe [seconds-at-1s] [seconds-at-100ms];
 * BENCH_NO_FANOTIFY=1 measures without the fanotify mark. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/xalloc.h"
#include "observe/observe.h"

struct server {
    int fd;
    unsigned port;
    const char *kvbm, *frontend;
    volatile int stop;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!s->stop) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[2048];
        ssize_t n = read(c, req, sizeof(req) - 1);
        if (n > 0) {
            req[n] = 0;
            const char *body = strstr(req, "GET /frontend") ? s->frontend : s->kvbm;
            char hdr[256];
            int hl = snprintf(hdr, sizeof(hdr),
                              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                              strlen(body));
            if (write(c, hdr, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0)
                perror("write");
        }
        close(c);
    }
    return NULL;
}

static char *frontend_page(void)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "# TYPE dynamo_frontend_requests_total counter\n"
                       "dynamo_frontend_requests_total{model=\"m\",status=\"success\"} 1234\n");
    const char *h[] = { "time_to_first_token_seconds", "inter_token_latency_seconds",
                        "request_duration_seconds", "input_sequence_tokens" };
    for (int i = 0; i < 4; i++) {
        buf_printf(&b, "# TYPE dynamo_frontend_%s histogram\n", h[i]);
        for (int k = 0; k < 18; k++)
            buf_printf(&b, "dynamo_frontend_%s_bucket{model=\"m\",le=\"%g\"} %d\n", h[i],
                       0.001 * (1 << k), k * 10);
        buf_printf(&b, "dynamo_frontend_%s_bucket{model=\"m\",le=\"+Inf\"} 200\n", h[i]);
        buf_printf(&b, "dynamo_frontend_%s_sum{model=\"m\"} 12.5\n", h[i]);
        buf_printf(&b, "dynamo_frontend_%s_count{model=\"m\"} 200\n", h[i]);
    }
    return buf_take_str(&b);
}

static double run(unsigned interval_ms, unsigned seconds, const char *kvdir, unsigned port,
                  double *ret_per_sample_us, unsigned long long *ret_samples)
{
    char out[256], k[128], f[128];
    snprintf(out, sizeof(out), "%s/out-%u", kvdir, interval_ms);
    snprintf(k, sizeof(k), "http://127.0.0.1:%u/metrics", port);
    snprintf(f, sizeof(f), "http://127.0.0.1:%u/frontend", port);
    const char *urls[1] = { k };
    pid_t self = getpid();
    struct observe_config cfg = { .kv_dir = kvdir,
                                  .pids = &self,
                                  .n_pids = 1,
                                  .kvbm_urls = urls,
                                  .n_kvbm_urls = 1,
                                  .frontend_url = f,
                                  .interval_ns = (uint64_t)interval_ms * CLK_NS_PER_MS,
                                  .os_dir = out,
                                  .no_fanotify = getenv("BENCH_NO_FANOTIFY") != NULL };
    struct observe *o = NULL;
    if (observe_start(&cfg, &o) < 0) {
        fprintf(stderr, "bench_observe: cannot start the sampler\n");
        exit(1);
    }
    uint64_t t0 = clk_now_ns(), cpu0, s0;
    observe_cpu_stats(o, &cpu0, &s0);
    clk_sleep_ns((uint64_t)seconds * CLK_NS_PER_S);
    uint64_t cpu1, s1;
    observe_cpu_stats(o, &cpu1, &s1);
    uint64_t t1 = clk_now_ns();
    observe_stop(o, NULL);
    observe_free(o);
    double pct = (double)(cpu1 - cpu0) / (double)(t1 - t0) * 100.0;
    *ret_samples = s1 - s0;
    *ret_per_sample_us = s1 > s0 ? (double)(cpu1 - cpu0) / 1e3 / (double)(s1 - s0) : 0;
    return pct;
}

int main(int argc, char **argv)
{
    unsigned slow = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 30;
    unsigned fast = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 15;
    char tmpl[] = "./bench-observe-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    struct server s = { .kvbm =
                            "# TYPE kvbm_offload_blocks_h2d counter\nkvbm_offload_blocks_h2d 1\n"
                            "# TYPE kvbm_onboard_blocks_d2d counter\nkvbm_onboard_blocks_d2d 2\n"
                            "# TYPE kvbm_matched_tokens counter\nkvbm_matched_tokens 3\n"
                            "# TYPE kvbm_disk_cache_hit_rate gauge\nkvbm_disk_cache_hit_rate 0.5\n",
                        .frontend = frontend_page() };
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    if (bind(s.fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s.fd, 16) < 0 ||
        getsockname(s.fd, (struct sockaddr *)&a, &l) < 0) {
        perror("socket");
        return 1;
    }
    s.port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);
    double us1, us2;
    unsigned long long n1, n2;
    double p1 = run(1000, slow, dir, s.port, &us1, &n1);
    double p2 = run(100, fast, dir, s.port, &us2, &n2);
    printf("bench_observe: interval 1 s:   %.3f%% of one core (%llu samples, %.0f us CPU per "
           "sample) budget 0.5%% %s\n",
           p1, n1, us1, p1 <= 0.5 ? "ok" : "OVER");
    printf("bench_observe: interval 100 ms: %.3f%% of one core (%llu samples, %.0f us CPU per "
           "sample) budget 2%% %s\n",
           p2, n2, us2, p2 <= 2.0 ? "ok" : "OVER");
    printf("bench_observe: ratio 100 ms / 1 s per-sample cost: %.2f\n", us1 > 0 ? us2 / us1 : 0);
    s.stop = 1;
    shutdown(s.fd, SHUT_RDWR);
    close(s.fd);
    pthread_join(th, NULL);
    free((void *)s.frontend);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_observe: could not remove %s\n", dir);
    return 0;
}
