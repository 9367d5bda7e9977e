/* SPDX-License-Identifier: Apache-2.0 */
/* Small file helpers: atomic writes (temp file + fsync + rename), bounded whole-file reads,
 * mkdir -p. Return 0 or negative errno. Any thread. */
#ifndef KVTIER_COMMON_FILEIO_H
#define KVTIER_COMMON_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "common/buf.h"

/* Writes len bytes to path atomically: readers see the old file or the whole new one. */
int fileio_write_atomic(const char *path, const void *data, size_t len);
/* Reads the whole file into out (appending); -EMSGSIZE past max_bytes, -ENOENT if absent. */
int fileio_read_all(const char *path, size_t max_bytes, struct buf *out);
/* Creates dir and its parents (mode 0755); existing directories are fine. */
int fileio_mkdir_p(const char *dir);
/* Closes a file written line by line (JSONL, CSV) and sets *f to NULL. When a write failed (a
 * full disk: the stream's error flag, or the last flush in fclose), part of a line may have
 * reached the file: it is cut back to its last whole line, so that every line of what was
 * measured still parses (the stream must be open for reading too: fopen "w+"). 0, or the
 * negative errno of the failure (-EIO when the stream only says that one failed). NULL *f: 0. */
int fileio_close_lines(FILE **f);
/* Cuts the file open as fd back to just after its last newline (to 0 bytes when it has none).
 * 0 or negative errno. */
int fileio_trim_partial_line(int fd);
/* Joins a and b with one '/'; owned result. */
char *fileio_join(const char *a, const char *b);

#endif
