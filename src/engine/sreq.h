/* SPDX-License-Identifier: Apache-2.0 */
/* One API request as the HTTP front end and the scheduler share it. The request's immutable
 * part is filled by the HTTP thread before submission; the output buffer, the done flag and
 * the connection's suspended state are guarded by the request's mutex; cancellation is an
 * atomic flag. Reference counted: the HTTP side and the scheduler each hold a reference. */
#ifndef KVTIER_ENGINE_SREQ_H
#define KVTIER_ENGINE_SREQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

#define SREQ_OUT_MAX_BYTES (256u << 20) /* bound on buffered output of one request */

enum sreq_endpoint { SREQ_CHAT, SREQ_COMPLETIONS };

/* Wakes the connection that waits for output (MHD_resume_connection); called with the
 * request's mutex held. */
typedef void sreq_wake_fn(void *conn);

struct sreq {
    /* immutable after submission */
    uint64_t id;
    char id_str[48]; /* "chatcmpl-<n>" / "cmpl-<n>" */
    enum sreq_endpoint ep;
    bool stream, include_usage;
    uint32_t *prompt; /* owned token ids */
    size_t n_prompt;
    uint32_t max_tokens; /* cap on generated tokens */
    uint32_t min_tokens;
    bool ignore_eos;
    uint64_t arrival_ns; /* when the HTTP front end received the whole body */
    uint64_t created_unix_s;
    uint32_t cut_after_tokens; /* failure injection: drop the stream after n tokens (0 = no) */
    /* shared, under mu */
    pthread_mutex_t mu;
    int refs;
    void *conn; /* MHD connection while it is alive, else NULL */
    sreq_wake_fn *wake;
    bool suspended;  /* the connection waits for output */
    struct buf out;  /* bytes not yet handed to the connection */
    bool done;       /* no more output will come */
    bool cut;        /* end the stream with an error (connection dropped) */
    int http_status; /* final status for non-streaming responses */
    /* results, written by the scheduler before done */
    uint32_t completion_tokens, cached_tokens;
    atomic_bool cancelled; /* client went away */
};

/* New request with one reference. Owned. */
struct sreq *sreq_new(void);
void sreq_ref(struct sreq *r);
/* Drops a reference; frees at zero. NULL-safe. */
void sreq_unref(struct sreq *r);
/* Appends output, optionally ends it, and wakes a suspended connection. Any thread. */
void sreq_emit(struct sreq *r, const void *data, size_t len, bool done, bool cut);
/* Resumes a suspended connection without output, so the HTTP thread looks at its socket again
 * (a client that went away while its request was queued is noticed). Any thread. */
void sreq_poke(struct sreq *r);

#endif
