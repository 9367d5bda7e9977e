/* SPDX-License-Identifier: Apache-2.0 */
/* The noise sampler: what else loads the machine while a phase runs. PSI (cpu, io, memory),
 * load, run queue, CPU frequency against its maximum and cap, thermal zones and cooling, dirty
 * and writeback pages, the device's bytes that the server did not move, and GPU throttling;
 * the extremes over the open phase go into its delta. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "common/jsonx.h"
#include "observe/sampler.h"

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    struct noise_sample ns;
    noise_read(o->proc_root, o->sys_root, NULL, NULL, &ns);
    sampler_source(o, "psi", ns.psi[NOISE_PSI_IO].present,
                   "no /proc/pressure (kernel without CONFIG_PSI or psi=0)", NULL);
    sampler_source(o, "cpufreq", !isnan(ns.cpufreq_ratio),
                   "no cpufreq in sysfs (virtual machine or driver absent)", NULL);
    sampler_source(o, "thermal", !isnan(ns.thermal_max_c), "no thermal zones in sysfs", NULL);
    sampler_source(o, "meminfo", ns.meminfo_present, "no /proc/meminfo", NULL);
    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    double itv = t->itv_s;
    struct noise_sample ns;
    noise_read(o->proc_root, o->sys_root, kfile_read, &o->kf, &ns);
    if (o->have_last && itv > 0) {
        char c[24][32];
        const struct noise_psi *pp = o->noise_prev.psi, *cp = ns.psi;
#define PSI(res, field) \
    (cp[res].present && pp[res].present ? noise_psi_pct(pp[res].field, cp[res].field, itv) : NAN)
        double dev_rd = t->disk_ok ? (double)t->disk.read_bytes / itv : NAN;
        double srv_rd = (double)t->server_read_bytes / itv;
        double other_rd = isnan(dev_rd) ? NAN : (dev_rd > srv_rd ? dev_rd - srv_rd : 0);
        double dev_wr = t->disk_ok ? (double)t->disk.write_bytes / itv : NAN;
        double srv_wr = (double)t->server_write_bytes / itv;
        double other_wr = isnan(dev_wr) ? NAN : (dev_wr > srv_wr ? dev_wr - srv_wr : 0);
        sampler_row(
            o, csv,
            "%s"
            "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            "%u,%s,%s,%s,%.1f,%s,%s,%d\n",
            t->tcols, sampler_numcell(c[0], 32, PSI(NOISE_PSI_CPU, some_total_us)),
            sampler_numcell(c[1], 32, PSI(NOISE_PSI_IO, some_total_us)),
            sampler_numcell(c[2], 32, PSI(NOISE_PSI_IO, full_total_us)),
            sampler_numcell(c[3], 32, PSI(NOISE_PSI_MEMORY, some_total_us)),
            sampler_numcell(c[4], 32, PSI(NOISE_PSI_MEMORY, full_total_us)),
            sampler_numcell(c[5], 32,
                            cp[NOISE_PSI_CPU].present ? cp[NOISE_PSI_CPU].some_avg10 : NAN),
            sampler_numcell(c[6], 32, cp[NOISE_PSI_IO].present ? cp[NOISE_PSI_IO].some_avg10 : NAN),
            sampler_numcell(c[7], 32,
                            cp[NOISE_PSI_MEMORY].present ? cp[NOISE_PSI_MEMORY].full_avg10 : NAN),
            sampler_numcell(c[8], 32, ns.load_present ? ns.load1 : NAN),
            sampler_numcell(c[9], 32, ns.load_present ? ns.load5 : NAN),
            sampler_numcell(c[10], 32, ns.load_present ? ns.load15 : NAN),
            sampler_numcell(c[11], 32, ns.stat_present ? (double)ns.procs_running : NAN),
            sampler_numcell(c[12], 32, ns.stat_present ? (double)ns.procs_blocked : NAN),
            sampler_numcell(c[13], 32, ns.cpufreq_ratio),
            sampler_numcell(c[14], 32, ns.cpufreq_cap_ratio),
            sampler_numcell(c[15], 32, ns.thermal_max_c), ns.cooling_active,
            ns.meminfo_present ? (snprintf(c[16], 32, "%" PRIu64, ns.dirty_bytes), c[16]) : "",
            ns.meminfo_present ? (snprintf(c[17], 32, "%" PRIu64, ns.writeback_bytes), c[17]) : "",
            sampler_numcell(c[18], 32, dev_rd), srv_rd, sampler_numcell(c[19], 32, other_rd),
            sampler_numcell(c[20], 32, other_wr), t->gpu_throttled ? 1 : 0);
#undef PSI
    }
    /* the extremes over the open phase */
    if (o->in_phase) {
        struct phase_acc *a = &o->acc;
        if (ns.procs_blocked > a->procs_blocked_max)
            a->procs_blocked_max = ns.procs_blocked;
        if (!isnan(ns.thermal_max_c) &&
            (isnan(a->thermal_max_c) || ns.thermal_max_c > a->thermal_max_c))
            a->thermal_max_c = ns.thermal_max_c;
        if (!isnan(ns.cpufreq_ratio) &&
            (isnan(a->cpufreq_min) || ns.cpufreq_ratio < a->cpufreq_min))
            a->cpufreq_min = ns.cpufreq_ratio;
        if (ns.cooling_active > a->cooling_max)
            a->cooling_max = ns.cooling_active;
        if (ns.dirty_bytes > a->dirty_max)
            a->dirty_max = ns.dirty_bytes;
        a->gpu_throttled = a->gpu_throttled || t->gpu_throttled;
    }

    o->noise_prev = ns;
    o->noise_prev_ok = true;
}

