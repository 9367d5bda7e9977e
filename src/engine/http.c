/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP front end (see http.h). */
#include "engine/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/clk.h"
#include "common/jobq.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "engine/reqparse.h"
#include "engine/sreq.h"

#define HTTP_CONN_LIMIT 16384
#define HTTP_SSE_BLOCK  (64u << 10)
/* Request bodies are bounded by what a context can hold: HTTP_BODY_BYTES_PER_TOKEN bytes of
 * JSON per token of the model's maximum sequence length (a token id, or JSON-escaped text) plus
 * HTTP_BODY_BASE_BYTES for the other fields, never more than REQPARSE_BODY_MAX_BYTES; and by
 * HTTP_BODY_VALUES_PER_TOKEN JSON values per token plus HTTP_BODY_BASE_VALUES (counted before
 * parsing, so `[{},{},...]` never becomes a document tree). */
#define HTTP_BODY_BYTES_PER_TOKEN  32u
#define HTTP_BODY_BASE_BYTES       (64u << 10)
#define HTTP_BODY_VALUES_PER_TOKEN 2u
#define HTTP_BODY_BASE_VALUES      4096u
#define HTTP_PARSE_THREADS         2 /* bodies are parsed and tokenized off the network thread */
#define HTTP_TRIM_BYTES            (1u << 20)  /* after a body this large, memory goes back */
#define HTTP_URL_MAX_BYTES         8192u       /* longer: 414 */
#define HTTP_HEADERS_MAX_BYTES     (16u << 10) /* more header bytes: 431 */
#define HTTP_CONN_MEMORY_BYTES     (64u << 10) /* per connection (libmicrohttpd's own limit) */

struct conn;

struct http {
    struct http_opts o;
    struct MHD_Daemon *api, *met;
    uint16_t port, metrics_port;
    atomic_uint_fast64_t next_id, n_posts, n_streams;
    atomic_bool stopping;
    size_t body_max_bytes, body_max_values;
    /* parse workers: a queue of suspended connections whose bodies are complete */
    struct jobq pq;
    pthread_mutex_t pmu; /* orders a worker's result before the connection's resumption */
    pthread_t workers[HTTP_PARSE_THREADS];
    unsigned n_workers;
};

enum conn_state {
    CONN_UPLOAD,    /* receiving the body (MHD thread) */
    CONN_PARSING,   /* suspended, queued or with a parse worker */
    CONN_PARSED,    /* resumed: prep or err is ready for the MHD thread */
    CONN_SUBMITTED, /* r is with the scheduler */
};

struct conn {
    struct MHD_Connection *c;
    enum conn_state state; /* changed under http.pmu while PARSING */
    enum reqparse_endpoint ep;
    bool completion; /* a POST to a completions endpoint */
    bool overflow;   /* the body went over body_max_bytes */
    bool large;      /* the body reached HTTP_TRIM_BYTES before it was dropped */
    uint64_t start_ns, arrival_ns;
    struct buf body;
    struct conn *next;          /* parse queue link */
    struct sreq *prep;          /* PARSED: the request to submit (owned) */
    struct reqparse_error *err; /* PARSED: the refusal (owned), else NULL */
    struct sreq *r;             /* SUBMITTED */
};

static void wake(void *conn)
{
    MHD_resume_connection(conn);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const char *text, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", ctype);
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = jsonx_dump_line(j);
    json_decref(j);
    enum MHD_Result r = send_text(c, status, "application/json", s, strlen(s));
    free(s);
    return r;
}

static enum MHD_Result send_error(struct http *h, struct MHD_Connection *c,
                                  const struct reqparse_error *e, enum metrics_endpoint ep,
                                  bool count)
{
    char *s = reqparse_error_body(e);
    enum MHD_Result r = send_text(c, (unsigned)e->status, "application/json", s, strlen(s));
    free(s);
    if (count) {
        enum metrics_error k = e->status == 404   ? METRICS_ERR_NOT_FOUND
                               : e->status >= 500 ? METRICS_ERR_INTERNAL
                                                  : METRICS_ERR_VALIDATION;
        metrics_request_done(h->o.metrics, ep, false, k);
    }
    return r;
}

