/* SPDX-License-Identifier: Apache-2.0 */
/* Workload family profiles (profiles/workloads/<A|B|C|D>.yaml, documented in
 * docs/workloads.md): per dataset (S, L) a list of request classes (shared system prompt,
 * shared group prefix such as a repository context or a document, unique query, output length,
 * session turns and think time, mix weight) and the four phases (arrival, rate, concurrency,
 * counts). Parsing checks every field and names the dataset, class and field on error. */
#ifndef KVTIER_WORKLOAD_FAMILY_H
#define KVTIER_WORKLOAD_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define FAMILY_MAX_CLASSES 8u
#define FAMILY_MAX_TOKENS  (1u << 20) /* any token count field */
#define FAMILY_MAX_GROUPS  4096u
#define FAMILY_MAX_TURNS   256u
#define FAMILY_MAX_RATE    50.0 /* requests/s: above this a workstation plan is implausible */

enum family_phase { FAMILY_WARMUP, FAMILY_PRESSURE, FAMILY_REPLAY, FAMILY_STEADY, FAMILY__COUNT };

struct family_range {
    uint64_t lo, hi; /* inclusive */
};

struct family_class {
    char name[32];
    double weight;                     /* share of steady and pressure requests */
    uint64_t system_tokens;            /* class-wide system prompt (0 = none), block aligned */
    uint64_t prefix_tokens;            /* per-group shared prefix (0 = none), block aligned */
    uint64_t groups;                   /* primed groups (sessions for multi-turn classes) */
    struct family_range query_tokens;  /* unique user text per request */
    struct family_range output_tokens; /* requested exactly */
    struct family_range turns;         /* turns per session (1 = single shot) */
    struct family_range think_time_ms; /* between turns */
    uint64_t warmup_turns;             /* turns of each primed session run in warmup */
};

struct family_phase_cfg {
    bool enabled;
    char arrival[16];     /* constant | poisson | gamma | closed */
    double rate_per_s;    /* open loop; sessions (or requests) per second */
    double burstiness;    /* gamma shape */
    uint64_t concurrency; /* closed loop */
    uint64_t max_concurrency;
    uint64_t per_group;      /* warmup/replay: requests (or turns) per primed group */
    uint64_t requests;       /* steady: requests; pressure: lower bound */
    double reuse_fraction;   /* steady: share of requests on primed groups */
    uint64_t context_tokens; /* pressure: fresh context per request (0 = the class prefix) */
};

struct family_dataset {
    uint64_t max_input_tokens; /* S: 8192; L: 0 = model limit */
    uint64_t min_input_tokens; /* L: 32768 for the canonical long requests */
    uint64_t min_model_seq;    /* refuse models whose max_sequence_length is below */
    struct family_class classes[FAMILY_MAX_CLASSES];
    unsigned n_classes;
    struct family_phase_cfg phases[FAMILY__COUNT];
};

struct family {
    char name[16];
    char title[96];
};

/* Phase name ("warmup", ...). */
const char *family_phase_name(enum family_phase p);

/* Parses a family profile document (borrowed; as yamlx produces) for one dataset ("S" or "L")
 * into *ret_fam and *ret_ds. text/len, when given, is the YAML source: errors then carry the line
 * of the offending field. -EINVAL with d naming the field ("datasets.S.classes[0].groups"), or
 * -ENOENT when the dataset is not defined. */
int family_parse(const json_t *doc, const char *dataset, const char *text, size_t len,
                 struct family *ret_fam, struct family_dataset *ret_ds, struct diag *d);

#endif
