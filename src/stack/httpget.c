/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded HTTP GET over libcurl (see httpget.h). */
#include "stack/httpget.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "common/clk.h"

struct sink {
    struct buf *out;
    size_t limit;
    bool over;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = sz * n;
    if (s->out->len + len > s->limit || buf_append(s->out, p, len) < 0) {
        s->over = true;
        return 0;
    }
    return len;
}

int httpget(const char *url, uint64_t timeout_ns, struct buf *out, struct httpget_result *res)
{
    *res = (struct httpget_result){ 0 };
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(res->err, sizeof(res->err), "curl_easy_init failed");
        return -ENOMEM;
    }
    struct sink s = { .out = out,
                      .limit = out->max_bytes ? out->max_bytes : HTTPGET_BODY_MAX_BYTES };
    long ms = (long)(timeout_ns / CLK_NS_PER_MS);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    uint64_t t0 = clk_now_ns();
    CURLcode rc = curl_easy_perform(c);
    res->time_ns = clk_now_ns() - t0;
    int r = 0;
    if (s.over) {
        snprintf(res->err, sizeof(res->err), "response larger than %zu bytes", s.limit);
        r = -EMSGSIZE;
    } else if (rc != CURLE_OK) {
        snprintf(res->err, sizeof(res->err), "%s", curl_easy_strerror(rc));
        r = rc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
            : rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
                                             : -EIO;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    }
    curl_easy_cleanup(c);
    return r;
}
