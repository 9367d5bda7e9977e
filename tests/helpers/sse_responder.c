/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal OpenAI-compatible streaming responder for kvtier load's tests and benchmarks: a
 * single-threaded epoll HTTP/1.1 keep-alive server on 127.0.0.1 (port 0 + a ready file) that
 * answers POST /v1/chat/completions and /v1/completions with an SSE stream at once (or every
 * --interval-us), and injects faults on demand: a whole-server stall once, a connection reset
 * mid-stream, 5xx, 429 with Retry-After, garbage SSE, an error event mid-stream, a stream that
 * never sends a first token, a server that dies (SIGKILL) on its Nth POST, an empty stream ([DONE]
 * only), a 401 that quotes the API key back. GET answers a small /v1/models document.
 *
 * Streams are paced on a timing wheel: each stream's tokens follow its own start by whole
 * intervals (to 1/64 of an interval, 1/1024 with --busy-poll), so 1,000 streams do not all write on
 * one tick as a real server's streams do not. --busy-poll never sleeps (for benchmarks: the
 * responder's wake-up latency then stays out of the client's figures), and --stamp-file writes, at
 * exit, one line per streamed request: X-Request-Id, CLOCK_MONOTONIC ns when its bytes were read,
 * and ns just before its first token was written - the responder's own share of a TTFT. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WHEEL_MAX_SLOTS       1024 /* --busy-poll: ticks of an interval / 1024 */
#define WHEEL_MAX_SLOTS_TIMER 64   /* timer-driven: fewer, coarser ticks */
#define WHEEL_MIN_TICK_NS     20000ull

#include <jansson.h>

#include "common/clk.h"
#include "common/xalloc.h"

#define IN_MAX (1u << 22)

enum mode {
    M_INSTANT,
    M_STALL_ONCE,
    M_RESET,
    M_5XX,
    M_429,
    M_GARBAGE,
    M_NEVER,
    M_ERROR_EVENT,
    M_EMPTY,    /* a 200 stream of "data: [DONE]" only */
    M_ECHO_KEY, /* 401 whose error message quotes the Authorization header back */
};
static const char *const mode_names[] = { "instant", "stall-once", "reset", "5xx",
                                          "429",     "garbage",    "never", "error-event",
                                          "empty",   "echo-key",   NULL };

struct conn {
    int fd;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_cap;
    /* streaming state */
    bool streaming, chat, faulted;
    uint64_t left, sent_tokens, total_tokens, prompt_tokens;
    bool reset_after_half, never;
    bool want_out;   /* EPOLLOUT registered */
    uint64_t t_read; /* ns of the last read that returned bytes */
    struct conn *next_stream, *prev_stream;
    size_t wslot; /* wheel slot while streaming */
    size_t slot;  /* index in g.all */
};

static struct {
    enum mode mode;
    uint64_t fault_every, stall_at, stall_ms, interval_us, default_tokens;
    uint64_t die_at, posts; /* die_at: SIGKILL itself when this POST arrives (0 = never) */
    bool strict, role_chunk, busy_poll;
    const char *expect_auth, *stamp_file;
    uint64_t requests;
    struct conn *wheel[WHEEL_MAX_SLOTS];
    size_t n_slots, cur_slot;
    uint64_t tick_ns, t0_ns, ticks_done;
    struct stamp {
        char id[64];
        uint64_t t_recv, t_first;
    } * stamps;
    size_t n_stamps, cap_stamps;
    int epfd;
    struct conn **all; /* every connection not yet freed */
    size_t n_all, cap_all;
} g = { .fault_every = 1, .stall_at = 1, .stall_ms = 1000, .default_tokens = 16 };

static void out_add(struct conn *c, const char *s, size_t n)
{
    xalloc_grow((void **)&c->out, &c->out_cap, c->out_len + n + 1, 1);
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}

