/* SPDX-License-Identifier: Apache-2.0 */
/* 1,000 concurrent streaming connections held against a real `kvtier serve` (tiny model on the
 * cpu_small profile, --max-num-seqs 1024): raw sockets and epoll, every connection sends a
 * streaming completion for 32 tokens and must receive HTTP 200, 32 token events and [DONE].
 * Prints the time to complete and the error count. Needs $KVTIER (set by `make bench`). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clk.h"
#include "common/xalloc.h"

#define NCONN 1000
#define NTOK  32

struct conn {
    int fd;
    size_t sent;
    char *resp;
    size_t len, cap;
    bool done;
};

static int read_port(const char *ready)
{
    char buf[256] = { 0 };
    FILE *f = fopen(ready, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    const char *p = strstr(buf, "\"http_port\": ");
    return n && p ? (int)strtol(p + 13, NULL, 10) : -1;
}

int main(void)
{
    const char *kv = getenv("KVTIER");
    const char *prof = getenv("KVTIER_PROFILES") ? getenv("KVTIER_PROFILES") : "profiles";
    if (!kv) {
        fprintf(stderr, "bench_engine_streams: set KVTIER to the kvtier binary\n");
        return 1;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    char ready[] = "/tmp/kvtier-bench-ready-XXXXXX";
    int rfd = mkstemp(ready);
    close(rfd);
    unlink(ready);
    pid_t pid = fork();
    if (pid == 0) {
        execl(kv, kv, "serve", "--profiles", prof, "--model", "tiny", "--hardware", "cpu_small",
              "--port", "0", "--metrics-port", "0", "--max-num-seqs", "1024", "--g1-blocks",
              "20000", "--max-num-tokens", "16384", "--ready-file", ready, (char *)NULL);
        _exit(127);
    }
    int port = -1;
    for (int i = 0; i < 200 && port < 0; i++) {
        clk_sleep_ns(50 * CLK_NS_PER_MS);
        port = read_port(ready);
    }
    if (port < 0) {
        fprintf(stderr, "bench_engine_streams: server not ready\n");
        kill(pid, SIGTERM);
        return 1;
    }
    char req[512];
    const char *body = "{\"model\":\"tiny\",\"prompt\":\"hold this stream open please\","
                       "\"max_tokens\":32,\"ignore_eos\":true,\"stream\":true}";
    int rl_ = snprintf(req, sizeof(req),
                       "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                       "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       strlen(body), body);
    int ep = epoll_create1(0);
    struct conn *c = xcalloc(NCONN, sizeof(*c));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    uint64_t t0 = clk_now_ns();
    unsigned errors = 0, open_ = 0;
    for (int i = 0; i < NCONN; i++) {
        c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(c[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
            errors++;
            c[i].done = true;
            continue;
        }
        struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
        open_++;
    }
    unsigned peak = 0, live = open_;
    struct epoll_event evs[256];
    while (live > 0 && clk_now_ns() - t0 < 120 * CLK_NS_PER_S) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            struct conn *x = &c[evs[k].data.u32];
            if (x->done)
                continue;
            if ((evs[k].events & EPOLLOUT) && x->sent < (size_t)rl_) {
                ssize_t w = write(x->fd, req + x->sent, (size_t)rl_ - x->sent);
                if (w > 0)
                    x->sent += (size_t)w;
                if (x->sent == (size_t)rl_) {
                    struct epoll_event ev = { .events = EPOLLIN, .data = evs[k].data };
                    epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                char buf[65536];
                ssize_t r = read(x->fd, buf, sizeof(buf));
                if (r > 0) {
                    xalloc_grow((void **)&x->resp, &x->cap, x->len + (size_t)r + 1, 1);
                    memcpy(x->resp + x->len, buf, (size_t)r);
                    x->len += (size_t)r;
                    x->resp[x->len] = 0;
                } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    x->done = true;
                    live--;
                    close(x->fd);
                    unsigned toks = 0;
                    for (char *p = x->resp; p && (p = strstr(p, "\"text\":\" ")); p++)
                        toks++;
                    if (!x->resp || strncmp(x->resp, "HTTP/1.1 200", 12) != 0 ||
                        !strstr(x->resp, "data: [DONE]") || toks != NTOK)
                        errors++;
                }
            }
        }
        unsigned inflight = 0;
        for (int i = 0; i < NCONN; i++)
            inflight += !c[i].done;
        if (inflight > peak)
            peak = inflight;
    }
    double secs = (double)(clk_now_ns() - t0) / 1e9;
    errors += live;
    printf("streams: %d concurrent streaming connections (%d tokens each), peak open %u, "
           "finished in %.2f s, errors %u\n",
           NCONN, NTOK, peak, secs, errors);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    for (int i = 0; i < NCONN; i++)
        free(c[i].resp);
    free(c);
    close(ep);
    return errors ? 1 : 0;
}
