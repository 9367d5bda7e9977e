/* SPDX-License-Identifier: Apache-2.0 */
/* The load generator's event loop (see loadgen.h and docs/load.md).
 *
 * Design: one epoll loop on the caller's thread owns one libcurl multi handle (driven by
 * curl_multi_socket_action) and a timerfd for pacing (timer slack 1 ns for the run; libcurl's
 * own timeouts fold into the epoll timeout). Requests wait in a min-heap keyed by their
 * intended (ready) time: open-loop first turns from the pre-generated schedule, closed-loop
 * requests at phase start (or as ramp slots open), and each session's next turn when the
 * previous one ends (end + think time). A request is sent when its time has come and a
 * concurrency slot is free; its intended time never moves, so waiting for a slot, a late
 * wake-up or a slow client all show up as client lag and in TTFT from intended.
 *
 * Pacing: the timer is armed a margin ahead of the next send (the mean + 4 deviations of the
 * timer's observed lateness: tens of microseconds on a VM); from there the loop spins on the
 * clock, polling the sockets until the last LOADGEN_POLL_SLACK_NS, which it spins whole, and
 * LOADGEN_HANDOFF_NS before the deadline hands the request to libcurl, whose pre-request
 * callback waits for the deadline: libcurl's own work (picking a connection, building the
 * request) is done before the send is due, not after. Sends are handed over one at a time with
 * the sockets polled in between, so a burst of sends does not hold back the reads of responses
 * already here. The phase clock starts
 * LOADGEN_START_LEAD_NS after the setup work, and finished records are serialised when the
 * loop has slack (a bounded backlog, all written at phase end), so JSON work never sits
 * between a due send or a read and its stamp. busy_poll never sleeps in the kernel.
 *
 * Stamps: t_sent in libcurl's pre-request callback (connection ready, request about to be
 * written); every read in the write callback before SSE parsing. Keep-alive connections are
 * opened before the first phase so connect time stays out of TTFT
 * (it is recorded per request as connect_ns when a new connection was needed). */
#include "loadgen/loadgen.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clk.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/redact.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "loadgen/arrival.h"
#include "loadgen/loadrec.h"
#include "loadgen/loadstats.h"
#include "loadgen/oaichunk.h"
#include "loadgen/reqplan.h"
#include "loadgen/sse.h"

#define LOADGEN_TEXT_MAX_BYTES   (8u << 20) /* assistant text kept for carried history */
#define LOADGEN_ERRBODY_MAX      160
#define LOADGEN_GAPS_MAX         (1u << 20) /* chunk gaps kept per request */
#define LOADGEN_SWEEP_NS         (5 * CLK_NS_PER_MS)
#define LOADGEN_PROGRESS_NS      (500 * CLK_NS_PER_MS)
#define LOADGEN_TTFT_RING        1024
#define LOADGEN_WARM_TIMEOUT_NS  (10 * CLK_NS_PER_S)
#define LOADGEN_PREPARE_AHEAD_NS (300 * CLK_NS_PER_US)
#define LOADGEN_WARM_AUTO_MAX    1024
#define LOADGEN_START_LEAD_NS    (2 * CLK_NS_PER_MS)  /* phase clock starts this far ahead */
#define LOADGEN_PENDING_MAX      4096                 /* finished records awaiting serialisation */
#define LOADGEN_PENDING_BATCH    1                    /* records written per idle slice */
#define LOADGEN_RECORD_NS        (60 * CLK_NS_PER_US) /* time kept free to write one record */
#define LOADGEN_POLL_EVENTS      2
#define LOADGEN_POLL_SLACK_NS    (100 * CLK_NS_PER_US) /* pure spin for the last stretch */
#define LOADGEN_HANDOFF_NS       (40 * CLK_NS_PER_US)  /* hand a send to libcurl this early */
#define LOADGEN_MARGIN_INIT_NS   (100 * CLK_NS_PER_US) /* wake this early before a send... */
#define LOADGEN_MARGIN_MIN_NS    (20 * CLK_NS_PER_US)  /* ...tuned from the timer's lateness */
#define LOADGEN_MARGIN_MAX_NS    (1000 * CLK_NS_PER_US)

struct run;

struct xfer {
    struct run *run;
    CURL *easy;
    size_t req;                /* plan index; SIZE_MAX for a warm-up probe */
    struct curl_slist *hdrs;   /* owned; warm-up probes only */
    struct curl_slist id_node; /* X-Request-Id, chained to the run's static headers */
    char id_header[REQPLAN_ID_MAX + 16];
    struct buf body;
    struct sse_parser sse;
    struct buf text; /* assistant content, only when a later turn carries history */
    bool want_text;
    uint64_t t_intended, t_sent, t_first_byte, t_first_token, t_first_content, t_last_token;
    uint64_t t_release; /* handed to libcurl early: the pre-request callback waits for this */
    uint64_t t_slot;    /* open loop with a cap: when the slot it took freed, if the cap was
                           saturated since before its intended time; 0 = it never waited */
    int64_t prompt_tokens, completion_tokens, cached_tokens, last_usage_completion;
    uint64_t client_tokens;
    uint64_t *gaps;
    uint32_t *gap_tokens;
    size_t n_gaps, cap_gaps, cap_gap_tokens;
    long status;
    enum loadrec_error error;
    char detail[160];
    char errbuf[CURL_ERROR_SIZE];
    char errbody[LOADGEN_ERRBODY_MAX];
    size_t errbody_len;
    int64_t retry_after;
    bool done_seen, finish_seen, headers_started;
    size_t slot; /* index in run->active */
    struct xfer *next_free;
};

/* A finished request's record waiting to be written (its gap arrays are owned copies, so the
 * transfer itself is recycled at once). */
struct pend {
    struct loadrec rec;
    size_t req;
    uint64_t *gaps;
    uint32_t *gap_tokens;
    size_t cap_gaps, cap_gap_tokens;
    struct pend *next;
};

struct entry {
    uint64_t ready_ns;
    uint64_t seq; /* tie-break: plan order */
    size_t req;
};

struct run {
    const struct loadgen_config *cfg;
    const struct reqplan *plan;
    const struct loadgen_hooks *hooks;
    CURLM *multi;
    int epfd, sched_tfd;
    bool curl_timer_now;
    uint64_t curl_deadline_ns; /* libcurl's next timeout, 0 = none */
    uint64_t sched_armed_ns;
    /* how early the pacing timer is armed before a send: mean + 4 deviations of its observed
     * lateness, like TCP's retransmit timer (a VM can wake 60-100 us late) */
    uint64_t wake_margin_ns;
    double wake_mean_ns, wake_dev_ns;
    char *url;
    char *auth;
    char *url_redacted; /* owned; cfg->url without credentials, for the summary */
    char *api_key;      /* owned; redacted from every error detail a server sends back */
    struct curl_slist *static_hdrs; /* owned; headers every request carries */
    bool chat;
    struct reqplan_body_opts body_opts;
    FILE *rec_f, *prof_f;
    int io_err;
    struct loadstats *stats;
    struct entry *heap;
    size_t heap_n, heap_cap;
    uint64_t seq;
    struct xfer **active;
    size_t n_active, cap_active;
    struct xfer *free_list;
    /* finished transfers whose record lines are not written yet (oldest first): serialised
     * when the loop has slack, so JSON work never sits between a due send or a read and its
     * stamp */
    struct pend *pend_head, *pend_tail, *pend_free;
    size_t n_pend;
    json_t **history;   /* per request: carried history for that turn (owned) or NULL */
    struct buf *bodies; /* per request: prepared body (len 0 = not yet) */
    /* the running phase */
    const struct reqplan_phase *ph;
    const char *phase_name;
    int stats_idx;
    bool closed;
    uint64_t cap, phase_start, deadline_ns, max_requests, planned;
    uint64_t ramp_ns, ramp_opened; /* closed loop: slots open evenly over ramp_ns */
    uint64_t phase_dur_ns;
    uint64_t sent, done, errors, not_sent, slot_free_ns, last_dispatch_ns;
    uint64_t refused;          /* over the engine's context, never sent (whole run) */
    uint64_t cap_saturated_ns; /* since when every slot of the cap has been taken (a freed slot
                                  refilled at once keeps it); 0 = a slot is free */
    bool stopping, interrupted;
    uint64_t anchor_mono, anchor_unix;
    /* progress */
    double ttft_ring[LOADGEN_TTFT_RING];
    size_t ttft_n;
    uint64_t next_progress, prog_done_mark, prog_t_mark;
    double prog_rate;
    uint64_t next_sweep, next_stop_poll;
    /* connection accounting */
    uint64_t warmed, warm_failed, new_connections;
    double *warm_connect_ms;
    size_t n_warm_connect;
    json_t *phase_info; /* per phase schedule actually used */
};

