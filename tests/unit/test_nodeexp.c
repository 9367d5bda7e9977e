/* SPDX-License-Identifier: Apache-2.0 */
/* node_exporter pages back into diskstats and net/dev counters: a page written by hand maps
 * every field with its unit (bytes to sectors, seconds to ms), and, where Debian's
 * prometheus-node-exporter is installed, a real exporter on 127.0.0.1 is scraped between two
 * local readings of /proc/diskstats and /proc/net/dev: every remote counter must lie between
 * the two local ones (the same counters, read by another program at an instant in between),
 * and over an interval with I/O of our own the exporter's bytes and I/O counts lie between
 * those of the inner and the outer local intervals. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/xalloc.h"
#include "observe/nodeexp.h"

static const char page[] = "# TYPE node_disk_reads_completed_total counter\n"
                           "node_disk_reads_completed_total{device=\"nvme0n1\"} 1000\n"
                           "node_disk_reads_merged_total{device=\"nvme0n1\"} 5\n"
                           "node_disk_read_bytes_total{device=\"nvme0n1\"} 1.048576e+06\n"
                           "node_disk_read_time_seconds_total{device=\"nvme0n1\"} 1.234\n"
                           "node_disk_writes_completed_total{device=\"nvme0n1\"} 20\n"
                           "node_disk_written_bytes_total{device=\"nvme0n1\"} 8192\n"
                           "node_disk_write_time_seconds_total{device=\"nvme0n1\"} 0.002\n"
                           "node_disk_io_now{device=\"nvme0n1\"} 3\n"
                           "node_disk_io_time_seconds_total{device=\"nvme0n1\"} 2.5\n"
                           "node_disk_io_time_weighted_seconds_total{device=\"nvme0n1\"} 4\n"
                           "node_disk_flush_requests_total{device=\"nvme0n1\"} 7\n"
                           "node_disk_reads_completed_total{device=\"sda\"} 1\n"
                           "node_network_receive_bytes_total{device=\"eth0\"} 100\n"
                           "node_network_transmit_bytes_total{device=\"eth0\"} 200\n"
                           "node_network_receive_drop_total{device=\"eth0\"} 1\n"
                           "node_network_receive_bytes_total{device=\"lo\"} 5\n";

static void test_mapping(void **state)
{
    (void)state;
    struct prom_page p;
    struct diag d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(prom_parse(page, sizeof(page) - 1, &p, &d), 0);
    struct diskstats_dev dev;
    assert_int_equal(nodeexp_disk(&p, "nvme0n1", &dev), 0);
    assert_int_equal(dev.f[DISKSTATS_RD_IOS], 1000);
    assert_int_equal(dev.f[DISKSTATS_RD_SEC], 2048);
    assert_int_equal(dev.f[DISKSTATS_RD_TICKS], 1234);
    assert_int_equal(dev.f[DISKSTATS_WR_SEC], 16);
    assert_int_equal(dev.f[DISKSTATS_WR_TICKS], 2);
    assert_int_equal(dev.f[DISKSTATS_IN_FLIGHT], 3);
    assert_int_equal(dev.f[DISKSTATS_TOT_TICKS], 2500);
    assert_int_equal(dev.f[DISKSTATS_RQ_TICKS], 4000);
    assert_int_equal(dev.f[DISKSTATS_FL_IOS], 7);
    assert_int_equal(dev.nfields, 17);
    assert_int_equal(nodeexp_disk(&p, "nvme1n1", &dev), -ENOENT);
    struct netdev_iface nd[4];
    assert_int_equal(nodeexp_netdev(&p, nd, 4), 2);
    assert_string_equal(nd[0].name, "eth0");
    assert_int_equal(nd[0].rx_bytes, 100);
    assert_int_equal(nd[0].tx_bytes, 200);
    assert_int_equal(nd[0].rx_drop, 1);
    assert_string_equal(nd[1].name, "lo");
    prom_page_fini(&p);
}

/* A free loopback port (bound, read back, released: the exporter binds it next). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return 0;
    close(fd);
    return ntohs(a.sin_port);
}

static const char *exporter(void)
{
    static const char *const paths[] = { "/usr/bin/prometheus-node-exporter",
                                         "/usr/local/bin/node_exporter" };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static pid_t start_exporter(const char *bin, unsigned port)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, listen, "--collector.disable-defaults", "--collector.diskstats",
              "--collector.netdev", "--collector.netdev.device-exclude=^$", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void wait_ready(const char *url, struct prom_page *p)
{
    char err[NODEEXP_ERR_MAX];
    for (int i = 0; i < 100; i++) {
        if (nodeexp_scrape(url, 2000000000ULL, p, err) == 0)
            return;
        usleep(50000);
    }
    fail_msg("node_exporter did not answer: %s", err);
}

/* local_before <= remote <= local_after for every diskstats field the exporter maps (in-flight
 * apart, a gauge) */
