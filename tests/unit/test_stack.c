/* SPDX-License-Identifier: Apache-2.0 */
/* Spawning (process groups, logs, exec errors, environ read-back), cgroup placement on fake
 * cgroup trees (v2 with io, hybrid v1 blkio fallback, none), cache-dir emptying, secret
 * names, and the minimal Prometheus scan. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/fileio.h"
#include "common/spawn.h"
#include "common/xalloc.h"
#include "stack/cgroup.h"
#include "stack/stack.h"

extern char **environ;

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/kvtier-test-stack-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return xstrdup(d);
}

static void rm_rf(const char *d)
{
    char *cmd = xalloc_printf("rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_spawn_group_env_and_log(void **state)
{
    (void)state;
    char *d = tmpdir();
    char *log = fileio_join(d, "child.log");
    struct spawn_env env;
    spawn_env_init(&env, environ, NULL);
    spawn_env_set(&env, "KVTIER_TEST_VAR", "hello");
    /* a shell that starts a grandchild in the same group, then waits */
    char *argv[] = { "sh", "-c", "echo out $KVTIER_TEST_VAR; sleep 30 & wait", NULL };
    struct spawn_opts o = { .argv = argv, .envp = env.v, .stdout_path = log };
    struct spawn_proc p;
    assert_int_equal(spawn_start(&o, &p), 0);
    assert_int_equal(getpgid(p.pid), p.pid);
    /* the environment read back from /proc is what we gave */
    struct spawn_env got;
    spawn_env_init(&got, NULL, NULL);
    assert_int_equal(spawn_env_read_pid(&got, NULL, p.pid), 0);
    assert_string_equal(spawn_env_get(&got, "KVTIER_TEST_VAR"), "hello");
    spawn_env_fini(&got);
    assert_int_equal(spawn_poll(&p), 0);
    assert_int_equal(spawn_wait(&p, 50 * CLK_NS_PER_MS), -ETIMEDOUT);
    assert_int_equal(spawn_stop(&p, 2 * CLK_NS_PER_S), 0);
    assert_false(spawn_group_alive(p.pid));
    assert_int_equal(spawn_exit_code(&p), 128 + SIGTERM);
    struct buf b;
    buf_init(&b, 4096);
    assert_true(fileio_read_all(log, 4096, &b) >= 0);
    assert_non_null(strstr(buf_str(&b), "out hello"));
    buf_fini(&b);
    /* a child that ignores SIGTERM is killed */
    char *stubborn[] = { "sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30", NULL };
    o.argv = stubborn;
    assert_int_equal(spawn_start(&o, &p), 0);
    clk_sleep_ns(100 * CLK_NS_PER_MS);
    assert_int_equal(spawn_stop(&p, 200 * CLK_NS_PER_MS), 1);
    assert_false(spawn_group_alive(p.pid));
    /* exec failure comes back as an error, not a dead child */
    char *missing[] = { "/nonexistent/kvtier-no-such-program", NULL };
    o.argv = missing;
    assert_int_equal(spawn_start(&o, &p), -ENOENT);
    spawn_env_fini(&env);
    free(log);
    rm_rf(d);
    free(d);
}

static void test_env_block_limits(void **state)
{
    (void)state;
    const char block[] = "A=1\0NOEQUALS\0B=x=y\0\0C=3";
    struct spawn_env e;
    spawn_env_init(&e, NULL, NULL);
    assert_int_equal(spawn_env_parse_block(&e, block, sizeof(block) - 1), 0);
    assert_string_equal(spawn_env_get(&e, "A"), "1");
    assert_string_equal(spawn_env_get(&e, "B"), "x=y");
    assert_string_equal(spawn_env_get(&e, "C"), "3");
    assert_null(spawn_env_get(&e, "NOEQUALS"));
    spawn_env_fini(&e);
    /* over the entry limit: -EMSGSIZE, entries read so far kept */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < SPAWN_ENV_MAX_ENTRIES + 10; i++) {
        buf_printf(&b, "V%d=1", i);
        buf_append(&b, "", 1);
    }
    spawn_env_init(&e, NULL, NULL);
    assert_int_equal(spawn_env_parse_block(&e, (const char *)b.data, b.len), -EMSGSIZE);
    assert_int_equal(e.n, SPAWN_ENV_MAX_ENTRIES);
    spawn_env_fini(&e);
    buf_fini(&b);
    assert_int_equal(spawn_env_read_pid(&e, "/nonexistent", 1), -ENOENT);
}