/* ---- heap of ready requests ---- */

static bool entry_less(const struct entry *a, const struct entry *b)
{
    return a->ready_ns < b->ready_ns || (a->ready_ns == b->ready_ns && a->seq < b->seq);
}

static void heap_push(struct run *r, uint64_t ready_ns, size_t req)
{
    xalloc_grow((void **)&r->heap, &r->heap_cap, r->heap_n + 1, sizeof(*r->heap));
    size_t i = r->heap_n++;
    struct entry e = { .ready_ns = ready_ns, .seq = r->seq++, .req = req };
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!entry_less(&e, &r->heap[p]))
            break;
        r->heap[i] = r->heap[p];
        i = p;
    }
    r->heap[i] = e;
}

static struct entry heap_pop(struct run *r)
{
    assert(r->heap_n > 0);
    struct entry top = r->heap[0];
    struct entry last = r->heap[--r->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->heap_n)
            break;
        if (c + 1 < r->heap_n && entry_less(&r->heap[c + 1], &r->heap[c]))
            c++;
        if (!entry_less(&r->heap[c], &last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->heap_n > 0)
        r->heap[i] = last;
    return top;
}

/* ---- libcurl callbacks ---- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct run *r = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = { .events = 0, .data.fd = s };
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (!socketp) {
        if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
            epoll_ctl(r->epfd, EPOLL_CTL_MOD, s, &ev);
        curl_multi_assign(r->multi, s, r);
    } else if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
}

/* libcurl's own timeouts need no precision beyond a millisecond: kept in a variable and
 * folded into the epoll timeout, which saves a timerfd syscall per callback. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct run *r = userp;
    if (timeout_ms == 0) {
        r->curl_timer_now = true;
        r->curl_deadline_ns = 0;
    } else if (timeout_ms > 0) {
        r->curl_deadline_ns = clk_now_ns() + (uint64_t)timeout_ms * CLK_NS_PER_MS;
    } else {
        r->curl_deadline_ns = 0;
    }
    return 0;
}

static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    struct xfer *x = ud;
    if (!x->t_sent) {
        /* a request handed over ahead of its time leaves on it: libcurl's own work (picking
         * a connection, building the request) is then done before the deadline, not after */
        uint64_t now;
        while ((now = clk_now_ns()) < x->t_release)
            ;
        x->t_sent = now;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *buffer, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    if (!x->headers_started) {
        x->headers_started = true;
        x->t_first_byte = clk_now_ns();
    }
    if (n > 5 && !memcmp(buffer, "HTTP/", 5)) {
        const char *sp = memchr(buffer, ' ', n);
        if (sp && (size_t)(sp - buffer) + 4 <= n) {
            long st = 0;
            for (int i = 1; i <= 3; i++)
                st = st * 10 + (sp[i] >= '0' && sp[i] <= '9' ? sp[i] - '0' : 0);
            x->status = st;
        }
    } else if (n > 12 && !strncasecmp(buffer, "retry-after:", 12)) {
        int64_t v = 0;
        bool any = false;
        for (size_t i = 12; i < n && i < 40; i++) {
            if (buffer[i] >= '0' && buffer[i] <= '9') {
                v = v * 10 + (buffer[i] - '0');
                any = true;
            } else if (any || (buffer[i] != ' ' && buffer[i] != '\t')) {
                break;
            }
        }
        if (any)
            x->retry_after = v;
    }
    return n;
}

/* Sets the error class once (the first cause wins); detail = fmt with one %s, truncated. */
static void set_error(struct xfer *x, enum loadrec_error e, const char *fmt, const char *msg)
{
    if (x->error != LOADREC_OK)
        return;
    x->error = e;
    size_t o = 0, cap = sizeof(x->detail) - 1;
    for (const char *f = fmt; *f && o < cap; f++) {
        if (f[0] == '%' && f[1] == 's') {
            for (const char *m = msg; m && *m && o < cap; m++)
                x->detail[o++] = *m;
            f++;
        } else {
            x->detail[o++] = *f;
        }
    }
    x->detail[o] = '\0';
}

static int push_gap(struct xfer *x, uint64_t gap, uint32_t tokens)
{
    if (x->n_gaps >= LOADGEN_GAPS_MAX)
        return 0;
    xalloc_grow((void **)&x->gaps, &x->cap_gaps, x->n_gaps + 1, sizeof(uint64_t));
    xalloc_grow((void **)&x->gap_tokens, &x->cap_gap_tokens, x->n_gaps + 1, sizeof(uint32_t));
    x->gaps[x->n_gaps] = gap;
    x->gap_tokens[x->n_gaps] = tokens;
    x->n_gaps++;
    return 0;
}

static int on_event(void *ctx, const struct sse_event *ev)
{
    struct xfer *x = ctx;
    struct oaichunk c;
    int rc = oaichunk_parse(ev->type, ev->data, ev->data_len, &c, x->want_text ? &x->text : NULL);
    if (rc == -EMSGSIZE) {
        x->want_text = false; /* history too long to carry: keep measuring */
        rc = oaichunk_parse(ev->type, ev->data, ev->data_len, &c, NULL);
    }
    if (rc < 0) {
        set_error(x, LOADREC_STREAM_ERROR, "%s", c.msg);
        return -EPROTO;
    }
    if (c.done) {
        x->done_seen = true;
        return 0;
    }
    if (c.error) {
        set_error(x, LOADREC_STREAM_ERROR, "error event: %s", c.msg);
        return -EPROTO;
    }
    uint32_t k = 1;
    if (c.usage) {
        if (c.prompt_tokens >= 0)
            x->prompt_tokens = c.prompt_tokens;
        if (c.cached_tokens >= 0)
            x->cached_tokens = c.cached_tokens;
        if (c.completion_tokens >= 0) {
            if (x->last_usage_completion >= 0 && c.completion_tokens > x->last_usage_completion)
                k = (uint32_t)(c.completion_tokens - x->last_usage_completion);
            else if (x->last_usage_completion < 0 && c.completion_tokens > 0)
                k = (uint32_t)c.completion_tokens;
            x->completion_tokens = c.completion_tokens;
            x->last_usage_completion = c.completion_tokens;
        }
    }
    if (c.finish_reason[0])
        x->finish_seen = true;
    if (c.content || c.reasoning) {
        if (!x->t_first_token)
            x->t_first_token = ev->t_first_byte_ns;
        else
            push_gap(x, ev->t_first_byte_ns - x->t_last_token, k);
        x->t_last_token = ev->t_first_byte_ns;
        x->client_tokens += k;
        if (c.content && !x->t_first_content)
            x->t_first_content = ev->t_first_byte_ns;
    }
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    uint64_t now = clk_now_ns(); /* stamped before any parsing */
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (x->req == SIZE_MAX)
        return n; /* warm-up probe: body ignored */
    if (x->status < 200 || x->status >= 300) {
        size_t room = sizeof(x->errbody) - 1 - x->errbody_len;
        size_t take = n < room ? n : room;
        memcpy(x->errbody + x->errbody_len, ptr, take);
        x->errbody_len += take;
        x->errbody[x->errbody_len] = '\0';
        return n;
    }
    int rc = sse_parser_feed(&x->sse, ptr, n, now);
    if (rc < 0) {
        if (rc == -EMSGSIZE)
            set_error(x, LOADREC_STREAM_ERROR, "%s", "SSE event over the size limit");
        else
            set_error(x, LOADREC_STREAM_ERROR, "%s", "malformed stream");
        return 0; /* aborts the transfer */
    }
    return n;
}

/* ---- transfers ---- */

