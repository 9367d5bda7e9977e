/* SPDX-License-Identifier: Apache-2.0 */
/* Redaction of credentials before they reach a file: a secret (an API key) quoted back by a
 * server in an error body or event, and the credentials a URL can carry (userinfo and query
 * values). Used by loadgen (records, AIPerf export, summary) and by the bundle manifest. Pure
 * functions, any thread. */
#ifndef KVTIER_COMMON_REDACT_H
#define KVTIER_COMMON_REDACT_H

#include <stddef.h>

/* What a redacted secret or URL part is replaced by. */
#define REDACT_MARK "***"
/* Secrets shorter than this are not searched for (a one-letter "key" would blank every text). */
#define REDACT_SECRET_MIN_BYTES 4

/* Replaces, in the NUL-terminated string s (in place: it only shrinks), every occurrence of
 * secret by REDACT_MARK, and a tail of s that is the start of secret (text cut inside the
 * secret by a length limit) when that tail is REDACT_SECRET_MIN_BYTES long or longer. secret
 * NULL, empty or shorter than REDACT_SECRET_MIN_BYTES: nothing is done. Both borrowed. Returns
 * the number of replacements. */
size_t redact_secret(char *s, const char *secret);

/* Returns a copy of url (owned; NULL when url is NULL) with the userinfo ("user:password@")
 * replaced by REDACT_MARK "@" and the value of every query parameter replaced by REDACT_MARK;
 * the fragment is dropped. Scheme, host, port and path are kept as given. */
char *redact_url(const char *url);

#endif