/* MHD does not read a suspended connection, nor always one resumed to wait again, so a client
 * that left while its request produced nothing is seen here when a poke resumes it: end of
 * file or an error on a peek (a byte already sent, a pipelined request, is not a departure). */
static bool peer_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- SSE ---------------------------------------------------------------------------------- */

static ssize_t sse_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sreq *r = cls;
    (void)pos;
    pthread_mutex_lock(&r->mu);
    ssize_t n;
    if (r->out.len) {
        n = (ssize_t)(r->out.len < max ? r->out.len : max);
        memcpy(out, r->out.data, (size_t)n);
        buf_consume(&r->out, (size_t)n);
    } else if (r->done || !r->conn) {
        n = r->cut || !r->conn ? MHD_CONTENT_READER_END_WITH_ERROR
                               : MHD_CONTENT_READER_END_OF_STREAM;
    } else if (peer_gone(r->conn)) {
        n = MHD_CONTENT_READER_END_WITH_ERROR; /* api_completed counts the departure */
    } else {
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        n = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void sse_free(void *cls)
{
    sreq_unref(cls);
}

/* ---- completions -------------------------------------------------------------------------- */

static bool model_ok(const struct http *h, const char *name)
{
    return !strcmp(name, h->o.served_model) ||
           (h->o.model_alias && !strcmp(name, h->o.model_alias));
}

/* Tokenizes the request into r->prompt; fills e on failure. */
static int tokenize(struct http *h, const struct reqparse_req *p, struct sreq *r,
                    struct reqparse_error *e)
{
    struct token_ids ids = { 0 };
    int rc = 0;
    if (p->prompt_ids) {
        r->prompt = xmalloc(p->n_prompt_ids * sizeof(uint32_t));
        memcpy(r->prompt, p->prompt_ids, p->n_prompt_ids * sizeof(uint32_t));
        r->n_prompt = p->n_prompt_ids;
        return 0;
    }
    struct buf text;
    buf_init(&text, REQPARSE_BODY_MAX_BYTES * 2u);
    if (p->ep == REQPARSE_CHAT) {
        struct diag d = { 0 };
        if (chat_render(h->o.tpl, p->messages, true, &text, &d) < 0) {
            rc = reqparse_fail(e, 400, "invalid_request_error", "messages", "%s", d.msg);
            goto out;
        }
    } else {
        buf_append(&text, p->prompt_text, p->prompt_text_len);
    }
    if (tokenizer_encode(h->o.tok, buf_str(&text), text.len, true, &ids) < 0) {
        rc = reqparse_fail(e, 400, "invalid_request_error", NULL, "the prompt is too large");
        goto out;
    }
    if (ids.len == 0) {
        rc = reqparse_fail(e, 400, "invalid_request_error", NULL, "the prompt has no tokens");
        goto out;
    }
    r->prompt = ids.ids;
    r->n_prompt = ids.len;
    ids.ids = NULL;
out:
    tokenizer_ids_fini(&ids);
    buf_fini(&text);
    return rc;
}

/* The context-length and G1-capacity checks of a tokenized request; fills e on failure. */
static int check_lengths(struct http *h, const struct reqparse_req *p, struct sreq *r,
                         struct reqparse_error *e)
{
    enum reqparse_endpoint ep = p->ep;
    uint32_t max_len = h->o.model->max_sequence_length;
    if (r->n_prompt >= max_len ||
        (p->max_tokens > 0 && r->n_prompt + (uint64_t)p->max_tokens > max_len))
        return reqparse_fail(
            e, 400, "invalid_request_error", p->max_tokens > 0 ? "max_tokens" : NULL,
            "This model's maximum context length is %u tokens. However, you requested "
            "%" PRIu64 " tokens (%zu in the %s, %" PRIu64 " in the completion). Please "
            "reduce the length of the %s or completion.",
            max_len, (uint64_t)r->n_prompt + (p->max_tokens > 0 ? (uint64_t)p->max_tokens : 0),
            r->n_prompt, ep == REQPARSE_CHAT ? "messages" : "prompt",
            p->max_tokens > 0 ? (uint64_t)p->max_tokens : 0,
            ep == REQPARSE_CHAT ? "messages" : "prompt");
    r->max_tokens = p->max_tokens > 0 ? (uint32_t)p->max_tokens : max_len - (uint32_t)r->n_prompt;
    r->min_tokens = (uint32_t)(p->min_tokens > r->max_tokens ? r->max_tokens : p->min_tokens);
    uint64_t need = sched_blocks_needed(h->o.sched, r->n_prompt, r->max_tokens);
    if (need > sched_g1_blocks(h->o.sched))
        return reqparse_fail(e, 400, "invalid_request_error", NULL,
                             "the request needs %" PRIu64 " KV blocks (prompt %zu + up to %u "
                             "output tokens) but the device KV pool holds %" PRIu64 " blocks",
                             need, r->n_prompt, r->max_tokens, sched_g1_blocks(h->o.sched));
    return 0;
}

/* Parse worker: validates, tokenizes and checks the body of cx into a request ready to submit
 * (*ret_r, owned) or a refusal (e). Frees the body; a large one gives its memory back. */
static int prepare(struct http *h, struct conn *cx, struct sreq **ret_r, struct reqparse_error *e)
{
    struct reqparse_req p = { 0 };
    struct sreq *r = NULL;
    int rc;
    size_t values = reqparse_count_values(buf_str(&cx->body), cx->body.len);
    if (values > h->body_max_values) {
        rc = reqparse_fail(e, 413, "invalid_request_error", NULL,
                           "the request body has %zu JSON values, more than the %zu a context of "
                           "%u tokens can need",
                           values, h->body_max_values, h->o.model->max_sequence_length);
        goto out;
    }
    rc = reqparse_body(cx->ep, buf_str(&cx->body), cx->body.len, tokenizer_vocab_size(h->o.tok), &p,
                       e);
    if (rc < 0)
        goto out;
    if (!model_ok(h, p.model)) {
        rc = reqparse_fail(e, 404, "NotFoundError", "model", "The model `%.200s` does not exist.",
                           p.model);
        goto out;
    }
    uint64_t nth = atomic_fetch_add(&h->n_posts, 1) + 1;
    if (h->o.inject_5xx_every && nth % h->o.inject_5xx_every == 0) {
        rc = reqparse_fail(e, 500, "internal_server_error", NULL,
                           "injected failure (--inject-5xx-every %" PRIu64 ")",
                           h->o.inject_5xx_every);
        goto out;
    }
    r = sreq_new();
    rc = tokenize(h, &p, r, e);
    if (rc < 0)
        goto out;
    rc = check_lengths(h, &p, r, e);
    if (rc < 0)
        goto out;
    r->ep = cx->ep == REQPARSE_CHAT ? SREQ_CHAT : SREQ_COMPLETIONS;
    r->stream = p.stream;
    r->include_usage = p.include_usage;
    r->ignore_eos = p.ignore_eos;
    r->arrival_ns = cx->arrival_ns;
    r->created_unix_s = clk_wall_unix_ns() / CLK_NS_PER_S;
    *ret_r = r;
    r = NULL;
out:
    reqparse_req_fini(&p);
    sreq_unref(r);
    bool large = cx->body.cap >= HTTP_TRIM_BYTES;
    buf_fini(&cx->body);
    if (large)
        malloc_trim(0);
    return rc;
}

static void *parse_main(void *arg)
{
    struct http *h = arg;
    struct conn *cx;
    while ((cx = jobq_pop_wait(&h->pq))) {
        assert(cx->state == CONN_PARSING);
        struct reqparse_error e = { 0 };
        struct sreq *r = NULL;
        if (prepare(h, cx, &r, &e) < 0) {
            cx->err = xmalloc(sizeof(*cx->err));
            *cx->err = e;
        }
        pthread_mutex_lock(&h->pmu);
        cx->prep = r;
        cx->state = CONN_PARSED;
        MHD_resume_connection(cx->c);
        pthread_mutex_unlock(&h->pmu);
    }
    return NULL;
}

/* Hands a complete body to the parse workers; the connection waits suspended. MHD thread. */
static enum MHD_Result queue_parse(struct http *h, struct MHD_Connection *c, struct conn *cx)
{
    cx->arrival_ns = clk_now_ns();
    cx->state = CONN_PARSING;
    MHD_suspend_connection(c); /* before the queue, so a worker always resumes after it */
    jobq_push(&h->pq, cx);
    return MHD_YES;
}

/* A parsed request back on the MHD thread: answers its refusal, or submits it and starts the
 * response (SSE stream, or a unary connection suspended until the request is done). */
static enum MHD_Result start_completion(struct http *h, struct MHD_Connection *c, struct conn *cx)
{
    enum metrics_endpoint mep = cx->ep == REQPARSE_CHAT ? METRICS_EP_CHAT : METRICS_EP_COMPLETIONS;
    struct reqparse_error e = { 0 };
    if (cx->err)
        e = *cx->err;
    else if (atomic_load(&h->stopping))
        reqparse_fail(&e, 503, "service_unavailable", NULL, "the engine is shutting down");
    if (e.status) {
        sreq_unref(cx->prep);
        cx->prep = NULL;
        return send_error(h, c, &e, mep, true);
    }
    struct sreq *r = cx->prep;
    cx->prep = NULL;
    r->id = atomic_fetch_add(&h->next_id, 1) + 1;
    snprintf(r->id_str, sizeof(r->id_str), "%s-%016" PRIx64,
             cx->ep == REQPARSE_CHAT ? "chatcmpl" : "cmpl",
             (uint64_t)(r->id * 0x9e3779b97f4a7c15ULL));
    r->wake = wake;
    r->conn = c;
    if (r->stream && h->o.inject_cut_every &&
        (atomic_fetch_add(&h->n_streams, 1) + 1) % h->o.inject_cut_every == 0)
        r->cut_after_tokens = UINT32_MAX; /* the scheduler picks the middle of the output */
    cx->r = r;
    cx->state = CONN_SUBMITTED;
    sched_submit(h->o.sched, r);
    if (!r->stream) {
        pthread_mutex_lock(&r->mu);
        if (!r->done) {
            r->suspended = true;
            MHD_suspend_connection(c);
        }
        pthread_mutex_unlock(&r->mu);
        return MHD_YES;
    }
    sreq_ref(r);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_SSE_BLOCK,
                                                                  sse_reader, r, sse_free);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    const char *xid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    MHD_add_response_header(resp, "X-Request-Id", xid ? xid : r->id_str);
    enum MHD_Result res = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return res;
}