static struct xfer *xfer_get(struct run *r)
{
    struct xfer *x = r->free_list;
    if (x) {
        r->free_list = x->next_free;
    } else {
        x = xcalloc(1, sizeof(*x));
        x->run = r;
        x->easy = curl_easy_init();
        if (!x->easy) {
            free(x);
            return NULL;
        }
        buf_init(&x->body, 0);
        buf_init(&x->text, LOADGEN_TEXT_MAX_BYTES);
        sse_parser_init(&x->sse, 0, on_event, x);
        CURL *e = x->easy;
        curl_easy_setopt(e, CURLOPT_PRIVATE, x);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        const struct loadgen_config *c = r->cfg;
        uint64_t to = c->request_timeout_ns ? c->request_timeout_ns : 600 * CLK_NS_PER_S;
        uint64_t cto = c->connect_timeout_ns ? c->connect_timeout_ns : 10 * CLK_NS_PER_S;
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(to / CLK_NS_PER_MS));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(cto / CLK_NS_PER_MS));
        if (c->recv_buffer_bytes)
            curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)c->recv_buffer_bytes);
    }
    x->hdrs = NULL;
    buf_reset(&x->body);
    buf_reset(&x->text);
    sse_parser_reset(&x->sse);
    x->want_text = false;
    x->t_intended = x->t_sent = x->t_first_byte = x->t_first_token = x->t_release = 0;
    x->t_slot = 0;
    x->t_first_content = x->t_last_token = 0;
    x->prompt_tokens = x->completion_tokens = x->cached_tokens = -1;
    x->last_usage_completion = -1;
    x->client_tokens = 0;
    x->n_gaps = 0;
    x->status = 0;
    x->error = LOADREC_OK;
    x->detail[0] = x->errbuf[0] = x->errbody[0] = '\0';
    x->errbody_len = 0;
    x->retry_after = -1;
    x->done_seen = x->finish_seen = x->headers_started = false;
    return x;
}

static void xfer_put(struct run *r, struct xfer *x)
{
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    x->next_free = r->free_list;
    r->free_list = x;
}

static void xfer_destroy(struct xfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    buf_fini(&x->body);
    buf_fini(&x->text);
    sse_parser_fini(&x->sse);
    free(x->gaps);
    free(x->gap_tokens);
    free(x);
}

static void active_add(struct run *r, struct xfer *x)
{
    xalloc_grow((void **)&r->active, &r->cap_active, r->n_active + 1, sizeof(*r->active));
    x->slot = r->n_active;
    r->active[r->n_active++] = x;
    if (r->cap && r->n_active >= r->cap && !r->cap_saturated_ns)
        r->cap_saturated_ns = clk_now_ns();
}

static void active_remove(struct run *r, struct xfer *x)
{
    assert(r->n_active > 0 && x->slot < r->n_active && r->active[x->slot] == x);
    struct xfer *last = r->active[--r->n_active];
    r->active[x->slot] = last;
    last->slot = x->slot;
}

static void prepare_body(struct run *r, size_t req)
{
    struct buf *b = &r->bodies[req];
    if (b->len > 0)
        return;
    /* initialise once; a buffer swapped in from a finished transfer keeps its allocation */
    if (!b->data)
        buf_init(b, 0);
    reqplan_body(&r->plan->reqs[req], &r->body_opts, r->history[req], b);
}

static bool need_text(const struct run *r, size_t req)
{
    int64_t nx = r->plan->reqs[req].next_turn;
    return nx >= 0 && r->plan->reqs[nx].carry_history;
}

static void fail_start(struct run *r, size_t req, uint64_t intended, const char *why);

/* Hands request req to libcurl; one that cannot start is recorded as failed (fail_start). */
static void start_xfer(struct run *r, size_t req, uint64_t intended, uint64_t release)
{
    assert(req < r->plan->n_reqs);
    struct xfer *x = xfer_get(r);
    if (!x) {
        fail_start(r, req, intended, "no libcurl handle");
        return;
    }
    const struct reqplan_request *q = &r->plan->reqs[req];
    x->req = req;
    x->t_intended = intended;
    x->t_release = release;
    x->want_text = need_text(r, req);
    prepare_body(r, req);
    /* the body buffer moves into the transfer */
    struct buf tmp = x->body;
    x->body = r->bodies[req];
    r->bodies[req] = tmp;
    buf_reset(&r->bodies[req]);
    /* no allocation per request: the id header node chains onto the shared headers */
    snprintf(x->id_header, sizeof(x->id_header), "X-Request-Id: %s", q->id);
    x->id_node.data = x->id_header;
    x->id_node.next = r->static_hdrs;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &x->id_node);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)x->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
    CURLMcode mc = curl_multi_add_handle(r->multi, e);
    if (mc != CURLM_OK) {
        xfer_put(r, x);
        fail_start(r, req, intended, curl_multi_strerror(mc));
        return;
    }
    active_add(r, x);
    r->sent++;
    r->last_dispatch_ns = clk_now_ns();
}

static void write_line(struct run *r, FILE *f, json_t *o)
{
    char *s = jsonx_dump_line(o);
    json_decref(o);
    /* after a failed write, nothing more: the file is cut back to its last whole line when it
     * is closed (fileio_close_lines) */
    if (!f || !s || ferror(f)) {
        free(s);
        return;
    }
    errno = 0;
    if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
        r->io_err = errno ? -errno : -EIO;
    free(s);
}

/* Queues a finished request's record for writing (copying what the transfer still owns). */
static void pend_push(struct run *r, const struct loadrec *rec, size_t req)
{
    struct pend *p = r->pend_free;
    if (p)
        r->pend_free = p->next;
    else
        p = xcalloc(1, sizeof(*p));
    p->rec = *rec;
    p->req = req;
    if (rec->n_gaps) {
        xalloc_grow((void **)&p->gaps, &p->cap_gaps, rec->n_gaps, sizeof(*p->gaps));
        xalloc_grow((void **)&p->gap_tokens, &p->cap_gap_tokens, rec->n_gaps,
                    sizeof(*p->gap_tokens));
        memcpy(p->gaps, rec->gaps_ns, rec->n_gaps * sizeof(*p->gaps));
        memcpy(p->gap_tokens, rec->gap_tokens, rec->n_gaps * sizeof(*p->gap_tokens));
    }
    p->rec.gaps_ns = p->gaps;
    p->rec.gap_tokens = p->gap_tokens;
    p->next = NULL;
    if (r->pend_tail)
        r->pend_tail->next = p;
    else
        r->pend_head = p;
    r->pend_tail = p;
    r->n_pend++;
}

/* Writes up to max pending records (oldest first), stopping once the clock passes until_ns
 * (0 = no time limit). */
static void flush_pending(struct run *r, size_t max, uint64_t until_ns)
{
    while (max-- > 0 && r->pend_head) {
        if (until_ns && clk_now_ns() >= until_ns)
            break;
        struct pend *p = r->pend_head;
        r->pend_head = p->next;
        if (!r->pend_head)
            r->pend_tail = NULL;
        r->n_pend--;
        if (r->rec_f)
            write_line(r, r->rec_f, loadrec_json(&p->rec));
        if (r->prof_f)
            write_line(r, r->prof_f, loadrec_profile_json(&p->rec, p->req));
        p->next = r->pend_free;
        r->pend_free = p;
    }
}

static void pend_free_all(struct run *r)
{
    flush_pending(r, SIZE_MAX, 0);
    while (r->pend_free) {
        struct pend *p = r->pend_free;
        r->pend_free = p->next;
        free(p->gaps);
        free(p->gap_tokens);
        free(p);
    }
}

static void ttft_note(struct run *r, double ms)
{
    if (isnan(ms))
        return;
    r->ttft_ring[r->ttft_n % LOADGEN_TTFT_RING] = ms;
    r->ttft_n++;
}

/* Carries history to the next turn of a session; text (borrowed) is what the assistant said,
 * NULL when the request never started. */
static void carry(struct run *r, size_t req, const struct buf *text)
{
    const struct reqplan_request *q = &r->plan->reqs[req];
    int64_t nx = q->next_turn;
    if (nx < 0 || !r->plan->reqs[nx].carry_history)
        return;
    const char *said = text ? buf_str(text) : "";
    size_t said_len = text ? text->len : 0;
    json_t *prev = r->history[req];
    json_t *h;
    if (r->chat) {
        h = json_is_array(prev) ? json_deep_copy(prev) : json_array();
        json_t *mine = reqplan_prompt_json(q, true, false);
        json_array_extend(h, mine);
        json_decref(mine);
        json_array_append_new(
            h, json_pack("{s:s, s:s%}", "role", "assistant", "content", said, said_len));
    } else {
        const char *pt = json_string_value(json_object_get(prev, "prompt"));
        json_t *mine = reqplan_prompt_json(q, false, false);
        const char *ms = json_string_value(mine);
        char *s = xalloc_printf("%s%s%s", pt ? pt : "", ms ? ms : "", said);
        h = json_pack("{s:s}", "prompt", s);
        free(s);
        json_decref(mine);
    }
    json_decref(r->history[nx]);
    r->history[nx] = h;
}

/* A stream that ended cleanly but carried no token although an exact output length was asked
 * (a server that answers "data: [DONE]" only) is an error, not a success with no tokens. */