static void bracket_disk(const struct diskstats_dev *a, const struct diskstats_dev *r,
                         const struct diskstats_dev *b)
{
    for (int f = 0; f < DISKSTATS_FIELDS; f++) {
        if (f == DISKSTATS_IN_FLIGHT || f >= (int)r->nfields || f >= (int)b->nfields)
            continue;
        if (r->f[f] < a->f[f] || r->f[f] > b->f[f])
            fail_msg("field %d: local %llu, remote %llu, local %llu", f,
                     (unsigned long long)a->f[f], (unsigned long long)r->f[f],
                     (unsigned long long)b->f[f]);
    }
}

static void test_live_parity(void **state)
{
    (void)state;
    const char *bin = exporter();
    char disk[64];
    if (!bin || diskstats_disk_of_path("/proc", "/sys", ".", disk, sizeof(disk)) < 0)
        skip(); /* no exporter installed, or no block device here */
    unsigned port = free_port();
    assert_true(port > 0);
    pid_t pid = start_exporter(bin, port);
    char *url = xalloc_printf("http://127.0.0.1:%u/metrics", port);
    struct prom_page p;
    wait_ready(url, &p);
    prom_page_fini(&p);
    struct diskstats_dev l0, r0, l1, l2, r1, l3;
    struct netdev_iface n0[16], nr[16], n1[16];
    char err[NODEEXP_ERR_MAX];
    assert_int_equal(diskstats_read("/proc", disk, &l0), 0);
    int c0 = netdev_read("/proc", n0, 16);
    assert_int_equal(nodeexp_scrape(url, 2000000000ULL, &p, err), 0);
    assert_int_equal(nodeexp_disk(&p, disk, &r0), 0);
    int cr = nodeexp_netdev(&p, nr, 16);
    prom_page_fini(&p);
    assert_int_equal(diskstats_read("/proc", disk, &l1), 0);
    int c1 = netdev_read("/proc", n1, 16);
    bracket_disk(&l0, &r0, &l1);
    /* lo's counters move with the scrape itself: still bracketed */
    assert_true(c0 > 0 && c1 == c0 && cr > 0);
    for (int i = 0; i < cr; i++)
        for (int j = 0; j < c0; j++)
            if (!strcmp(nr[i].name, n0[j].name)) {
                assert_true(nr[i].rx_bytes >= n0[j].rx_bytes && nr[i].rx_bytes <= n1[j].rx_bytes);
                assert_true(nr[i].tx_packets >= n0[j].tx_packets &&
                            nr[i].tx_packets <= n1[j].tx_packets);
            }
    /* an interval with I/O of our own: the iostat figures from both sources */
    FILE *f = fopen("nodeexp-io.tmp", "w");
    assert_non_null(f);
    static char blk[1 << 20];
    for (int i = 0; i < 16; i++)
        fwrite(blk, 1, sizeof(blk), f);
    fflush(f);
    fdatasync(fileno(f));
    fclose(f);
    unlink("nodeexp-io.tmp");
    sleep(1);
    assert_int_equal(diskstats_read("/proc", disk, &l2), 0);
    assert_int_equal(nodeexp_scrape(url, 2000000000ULL, &p, err), 0);
    assert_int_equal(nodeexp_disk(&p, disk, &r1), 0);
    prom_page_fini(&p);
    assert_int_equal(diskstats_read("/proc", disk, &l3), 0);
    bracket_disk(&l2, &r1, &l3);
    /* the remote interval [r0, r1] lies inside the local [l0, l3] and contains [l1, l2]: its
     * bytes and iostat figures are bracketed by the two local intervals' */
    struct diskstats_rates inner, outer, rr;
    diskstats_rates(&l1, &l2, 1.0, &inner);
    diskstats_rates(&l0, &l3, 1.0, &outer);
    diskstats_rates(&r0, &r1, 1.0, &rr);
    print_message(
        "# nodeexp: written bytes local inner %llu, node_exporter %llu, local outer %llu\n",
        (unsigned long long)inner.write_bytes, (unsigned long long)rr.write_bytes,
        (unsigned long long)outer.write_bytes);
    assert_true(rr.write_bytes >= 16u << 20);
    assert_true(inner.write_bytes <= rr.write_bytes && rr.write_bytes <= outer.write_bytes);
    assert_true(inner.read_ios <= rr.read_ios && rr.read_ios <= outer.read_ios);
    assert_true(inner.write_ios <= rr.write_ios && rr.write_ios <= outer.write_ios);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(url);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_live_parity),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
