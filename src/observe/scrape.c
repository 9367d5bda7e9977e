/* SPDX-License-Identifier: Apache-2.0 */
/* A /metrics scraper over the common HTTP client (see scrape.h). */
#include "observe/scrape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/httpget.h"
#include "common/xalloc.h"

struct scrape {
    struct httpget_conn *conn;
    char *url;
};

struct scrape *scrape_new(const char *url)
{
    struct scrape *s = xcalloc(1, sizeof(*s));
    s->url = xstrdup(url);
    s->conn = httpget_conn_new();
    return s;
}

void scrape_free(struct scrape *s)
{
    if (!s)
        return;
    httpget_conn_free(s->conn);
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
    buf_reset(out);
    struct httpget_result res;
    int r = httpget_request(s->conn, s->url, timeout_ns, NULL, out, &res);
    if (r < 0) {
        snprintf(err, SCRAPE_ERR_MAX, "%.100s: %.150s", s->url, res.err);
        return r;
    }
    if (res.status != 200) {
        snprintf(err, SCRAPE_ERR_MAX, "%s: HTTP status %ld", s->url, res.status);
        return -EPROTO;
    }
    return 0;
}