static bool empty_stream(const struct run *r, const struct xfer *x)
{
    const struct reqplan_request *q = &r->plan->reqs[x->req];
    return r->cfg->exact_output && q->output_tokens > 0 && !x->t_first_token &&
           x->completion_tokens <= 0;
}

/* A warm-up probe ended: counts the connection it opened (or failed to). */
static void finish_probe(struct run *r, struct xfer *x, CURLcode res)
{
    curl_off_t ct = 0;
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &ct);
    if (res == CURLE_OK) {
        r->warmed++;
        r->warm_connect_ms = xrealloc(r->warm_connect_ms, (r->n_warm_connect + 1) * sizeof(double));
        r->warm_connect_ms[r->n_warm_connect++] = (double)ct / 1e3;
    } else {
        r->warm_failed++;
    }
    curl_multi_remove_handle(r->multi, x->easy);
    active_remove(r, x);
    xfer_put(r, x);
}

/* Sets the error class of a finished transfer from libcurl's result and the HTTP status,
 * unless an earlier cause (a stream error, a timeout, a cancel) already set it. */
static void classify(const struct run *r, struct xfer *x, CURLcode res)
{
    if (x->error != LOADREC_OK)
        return;
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);
    if (res == CURLE_OK) {
        if (x->status >= 500)
            x->error = LOADREC_HTTP_5XX;
        else if (x->status >= 400)
            x->error = LOADREC_HTTP_4XX;
        else if (x->status < 200 || x->status >= 300)
            set_error(x, LOADREC_STREAM_ERROR, "%s", "unexpected HTTP status");
        else if (sse_parser_pending(&x->sse) || (!x->done_seen && !x->finish_seen))
            set_error(x, LOADREC_STREAM_ERROR, "%s", "stream ended without [DONE]");
        else if (empty_stream(r, x))
            set_error(x, LOADREC_STREAM_ERROR, "%s",
                      "stream carried no tokens where an exact output length was asked");
        if ((x->error == LOADREC_HTTP_4XX || x->error == LOADREC_HTTP_5XX) && x->errbody_len)
            snprintf(x->detail, sizeof(x->detail), "%s", x->errbody);
    } else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
               res == CURLE_COULDNT_RESOLVE_PROXY) {
        set_error(x, LOADREC_CONNECT, "%s", why);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        set_error(x, x->t_sent ? LOADREC_TIMEOUT : LOADREC_CONNECT, "%s", why);
    } else if (x->status >= 500) {
        x->error = LOADREC_HTTP_5XX;
    } else if (x->status >= 400) {
        x->error = LOADREC_HTTP_4XX;
    } else {
        set_error(x, LOADREC_STREAM_ERROR, "%s", why);
    }
}

/* The record of request req as far as the plan knows it (the caller adds what happened). */
static struct loadrec plan_record(const struct run *r, size_t req)
{
    const struct reqplan_request *q = &r->plan->reqs[req];
    return (struct loadrec){
        .id = q->id,
        .phase = r->phase_name,
        .session_id = q->session_id,
        .turn = q->turn,
        .prompt_tokens = -1,
        .completion_tokens = -1,
        .cached_tokens = -1,
        .plan_input_tokens = q->input_tokens ? (int64_t)q->input_tokens : -1,
        .plan_output_tokens = q->output_tokens ? (int64_t)q->output_tokens : -1,
        .retry_after_s = -1,
        .anchor_mono_ns = r->anchor_mono,
        .anchor_unix_ns = r->anchor_unix,
    };
}

/* Accounts a finished request (with or without a response): statistics, the record queued for
 * writing, and its session's next turn, which is due think time after now unless the run is
 * stopping or this one was cancelled. text (borrowed, may be NULL) is the assistant's text. */
static void record_done(struct run *r, size_t req, struct loadrec *rec, const struct buf *text,
                        uint64_t now)
{
    assert(req < r->plan->n_reqs);
    redact_secret(rec->error_detail, r->api_key);
    loadstats_add(r->stats, r->stats_idx, rec);
    if (rec->error == LOADREC_OK)
        ttft_note(r, loadrec_ttft_ms(rec));
    /* the record lines are written later, when the loop has slack (bounded backlog) */
    if (r->rec_f || r->prof_f) {
        pend_push(r, rec, req);
        if (r->n_pend > LOADGEN_PENDING_MAX)
            flush_pending(r, 1, 0);
    }
    r->done++;
    if (rec->error != LOADREC_OK)
        r->errors++;
    r->slot_free_ns = now;
    if (!r->stopping && rec->error != LOADREC_CANCELLED) {
        carry(r, req, text);
        int64_t nx = r->plan->reqs[req].next_turn;
        if (nx >= 0)
            heap_push(r, now + r->plan->reqs[nx].think_time_ns, (size_t)nx);
    }
    json_decref(r->history[req]);
    r->history[req] = NULL;
}

/* A request that could not be handed to libcurl (no handle, libcurl refused it): counted as
 * sent, recorded as a connect failure with the reason, and its session goes on as after any
 * failed turn (docs/load.md). */
static void fail_start(struct run *r, size_t req, uint64_t intended, const char *why)
{
    uint64_t now = clk_now_ns();
    struct loadrec rec = plan_record(r, req);
    rec.t_intended_ns = intended;
    rec.t_end_ns = now;
    rec.error = LOADREC_CONNECT;
    snprintf(rec.error_detail, sizeof(rec.error_detail), "could not start the request: %s", why);
    r->sent++;
    r->last_dispatch_ns = now;
    record_done(r, req, &rec, NULL, now);
}

/* Whether request req is longer than the engine accepts; if so it is recorded as refused
 * (never sent, the reason in error_detail) and its session goes on as after a failed turn. */
static bool refuse_long(struct run *r, size_t req, uint64_t intended)
{
    const struct reqplan_request *q = &r->plan->reqs[req];
    uint64_t need = q->input_tokens + q->output_tokens, max = r->cfg->max_context_tokens;
    if (!max || !q->input_tokens || need <= max)
        return false;
    uint64_t now = clk_now_ns();
    struct loadrec rec = plan_record(r, req);
    rec.t_intended_ns = intended;
    rec.t_end_ns = now;
    rec.error = LOADREC_REFUSED;
    snprintf(rec.error_detail, sizeof(rec.error_detail),
             "not sent: %" PRIu64 " prompt + %" PRIu64 " output tokens exceed the engine's "
             "context of %" PRIu64 " (%.60s)",
             q->input_tokens, q->output_tokens, max,
             r->cfg->max_context_source ? r->cfg->max_context_source : "configured");
    r->sent++;
    r->refused++;
    r->last_dispatch_ns = now;
    record_done(r, req, &rec, NULL, now);
    return true;
}

static void finish_xfer(struct run *r, struct xfer *x, CURLcode res)
{
    uint64_t now = clk_now_ns();
    if (x->req == SIZE_MAX) {
        finish_probe(r, x, res);
        return;
    }
    classify(r, x, res);
    curl_off_t ct = 0;
    long nconn = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
    if (nconn > 0) {
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &ct);
        r->new_connections += (uint64_t)nconn;
    }
    curl_multi_remove_handle(r->multi, x->easy);
    active_remove(r, x);
    struct loadrec rec = plan_record(r, x->req);
    rec.t_intended_ns = x->t_intended;
    rec.t_sent_ns = x->t_sent;
    rec.t_slot_ns = x->t_slot;
    rec.t_first_byte_ns = x->t_first_byte;
    rec.t_first_token_ns = x->t_first_token;
    rec.t_first_content_ns = x->t_first_content;
    rec.t_last_token_ns = x->t_last_token;
    rec.t_end_ns = now;
    rec.prompt_tokens = x->prompt_tokens;
    rec.completion_tokens = x->completion_tokens;
    rec.cached_tokens = x->cached_tokens;
    rec.client_tokens = x->client_tokens;
    rec.http_status = x->status;
    rec.error = x->error;
    rec.connect_ns = nconn > 0 ? (uint64_t)ct * 1000u : 0;
    rec.retry_after_s = x->retry_after;
    rec.gaps_ns = x->gaps;
    rec.gap_tokens = x->gap_tokens;
    rec.n_gaps = x->n_gaps;
    memcpy(rec.error_detail, x->detail, sizeof(rec.error_detail));
    record_done(r, x->req, &rec, &x->text, now);
    xfer_put(r, x);
}

static void drain_msgs(struct run *r)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode res = m->data.result;
        if (x)
            finish_xfer(r, x, res);
    }
}

static void kick(struct run *r)
{
    int running;
    r->curl_timer_now = false;
    curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_msgs(r);
}

