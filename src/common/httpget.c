/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded HTTP requests over libcurl easy (see httpget.h). */
#include "common/httpget.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/clk.h"
#include "common/xalloc.h"

struct httpget_conn {
    CURL *h;
};

struct sink {
    struct buf *out;
    const struct httpget_opts *opts;
    size_t limit;
    bool over;
    int cb_err; /* a negative errno from on_data */
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = sz * n;
    if (s->opts && s->opts->on_data) {
        int r = s->opts->on_data(s->opts->ctx, p, len, clk_now_ns());
        if (r < 0) {
            s->cb_err = r;
            return 0;
        }
        return len;
    }
    if (s->out->len + len > s->limit || buf_append(s->out, p, len) < 0) {
        s->over = true;
        return 0;
    }
    return len;
}

struct httpget_conn *httpget_conn_new(void)
{
    struct httpget_conn *c = xcalloc(1, sizeof(*c));
    c->h = curl_easy_init();
    return c;
}

void httpget_conn_free(struct httpget_conn *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    free(c);
}

static int curl_errno(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
           : rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
                                            : -EIO;
}

/* Sets the options of one request on h; *ret_hdr gets the header list the caller frees. */
static void set_request(CURL *h, const char *url, uint64_t timeout_ns, const struct httpget_opts *o,
                        struct sink *s, struct curl_slist **ret_hdr, char **ret_auth)
{
    long ms = (long)(timeout_ns / CLK_NS_PER_MS);
    if (ms < 1)
        ms = 1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    struct curl_slist *hdr = NULL;
    *ret_auth = NULL;
    if (o && o->post_json) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->post_json);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    if (o && o->bearer) {
        *ret_auth = xalloc_printf("Authorization: Bearer %s", o->bearer);
        hdr = curl_slist_append(hdr, *ret_auth);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    *ret_hdr = hdr;
}

int httpget_request(struct httpget_conn *conn, const char *url, uint64_t timeout_ns,
                    const struct httpget_opts *opts, struct buf *out, struct httpget_result *res)
{
    assert(out || (opts && opts->on_data));
    *res = (struct httpget_result){ 0 };
    CURL *h = conn ? conn->h : curl_easy_init();
    if (!h) {
        snprintf(res->err, sizeof(res->err), "libcurl could not be initialised");
        return -ENOMEM;
    }
    struct sink s = { .out = out, .opts = opts };
    if (out)
        s.limit = out->max_bytes ? out->max_bytes : HTTPGET_BODY_MAX_BYTES;
    struct curl_slist *hdr;
    char *auth;
    set_request(h, url, timeout_ns, opts, &s, &hdr, &auth);
    uint64_t t0 = clk_now_ns();
    CURLcode rc = curl_easy_perform(h);
    res->time_ns = clk_now_ns() - t0;
    int r = 0;
    if (s.over) {
        snprintf(res->err, sizeof(res->err), "response larger than %zu bytes", s.limit);
        r = -EMSGSIZE;
    } else if (s.cb_err) {
        snprintf(res->err, sizeof(res->err), "response refused by its reader: %s",
                 strerror(-s.cb_err));
        r = s.cb_err;
    } else if (rc != CURLE_OK) {
        snprintf(res->err, sizeof(res->err), "%s", curl_easy_strerror(rc));
        r = curl_errno(rc);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    free(auth);
    if (!conn)
        curl_easy_cleanup(h);
    return r;
}

int httpget(const char *url, uint64_t timeout_ns, struct buf *out, struct httpget_result *res)
{
    return httpget_request(NULL, url, timeout_ns, NULL, out, res);
}
