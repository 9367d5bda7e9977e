/* SPDX-License-Identifier: Apache-2.0 */
/* Credential redaction (see redact.h). */
#include "common/redact.h"

#include <assert.h>
#include <string.h>

#include "common/buf.h"

size_t redact_secret(char *s, const char *secret)
{
    if (!s || !secret)
        return 0;
    size_t k = strlen(secret), mark = strlen(REDACT_MARK), n = 0;
    if (k < REDACT_SECRET_MIN_BYTES)
        return 0;
    static_assert(sizeof(REDACT_MARK) - 1 <= REDACT_SECRET_MIN_BYTES, "the mark must not grow s");
    char *p = s;
    while ((p = strstr(p, secret)) != NULL) {
        memcpy(p, REDACT_MARK, mark);
        memmove(p + mark, p + k, strlen(p + k) + 1);
        p += mark;
        n++;
    }
    size_t len = strlen(s);
    for (size_t t = k - 1 < len ? k - 1 : len; t >= REDACT_SECRET_MIN_BYTES; t--) {
        if (memcmp(s + len - t, secret, t) == 0) {
            memcpy(s + len - t, REDACT_MARK, mark + 1);
            n++;
            break;
        }
    }
    return n;
}

char *redact_url(const char *url)
{
    if (!url)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    buf_append(&b, url, (size_t)(auth - url));
    const char *at = memrchr(auth, '@', auth_len);
    if (at) {
        buf_append_str(&b, REDACT_MARK "@");
        buf_append(&b, at + 1, (size_t)(auth + auth_len - at - 1));
    } else {
        buf_append(&b, auth, auth_len);
    }
    const char *p = auth + auth_len;
    size_t path_len = strcspn(p, "?#");
    buf_append(&b, p, path_len);
    p += path_len;
    if (*p == '?') {
        p++;
        const char *end = p + strcspn(p, "#");
        buf_append_str(&b, "?");
        while (p < end) {
            size_t plen = strcspn(p, "&#");
            if (p + plen > end)
                plen = (size_t)(end - p);
            const char *eq = memchr(p, '=', plen);
            buf_append(&b, p, eq ? (size_t)(eq - p) : plen);
            if (eq)
                buf_append_str(&b, "=" REDACT_MARK);
            p += plen;
            if (p < end && *p == '&') {
                buf_append_str(&b, "&");
                p++;
            }
        }
    }
    return buf_take_str(&b);
}