/* Ends a transfer now with the given class (timeout, cancelled). */
static void abort_xfer(struct run *r, struct xfer *x, enum loadrec_error e, const char *why)
{
    set_error(x, e, "%s", why);
    finish_xfer(r, x, CURLE_ABORTED_BY_CALLBACK);
}

static void cancel_all(struct run *r, const char *why)
{
    while (r->n_active > 0)
        abort_xfer(r, r->active[r->n_active - 1], LOADREC_CANCELLED, why);
}

static void sweep(struct run *r, uint64_t now)
{
    uint64_t ft = r->cfg->first_token_timeout_ns;
    if (!ft)
        return;
    for (size_t i = r->n_active; i-- > 0;) {
        if (i >= r->n_active)
            continue;
        struct xfer *x = r->active[i];
        if (x->req != SIZE_MAX && !x->t_first_token && now > x->t_intended + ft)
            abort_xfer(r, x, LOADREC_TIMEOUT, "no first token before the first-token timeout");
    }
}

static void poll_now(struct run *r);

/* When closed-loop slot k (0-based) opens: slots open evenly over the ramp. */
static uint64_t ramp_open_ns(const struct run *r, uint64_t k)
{
    if (!r->ramp_ns || !r->cap)
        return r->phase_start;
    return r->phase_start + (uint64_t)((double)r->ramp_ns * (double)k / (double)r->cap);
}

/* When the next request may be sent: its intended time, later if it waits for a ramp slot to
 * open; UINT64_MAX when nothing can be sent until a transfer ends. */
static uint64_t next_send_ns(const struct run *r)
{
    if (r->stopping || r->heap_n == 0 || (r->cap && r->n_active >= r->cap))
        return UINT64_MAX;
    uint64_t t = r->heap[0].ready_ns;
    if (r->closed && r->n_active >= r->ramp_opened) {
        uint64_t o = ramp_open_ns(r, r->ramp_opened);
        if (o > t)
            t = o;
    }
    return t;
}

/* Sends every request whose time comes before `horizon` while a concurrency slot is free. Each
 * is handed to libcurl on its own (so it leaves on its own time, not after a batch); one whose
 * time is still ahead leaves when the pre-request callback has waited for it. The sockets are
 * polled between sends so that responses already here are stamped before the next send's work
 * delays them. */
static void dispatch_due(struct run *r, uint64_t now, uint64_t horizon)
{
    while (next_send_ns(r) <= horizon) {
        struct entry e = heap_pop(r);
        if (e.ready_ns > r->deadline_ns || (r->max_requests && r->sent >= r->max_requests)) {
            r->not_sent++;
            continue;
        }
        uint64_t intended = e.ready_ns;
        /* open loop: a request due while every slot was taken waited for the cap (the
         * workload's, inside TTFT from intended); what remains of its lag is the client's */
        uint64_t slot_wait = !r->closed && r->cap_saturated_ns && r->cap_saturated_ns <= intended &&
                                     r->slot_free_ns > intended
                                 ? r->slot_free_ns
                                 : 0;
        if (r->closed) {
            /* a closed-loop request is intended when its slot frees, or opens in a ramp */
            uint64_t slot = r->slot_free_ns;
            if (r->n_active >= r->ramp_opened)
                slot = ramp_open_ns(r, r->ramp_opened++);
            if (slot > intended)
                intended = slot;
        }
        if (refuse_long(r, e.req, intended))
            continue;
        start_xfer(r, e.req, intended, intended > now ? intended : 0);
        if (r->n_active && r->active[r->n_active - 1]->req == e.req)
            r->active[r->n_active - 1]->t_slot = slot_wait;
        kick(r);
        now = clk_now_ns();
        if (next_send_ns(r) <= now)
            poll_now(r);
    }
    /* the cap stops binding once a slot is free with no request overdue for it */
    if (!r->cap || (r->n_active < r->cap && (r->heap_n == 0 || r->heap[0].ready_ns > now)))
        r->cap_saturated_ns = 0;
}

/* A pacing wake-up armed for `armed` came at `now`: updates the wake margin. */
static void note_wake(struct run *r, uint64_t now, uint64_t armed)
{
    double late = now > armed ? (double)(now - armed) : 0;
    r->wake_mean_ns += (late - r->wake_mean_ns) / 8;
    r->wake_dev_ns += (fabs(late - r->wake_mean_ns) - r->wake_dev_ns) / 8;
    double m = r->wake_mean_ns + 4 * r->wake_dev_ns + (double)LOADGEN_POLL_SLACK_NS;
    if (m < (double)LOADGEN_MARGIN_MIN_NS)
        m = (double)LOADGEN_MARGIN_MIN_NS;
    if (m > (double)LOADGEN_MARGIN_MAX_NS)
        m = (double)LOADGEN_MARGIN_MAX_NS;
    r->wake_margin_ns = (uint64_t)m;
}

static void arm_sched(struct run *r, uint64_t when)
{
    if (when == r->sched_armed_ns)
        return;
    struct itimerspec its = { 0 };
    if (when) {
        its.it_value.tv_sec = (time_t)(when / CLK_NS_PER_S);
        its.it_value.tv_nsec = (long)(when % CLK_NS_PER_S);
    }
    timerfd_settime(r->sched_tfd, TFD_TIMER_ABSTIME, &its, NULL);
    r->sched_armed_ns = when;
}

static bool should_stop(struct run *r)
{
    if (r->cfg->interrupt_flag && *r->cfg->interrupt_flag) {
        r->interrupted = true;
        return true;
    }
    if (r->hooks && r->hooks->should_stop && r->hooks->should_stop(r->hooks->ctx)) {
        r->interrupted = true;
        return true;
    }
    return false;
}

static void progress(struct run *r, uint64_t now)
{
    if (!r->hooks || !r->hooks->progress)
        return;
    double dt = (double)(now - r->prog_t_mark) / 1e9;
    if (dt >= 1.0 || !r->prog_t_mark) {
        if (r->prog_t_mark)
            r->prog_rate = (double)(r->done - r->prog_done_mark) / dt;
        r->prog_t_mark = now;
        r->prog_done_mark = r->done;
    }
    size_t n = r->ttft_n < LOADGEN_TTFT_RING ? r->ttft_n : LOADGEN_TTFT_RING;
    double tmp[LOADGEN_TTFT_RING];
    memcpy(tmp, r->ttft_ring, n * sizeof(double));
    qsort(tmp, n, sizeof(double), stats_cmp_double);
    double eta = NAN;
    if (r->deadline_ns != UINT64_MAX)
        eta = now < r->deadline_ns ? (double)(r->deadline_ns - now) / 1e9 : 0;
    else if (r->planned && r->prog_rate > 0)
        eta = (double)(r->planned > r->done ? r->planned - r->done : 0) / r->prog_rate;
    struct loadgen_progress p = {
        .phase = r->phase_name,
        .planned_count = r->planned,
        .sent_count = r->sent,
        .done_count = r->done,
        .error_count = r->errors,
        .inflight_count = r->n_active,
        .queued_count = 0,
        .rate_per_s = r->prog_rate,
        .ttft_p95_ms = stats_quantile_sorted(tmp, n, 0.95),
        .eta_s = eta,
    };
    for (size_t i = 0; i < r->heap_n; i++)
        if (r->heap[i].ready_ns <= now)
            p.queued_count++;
    r->hooks->progress(r->hooks->ctx, &p);
}

/* Handles one epoll event: a socket libcurl watches, or the pacing timer (whose lateness
 * tunes how early the next one is armed). */
