/* SPDX-License-Identifier: Apache-2.0 */
/* A small bounded HTTP GET (libcurl easy) for health checks, model lists and metrics pages:
 * status, body up to a limit, and a one-line error. Any thread (one handle per call);
 * curl_global_init must have run (cli does it). */
#ifndef KVTIER_STACK_HTTPGET_H
#define KVTIER_STACK_HTTPGET_H

#include <stdint.h>

#include "common/buf.h"

#define HTTPGET_BODY_MAX_BYTES (32u << 20) /* largest page accepted (metrics pages) */

struct httpget_result {
    long status;      /* HTTP status, 0 when no response */
    char err[256];    /* curl's error text when status == 0 */
    uint64_t time_ns; /* request duration */
};

/* GETs url with a total timeout; body appended to out (bounded by out->max_bytes or
 * HTTPGET_BODY_MAX_BYTES). Returns 0 when a response arrived (any status), -ECONNREFUSED /
 * -ETIMEDOUT / -EIO when none did (res->err says why), -EMSGSIZE past the limit. */
int httpget(const char *url, uint64_t timeout_ns, struct buf *out, struct httpget_result *res);

#endif
