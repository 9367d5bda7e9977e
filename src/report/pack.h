/* SPDX-License-Identifier: Apache-2.0 */
/* The evidence pack (test plan §4, docs/report.md): from a results tree (a kvtier matrix output
 * or any folder holding run bundles, compare, sweep and slo documents) it writes
 * TECHBRIEF_EVIDENCE.md (headline, then each row's four-link chain: mechanism, OS
 * corroboration, user-visible impact, repeatability; regimes; what is not decision-grade and
 * why; every number linked to the bundle file it came from), METHOD.md (environment,
 * provenance, controls, thresholds, plan, seeds, commands), RESULTS/ (rollups in CSV and JSON
 * and a relative link to the results), FIGURES/ (the five canonical charts as gnuplot data,
 * scripts, PNG and SVG) and index.html (rendered with libcmark, self-contained, with a banner
 * saying whether the engine was emulated or real). Bundles are read through their files only;
 * request records are streamed line by line, so memory stays bounded by the number of bundles,
 * not their size. The pack is written into a temporary sibling folder and renamed into place. */
#ifndef KVTIER_REPORT_PACK_H
#define KVTIER_REPORT_PACK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"

#define PACK_MAX_BUNDLES    100000      /* bundles one pack accepts */
#define PACK_MAX_DEPTH      8           /* folder depth searched under the results root */
#define PACK_RECORD_MAX     (1u << 20)  /* longest records.jsonl line read */
#define PACK_JSON_MAX_BYTES (64u << 20) /* largest bundle JSON file read */

struct pack_config {
    const char *results_dir;  /* borrowed; the results tree */
    const char *out_dir;      /* borrowed; the pack folder (replaced if it holds a pack) */
    const char *gnuplot;      /* borrowed; NULL = "gnuplot" on PATH */
    bool allow_mixed_engines; /* pack bundles of emulated and real engines together */
    void (*note)(void *ctx, const char *line); /* progress and skipped items (may be NULL) */
    void *note_ctx;
};

struct pack_result {
    unsigned bundles;    /* run bundles read */
    unsigned mode_rows;  /* mode x plan row rollups */
    unsigned figures;    /* figures written (data + script) */
    unsigned rendered;   /* figures rendered to PNG and SVG */
    unsigned records;    /* request records streamed */
    bool emulated, real; /* which engines produced the bundles */
    bool headline_decision_grade;
    char headline[640];    /* the headline sentence */
    char index_html[4096]; /* path of index.html */
};

/* Writes the pack. Errors (d names the path): -ENOENT the results folder is missing or holds
 * no run bundle; -EINVAL a bundle file is malformed (the file is named) or bundles of different
 * engines without allow_mixed_engines; -EEXIST out_dir exists and is not a pack; -EIO a pack
 * file cannot be written (nothing is left half written: the temporary folder is removed).
 * Runs gnuplot child processes; caller's thread. */
int pack_write(const struct pack_config *cfg, struct pack_result *ret, struct diag *d);

#endif