static void chunk_add(struct conn *c, const char *s, size_t n)
{
    char h[32];
    int hn = snprintf(h, sizeof(h), "%zx\r\n", n);
    out_add(c, h, (size_t)hn);
    out_add(c, s, n);
    out_add(c, "\r\n", 2);
}

static void conn_close(struct conn *c);

static void flush_out(struct conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN)
                break;
            c->out_len = 0;
            return;
        }
        off += (size_t)w;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    if (c->want_out != (c->out_len > 0)) {
        c->want_out = c->out_len > 0;
        struct epoll_event ev = { .events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

/* Puts a stream into wheel slot `slot`: it is stepped each time the wheel passes that slot,
 * once per interval. */
static void stream_link(struct conn *c, size_t slot)
{
    c->wslot = slot;
    c->next_stream = g.wheel[slot];
    c->prev_stream = NULL;
    if (g.wheel[slot])
        g.wheel[slot]->prev_stream = c;
    g.wheel[slot] = c;
}

static void stream_unlink(struct conn *c)
{
    if (c->prev_stream)
        c->prev_stream->next_stream = c->next_stream;
    else if (g.wheel[c->wslot] == c)
        g.wheel[c->wslot] = c->next_stream;
    if (c->next_stream)
        c->next_stream->prev_stream = c->prev_stream;
    c->next_stream = c->prev_stream = NULL;
}

static void send_token(struct conn *c)
{
    char ev[256];
    int n;
    if (c->chat)
        n = snprintf(ev, sizeof(ev),
                     "data: {\"id\":\"r\",\"object\":\"chat.completion.chunk\",\"choices\":[{"
                     "\"index\":0,\"delta\":{\"content\":\" tok%" PRIu64 "\"},\"finish_reason\":"
                     "null}]}\n\n",
                     c->sent_tokens);
    else
        n = snprintf(ev, sizeof(ev),
                     "data: {\"id\":\"r\",\"object\":\"text_completion\",\"choices\":[{\"index\":"
                     "0,\"text\":\" tok%" PRIu64 "\",\"finish_reason\":null}]}\n\n",
                     c->sent_tokens);
    chunk_add(c, ev, (size_t)n);
    c->sent_tokens++;
    c->left--;
}

static void finish_stream(struct conn *c)
{
    char ev[512];
    int n = snprintf(ev, sizeof(ev),
                     "data: {\"id\":\"r\",\"choices\":[{\"index\":0,\"delta\":{},\"text\":\"\","
                     "\"finish_reason\":\"length\"}]}\n\n"
                     "data: {\"id\":\"r\",\"choices\":[],\"usage\":{\"prompt_tokens\":%" PRIu64
                     ",\"completion_tokens\":%" PRIu64 ",\"total_tokens\":%" PRIu64
                     ",\"prompt_tokens_details\":{\"cached_tokens\":0}}}"
                     "\n\ndata: [DONE]\n\n",
                     c->prompt_tokens, c->sent_tokens, c->prompt_tokens + c->sent_tokens);
    chunk_add(c, ev, (size_t)n);
    out_add(c, "0\r\n\r\n", 5);
    c->streaming = false;
}

static void reset_conn(struct conn *c)
{
    flush_out(c);
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    conn_close(c);
}

/* Advances a stream by one step; returns false when the connection was closed. */
static bool step_stream(struct conn *c, bool all)
{
    do {
        if (c->left == 0) {
            finish_stream(c);
            break;
        }
        if (c->reset_after_half && c->sent_tokens >= c->total_tokens / 2 && c->sent_tokens > 0) {
            stream_unlink(c);
            reset_conn(c);
            return false;
        }
        if (c->faulted && g.mode == M_ERROR_EVENT && c->sent_tokens >= 1) {
            const char *e = "data: {\"error\":{\"message\":\"injected failure\",\"code\":500}}\n\n";
            chunk_add(c, e, strlen(e));
            out_add(c, "0\r\n\r\n", 5);
            c->streaming = false;
            break;
        }
        send_token(c);
    } while (all);
    if (!c->streaming)
        stream_unlink(c);
    flush_out(c);
    return true;
}

static void respond_simple(struct conn *c, int status, const char *reason, const char *extra,
                           const char *body)
{
    char h[512];
    int n = snprintf(h, sizeof(h),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: "
                     "%zu\r\n\r\n",
                     status, reason, extra, strlen(body));
    out_add(c, h, (size_t)n);
    out_add(c, body, strlen(body));
}

static const char *header_value(const char *hdrs, size_t hlen, const char *name, size_t *ret_len)
{
    size_t nl = strlen(name);
    const char *p = hdrs, *end = hdrs + hlen;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            break;
        if ((size_t)(e - p) > nl + 1 && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *ve = e;
            if (ve > v && ve[-1] == '\r')
                ve--;
            *ret_len = (size_t)(ve - v);
            return v;
        }
        p = e + 1;
    }
    return NULL;
}

static const char *const allowed[] = { "model",      "messages",   "prompt",
                                       "max_tokens", "stream",     "stream_options",
                                       "min_tokens", "ignore_eos", NULL };

/* Answers a request chosen for a fault whose reply is not a normal stream (an error status, or
 * a stream that is garbage, empty or never starts) and returns true; otherwise writes the
 * headers of a normal stream and returns false. */
static bool respond_fault(struct conn *c, bool fault, const char *hdrs, size_t hlen)
{
    size_t vl = 0;
    if (fault && g.mode == M_5XX) {
        respond_simple(c, 503, "Service Unavailable", "",
                       "{\"error\":{\"message\":\"injected 503\"}}");
        return true;
    }
    if (fault && g.mode == M_ECHO_KEY) {
        const char *a = header_value(hdrs, hlen, "Authorization", &vl);
        char m[512];
        snprintf(m, sizeof(m), "{\"error\":{\"message\":\"Incorrect API key provided: %.*s\"}}",
                 a ? (int)(vl < 400 ? vl : 400) : 4, a ? a : "none");
        respond_simple(c, 401, "Unauthorized", "", m);
        return true;
    }
    if (fault && g.mode == M_429) {
        respond_simple(c, 429, "Too Many Requests", "Retry-After: 2\r\n",
                       "{\"error\":{\"message\":\"rate limited\"}}");
        return true;
    }
    const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
                    "no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    out_add(c, h, strlen(h));
    if (fault && g.mode == M_GARBAGE) {
        const char *e = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {not json "
                        "at all\n\n";
        chunk_add(c, e, strlen(e));
        flush_out(c);
        return true; /* the stream then hangs open; the client must give up on its own */
    }
    if (fault && g.mode == M_EMPTY) {
        chunk_add(c, "data: [DONE]\n\n", 14);
        out_add(c, "0\r\n\r\n", 5);
        flush_out(c);
        return true;
    }
    if (fault && g.mode == M_NEVER) {
        chunk_add(c, ": waiting\n\n", 11);
        flush_out(c);
        return true;
    }
    return false; /* a normal stream: the headers are out, the caller streams */
}

static void handle_request(struct conn *c, const char *hdrs, size_t hlen, const char *body,
                           size_t blen)
{
    g.requests++;
    if (!strncmp(hdrs, "GET ", 4)) {
        respond_simple(c, 200, "OK", "", "{\"object\":\"list\",\"data\":[{\"id\":\"mock\"}]}");
        return;
    }
    const char *eol = memchr(hdrs, '\n', hlen);
    const char *cp = memmem(hdrs, eol ? (size_t)(eol - hdrs) : hlen, "/chat/", 6);
    bool chat = cp != NULL;
    size_t vl = 0;
    if (g.expect_auth) {
        const char *a = header_value(hdrs, hlen, "Authorization", &vl);
        size_t el = strlen(g.expect_auth);
        if (!a || vl != el + 7 || strncmp(a, "Bearer ", 7) || strncmp(a + 7, g.expect_auth, el)) {
            respond_simple(c, 401, "Unauthorized", "", "{\"error\":{\"message\":\"bad key\"}}");
            return;
        }
    }
    if (g.die_at && ++g.posts == g.die_at)
        raise(SIGKILL); /* the server dies: streams in flight break, later connects fail */
    json_t *j = json_loadb(body, blen, 0, NULL);
    uint64_t max_tokens = g.default_tokens;
    json_t *mt = json_object_get(j, "max_tokens");
    if (json_is_integer(mt) && json_integer_value(mt) > 0)
        max_tokens = (uint64_t)json_integer_value(mt);
    if (g.strict) {
        const char *bad = NULL;
        const char *k;
        json_t *v;
        if (!header_value(hdrs, hlen, "X-Request-Id", &vl))
            bad = "missing X-Request-Id";
        json_object_foreach (j, k, v) {
            bool ok = false;
            for (int i = 0; allowed[i]; i++)
                ok |= !strcmp(allowed[i], k);
            if (!ok)
                bad = "non-standard field";
        }
        if (!j)
            bad = "body is not JSON";
        if (bad) {
            json_decref(j);
            char m[128];
            snprintf(m, sizeof(m), "{\"error\":{\"message\":\"%s\"}}", bad);
            respond_simple(c, 400, "Bad Request", "", m);
            return;
        }
    }
    json_decref(j);
    bool fault = g.mode != M_INSTANT && g.fault_every && g.requests % g.fault_every == 0;
    if (g.mode == M_STALL_ONCE) {
        fault = false;
        if (g.requests == g.stall_at) {
            /* the whole server stops, like a long GC pause or a stuck step */
            struct timespec ts = { .tv_sec = (time_t)(g.stall_ms / 1000),
                                   .tv_nsec = (long)(g.stall_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (respond_fault(c, fault, hdrs, hlen))
        return;
    c->chat = chat;
    c->streaming = true;
    c->faulted = fault;
    c->left = c->total_tokens = max_tokens;
    c->sent_tokens = 0;
    c->prompt_tokens = blen / 6 + 1;
    c->reset_after_half = fault && g.mode == M_RESET;
    if (g.role_chunk && chat) {
        const char *rc = "data: {\"id\":\"r\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                         "\"assistant\"},\"finish_reason\":null}]}\n\n";
        chunk_add(c, rc, strlen(rc));
    }
    if (g.stamp_file) {
        xalloc_grow((void **)&g.stamps, &g.cap_stamps, g.n_stamps + 1, sizeof(*g.stamps));
        struct stamp *st = &g.stamps[g.n_stamps++];
        const char *id = header_value(hdrs, hlen, "X-Request-Id", &vl);
        snprintf(st->id, sizeof(st->id), "%.*s", id ? (int)(vl < 63 ? vl : 63) : 1, id ? id : "-");
        st->t_recv = c->t_read;
        st->t_first = clk_now_ns();
    }
    if (g.interval_us == 0) {
        step_stream(c, true);
    } else {
        /* first token at once; the next one interval later, when the wheel next reaches the
         * slot after the current one */
        stream_link(c, (g.cur_slot + 1) % g.n_slots);
        step_stream(c, false);
    }
}

static void on_readable(struct conn *c)
{
    for (;;) {
        xalloc_grow((void **)&c->in, &c->in_cap, c->in_len + 65536, 1);
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            conn_close(c);
            return;
        }
        if (n < 0)
            break;
        c->t_read = clk_now_ns();
        c->in_len += (size_t)n;
        if (c->in_len > IN_MAX) {
            conn_close(c);
            return;
        }
    }
    for (;;) {
        if (c->streaming)
            return; /* one request at a time per connection */
        char *end = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return;
        size_t hlen = (size_t)(end - c->in) + 4;
        size_t cl = 0, vl = 0;
        const char *v = header_value(c->in, hlen, "Content-Length", &vl);
        if (v)
            cl = strtoull(v, NULL, 10);
        if (c->in_len < hlen + cl)
            return;
        handle_request(c, c->in, hlen, c->in + hlen, cl);
        if (c->fd < 0)
            return;
        memmove(c->in, c->in + hlen + cl, c->in_len - hlen - cl);
        c->in_len -= hlen + cl;
        flush_out(c);
    }
}

static void conn_close(struct conn *c)
{
    if (c->streaming)
        stream_unlink(c);
    c->streaming = false;
    if (c->fd >= 0) {
        epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
    /* freed lazily: the event loop may still hold a pointer in this batch */
}

/* Frees a closed connection and drops it from the registry. */
static void conn_free(struct conn *c)
{
    struct conn *last = g.all[--g.n_all];
    g.all[c->slot] = last;
    last->slot = c->slot;
    free(c);
}

/* Steps every stream in the wheel slots whose time has come (catching up on missed ticks). */
static void wheel_advance(uint64_t now)
{
    uint64_t due = (now - g.t0_ns) / g.tick_ns;
    while (g.ticks_done < due) {
        g.ticks_done++;
        size_t slot = (size_t)(g.ticks_done % g.n_slots);
        g.cur_slot = slot;
        struct conn *list = g.wheel[slot];
        g.wheel[slot] = NULL;
        /* re-link the survivors into the same slot as they are stepped: due again one
         * interval (n_slots ticks) from now */
        for (struct conn *s = list, *nx; s; s = nx) {
            nx = s->next_stream;
            s->next_stream = s->prev_stream = NULL;
            stream_link(s, slot);
            step_stream(s, false);
            if (s->fd >= 0 && !s->streaming && s->in_len)
                on_readable(s);
        }
    }
}

static void write_stamps(void)
{
    FILE *f = fopen(g.stamp_file, "w");
    if (!f) {
        perror("sse_responder: stamp file");
        return;
    }
    for (size_t i = 0; i < g.n_stamps; i++)
        fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\n", g.stamps[i].id, g.stamps[i].t_recv,
                g.stamps[i].t_first);
    fclose(f);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int parse_mode(const char *s)
{
    for (int i = 0; mode_names[i]; i++)
        if (!strcmp(s, mode_names[i]))
            return i;
    return -1;
}

/* Parses the command line into g, *ret_port and *ret_ready; returns -1 to go on, else the exit
 * status. */
static int parse_args(int argc, char **argv, int *ret_port, const char **ret_ready)
{
    static const struct option opts[] = {
        { "port", required_argument, 0, 'p' },
        { "ready-file", required_argument, 0, 'r' },
        { "mode", required_argument, 0, 'm' },
        { "fault-every", required_argument, 0, 'f' },
        { "stall-at", required_argument, 0, 'a' },
        { "stall-ms", required_argument, 0, 's' },
        { "interval-us", required_argument, 0, 'i' },
        { "tokens", required_argument, 0, 't' },
        { "strict", no_argument, 0, 'S' },
        { "role-chunk", no_argument, 0, 'R' },
        { "expect-auth", required_argument, 0, 'A' },
        { "busy-poll", no_argument, 0, 'B' },
        { "stamp-file", required_argument, 0, 'T' },
        { "die-at", required_argument, 0, 'D' },
        { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            *ret_port = (int)strtol(optarg, NULL, 10);
            break;
        case 'r':
            *ret_ready = optarg;
            break;
        case 'm':
            if (parse_mode(optarg) < 0) {
                fprintf(stderr, "sse_responder: unknown mode %s\n", optarg);
                return 2;
            }
            g.mode = (enum mode)parse_mode(optarg);
            break;
        case 'f':
            g.fault_every = strtoull(optarg, NULL, 10);
            break;
        case 'a':
            g.stall_at = strtoull(optarg, NULL, 10);
            break;
        case 's':
            g.stall_ms = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            g.interval_us = strtoull(optarg, NULL, 10);
            break;
        case 't':
            g.default_tokens = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            g.strict = true;
            break;
        case 'R':
            g.role_chunk = true;
            break;
        case 'A':
            g.expect_auth = optarg;
            break;
        case 'B':
            g.busy_poll = true;
            break;
        case 'T':
            g.stamp_file = optarg;
            break;
        case 'D':
            g.die_at = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: sse_responder [--port N] [--ready-file F] [--mode M] ...\n");
            return 2;
        }
    }
    return -1;
}

/* A non-blocking listening socket on 127.0.0.1:port (0 = any); *ret_addr gets the bound
 * address. Returns the socket or -1. */
static int listen_local(int port, struct sockaddr_in *ret_addr)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 65535) < 0)
        return -1;
    socklen_t al = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &al);
    *ret_addr = a;
    return ls;
}

int main(int argc, char **argv)
{
    const char *ready = NULL;
    int port = 0;
    int rc = parse_args(argc, argv, &port, &ready);
    if (rc >= 0)
        return rc;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    int one = 1;
    struct sockaddr_in a;
    int ls = listen_local(port, &a);
    if (ls < 0) {
        perror("sse_responder: bind/listen");
        return 1;
    }
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(g.epfd, EPOLL_CTL_ADD, ls, &ev);
    int tfd = -1;
    static struct conn tick_marker;
    g.t0_ns = clk_now_ns();
    if (g.interval_us) {
        uint64_t iv = g.interval_us * 1000ull;
        g.n_slots = (size_t)(iv / WHEEL_MIN_TICK_NS);
        size_t max = g.busy_poll ? WHEEL_MAX_SLOTS : WHEEL_MAX_SLOTS_TIMER;
        if (g.n_slots > max)
            g.n_slots = max;
        if (g.n_slots < 1)
            g.n_slots = 1;
        g.tick_ns = iv / g.n_slots;
    }
    if (g.interval_us && !g.busy_poll) {
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        struct itimerspec its = {
            .it_interval = { .tv_sec = (time_t)(g.tick_ns / 1000000000ull),
                             .tv_nsec = (long)(g.tick_ns % 1000000000ull) },
        };
        its.it_value = its.it_interval;
        timerfd_settime(tfd, 0, &its, NULL);
        struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &tick_marker };
        epoll_ctl(g.epfd, EPOLL_CTL_ADD, tfd, &tev);
    }
    if (ready) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            perror("sse_responder: ready file");
            return 1;
        }
        fprintf(f, "{\"pid\": %d, \"http_port\": %d}\n", (int)getpid(), ntohs(a.sin_port));
        fclose(f);
        rename(tmp, ready);
    }
    struct conn **dead = NULL;
    size_t n_dead = 0, cap_dead = 0;
    struct epoll_event evs[512];
    while (!stop) {
        int n = epoll_wait(g.epfd, evs, 512, g.busy_poll ? 0 : 200);
        if (g.busy_poll && g.interval_us)
            wheel_advance(clk_now_ns());
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct conn *nc = xcalloc(1, sizeof(*nc));
                    nc->fd = fd;
                    xalloc_grow((void **)&g.all, &g.cap_all, g.n_all + 1, sizeof(*g.all));
                    nc->slot = g.n_all;
                    g.all[g.n_all++] = nc;
                    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = nc };
                    epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (c == &tick_marker) {
                uint64_t v;
                if (read(tfd, &v, sizeof(v)) < 0)
                    continue;
                wheel_advance(clk_now_ns());
                continue;
            }
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT)
                flush_out(c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
            if (c->fd < 0) {
                xalloc_grow((void **)&dead, &cap_dead, n_dead + 1, sizeof(*dead));
                dead[n_dead++] = c;
            }
        }
        for (size_t i = 0; i < n_dead; i++)
            conn_free(dead[i]);
        n_dead = 0;
    }
    free(dead);
    if (g.stamp_file)
        write_stamps();
    free(g.stamps);
    while (g.n_all > 0) {
        struct conn *c = g.all[g.n_all - 1];
        conn_close(c);
        conn_free(c);
    }
    free(g.all);
    return 0;
}
