/* SPDX-License-Identifier: Apache-2.0 */
/* Scale of the evidence pack (issue 14): builds a results tree of 201 bundles (67 groups of
 * B1/B2/B2p, each a copy of the fixture bundles with their request records repeated) and times
 * `kvtier report --results` (pack_write) pinned to one core, printing wall time, this process's
 * CPU time and its peak resident memory, first with the records as they are and then with ten
 * times as many: the records are streamed, so memory follows the number of bundles, not their
 * size. Budget: <= 10 s on one core for 200 bundles. Usage: bench_report [fixtures-dir]
 * (default $KVTIER_FIXTURES, else tests/fixtures); BENCH_KEEP=1 keeps the tree. */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clk.h"
#include "common/xalloc.h"
#include "report/pack.h"

#define GROUPS 67

static int sh(const char *cmd)
{
    int r = system(cmd);
    if (r != 0)
        fprintf(stderr, "bench_report: '%s' failed (%d)\n", cmd, r);
    return r;
}

/* The results tree under root: GROUPS copies of the fixture group, records x copies. */
static int build_tree(const char *fixtures, const char *root, unsigned copies)
{
    char *cmd = xalloc_printf(
        "set -e; rm -rf '%s'; mkdir -p '%s/rows'; src=$(ls -d '%s'/pack/results/rows/*/*_*_*_*/ "
        "| head -1); for g in $(seq -w 1 %d); do d='%s'/rows/$g/group_$g; mkdir -p \"$d\"; "
        "cp -r \"$src\"/. \"$d\"/; for r in \"$d\"/*/r*/raw/records.jsonl; do cp \"$r\" \"$r.1\"; "
        ": >\"$r\"; for i in $(seq 1 %u); do cat \"$r.1\" >>\"$r\"; done; rm \"$r.1\"; done; done",
        root, root, fixtures, GROUPS, root, copies);
    int r = sh(cmd);
    free(cmd);
    return r;
}

static void measure(const char *root, const char *label, bool budget)
{
    char *out = xalloc_printf("%s.pack", root);
    char *du = xalloc_printf("du -sh --apparent-size '%s' | cut -f1", root);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = clk_now_ns();
    struct pack_config cfg = { .results_dir = root, .out_dir = out };
    struct pack_result res;
    struct diag d = { 0 };
    int rc = pack_write(&cfg, &res, &d);
    uint64_t t1 = clk_now_ns();
    getrusage(RUSAGE_SELF, &r1);
    if (rc < 0) {
        fprintf(stderr, "bench_report: pack_write failed: %s: %s\n", d.file, d.msg);
        goto out;
    }
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    printf("%s: %u bundles, %u records streamed, %u figures (%u rendered): wall %.2f s, "
           "CPU %.2f s (one core; gnuplot children not counted), peak RSS %.1f MiB; input ",
           label, res.bundles, res.records, res.figures, res.rendered, (double)(t1 - t0) / 1e9, cpu,
           (double)r1.ru_maxrss / 1024.0);
    fflush(stdout);
    sh(du);
    if (budget)
        printf("  budget: <= 10 s for 200 bundles on one core: %s (wall under this machine's "
               "load; the CPU time is the process's own)\n",
               (double)(t1 - t0) / 1e9 <= 10 ? "met" : "NOT MET");
out:
    free(du);
    free(out);
}

int main(int argc, char **argv)
{
    const char *fx = argc > 1 ? argv[1] : getenv("KVTIER_FIXTURES");
    if (!fx)
        fx = "tests/fixtures";
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
        perror("bench_report: sched_setaffinity (running unpinned)");
    char root[] = "/tmp/kvtier-bench-report-XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char *tree = xalloc_printf("%s/results", root);
    int rc = 0;
    if (build_tree(fx, tree, 1) == 0)
        measure(tree, "records x1 ", true);
    else
        rc = 1;
    if (rc == 0 && build_tree(fx, tree, 10) == 0)
        measure(tree, "records x10", false);
    if (!getenv("BENCH_KEEP")) {
        char *rm = xalloc_printf("rm -rf '%s'", root);
        sh(rm);
        free(rm);
    } else {
        printf("kept: %s\n", root);
    }
    free(tree);
    return rc;
}
