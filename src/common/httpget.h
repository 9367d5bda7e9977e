/* SPDX-License-Identifier: Apache-2.0 */
/* The one small HTTP client over libcurl easy for everything that is not the load generator:
 * health checks, model lists, /metrics pages (one-shot or on a kept connection, as the observe
 * sampler scrapes) and the doctor's probe chat (a POST of JSON whose body is streamed to a
 * callback). Status, body up to a limit, and a one-line error. Any thread (one handle per
 * call or per connection object); curl_global_init must have run (cli does it). */
#ifndef KVTIER_COMMON_HTTPGET_H
#define KVTIER_COMMON_HTTPGET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define HTTPGET_BODY_MAX_BYTES (32u << 20) /* largest page accepted (metrics pages) */
#define HTTPGET_ERR_MAX        256

struct httpget_result {
    long status;               /* HTTP status, 0 when no response */
    char err[HTTPGET_ERR_MAX]; /* what went wrong when the call fails */
    uint64_t time_ns;          /* request duration */
};

/* A piece of the body as it arrives, stamped (now_ns) before anything parses it. 0 to go on;
 * a negative errno aborts the transfer and becomes the request's result. */
typedef int httpget_data_fn(void *ctx, const char *data, size_t len, uint64_t now_ns);

struct httpget_opts {
    const char *post_json;    /* borrowed; NULL = GET, else a POST of this JSON body */
    const char *bearer;       /* borrowed; NULL or a key sent as "Authorization: Bearer" */
    httpget_data_fn *on_data; /* NULL = the body is appended to out */
    void *ctx;
};

/* A kept libcurl handle: its connection is reused by the next request. Owned;
 * httpget_conn_free (NULL-safe). One thread at a time. */
struct httpget_conn;
struct httpget_conn *httpget_conn_new(void);
void httpget_conn_free(struct httpget_conn *c);

/* GETs url with a total timeout; body appended to out (bounded by out->max_bytes or
 * HTTPGET_BODY_MAX_BYTES). Returns 0 when a response arrived (any status), -ECONNREFUSED /
 * -ETIMEDOUT / -EIO when none did (res->err says why), -EMSGSIZE past the limit. */
int httpget(const char *url, uint64_t timeout_ns, struct buf *out, struct httpget_result *res);
/* The general request: on conn (NULL = a one-shot handle), with opts (NULL = a plain GET);
 * out may be NULL when opts->on_data takes the body. Returns as httpget, or the negative errno
 * of an aborting on_data. */
int httpget_request(struct httpget_conn *conn, const char *url, uint64_t timeout_ns,
                    const struct httpget_opts *opts, struct buf *out, struct httpget_result *res);

#endif