/* A unary request resumed by the scheduler: send its body. */
static enum MHD_Result finish_unary(struct MHD_Connection *c, struct sreq *r)
{
    pthread_mutex_lock(&r->mu);
    if (!r->done && peer_gone(c)) {
        pthread_mutex_unlock(&r->mu);
        return MHD_NO; /* closes the connection; api_completed counts the departure */
    }
    if (!r->done) {
        r->suspended = true;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&r->mu);
        return MHD_YES;
    }
    struct buf body = r->out;
    buf_init(&r->out, SREQ_OUT_MAX_BYTES);
    int status = r->http_status ? r->http_status : 500;
    pthread_mutex_unlock(&r->mu);
    enum MHD_Result res;
    if (status == 200) {
        res = send_text(c, 200, "application/json", buf_str(&body), body.len);
    } else {
        struct reqparse_error e = { 0 };
        reqparse_fail(&e, status, "internal_server_error", NULL,
                      "the engine stopped before the request finished");
        char *s = reqparse_error_body(&e);
        res = send_text(c, (unsigned)status, "application/json", s, strlen(s));
        free(s);
    }
    buf_fini(&body);
    return res;
}

/* ---- routing ------------------------------------------------------------------------------ */

static enum MHD_Result not_found(struct MHD_Connection *c, const char *url)
{
    struct reqparse_error e = { 0 };
    reqparse_fail(&e, 404, "NotFoundError", NULL, "no route for %.200s", url);
    char *s = reqparse_error_body(&e);
    enum MHD_Result r = send_text(c, 404, "application/json", s, strlen(s));
    free(s);
    return r;
}