static void handle_event(struct run *r, const struct epoll_event *ev)
{
    int fd = ev->data.fd;
    if (fd == r->sched_tfd) {
        uint64_t v;
        if (read(r->sched_tfd, &v, sizeof(v)) > 0 && r->sched_armed_ns)
            note_wake(r, clk_now_ns(), r->sched_armed_ns);
        r->sched_armed_ns = 0;
        return;
    }
    int flags = 0, running;
    if (ev->events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (ev->events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (ev->events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(r->multi, fd, flags, &running);
}

/* Runs libcurl's due timers, else collects finished transfers. */
static void after_events(struct run *r)
{
    if (r->curl_deadline_ns && clk_now_ns() >= r->curl_deadline_ns) {
        r->curl_deadline_ns = 0;
        r->curl_timer_now = true;
    }
    if (r->curl_timer_now)
        kick(r);
    else
        drain_msgs(r);
}

/* Handles what the sockets have ready now (a few events at most), without waiting. */
static void poll_now(struct run *r)
{
    struct epoll_event evs[LOADGEN_POLL_EVENTS];
    int n = epoll_wait(r->epfd, evs, LOADGEN_POLL_EVENTS, 0);
    for (int i = 0; i < n; i++)
        handle_event(r, &evs[i]);
    after_events(r);
}

/* Sends what is due. When the next send is closer than the wake margin, waits for it here
 * instead of in the kernel: spinning on the clock while polling the sockets, and only spinning
 * for the last LOADGEN_POLL_SLACK_NS, so one event's handling cannot make the send late.
 * Returns true when it sent (or tried to). */
static bool service_schedule(struct run *r)
{
    uint64_t next = next_send_ns(r), now = clk_now_ns();
    if (next == UINT64_MAX || next > now + r->wake_margin_ns)
        return false;
    while (now + LOADGEN_HANDOFF_NS < next) {
        if (next - now > LOADGEN_POLL_SLACK_NS) {
            poll_now(r);
            if (r->pend_head)
                flush_pending(r, 1, next - LOADGEN_POLL_SLACK_NS - LOADGEN_RECORD_NS);
        }
        now = clk_now_ns();
        next = next_send_ns(r); /* a session's next turn may have become due meanwhile */
        if (next == UINT64_MAX)
            return false;
    }
    dispatch_due(r, now, next);
    return true;
}

/* One pass of the event loop: sends what is due, else waits up to the next deadline (in the
 * kernel, or polling when busy_poll is on) and handles what is ready. */
static void loop_once(struct run *r, int max_wait_ms)
{
    struct epoll_event evs[256];
    if (service_schedule(r))
        return;
    uint64_t next = next_send_ns(r);
    if (next != UINT64_MAX) {
        uint64_t now = clk_now_ns();
        arm_sched(r, r->cfg->busy_poll ? 0 : next - r->wake_margin_ns);
        /* prepare the next body while there is time, so the send itself is cheap */
        if (next > now + LOADGEN_PREPARE_AHEAD_NS)
            prepare_body(r, r->heap[0].req);
    } else {
        arm_sched(r, 0);
    }
    int timeout = max_wait_ms;
    if (r->pend_head) {
        /* slack: write a few finished records, then look at the sockets again */
        uint64_t until = next != UINT64_MAX ? next - r->wake_margin_ns : 0;
        flush_pending(r, LOADGEN_PENDING_BATCH, until);
    }
    if (r->curl_timer_now || r->cfg->busy_poll || r->pend_head) {
        timeout = 0;
    } else if (r->curl_deadline_ns) {
        uint64_t now2 = clk_now_ns();
        uint64_t ms = r->curl_deadline_ns > now2
                          ? (r->curl_deadline_ns - now2 + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS
                          : 0;
        if (ms < (uint64_t)timeout)
            timeout = (int)ms;
    }
    int n = epoll_wait(r->epfd, evs, 256, timeout);
    for (int i = 0; i < n; i++) {
        service_schedule(r); /* a send due mid-batch goes first */
        handle_event(r, &evs[i]);
    }
    after_events(r);
}

static void periodic(struct run *r)
{
    uint64_t now = clk_now_ns();
    if (now >= r->next_stop_poll) {
        r->next_stop_poll = now + 10 * CLK_NS_PER_MS;
        if (!r->stopping && should_stop(r)) {
            r->stopping = true;
            r->not_sent += r->heap_n;
            r->heap_n = 0;
            cancel_all(r, "interrupted");
        }
    }
    if (now >= r->next_sweep) {
        r->next_sweep = now + LOADGEN_SWEEP_NS;
        sweep(r, now);
    }
    if (now >= r->next_progress) {
        r->next_progress = now + LOADGEN_PROGRESS_NS;
        progress(r, now);
    }
}

/* ---- phases ---- */

static bool phase_has_offsets(const struct reqplan *p, const struct reqplan_phase *ph)
{
    for (size_t i = 0; i < ph->n_reqs; i++) {
        const struct reqplan_request *q = &p->reqs[ph->reqs[i]];
        if (q->prev_turn < 0 && q->t_offset_ns >= 0)
            return true;
    }
    return false;
}

static int setup_phase(struct run *r, size_t pi, struct diag *d)
{
    const struct loadgen_config *c = r->cfg;
    const struct reqplan_phase *ph = &r->plan->phases[pi];
    enum loadgen_arrival arr = c->arrival != LOADGEN_ARRIVAL_PLAN ? c->arrival : ph->arrival;
    double rate = c->rate_per_s > 0 ? c->rate_per_s : ph->rate_per_s;
    double burst = c->burstiness > 0 ? c->burstiness : ph->burstiness;
    bool offsets = false;
    if (arr == LOADGEN_ARRIVAL_PLAN) {
        if (phase_has_offsets(r->plan, ph))
            offsets = true;
        else if (rate > 0)
            arr = LOADGEN_ARRIVAL_POISSON;
        else
            arr = LOADGEN_ARRIVAL_CLOSED;
    }
    r->ph = ph;
    r->phase_name = ph->name;
    r->closed = arr == LOADGEN_ARRIVAL_CLOSED;
    uint64_t conc = c->concurrency ? c->concurrency : ph->concurrency;
    if (r->closed)
        r->cap = conc ? conc : 1;
    else
        r->cap = c->max_concurrency ? c->max_concurrency : ph->max_concurrency;
    r->ramp_ns = r->closed ? c->ramp_ns : 0;
    r->ramp_opened = r->ramp_ns ? 0 : UINT64_MAX;
    uint64_t dur = c->duration_ns ? c->duration_ns : ph->duration_ns;
    r->max_requests = c->max_requests ? c->max_requests : ph->requests;
    r->sent = r->done = r->errors = r->not_sent = 0;
    r->heap_n = 0;
    r->ttft_n = 0;
    r->prog_t_mark = r->prog_done_mark = 0;
    r->prog_rate = 0;
    size_t firsts = 0;
    for (size_t i = 0; i < ph->n_reqs; i++)
        if (r->plan->reqs[ph->reqs[i]].prev_turn < 0)
            firsts++;
    r->planned = ph->n_reqs;
    if (r->max_requests && r->max_requests < r->planned)
        r->planned = r->max_requests;
    if (!r->closed && !offsets && !(rate > 0))
        return diag_set(d, -EINVAL, 0, 0,
                        "phase \"%s\": open-loop arrival %s needs a rate (--rate)", ph->name,
                        arrival_name(arr));
    uint64_t *offs = NULL;
    if (!r->closed && !offsets) {
        offs = xcalloc(firsts ? firsts : 1, sizeof(uint64_t));
        int rc = arrival_generate(arr, rate, burst, rng_derive(c->seed, ph->name), firsts, offs);
        if (rc < 0) {
            free(offs);
            return diag_set(d, rc, 0, 0, "phase \"%s\": bad arrival parameters", ph->name);
        }
    }
    /* ready times are relative here; start_clock() makes them absolute */
    uint64_t t0 = 0;
    r->phase_dur_ns = dur;
    r->deadline_ns = UINT64_MAX;
    size_t k = 0;
    int64_t last_off = 0;
    for (size_t i = 0; i < ph->n_reqs; i++) {
        size_t qi = ph->reqs[i];
        const struct reqplan_request *q = &r->plan->reqs[qi];
        if (q->prev_turn >= 0)
            continue;
        uint64_t ready = t0;
        if (!r->closed) {
            if (offsets) {
                if (q->t_offset_ns >= 0)
                    last_off = q->t_offset_ns;
                ready = t0 + (uint64_t)last_off;
            } else {
                ready = t0 + offs[k];
            }
        }
        k++;
        heap_push(r, ready, qi);
    }
    free(offs);
    json_t *info = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "name", ph->name, "arrival",
                             offsets ? "plan" : arrival_name(arr), "closed_loop", r->closed,
                             "concurrency_cap", (json_int_t)r->cap, "requests_planned",
                             (json_int_t)ph->n_reqs, "duration_limit_ns", (json_int_t)dur);
    jsonx_set_num(info, "rate_per_s", r->closed || offsets ? NAN : rate);
    if (arr == LOADGEN_ARRIVAL_GAMMA)
        jsonx_set_num(info, "burstiness", burst > 0 ? burst : 1.0);
    json_object_set_new(info, "seed", json_integer((json_int_t)(c->seed & INT64_MAX)));
    if (r->closed)
        json_object_set_new(info, "ramp_ns", json_integer((json_int_t)r->ramp_ns));
    json_array_append_new(r->phase_info, info);
    return 0;
}

/* Starts the phase clock a little ahead of now (so the first sends are not late by the setup
 * work just done) and makes the schedule absolute. */
static void start_clock(struct run *r)
{
    uint64_t t0 = clk_now_ns() + LOADGEN_START_LEAD_NS;
    r->phase_start = t0;
    r->deadline_ns = r->phase_dur_ns ? t0 + r->phase_dur_ns : UINT64_MAX;
    r->slot_free_ns = t0;
    r->cap_saturated_ns = 0;
    r->last_dispatch_ns = t0;
    for (size_t i = 0; i < r->heap_n; i++)
        r->heap[i].ready_ns += t0; /* the same shift for all keeps the heap order */
    r->next_progress = t0 + LOADGEN_PROGRESS_NS;
}

static void run_phase(struct run *r)
{
    uint64_t drain = r->cfg->drain_timeout_ns ? r->cfg->drain_timeout_ns : 60 * CLK_NS_PER_S;
    for (;;) {
        periodic(r);
        if (r->heap_n == 0 && r->n_active == 0)
            break;
        uint64_t now = clk_now_ns();
        bool sending_over = r->heap_n == 0 || r->stopping ||
                            (r->heap[0].ready_ns > r->deadline_ns && r->n_active == 0);
        if (r->heap_n > 0 && r->heap[0].ready_ns > r->deadline_ns) {
            /* nothing left inside the duration window */
            r->not_sent += r->heap_n;
            r->heap_n = 0;
            sending_over = true;
        }
        if (r->max_requests && r->sent >= r->max_requests && r->heap_n > 0) {
            r->not_sent += r->heap_n;
            r->heap_n = 0;
            sending_over = true;
        }
        if (sending_over && r->n_active > 0) {
            uint64_t base = r->last_dispatch_ns;
            if (r->deadline_ns != UINT64_MAX && r->deadline_ns > base)
                base = r->deadline_ns;
            if (now > base + drain) {
                cancel_all(r, "drain deadline passed");
                continue;
            }
        }
        loop_once(r, 10);
    }
}

static void warm_connections(struct run *r, uint64_t n)
{
    if (n == 0)
        return;
    char *base = xstrdup(r->url);
    char *p = strstr(base, "/v1/");
    if (p)
        *p = '\0';
    char *models = xalloc_printf("%s/v1/models", base);
    for (uint64_t i = 0; i < n; i++) {
        struct xfer *x = xfer_get(r);
        if (!x)
            break;
        x->req = SIZE_MAX;
        if (r->auth)
            x->hdrs = curl_slist_append(NULL, r->auth);
        curl_easy_setopt(x->easy, CURLOPT_URL, models);
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
        if (curl_multi_add_handle(r->multi, x->easy) != CURLM_OK) {
            r->warm_failed++;
            xfer_put(r, x);
            continue;
        }
        active_add(r, x);
    }
    kick(r);
    /* 10 s, plus 1 ms per connection for large pools on a busy machine */
    uint64_t until = clk_now_ns() + LOADGEN_WARM_TIMEOUT_NS + n * CLK_NS_PER_MS;
    while (r->n_active > 0 && clk_now_ns() < until) {
        loop_once(r, 10);
        if (should_stop(r))
            break;
    }
    while (r->n_active > 0) {
        struct xfer *x = r->active[r->n_active - 1];
        r->warm_failed++;
        curl_multi_remove_handle(r->multi, x->easy);
        active_remove(r, x);
        xfer_put(r, x);
    }
    free(models);
    free(base);
}

void loadgen_config_init(struct loadgen_config *cfg)
{
    *cfg = (struct loadgen_config){ .exact_output = true, .include_usage = true };
}

static const char *endpoint_name(bool chat)
{
    return chat ? "chat" : "completions";
}

static uint64_t auto_warm(const struct run *r)
{
    const struct loadgen_config *c = r->cfg;
    if (c->warm_connections)
        return c->warm_connections;
    uint64_t w = 0;
    for (size_t i = 0; i < r->plan->n_phases; i++) {
        const struct reqplan_phase *ph = &r->plan->phases[i];
        uint64_t conc = c->concurrency ? c->concurrency : ph->concurrency;
        uint64_t cap = c->max_concurrency ? c->max_concurrency : ph->max_concurrency;
        double rate = c->rate_per_s > 0 ? c->rate_per_s : ph->rate_per_s;
        uint64_t want = conc ? conc : cap ? cap : rate > 0 ? (uint64_t)(rate / 4) + 8 : 8;
        if (cap && want > cap)
            want = cap;
        if (want > w)
            w = want;
    }
    if (w > LOADGEN_WARM_AUTO_MAX)
        w = LOADGEN_WARM_AUTO_MAX;
    if (w > r->plan->n_reqs)
        w = r->plan->n_reqs;
    return w;
}

static FILE *open_out(const char *dir, const char *name, int *ret_err)
{
    char *path = fileio_join(dir, name);
    FILE *f = fopen(path, "w+e"); /* w+: readable for fileio_close_lines */
    if (!f)
        *ret_err = -errno;
    else
        setvbuf(f, NULL, _IOFBF, 1 << 16);
    free(path);
    return f;
}

static json_t *summary_json(struct run *r, uint64_t started_unix)
{
    const struct loadgen_config *c = r->cfg;
    json_t *s = json_object();
    json_object_set_new(s, "schema_version", json_integer(LOADGEN_SCHEMA_VERSION));
    json_object_set_new(s, "kind", json_string("kvtier.load.summary"));
    json_object_set_new(s, "url", json_string(r->url_redacted));
    json_object_set_new(s, "model", json_string(c->model ? c->model : ""));
    json_object_set_new(s, "endpoint", json_string(endpoint_name(r->chat)));
    json_object_set_new(s, "started_unix_ns", json_integer((json_int_t)started_unix));
    json_object_set_new(s, "clock_anchor",
                        json_pack("{s:I, s:I}", "monotonic_ns", (json_int_t)r->anchor_mono,
                                  "unix_ns", (json_int_t)r->anchor_unix));
    json_object_set_new(s, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(s, "api_key_sent", json_boolean(r->auth != NULL));
    json_object_set_new(s, "exact_output", json_boolean(c->exact_output));
    json_object_set_new(s, "schedule", json_incref(r->phase_info));
    struct stats_summary ws;
    stats_summarize(r->warm_connect_ms, r->n_warm_connect, &ws);
    json_t *conn =
        json_pack("{s:I, s:I, s:I, s:o}", "warmed", (json_int_t)r->warmed, "warm_failed",
                  (json_int_t)r->warm_failed, "opened_during_run", (json_int_t)r->new_connections,
                  "warm_connect_ms", stats_summary_json(&ws));
    json_object_set_new(s, "connections", conn);
    json_object_set_new(s, "phases", loadstats_phases_json(r->stats));
    if (c->max_context_tokens)
        json_object_set_new(s, "context_limit",
                            json_pack("{s:I, s:s, s:I}", "max_context_tokens",
                                      (json_int_t)c->max_context_tokens, "source",
                                      c->max_context_source ? c->max_context_source : "configured",
                                      "refused", (json_int_t)r->refused));
    return s;
}

static void run_fini(struct run *r)
{
    if (r->multi) {
        while (r->n_active > 0) {
            struct xfer *x = r->active[--r->n_active];
            curl_multi_remove_handle(r->multi, x->easy);
            xfer_destroy(x);
        }
        while (r->free_list) {
            struct xfer *x = r->free_list;
            r->free_list = x->next_free;
            xfer_destroy(x);
        }
        curl_multi_cleanup(r->multi);
    }
    if (r->epfd >= 0)
        close(r->epfd);
    if (r->sched_tfd >= 0)
        close(r->sched_tfd);
    if (r->history) {
        for (size_t i = 0; i < r->plan->n_reqs; i++)
            json_decref(r->history[i]);
        free(r->history);
    }
    if (r->bodies) {
        for (size_t i = 0; i < r->plan->n_reqs; i++)
            buf_fini(&r->bodies[i]);
        free(r->bodies);
    }
    pend_free_all(r);
    free(r->heap);
    free(r->active);
    free(r->url);
    free(r->auth);
    free(r->api_key);
    free(r->url_redacted);
    curl_slist_free_all(r->static_hdrs);
    free(r->warm_connect_ms);
    json_decref(r->phase_info);
    loadstats_free(r->stats);
}

static int close_out(FILE **f)
{
    return fileio_close_lines(f);
}

static int flush_out(struct run *r)
{
    flush_pending(r, SIZE_MAX, 0);
    if (r->rec_f && fflush(r->rec_f) != 0)
        r->io_err = -errno;
    if (r->prof_f && fflush(r->prof_f) != 0)
        r->io_err = -errno;
    return r->io_err;
}

/* Checks the configuration and prepares what every request shares: the endpoint URL, the
 * headers (with the API key), the body options, the statistics and per-request slots. */
static int run_prepare(struct run *r, struct diag *d)
{
    const struct loadgen_config *cfg = r->cfg;
    const struct reqplan *plan = r->plan;
    r->url_redacted = redact_url(cfg->url ? cfg->url : "");
    if (!cfg->url || strncmp(cfg->url, "http", 4) != 0)
        return diag_set(d, -EINVAL, 0, 0, "--url: expected http://host:port, got \"%s\"",
                        r->url_redacted);
    if (!plan || plan->n_reqs == 0)
        return diag_set(d, -EINVAL, 0, 0, "the plan has no requests");
    enum loadgen_endpoint ep =
        cfg->endpoint != LOADGEN_ENDPOINT_PLAN ? cfg->endpoint : plan->endpoint;
    r->chat = ep != LOADGEN_ENDPOINT_COMPLETIONS;
    /* base URL: scheme://[userinfo@]host[:port]; any path, query or fragment given is dropped */
    const char *hs = strstr(cfg->url, "://");
    int blen =
        hs ? (int)(hs + 3 - cfg->url + (ptrdiff_t)strcspn(hs + 3, "/?#")) : (int)strlen(cfg->url);
    r->url =
        xalloc_printf("%.*s/v1/%s", blen, cfg->url, r->chat ? "chat/completions" : "completions");
    const char *key = getenv("KVTIER_API_KEY");
    if (!key || !*key)
        key = getenv("OPENAI_API_KEY");
    if (key && *key) {
        r->auth = xalloc_printf("Authorization: Bearer %s", key);
        r->api_key = xstrdup(key);
    }
    r->static_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r->static_hdrs = curl_slist_append(r->static_hdrs, "Accept: text/event-stream");
    r->static_hdrs = curl_slist_append(r->static_hdrs, "Expect:");
    if (r->auth)
        r->static_hdrs = curl_slist_append(r->static_hdrs, r->auth);
    r->body_opts = (struct reqplan_body_opts){
        .model = cfg->model,
        .chat = r->chat,
        .exact_output = cfg->exact_output,
        .include_usage = cfg->include_usage,
        .prompt_ids = plan->prompt_ids,
        .extra_body = cfg->extra_body,
    };
    struct loadgen_slo slo = cfg->slo;
    slo.client_lag_limit_ms = cfg->client_lag_limit_ms;
    r->stats = loadstats_new(&slo);
    r->phase_info = json_array();
    r->history = xcalloc(plan->n_reqs, sizeof(json_t *));
    r->bodies = xcalloc(plan->n_reqs, sizeof(struct buf));
    return 0;
}

/* Creates the event loop: epoll, the pacing timerfd and the libcurl multi handle sized for
 * warm connections (returned in *ret_warm). */
static int run_loop_init(struct run *r, uint64_t *ret_warm, struct diag *d)
{
    const struct loadgen_config *cfg = r->cfg;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->sched_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->epfd < 0 || r->sched_tfd < 0)
        return diag_set(d, -errno, 0, 0, "epoll/timerfd: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = r->sched_tfd };
    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->sched_tfd, &ev);
    r->multi = curl_multi_init();
    if (!r->multi)
        return diag_set(d, -ENOMEM, 0, 0, "curl_multi_init failed");
    curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
    curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
    uint64_t warm = auto_warm(r);
    long maxconn = (long)(warm > 64 ? warm : 64);
    if (cfg->concurrency > (uint64_t)maxconn)
        maxconn = (long)cfg->concurrency;
    if (cfg->max_concurrency > (uint64_t)maxconn)
        maxconn = (long)cfg->max_concurrency;
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, maxconn + 16);
    *ret_warm = warm;
    return 0;
}

/* Opens records.jsonl and profile_export.jsonl in cfg->out_dir (nothing when it is NULL). */
static int run_open_outputs(struct run *r, struct diag *d)
{
    const char *dir = r->cfg->out_dir;
    if (!dir)
        return 0;
    int rc = fileio_mkdir_p(dir);
    if (rc < 0)
        return diag_set(d, rc, 0, 0, "cannot create %s: %s", dir, strerror(-rc));
    int err = 0;
    r->rec_f = open_out(dir, "records.jsonl", &err);
    r->prof_f = open_out(dir, "profile_export.jsonl", &err);
    if (err < 0)
        return diag_set(d, err, 0, 0, "cannot write into %s: %s", dir, strerror(-err));
    return 0;
}

/* Runs the plan's phases in order until the end or a stop. */
static int run_phases(struct run *r, struct diag *d)
{
    const struct reqplan *plan = r->plan;
    const struct loadgen_hooks *hooks = r->hooks;
    for (size_t pi = 0; pi < plan->n_phases && !r->stopping; pi++) {
        if (plan->phases[pi].n_reqs == 0)
            continue;
        if (should_stop(r)) {
            r->stopping = true;
            break;
        }
        int rc = setup_phase(r, pi, d);
        if (rc < 0)
            return rc;
        bool measured = strcmp(plan->phases[pi].name, "warmup") != 0;
        uint64_t t_begin = clk_now_ns();
        if (hooks && hooks->phase_begin)
            hooks->phase_begin(hooks->ctx, r->phase_name, t_begin);
        r->prog_t_mark = 0;
        progress(r, clk_now_ns());
        start_clock(r);
        r->stats_idx = loadstats_phase_begin(r->stats, r->phase_name, measured, r->phase_start);
        run_phase(r);
        assert(r->n_active == 0 && r->heap_n == 0);
        uint64_t t_end = clk_now_ns();
        loadstats_phase_end(r->stats, r->stats_idx, t_end, r->not_sent);
        progress(r, t_end);
        flush_out(r);
        if (hooks && hooks->phase_end)
            hooks->phase_end(hooks->ctx, r->phase_name, t_end);
    }
    return 0;
}

/* Writes the last records, closes the outputs and writes summary.json; *ret_summary (owned)
 * is set only on success. */
static int run_finish(struct run *r, uint64_t started_unix, json_t **ret_summary, struct diag *d)
{
    const char *dir = r->cfg->out_dir;
    json_t *summary = summary_json(r, started_unix);
    flush_out(r);
    int e1 = close_out(&r->rec_f), e2 = close_out(&r->prof_f);
    if (!r->io_err)
        r->io_err = e1 < 0 ? e1 : e2;
    if (dir) {
        char *path = fileio_join(dir, "summary.json");
        int wr = jsonx_write_file(path, summary);
        free(path);
        if (wr < 0 && !r->io_err)
            r->io_err = wr;
    }
    if (r->io_err < 0) {
        json_decref(summary);
        return diag_set(d, r->io_err, 0, 0, "writing into %s failed: %s", dir,
                        strerror(-r->io_err));
    }
    *ret_summary = summary;
    return 0;
}

int loadgen_run(const struct loadgen_config *cfg, const struct reqplan *plan,
                const struct loadgen_hooks *hooks, json_t **ret_summary, struct diag *d)
{
    struct run r = { .cfg = cfg,
                     .plan = plan,
                     .hooks = hooks,
                     .epfd = -1,
                     .sched_tfd = -1,
                     .wake_margin_ns = LOADGEN_MARGIN_INIT_NS,
                     .wake_mean_ns = 50e3,
                     .wake_dev_ns = 10e3 };
    int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    uint64_t warm = 0;
    int rc = run_prepare(&r, d);
    if (rc == 0)
        rc = run_loop_init(&r, &warm, d);
    if (rc == 0)
        rc = run_open_outputs(&r, d);
    if (rc < 0)
        goto out;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    uint64_t started_unix = clk_wall_unix_ns();
    r.anchor_mono = clk_now_ns();
    r.anchor_unix = clk_wall_unix_ns();
    warm_connections(&r, warm);
    rc = run_phases(&r, d);
    if (rc == 0)
        rc = run_finish(&r, started_unix, ret_summary, d);
out:
    if (old_slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
    close_out(&r.rec_f);
    close_out(&r.prof_f);
    run_fini(&r);
    return rc;
}

int loadgen_run_plan_file(const struct loadgen_config *cfg, const char *plan_path,
                          const struct loadgen_hooks *hooks, json_t **ret_summary, struct diag *d)
{
    struct reqplan *p = NULL;
    int rc = reqplan_load(plan_path, &p, d);
    if (rc == 0)
        rc = loadgen_run(cfg, p, hooks, ret_summary, d);
    reqplan_free(p);
    return rc;
}
