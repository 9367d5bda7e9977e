/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl scraper (see scrape.h). */
#include "observe/scrape.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/clk.h"
#include "common/xalloc.h"

struct scrape {
    CURL *h;
    char *url;
    struct buf *out; /* borrowed during a fetch */
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct scrape *s = ctx;
    if (buf_append(s->out, p, size * n) < 0) {
        s->too_big = true;
        return 0;
    }
    return size * n;
}

struct scrape *scrape_new(const char *url)
{
    struct scrape *s = xcalloc(1, sizeof(*s));
    s->url = xstrdup(url);
    s->h = curl_easy_init();
    return s;
}

void scrape_free(struct scrape *s)
{
    if (!s)
        return;
    if (s->h)
        curl_easy_cleanup(s->h);
    free(s->url);
    free(s);
}

const char *scrape_url(const struct scrape *s)
{
    return s->url;
}

int scrape_fetch(struct scrape *s, uint64_t timeout_ns, struct buf *out, char *err)
{
    err[0] = 0;
    if (!s->h) {
        snprintf(err, SCRAPE_ERR_MAX, "libcurl could not be initialised");
        return -ENOMEM;
    }
    buf_reset(out);
    s->out = out;
    s->too_big = false;
    long ms = (long)(timeout_ns / CLK_NS_PER_MS);
    if (ms < 1)
        ms = 1;
    curl_easy_setopt(s->h, CURLOPT_URL, s->url);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode c = curl_easy_perform(s->h);
    s->out = NULL;
    if (s->too_big) {
        snprintf(err, SCRAPE_ERR_MAX, "%s: page larger than %zu bytes", s->url, out->max_bytes);
        return -EMSGSIZE;
    }
    if (c != CURLE_OK) {
        snprintf(err, SCRAPE_ERR_MAX, "%s: %s", s->url, curl_easy_strerror(c));
        if (c == CURLE_OPERATION_TIMEDOUT)
            return -ETIMEDOUT;
        if (c == CURLE_COULDNT_CONNECT)
            return -ECONNREFUSED;
        return -EIO;
    }
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(err, SCRAPE_ERR_MAX, "%s: HTTP status %ld", s->url, status);
        return -EPROTO;
    }
    return 0;
}