static void put(const char *dir, const char *name, const char *content)
{
    char *p = fileio_join(dir, name);
    assert_int_equal(fileio_write_atomic(p, content, strlen(content)), 0);
    free(p);
}

static char *slurp(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    struct buf b;
    buf_init(&b, 4096);
    int r = fileio_read_all(p, 4096, &b);
    free(p);
    if (r < 0) {
        buf_fini(&b);
        return xstrdup("");
    }
    return buf_take_str(&b);
}

static void test_cgroup_v2_io_max(void **state)
{
    (void)state;
    char *root = tmpdir();
    put(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
    put(root, "cgroup.subtree_control", "");
    /* a fake tree: the kernel would create these files in the new group */
    char *g = fileio_join(root, "kvtier-t");
    assert_int_equal(fileio_mkdir_p(g), 0);
    put(g, "io.max", "");
    put(g, "cgroup.procs", "");
    struct cgroup_place p;
    assert_int_equal(cgroup_setup(root, "kvtier-t", "259:0", 1000000, 500000, &p), 0);
    assert_int_equal(p.kind, CGROUP_V2);
    assert_true(p.limits_applied);
    char *iomax = slurp(g, "io.max");
    assert_string_equal(iomax, "259:0 rbps=1000000 wbps=500000");
    free(iomax);
    char *sub = slurp(root, "cgroup.subtree_control");
    assert_string_equal(sub, "+io");
    free(sub);
    json_t *j = cgroup_json(&p);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "v2");
    json_decref(j);
    free(g);
    rm_rf(root);
    free(root);
}

static void test_cgroup_hybrid_falls_back_to_v1(void **state)
{
    (void)state;
    char *root = tmpdir();
    /* this machine's layout: tmpfs root, cgroup2 under unified/ without io, v1 blkio */
    char *uni = fileio_join(root, "unified");
    char *blk = fileio_join(root, "blkio");
    assert_int_equal(fileio_mkdir_p(uni), 0);
    assert_int_equal(fileio_mkdir_p(blk), 0);
    put(uni, "cgroup.controllers", "");
    put(blk, "blkio.throttle.read_bps_device", "");
    char *g = fileio_join(blk, "kvtier-t");
    assert_int_equal(fileio_mkdir_p(g), 0);
    put(g, "blkio.throttle.read_bps_device", "");
    put(g, "blkio.throttle.write_bps_device", "");
    struct cgroup_place p;
    assert_int_equal(cgroup_setup(root, "kvtier-t", "254:0", 2000000, 0, &p), 0);
    assert_int_equal(p.kind, CGROUP_V1_BLKIO);
    assert_true(p.limits_applied);
    assert_false(p.buffered_limited);
    assert_non_null(strstr(p.reason, "no io controller"));
    assert_non_null(strstr(p.reason, "buffered"));
    char *rb = slurp(g, "blkio.throttle.read_bps_device");
    assert_string_equal(rb, "254:0 2000000");
    free(rb);
    free(g);
    free(uni);
    free(blk);
    rm_rf(root);
    free(root);
}

static void test_cgroup_none_is_degraded_not_fatal(void **state)
{
    (void)state;
    char *root = tmpdir();
    struct cgroup_place p;
    assert_int_equal(cgroup_setup(root, "kvtier-t", "254:0", 1000, 0, &p), 1);
    assert_int_equal(p.kind, CGROUP_NONE);
    assert_false(p.limits_applied);
    assert_true(strlen(p.reason) > 0);
    cgroup_teardown(&p);
    rm_rf(root);
    free(root);
    char dev[32];
    assert_int_equal(cgroup_disk_of_path(NULL, "/proc", dev, sizeof(dev)), -ENOENT);
}

