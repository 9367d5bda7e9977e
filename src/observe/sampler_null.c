/* SPDX-License-Identifier: Apache-2.0 */
/* The null sampler: reads nothing and counts what the core asks of it (a CSV row per sample,
 * its counts in the phase delta), so a unit test can drive observe's thread and phase marks
 * with no /proc, /sys or network at all. */
#include <inttypes.h>
#include <stdlib.h>

#include "common/xalloc.h"
#include "observe/sampler.h"

struct null_state {
    uint64_t samples, snapshots, at_begin;
};

static int setup(struct observe *o, const struct observe_config *cfg, void **ret_state)
{
    *ret_state = xcalloc(1, sizeof(struct null_state));
    sampler_source(o, "null", true, NULL, NULL);
    return 0;
}

static void sample(struct observe *o, void *state, struct sampler_tick *t, FILE *csv)
{
    struct null_state *s = state;
    s->samples++;
    sampler_row(o, csv, "%s%" PRIu64 "\n", t->tcols, s->samples);
}

static void snapshot(struct observe *o, void *state, struct snap *sn, bool end)
{
    struct null_state *s = state;
    s->snapshots++;
    if (!end)
        s->at_begin = s->samples;
}

static void delta(struct observe *o, void *state, const struct snap *b, const struct snap *e,
                  struct sampler_phase *f, json_t *d)
{
    const struct null_state *s = state;
    json_t *j = json_object();
    json_object_set_new(j, "samples", sampler_j_u64(s->samples));
    json_object_set_new(j, "snapshots", sampler_j_u64(s->snapshots));
    json_object_set_new(j, "phase_samples", sampler_j_u64(s->samples - s->at_begin));
    json_object_set_new(d, "null", j);
}

static void fini(struct observe *o, void *state)
{
    free(state);
}

const struct sampler_ops sampler_null_ops = {
    .name = "null",
    .csv_name = "null.csv",
    .csv_header = "t_unix_ns,t_s,interval_s,samples",
    .setup = setup,
    .sample = sample,
    .snapshot = snapshot,
    .delta = delta,
    .fini = fini,
};