static void snapshot(struct observe *o, void *state, struct snap *s, bool end)
{
    s->noise = o->noise_prev;
    if (!end)
        o->acc = (struct phase_acc){ .thermal_max_c = NAN, .cpufreq_min = NAN };
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    json_t *nz = json_object();
    const struct noise_psi *pb = b->noise.psi, *pe = e->noise.psi;
    static const char *const pn[NOISE_PSI__COUNT] = { "cpu", "io", "memory" };
    for (int i = 0; i < NOISE_PSI__COUNT; i++) {
        char k[40];
        snprintf(k, sizeof(k), "psi_%s_some_pct", pn[i]);
        json_object_set_new(
            nz, k,
            pb[i].present && pe[i].present
                ? json_real(noise_psi_pct(pb[i].some_total_us, pe[i].some_total_us, f->dur_s))
                : json_null());
        snprintf(k, sizeof(k), "psi_%s_full_pct", pn[i]);
        json_object_set_new(
            nz, k,
            pb[i].has_full && pe[i].has_full
                ? json_real(noise_psi_pct(pb[i].full_total_us, pe[i].full_total_us, f->dur_s))
                : json_null());
        snprintf(k, sizeof(k), "psi_%s_some_avg10_start", pn[i]);
        json_object_set_new(nz, k, pb[i].present ? json_real(pb[i].some_avg10) : json_null());
    }
    json_object_set_new(nz, "load1_end",
                        e->noise.load_present ? json_real(e->noise.load1) : json_null());
    json_object_set_new(nz, "procs_blocked_max", sampler_j_u64(o->acc.procs_blocked_max));
    jsonx_set_num(nz, "cpufreq_ratio_min", o->acc.cpufreq_min);
    jsonx_set_num(nz, "thermal_max_c", o->acc.thermal_max_c);
    json_object_set_new(nz, "cooling_active_max", json_integer(o->acc.cooling_max));
    json_object_set_new(nz, "gpu_throttled",
                        o->gpu_ok ? json_boolean(o->acc.gpu_throttled) : json_null());
    json_object_set_new(nz, "dirty_bytes_max", sampler_j_u64(o->acc.dirty_max));
    json_object_set_new(nz, "other_process_bytes",
                        sampler_j_u64(f->other_read_bytes + f->other_write_bytes));
    json_object_set_new(d, "noise", nz);
}

const struct sampler_ops sampler_noise_ops = {
    .name = "noise",
    .csv_name = "noise.csv",
    .csv_header = "t_unix_ns,t_s,interval_s,psi_cpu_some_pct,psi_io_some_pct,psi_io_full_pct,"
                  "psi_mem_some_pct,psi_mem_full_pct,psi_cpu_some_avg10,psi_io_some_avg10,"
                  "psi_mem_full_avg10,load1,load5,load15,procs_running,procs_blocked,cpufreq_ratio,"
                  "cpufreq_cap_ratio,thermal_max_c,cooling_active,dirty_bytes,writeback_bytes,"
                  "device_read_bytes_per_s,server_read_bytes_per_s,other_read_bytes_per_s,"
                  "other_write_bytes_per_s,gpu_throttled",
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
};
