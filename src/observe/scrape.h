/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP GET of a Prometheus /metrics page (common/httpget.h): one reused connection per endpoint,
 * a total timeout, a size limit (PROM_PAGE_MAX_BYTES) and a status check. */
#ifndef KVTIER_OBSERVE_SCRAPE_H
#define KVTIER_OBSERVE_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SCRAPE_ERR_MAX 256

struct scrape;

/* A scraper for url (copied). Owned; scrape_free. Not thread-safe: one thread per scraper. */
struct scrape *scrape_new(const char *url);
void scrape_free(struct scrape *s);
/* The URL (borrowed). */
const char *scrape_url(const struct scrape *s);
/* Fetches the page into out (reset first; its max_bytes bounds the body). 0, -ETIMEDOUT,
 * -ECONNREFUSED (or another connect failure), -EMSGSIZE, -EPROTO (HTTP status not 200); err
 * (SCRAPE_ERR_MAX bytes) says what happened. */
int scrape_fetch(struct scrape *s, uint64_t timeout_ns, struct buf *out, char *err);

#endif
