/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: per-process files: /proc/PID/io, /proc/PID/stat and /proc/PID/fdinfo text. */
#include <stddef.h>
#include <stdint.h>

#include "common/procio.h"
#include "observe/pagecache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data;
    struct procio io;
    procio_parse(t, size, &io);
    char comm[PROCIO_COMM_MAX];
    pid_t ppid;
    uint64_t ticks;
    procio_parse_stat(t, size, comm, sizeof(comm), &ppid, &ticks);
    procio_parse_starttime(t, size, &ticks);
    unsigned flags;
    uint64_t pos, ino;
    int mnt;
    pagecache_parse_fdinfo(t, size, &flags, &pos, &mnt, &ino);
    return 0;
}
