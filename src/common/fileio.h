/* SPDX-License-Identifier: Apache-2.0 */
/* Small file helpers: atomic writes (temp file + fsync + rename), bounded whole-file reads,
 * mkdir -p. Return 0 or negative errno. Any thread. */
#ifndef KVTIER_COMMON_FILEIO_H
#define KVTIER_COMMON_FILEIO_H

#include <stddef.h>

#include "common/buf.h"

/* Writes len bytes to path atomically: readers see the old file or the whole new one. */
int fileio_write_atomic(const char *path, const void *data, size_t len);
/* Reads the whole file into out (appending); -EMSGSIZE past max_bytes, -ENOENT if absent. */
int fileio_read_all(const char *path, size_t max_bytes, struct buf *out);
/* Creates dir and its parents (mode 0755); existing directories are fine. */
int fileio_mkdir_p(const char *dir);
/* Joins a and b with one '/'; owned result. */
char *fileio_join(const char *a, const char *b);

#endif