static enum MHD_Result bad_method(struct MHD_Connection *c, const char *method, const char *url)
{
    struct reqparse_error e = { 0 };
    reqparse_fail(&e, 405, "invalid_request_error", NULL, "method %.16s not allowed on %.200s",
                  method, url);
    char *s = reqparse_error_body(&e);
    enum MHD_Result r = send_text(c, 405, "application/json", s, strlen(s));
    free(s);
    return r;
}

static enum MHD_Result get_route(struct http *h, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/v1/models")) {
        json_t *m =
            json_pack("{s:s, s:s, s:I, s:s}", "id", h->o.served_model, "object", "model", "created",
                      (json_int_t)(clk_wall_unix_ns() / CLK_NS_PER_S), "owned_by", "kvtier");
        return send_json(c, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", m));
    }
    if (!strcmp(url, "/health"))
        return send_json(c, 200,
                         json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "status", "healthy", "endpoints",
                                   "dyn://dynamo.tensorrt_llm.generate", "instances", "component",
                                   "tensorrt_llm", "model", h->o.served_model));
    if (!strcmp(url, "/live"))
        return send_json(c, 200,
                         json_pack("{s:s, s:s}", "status", "live", "message", "Service is live"));
    if (!strcmp(url, "/metrics")) {
        struct buf b;
        buf_init(&b, 16u << 20);
        metrics_render_frontend(h->o.metrics, &b);
        enum MHD_Result r =
            send_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b), b.len);
        buf_fini(&b);
        return r;
    }
    return not_found(c, url);
}

