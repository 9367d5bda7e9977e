/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front end of the emulated engine, as Dynamo's frontend serves it (kvbm.md §8):
 * POST /v1/chat/completions and /v1/completions (SSE streaming or unary), GET /v1/models,
 * /health, /live and /metrics (dynamo_frontend_*) on the API port; GET /metrics (kvbm_* and
 * kvtier_engine_*) on the metrics port. libmicrohttpd with an epoll internal thread and
 * suspend/resume: a streaming connection is suspended while it has nothing to send and resumed
 * by the scheduler when tokens arrive; a unary one is suspended until its request is done. Bad
 * input gets a 4xx with an OpenAI-style error body; a client that goes away cancels its
 * request, which releases its blocks. Hostile input is bounded: a body is limited by what a
 * context of the model can hold (413 before it is read when Content-Length says so), parsed and
 * tokenized by worker threads while its connection waits suspended (the network thread never
 * stalls the streams in progress), and memory goes back after large bodies; idle connections
 * and slow uploads are closed; over-long URLs and headers get 414 and 431 with OpenAI bodies
 * (protocol errors libmicrohttpd raises before the handler runs - a bad HTTP version, broken
 * chunking, headers over its 64 KiB connection memory - keep its own short bodies). */
#ifndef KVTIER_ENGINE_HTTP_H
#define KVTIER_ENGINE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/profile.h"
#include "engine/elog.h"
#include "engine/metrics.h"
#include "engine/sched.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

struct http_opts {
    const char *host;            /* IPv4 address or "localhost" */
    uint16_t port, metrics_port; /* 0 = any free port */
    struct sched *sched;         /* borrowed */
    struct metrics *metrics;     /* borrowed */
    const struct tokenizer *tok; /* borrowed */
    enum chat_template tpl;
    const struct model_profile *model; /* borrowed */
    const char *served_model;          /* name listed and accepted */
    const char *model_alias;           /* also accepted (the profile name) */
    bool kvbm_metrics;                 /* render kvbm_* families on the metrics port */
    uint64_t inject_5xx_every;         /* every Nth completion request fails with 500 */
    uint64_t inject_cut_every;         /* every Nth streaming request is cut mid-stream */
    uint64_t idle_timeout_ns; /* a connection idle this long is closed (whole seconds); 0 = never */
    uint64_t upload_timeout_ns; /* a request body slower than this is dropped; 0 = never */
    struct elog log;
};

struct http;

/* Binds both ports and starts serving. Errors: negative errno with d naming the address. */
int http_start(const struct http_opts *o, struct http **ret, struct diag *d);
uint16_t http_port(const struct http *h);
uint16_t http_metrics_port(const struct http *h);
/* Stops accepting new connections (existing ones continue). */
void http_quiesce(struct http *h);
/* Stops both daemons, closing every connection. NULL-safe; frees h. */
void http_stop(struct http *h);

#endif
