/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/io and /proc/PID/stat parsing, the serving tree over the fixture /proc and the real
 * one, finding a process by name and by listening port, and cgroup io.stat / blkio parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/procio.h"
#include "common/xalloc.h"
#include "observe/cgio.h"

static void test_parse_io(void **state)
{
    (void)state;
    const char *t = "rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\n"
                    "write_bytes: 8192\ncancelled_write_bytes: 0\nextra_key: 7\n";
    struct procio io;
    assert_int_equal(procio_parse(t, strlen(t), &io), 0);
    assert_int_equal(io.v[PROCIO_READ_BYTES], 4096);
    assert_int_equal(io.v[PROCIO_WRITE_BYTES], 8192);
    assert_int_equal(io.have, (1u << PROCIO_KEY__COUNT) - 1);
    assert_int_equal(procio_parse("nothing: 1\n", 11, &io), -EINVAL);
    const char *ov = "rchar: 99999999999999999999999\n";
    assert_int_equal(procio_parse(ov, strlen(ov), &io), -EINVAL);
    const char *part = "read_bytes: 5";
    assert_int_equal(procio_parse(part, strlen(part), &io), 0);
    assert_int_equal(io.have, 1u << PROCIO_READ_BYTES);
}

/* The bundle's per-phase record: the byte keys only, in /proc's order. */
static void test_io_json(void **state)
{
    (void)state;
    const char t[] = "rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\n"
                     "write_bytes: 8192\n";
    struct procio io;
    assert_int_equal(procio_parse(t, sizeof(t) - 1, &io), 0);
    json_t *j = procio_json(&io, PROCIO_BYTE_KEYS);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"rchar\":10,\"wchar\":20,\"read_bytes\":4096,\"write_bytes\":8192}");
    free(s);
    json_decref(j);
}

static void test_parse_stat(void **state)
{
    (void)state;
    char line[600] = "42 (a) b (c)) R 7";
    for (int i = 5; i <= 52; i++) {
        char f[16];
        snprintf(f, sizeof(f), " %d", i == 42 ? 1234 : i == 22 ? 777 : 0);
        strncat(line, f, sizeof(line) - strlen(line) - 1);
    }
    char comm[16];
    pid_t ppid = 0;
    uint64_t ticks = 0;
    assert_int_equal(procio_parse_stat(line, strlen(line), comm, sizeof(comm), &ppid, &ticks), 0);
    assert_string_equal(comm, "a) b (c)");
    assert_int_equal(ppid, 7);
    assert_int_equal(ticks, 1234);
    uint64_t start = 0;
    assert_int_equal(procio_parse_starttime(line, strlen(line), &start), 0);
    assert_int_equal(start, 777);
    assert_int_equal(procio_parse_starttime("1 (x) S 0 0", 11, &start), -EINVAL);
    assert_int_equal(procio_parse_stat("no parens", 9, comm, sizeof(comm), &ppid, &ticks), -EINVAL);
    assert_int_equal(procio_parse_stat("1 (x) S", 7, comm, sizeof(comm), &ppid, &ticks), -EINVAL);
}

static void test_tree_fixture(void **state)
{
    (void)state;
    char *proc = xalloc_printf("%s/observe/step1/proc", getenv("KVTIER_FIXTURES"));
    pid_t roots[1] = { 100 }, out[8];
    int n = procio_tree(proc, roots, 1, out, 8);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 101);
    struct procio io;
    assert_int_equal(procio_read(proc, 101, &io), 0);
    assert_int_equal(io.v[PROCIO_READ_BYTES], 3000000);
    assert_int_equal(procio_read(proc, 999, &io), -ENOENT);
    pid_t byname[4];
    assert_int_equal(procio_find_by_name(proc, "iou-wrk-100", byname, 4), 1);
    assert_int_equal(byname[0], 101);
    free(proc);
}

static void test_tree_real(void **state)
{
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    pid_t self = getpid(), out[64];
    int n = procio_tree(NULL, &self, 1, out, 64);
    int found = 0;
    for (int i = 0; i < n; i++)
        found += out[i] == child || out[i] == self;
    kill(child, 9);
    waitpid(child, NULL, 0);
    assert_int_equal(found, 2);
    struct procio io;
    assert_int_equal(procio_read(NULL, self, &io), 0);
    assert_true(io.v[PROCIO_RCHAR] > 0);
}

static void test_find_by_port(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 1), 0);
    socklen_t l = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &l);
    pid_t p = 0;
    assert_int_equal(procio_find_by_port(NULL, ntohs(a.sin_port), &p), 0);
    assert_int_equal(p, getpid());
    close(s);
    assert_int_equal(procio_find_by_port(NULL, ntohs(a.sin_port), &p), -ENOENT);
}

static void test_cgio(void **state)
{
    (void)state;
    struct cgio_dev d[4];
    const char *v2 = "259:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=3 dios=4 cost.vrate=99.5\n"
                     "8:0\n";
    assert_int_equal(cgio_parse_v2(v2, strlen(v2), d, 4), 2);
    assert_int_equal(d[0].major, 259);
    assert_int_equal(d[0].wbytes, 200);
    assert_int_equal(d[0].dios, 4);
    assert_int_equal(d[1].rbytes, 0);
    assert_int_equal(cgio_parse_v2("x:y rbytes=1\n", 13, d, 4), -EINVAL);
    assert_int_equal(cgio_parse_v2(v2, strlen(v2), d, 1), -EMSGSIZE);
    const char *b = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Discard 512\nTotal 12800\n";
    const char *i = "8:0 Read 1\n8:0 Write 2\nTotal 3\n";
    assert_int_equal(cgio_parse_v1(b, strlen(b), i, strlen(i), d, 4), 1);
    assert_int_equal(d[0].rbytes, 4096);
    assert_int_equal(d[0].wbytes, 8192);
    assert_int_equal(d[0].dbytes, 512);
    assert_int_equal(d[0].wios, 2);
    assert_int_equal(cgio_parse_v1("Total 0\n", 8, NULL, 0, d, 4), 0);
    /* Fixture: /proc/100/cgroup says 0::/kvtier and the fixture sysfs has its io.stat. */
    const char *fx = getenv("KVTIER_FIXTURES");
    char *proc = xalloc_printf("%s/observe/step1/proc", fx);
    char *sys = xalloc_printf("%s/observe/step1/sys", fx);
    char *dir = NULL;
    assert_int_equal(cgio_dir_of_pid(proc, sys, 100, &dir), 0);
    int ver = 0;
    assert_int_equal(cgio_read(dir, d, 4, &ver), 2);
    assert_int_equal(ver, 2);
    assert_int_equal(d[0].wbytes, 2000);
    free(dir);
    free(proc);
    free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_io),   cmocka_unit_test(test_io_json),
        cmocka_unit_test(test_parse_stat), cmocka_unit_test(test_tree_fixture),
        cmocka_unit_test(test_tree_real),  cmocka_unit_test(test_find_by_port),
        cmocka_unit_test(test_cgio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