static bool exists(const char *dir, const char *name)
{
    char *p = fileio_join(dir, name);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

/* Issue 11 item 1: the user's files in --disk-cache-dir survive; kvtier deletes only KV cache
 * files, only in its own marked subdirectory, never through a symlink. */
static void test_clear_cache_dir(void **state)
{
    (void)state;
    char *d = tmpdir();
    put(d, "dynamo-kvbm-disk-cache-user", "0123456789"); /* the user's, outside our subdir */
    put(d, "thesis.tex", "xy");
    char *keep = fileio_join(d, "keep");
    assert_int_equal(fileio_mkdir_p(keep), 0);
    char *cache = NULL;
    struct diag dg = { 0 };
    assert_int_equal(stack_cache_dir_claim(d, &cache, &dg), 0);
    char *want = fileio_join(d, STACK_CACHE_SUBDIR);
    assert_string_equal(cache, want);
    assert_true(exists(cache, STACK_CACHE_MARKER));
    put(cache, "dynamo-kvbm-disk-cache-abc", "0123456789");
    put(cache, "dynamo-kvbm-disk-cache-stale", "01");
    put(cache, "notes.txt", "keep me");
    json_t *j = stack_clear_cache_dir(cache);
    assert_int_equal(json_integer_value(json_object_get(j, "files_removed")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_removed")), 12);
    assert_true(json_is_true(json_object_get(j, "emptied")));
    json_decref(j);
    assert_true(exists(cache, "notes.txt"));
    assert_true(exists(cache, STACK_CACHE_MARKER));
    assert_true(exists(d, "thesis.tex"));
    assert_true(exists(d, "dynamo-kvbm-disk-cache-user"));
    assert_true(exists(d, "keep"));
    /* claiming again accepts the marked directory; a relative parent gives the absolute path
     * (the mode's expected directory must equal the one the launched worker reports) */
    char *again = NULL;
    assert_int_equal(stack_cache_dir_claim(d, &again, &dg), 0);
    free(again);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(d), 0);
    assert_int_equal(stack_cache_dir_claim(".", &again, &dg), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_true(again[0] == '/');
    assert_non_null(strstr(again, STACK_CACHE_SUBDIR));
    free(again);
    /* the parent itself is never emptied: it has no marker */
    j = stack_clear_cache_dir(d);
    assert_true(json_is_false(json_object_get(j, "emptied")));
    json_decref(j);
    assert_true(exists(d, "dynamo-kvbm-disk-cache-user"));
    j = stack_clear_cache_dir("/");
    assert_true(json_is_false(json_object_get(j, "emptied")));
    json_decref(j);
    /* a non-empty unmarked kvtier-kvcache is not ours: refused, untouched */
    char *d2 = tmpdir();
    char *sub2 = fileio_join(d2, STACK_CACHE_SUBDIR);
    assert_int_equal(fileio_mkdir_p(sub2), 0);
    put(sub2, "dynamo-kvbm-disk-cache-x", "1");
    char *c2 = NULL;
    assert_int_equal(stack_cache_dir_claim(d2, &c2, &dg), -EEXIST);
    assert_non_null(strstr(dg.msg, "no " STACK_CACHE_MARKER " marker"));
    assert_null(c2);
    assert_true(exists(sub2, "dynamo-kvbm-disk-cache-x"));
    /* a symlink named kvtier-kvcache (to a marked directory, even) is refused */
    char *d3 = tmpdir();
    char *link = fileio_join(d3, STACK_CACHE_SUBDIR);
    assert_int_equal(symlink(cache, link), 0);
    assert_int_equal(stack_cache_dir_claim(d3, &c2, &dg), -EEXIST);
    assert_non_null(strstr(dg.msg, "symlink"));
    j = stack_clear_cache_dir(link);
    assert_true(json_is_false(json_object_get(j, "emptied")));
    json_decref(j);
    /* an empty unmarked directory is adopted and marked */
    unlink(link);
    assert_int_equal(mkdir(link, 0755), 0);
    assert_int_equal(stack_cache_dir_claim(d3, &c2, &dg), 0);
    assert_true(exists(link, STACK_CACHE_MARKER));
    free(c2);
    j = stack_drop_page_cache("/nonexistent", true);
    assert_true(json_is_false(json_object_get(j, "dropped")));
    assert_non_null(json_string_value(json_object_get(j, "reason")));
    json_decref(j);
    rm_rf(d);
    rm_rf(d2);
    rm_rf(d3);
    free(keep);
    free(cache);
    free(want);
    free(sub2);
    free(link);
    free(d);
    free(d2);
    free(d3);
}

/* Issue 11 #6: cgroups of a runner that is gone are removed at the next start; a live
 * runner's (this process) and other cgroups stay. */
static void test_cgroup_reap_stale(void **state)
{
    (void)state;
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    assert_true(dead > 0);
    int st;
    assert_int_equal(waitpid(dead, &st, 0), dead);
    char *root = tmpdir();
    char *blkio = fileio_join(root, "blkio");
    char *stale1 = xalloc_printf("%s/kvtier-%d-B1-r01", root, (int)dead);
    char *stale2 = xalloc_printf("%s/kvtier-%d-C-r02", blkio, (int)dead);
    char *live = xalloc_printf("%s/kvtier-%d-B2-r01", root, (int)getpid());
    char *other = fileio_join(root, "kvtier-notapid");
    char *foreign = fileio_join(root, "system.slice");
    const char *dirs[] = { stale1, stale2, live, other, foreign };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(fileio_mkdir_p(dirs[i]), 0);
    assert_int_equal(cgroup_reap_stale(root), 2);
    struct stat sb;
    assert_int_not_equal(stat(stale1, &sb), 0);
    assert_int_not_equal(stat(stale2, &sb), 0);
    assert_int_equal(stat(live, &sb), 0);
    assert_int_equal(stat(other, &sb), 0);
    assert_int_equal(stat(foreign, &sb), 0);
    rm_rf(root);
    free(root);
    free(blkio);
    free(stale1);
    free(stale2);
    free(live);
    free(other);
    free(foreign);
}

/* KVBM's start-up lines in a worker log, after 200 KiB of other output: device blocks and the
 * layout, bytes per block = layers x outer x page x inner x width; no lines, no object. */
static void test_worker_layout(void **state)
{
    (void)state;
    char dir[] = "/tmp/kvtier-test-layout.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = fileio_join(dir, "worker.log");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 4000; i++)
        fprintf(f, "[TRT-LLM] [I] loading weights shard %d of the checkpoint ..........\n", i);
    fprintf(f, "2025-01-01T00:00:00Z INFO kvbm::block_manager: Initializing KvbmWorker with "
               "params: num_device_blocks=6144, page_size=32, dtype_width_bytes=1\n"
               "INFO kvbm: Inferred layout: num_layers=32, outer_dim=2, page_size=32, "
               "inner_dim=1024\n");
    fclose(f);
    json_t *o = stack_worker_layout(p);
    assert_non_null(o);
    assert_true(json_number_value(json_object_get(o, "num_device_blocks")) == 6144.0);
    /* Llama 3.1 8B with FP8 KV: 32 x 2 x 32 x 1024 x 1 = 2 MiB per block (kvbm.md table) */
    assert_true(json_number_value(json_object_get(o, "bytes_per_block")) == 2097152.0);
    assert_true(json_number_value(json_object_get(o, "inner_dim")) == 1024.0);
    json_decref(o);
    f = fopen(p, "w");
    fprintf(f, "no kvbm here\n");
    fclose(f);
    assert_null(stack_worker_layout(p));
    assert_null(stack_worker_layout("/nonexistent/worker.log"));
    assert_null(stack_worker_layout(NULL));
    unlink(p);
    free(p);
    rmdir(dir);
}

static void test_secret_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool secret;
    } cases[] = {
        { "OPENAI_API_KEY", true },         { "HF_TOKEN", true }, { "DB_PASSWORD", true },
        { "DYN_KVBM_CPU_CACHE_GB", false }, { "PATH", false },    { "--api-key", true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(stack_is_secret_name(cases[i].name), cases[i].secret);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_group_env_and_log),
        cmocka_unit_test(test_worker_layout),
        cmocka_unit_test(test_env_block_limits),
        cmocka_unit_test(test_cgroup_v2_io_max),
        cmocka_unit_test(test_cgroup_hybrid_falls_back_to_v1),
        cmocka_unit_test(test_cgroup_none_is_degraded_not_fatal),
        cmocka_unit_test(test_clear_cache_dir),
        cmocka_unit_test(test_cgroup_reap_stale),
        cmocka_unit_test(test_secret_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