/* 413, 414 or 431 with an OpenAI error body; n is the limit (413) or the size (414, 431). */
static enum MHD_Result refuse(struct http *h, struct MHD_Connection *c, struct conn *cx, int status,
                              size_t n)
{
    struct reqparse_error e = { 0 };
    if (status == 413)
        reqparse_fail(&e, 413, "invalid_request_error", NULL,
                      "request body exceeds the limit of %zu bytes (a context of %u tokens)", n,
                      h->o.model->max_sequence_length);
    else if (status == 414)
        reqparse_fail(&e, 414, "invalid_request_error", NULL,
                      "request URL of %zu bytes exceeds the limit of %u bytes", n,
                      HTTP_URL_MAX_BYTES);
    else
        reqparse_fail(&e, 431, "invalid_request_error", NULL,
                      "request headers of %zu bytes exceed the limit of %u bytes", n,
                      HTTP_HEADERS_MAX_BYTES);
    enum metrics_endpoint mep = cx->ep == REQPARSE_CHAT ? METRICS_EP_CHAT : METRICS_EP_COMPLETIONS;
    return send_error(h, c, &e, mep, cx->completion);
}

/* Adds the bytes of one header (or query argument) to *cls. */
static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* First call for a request: its state, and refusals that need no body (URL or headers over
 * their limits, a declared Content-Length over the body limit). */
