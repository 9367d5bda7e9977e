/* SPDX-License-Identifier: Apache-2.0 */
/* The evidence pack's view of a results tree: finds run bundles, bundle groups, compare, sweep,
 * slo, matrix and blocker documents under a root; reads each bundle's small JSON files into one
 * flat record (the row of RESULTS/bundles.csv) and streams its raw/records.jsonl line by line
 * against its os/os_iostat.csv for the disk-await / TTFT statistics. Memory grows with the
 * number of bundles (a few kilobytes each), never with their records. Files are read through
 * their documented formats only (docs/bundle.md, docs/compare.md, docs/matrix.md). */
#ifndef KVTIER_REPORT_PACKDATA_H
#define KVTIER_REPORT_PACKDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "common/diag.h"

#define PACKDATA_MAX_MODES   8    /* distinct modes tracked by the await / TTFT accumulators */
#define PACKDATA_SCATTER_MAX 4000 /* about how many requests the scatter data file gets */

/* Streaming accumulators of (disk read await, TTFT) pairs for one mode. */
struct packdata_corr {
    char mode[16];
    double n, sx, sy, sxx, syy, sxy; /* x = await ms, y = ln(TTFT ms) */
    double tail_n, tail_await_sum;   /* requests above their bundle's TTFT p95 */
    double body_n, body_await_sum;   /* the others */
};

struct packdata {
    char *root;          /* owned; the results root as given */
    char *root_real;     /* owned; its realpath */
    json_t *bundles;     /* owned; array of flat bundle records (see packdata_scan) */
    json_t *groups;      /* owned; array of {dir, row, summary, compares: [{path, doc}]} */
    json_t *matrix;      /* owned; matrix.json of the root, or NULL */
    json_t *sweeps;      /* owned; array of {path, doc} */
    json_t *slos;        /* owned; array of {path, doc} */
    json_t *blockers;    /* owned; array of {path, md, doc} */
    bool emulated, real; /* engines seen */
    struct packdata_corr corr[PACKDATA_MAX_MODES];
    size_t ncorr;
    unsigned long records;        /* records streamed */
    unsigned long scatter_points; /* requests written to the scatter data (a thinned sample) */
};

/* Scans root (borrowed) up to max_depth folders deep. A bundle is a folder holding
 * verdict.json, manifest.json and summary.json. Each becomes a flat record with keys bundle
 * (path relative to root), row, group, engine, stack, model, workload, dataset, mode, repeat,
 * seed, run_valid, decision_grade, reason_codes, concurrency, replay_* and all_* TTFT figures,
 * per-phase KVBM and OS figures, chain_*, plus "_dir" (absolute) and "_why" (reason -> words).
 * Errors (d names the file): -ENOENT root missing or no bundle found, -EINVAL a malformed
 * bundle file, -EMSGSIZE too many bundles. *ret is filled on success; free with
 * packdata_fini. */
int packdata_scan(const char *root, unsigned max_depth, size_t max_bundles, struct packdata *ret,
                  struct diag *d);
void packdata_fini(struct packdata *p);

/* Streams every bundle's records (raw/records.jsonl, lines up to line_max bytes) against its
 * device samples (os/os_iostat.csv) and phases (raw/phases.json): writes one line per request
 * with a first token, "await_ms\tttft_ms\tmode_index\ttail", to dat (borrowed, may be NULL): an
 * evenly thinned sample of about PACKDATA_SCATTER_MAX requests over all bundles, every tail event
 * kept; and updates p->corr from every request. A bundle without samples is skipped. Returns the
 * requests paired, or negative errno with d for a malformed records line (the file and line are
 * named). */
long packdata_stream_records(struct packdata *p, FILE *dat, size_t line_max, struct diag *d);

/* Index of mode in p->corr (added when new and room is left), or -1. */
int packdata_mode_index(struct packdata *p, const char *mode);

/* Pearson r of await against ln(TTFT) for c (NaN below 3 pairs). */
double packdata_corr_r(const struct packdata_corr *c);

/* Relative path (owned) from folder from_dir to path to; both made absolute first (they must
 * exist, except that a missing from_dir is resolved through its parent). */
char *packdata_relpath(const char *from_dir, const char *to);

#endif
