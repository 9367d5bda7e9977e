/* SPDX-License-Identifier: Apache-2.0 */
/* The Markdown documents of the evidence pack: TECHBRIEF_EVIDENCE.md (engine banner, headline
 * table, each row's four-link chain, regimes, what is not decision-grade and why, rows that did
 * not run, figures) and METHOD.md (environment and provenance as observed, controls,
 * thresholds, plan, seeds, commands). Links are relative to the final pack folder. */
#ifndef KVTIER_REPORT_PACKMD_H
#define KVTIER_REPORT_PACKMD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "report/packdata.h"

struct packmd_input {
    struct packdata *data; /* borrowed */
    const json_t *rollups; /* borrowed; packroll_modes */
    const json_t *figures; /* borrowed; packfig_draw */
    const char *pack_dir;  /* borrowed; the final pack folder (links are relative to it) */
};

/* The headline (owned JSON object {text, decision_grade, source, metric, ...}) chosen from the
 * compare documents: a decision-grade comparison first, then the largest primary change. */
json_t *packmd_headline(const struct packdata *p);

/* TECHBRIEF_EVIDENCE.md as an owned string. */
char *packmd_techbrief(const struct packmd_input *in, const json_t *headline);

/* METHOD.md as an owned string. */
char *packmd_method(const struct packmd_input *in);

/* The engine sentence of the banner ("emulated ...", "real stack ...", "mixed ..."). Owned. */
char *packmd_engine_sentence(const struct packdata *p);

#endif
