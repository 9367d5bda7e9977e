/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers that abort with the requested size on out-of-memory, so callers never
 * test for NULL. The only unprefixed exports in kvtier (docs/architecture.md, naming). */
#ifndef KVTIER_COMMON_XALLOC_H
#define KVTIER_COMMON_XALLOC_H

#include <stddef.h>

/* Each returns owned memory (free with free()); aborts on OOM or on a size overflow. Any thread. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* Like xstrdup for the first n bytes (or up to NUL); the result is NUL-terminated. */
char *xalloc_strndup(const char *s, size_t n);
/* printf into a new owned string. */
char *xalloc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grows *arr (element size elem) so it holds at least need elements; *cap is updated. */
void xalloc_grow(void **arr, size_t *cap, size_t need, size_t elem);
/* Memory aligned to align (a power of two, multiple of sizeof(void *)), e.g. 4096 for O_DIRECT
 * buffers; owned, free with free(). */
void *xalloc_aligned(size_t align, size_t size);

#endif