static enum MHD_Result begin(struct http *h, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
    struct conn *cx = xcalloc(1, sizeof(*cx));
    cx->c = c;
    cx->start_ns = clk_now_ns();
    bool chat = !strcmp(url, "/v1/chat/completions"), cmpl = !strcmp(url, "/v1/completions");
    cx->ep = chat ? REQPARSE_CHAT : REQPARSE_COMPLETIONS;
    cx->completion = (chat || cmpl) && !strcmp(method, "POST");
    buf_init(&cx->body, h->body_max_bytes);
    *con_cls = cx;
    size_t n = strlen(url);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, sum_header, &n);
    if (n > HTTP_URL_MAX_BYTES)
        return refuse(h, c, cx, 414, n);
    n = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &n);
    if (n > HTTP_HEADERS_MAX_BYTES)
        return refuse(h, c, cx, 431, n);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cx->completion && cl) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && len > h->body_max_bytes)
            return refuse(h, c, cx, 413, h->body_max_bytes);
    }
    return MHD_YES;
}

/* One piece of an upload: kept up to the body limit; an upload slower than upload_timeout_ns
 * closes its connection. */
static enum MHD_Result upload(struct http *h, struct conn *cx, const char *data, size_t *size)
{
    if (h->o.upload_timeout_ns && clk_now_ns() - cx->start_ns > h->o.upload_timeout_ns) {
        elog_emit(&h->o.log, ELOG_DEBUG, "upload slower than the upload timeout: closed");
        return MHD_NO;
    }
    if (!cx->overflow && buf_append(&cx->body, data, *size) < 0) {
        cx->overflow = true;
        cx->large = cx->body.cap >= HTTP_TRIM_BYTES;
        buf_fini(&cx->body); /* the rest is read and dropped */
    }
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    (void)version;
    struct conn *cx = *con_cls;
    if (!cx)
        return begin(h, c, url, method, con_cls);
    if (*upload_data_size)
        return upload(h, cx, upload_data, upload_data_size);
    pthread_mutex_lock(&h->pmu);
    enum conn_state st = cx->state;
    pthread_mutex_unlock(&h->pmu);
    switch (st) {
    case CONN_SUBMITTED:
        return finish_unary(c, cx->r);
    case CONN_PARSED:
        return start_completion(h, c, cx);
    case CONN_PARSING:
        return MHD_YES; /* resumed early: the worker resumes it again when done */
    case CONN_UPLOAD:
        break;
    }
    bool post = !strcmp(method, "POST");
    bool chat = !strcmp(url, "/v1/chat/completions"), cmpl = !strcmp(url, "/v1/completions");
    if (chat || cmpl) {
        if (!post)
            return bad_method(c, method, url);
        if (atomic_load(&h->stopping)) {
            struct reqparse_error e = { 0 };
            reqparse_fail(&e, 503, "service_unavailable", NULL, "the engine is shutting down");
            return send_error(h, c, &e, chat ? METRICS_EP_CHAT : METRICS_EP_COMPLETIONS, true);
        }
        if (cx->overflow)
            return refuse(h, c, cx, 413, h->body_max_bytes);
        return queue_parse(h, c, cx);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return bad_method(c, method, url);
    return get_route(h, c, url);
}

static void api_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct conn *cx = *con_cls;
    (void)c;
    (void)toe;
    if (!cx)
        return;
    /* PARSING here only at shutdown: a body queued after the workers ended; nothing else holds
     * the connection then (the workers are joined before the daemon stops) */
    if (cx->r) {
        struct sreq *r = cx->r;
        pthread_mutex_lock(&r->mu);
        r->conn = NULL;
        bool done = r->done;
        pthread_mutex_unlock(&r->mu);
        if (!done) {
            atomic_store(&r->cancelled, true);
            atomic_fetch_add(&h->o.metrics->disconnected, 1);
            sched_poke(h->o.sched);
        }
        sreq_unref(r);
    }
    sreq_unref(cx->prep);
    free(cx->err);
    bool large = cx->large || cx->body.cap >= HTTP_TRIM_BYTES;
    buf_fini(&cx->body);
    if (large)
        malloc_trim(0);
    free(cx);
    *con_cls = NULL;
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    struct http *h = cls;
    (void)version;
    (void)upload_data;
    if (!*con_cls) {
        *con_cls = h;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return not_found(c, url);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return bad_method(c, method, url);
    struct buf b;
    buf_init(&b, 16u << 20);
    metrics_render_kvbm(h->o.metrics, h->o.kvbm_metrics, &b);
    enum MHD_Result r =
        send_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b), b.len);
    buf_fini(&b);
    return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http *h = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    elog_emit(&h->o.log, ELOG_DEBUG, "libmicrohttpd: %s", line);
}

