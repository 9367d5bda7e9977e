/* SPDX-License-Identifier: Apache-2.0 */
/* Per-bundle charts (test plan §4): TTFT from the intended send time over the run with phase
 * boundaries, KVBM transfer rates over time aligned to the phases, device I/O (iostat) over
 * time, and disk read await against TTFT. Each chart is written as gnuplot data (.dat), the
 * script that draws it (.gp), and PNG + SVG rendered by running gnuplot as a child process, all
 * under <bundle>/charts/. Inputs are read through the bundle's file formats only (raw/
 * records.jsonl, raw/phases.json, raw/kvbm_timeseries.csv, os/os_iostat.csv); a missing input
 * skips that chart with a note, and a missing gnuplot leaves the scripts for later. */
#ifndef KVTIER_REPORT_CHARTS_H
#define KVTIER_REPORT_CHARTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"

struct charts_result {
    unsigned written;     /* charts whose data and script were written */
    unsigned rendered;    /* charts rendered to PNG and SVG */
    bool gnuplot_missing; /* gnuplot not found: scripts written, nothing rendered */
    json_t *notes;        /* owned; array of strings saying what was skipped and why */
};

/* Renders the charts of the bundle at dir (borrowed). gnuplot: program name or path (NULL =
 * "gnuplot" on PATH). Errors: -ENOENT when raw/records.jsonl is absent (nothing is created), -EIO
 * when charts/ cannot be written; partial inputs are not errors (see notes). Free ret->notes with
 * json_decref. Runs child processes; not thread-safe with respect to the working directory. */
int charts_render_bundle(const char *dir, const char *gnuplot, struct charts_result *ret,
                         struct diag *d);

/* Writes charts_dir/name.dat (dat_len bytes of dat), charts_dir/name.gp (gp, a NUL-terminated
 * gnuplot preamble, followed by plot drawn once as PNG and once as SVG) and renders them with
 * gnuplot (NULL = "gnuplot" on PATH), counting into res (written, rendered, gnuplot_missing;
 * res->notes untouched). For charts of other documents than a bundle (sweep, slo). Returns 0,
 * -EIO when gnuplot failed (see charts_dir/gnuplot.log), or negative errno from writing. */
int charts_write(const char *charts_dir, const char *name, const char *dat, size_t dat_len,
                 const char *gp, const char *plot, const char *gnuplot, struct charts_result *res);

#endif
