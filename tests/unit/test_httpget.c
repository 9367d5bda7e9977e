/* SPDX-License-Identifier: Apache-2.0 */
/* The common HTTP client (common/httpget.c) against a small HTTP/1.1 server on 127.0.0.1 in
 * this test (a mock lives only inside a unit test): a GET with its status and body, a body
 * over the caller's limit, a kept connection reused for a second GET, a JSON POST with a bearer
 * key streamed to a reader, a reader that aborts, and a refused connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/httpget.h"

struct server {
    int fd;
    unsigned port;
    unsigned accepts; /* connections accepted */
    char last_req[4096];
    pthread_mutex_t mu;
};

/* Serves requests on one connection until the peer closes it. */
static void serve_conn(struct server *s, int c)
{
    for (;;) {
        char req[4096];
        ssize_t n = read(c, req, sizeof(req) - 1);
        if (n <= 0)
            return;
        req[n] = 0;
        pthread_mutex_lock(&s->mu);
        snprintf(s->last_req, sizeof(s->last_req), "%s", req);
        pthread_mutex_unlock(&s->mu);
        const char *body = strstr(req, "GET /big")       ? "0123456789abcdef0123456789abcdef"
                           : strstr(req, "POST ")        ? "{\"choices\":[{\"content\":\"hi\"}]}"
                           : strstr(req, "GET /missing") ? "no"
                                                         : "kvbm_matched_tokens 42\n";
        int status = strstr(req, "GET /missing") ? 404 : 200;
        char hdr[256];
        int hl =
            snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, strlen(body));
        if (write(c, hdr, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0)
            return;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* the listening socket was shut down */
        pthread_mutex_lock(&s->mu);
        s->accepts++;
        pthread_mutex_unlock(&s->mu);
        serve_conn(s, c);
        close(c);
    }
}

static int listen_any(unsigned *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    *ret_port = ntohs(a.sin_port);
    return fd;
}

struct reader {
    struct buf got;
    int calls;
    int fail_with;
};

static int on_data(void *ctx, const char *data, size_t len, uint64_t now_ns)
{
    struct reader *r = ctx;
    assert_true(now_ns > 0);
    r->calls++;
    if (r->fail_with)
        return r->fail_with;
    return buf_append(&r->got, data, len);
}

static void test_requests(void **state)
{
    (void)state;
    static struct server s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    s.fd = listen_any(&s.port);
    assert_true(s.fd >= 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);
    char url[128];
    struct httpget_result res;
    struct buf b;
    buf_init(&b, 1 << 20);

    /* a kept connection: two GETs, one accept */
    struct httpget_conn *conn = httpget_conn_new();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", s.port);
    assert_int_equal(httpget_request(conn, url, 2 * CLK_NS_PER_S, NULL, &b, &res), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(buf_str(&b), "kvbm_matched_tokens 42\n");
    buf_reset(&b);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/missing", s.port);
    assert_int_equal(httpget_request(conn, url, 2 * CLK_NS_PER_S, NULL, &b, &res), 0);
    assert_int_equal(res.status, 404); /* a response arrived: the status is the caller's */
    httpget_conn_free(conn);
    assert_int_equal(s.accepts, 1);

    /* over the caller's limit */
    struct buf small;
    buf_init(&small, 16);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/big", s.port);
    assert_int_equal(httpget(url, 2 * CLK_NS_PER_S, &small, &res), -EMSGSIZE);
    assert_non_null(strstr(res.err, "larger than 16 bytes"));
    buf_fini(&small);

    /* a JSON POST with a bearer key, the body streamed to a reader */
    struct reader rd = { 0 };
    buf_init(&rd.got, 1 << 16);
    struct httpget_opts ho = {
        .post_json = "{\"model\":\"m\"}", .bearer = "k3y", .on_data = on_data, .ctx = &rd
    };
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/chat/completions", s.port);
    assert_int_equal(httpget_request(NULL, url, 2 * CLK_NS_PER_S, &ho, NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(buf_str(&rd.got), "\"content\":\"hi\""));
    pthread_mutex_lock(&s.mu);
    assert_non_null(strstr(s.last_req, "POST /v1/chat/completions"));
    assert_non_null(strstr(s.last_req, "Authorization: Bearer k3y"));
    assert_non_null(strstr(s.last_req, "Content-Type: application/json"));
    assert_non_null(strstr(s.last_req, "{\"model\":\"m\"}"));
    pthread_mutex_unlock(&s.mu);

    /* a reader that refuses the body: its errno is the result */
    rd.fail_with = -EPROTO;
    assert_int_equal(httpget_request(NULL, url, 2 * CLK_NS_PER_S, &ho, NULL, &res), -EPROTO);
    buf_fini(&rd.got);

    shutdown(s.fd, SHUT_RDWR);
    close(s.fd);
    pthread_join(th, NULL);

    /* nobody listens any more */
    assert_int_equal(httpget(url, 2 * CLK_NS_PER_S, &b, &res), -ECONNREFUSED);
    assert_int_equal(res.status, 0);
    assert_true(res.err[0] != 0);
    buf_fini(&b);
    pthread_mutex_destroy(&s.mu);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