static struct MHD_Daemon *start_daemon(struct http *h, const struct sockaddr_in *sa, bool api)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (api)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    return MHD_start_daemon(flags, 0, NULL, NULL, api ? api_handler : metrics_handler, h,
                            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)((h->o.idle_timeout_ns + CLK_NS_PER_S - 1) / CLK_NS_PER_S),
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY_BYTES,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_NOTIFY_COMPLETED,
                            api ? api_completed : NULL, h, MHD_OPTION_END);
}

static uint16_t bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

int http_start(const struct http_opts *o, struct http **ret, struct diag *d)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    const char *host = !strcmp(o->host, "localhost") ? "127.0.0.1" : o->host;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return diag_set(d, -EINVAL, 0, 0, "--host %s is not an IPv4 address", o->host);
    struct http *h = xcalloc(1, sizeof(*h));
    h->o = *o;
    uint64_t ctx = o->model->max_sequence_length;
    uint64_t body = ctx * HTTP_BODY_BYTES_PER_TOKEN + HTTP_BODY_BASE_BYTES;
    h->body_max_bytes = body < REQPARSE_BODY_MAX_BYTES ? (size_t)body : REQPARSE_BODY_MAX_BYTES;
    h->body_max_values = (size_t)(ctx * HTTP_BODY_VALUES_PER_TOKEN + HTTP_BODY_BASE_VALUES);
    jobq_init(&h->pq, offsetof(struct conn, next));
    pthread_mutex_init(&h->pmu, NULL);
    int r = 0;
    for (; h->n_workers < HTTP_PARSE_THREADS && r == 0; h->n_workers++)
        r = -pthread_create(&h->workers[h->n_workers], NULL, parse_main, h);
    if (r < 0) {
        h->n_workers--;
        http_stop(h);
        return diag_set(d, r, 0, 0, "cannot start the request parsing threads");
    }
    sa.sin_port = htons(o->port);
    h->api = start_daemon(h, &sa, true);
    if (!h->api) {
        http_stop(h);
        return diag_set(d, -EADDRINUSE, 0, 0, "cannot listen on %s:%u", o->host, o->port);
    }
    sa.sin_port = htons(o->metrics_port);
    h->met = start_daemon(h, &sa, false);
    if (!h->met) {
        http_stop(h);
        return diag_set(d, -EADDRINUSE, 0, 0, "cannot listen on %s:%u (metrics)", o->host,
                        o->metrics_port);
    }
    h->port = bound_port(h->api);
    h->metrics_port = bound_port(h->met);
    *ret = h;
    return 0;
}

uint16_t http_port(const struct http *h)
{
    return h->port;
}

uint16_t http_metrics_port(const struct http *h)
{
    return h->metrics_port;
}

void http_quiesce(struct http *h)
{
    atomic_store(&h->stopping, true);
}

void http_stop(struct http *h)
{
    if (!h)
        return;
    atomic_store(&h->stopping, true);
    /* the workers finish what is queued (resuming those connections) before the daemons stop */
    jobq_stop(&h->pq);
    for (unsigned i = 0; i < h->n_workers; i++)
        pthread_join(h->workers[i], NULL);
    if (h->api)
        MHD_stop_daemon(h->api);
    if (h->met)
        MHD_stop_daemon(h->met);
    jobq_fini(&h->pq);
    pthread_mutex_destroy(&h->pmu);
    free(h);
}
