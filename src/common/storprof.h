/* SPDX-License-Identifier: Apache-2.0 */
/* Storage profiles (profiles/storage/<name>.yaml, docs/profiles.md): what an SSD's vendor
 * asserts about it (sequential and random throughput, rated endurance), each figure with its
 * source, recorded as assertions and never used as a limit; which NVMe model strings the
 * profile applies to; and the comparison of the assertions with what `kvtier probe` measured on
 * the device ("vendor asserts X, measured Y: ratio"). Two sources that disagree on a figure are
 * both kept and reported as a conflict. Pure apart from the directory scan; any thread. */
#ifndef KVTIER_COMMON_STORPROF_H
#define KVTIER_COMMON_STORPROF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"

#define STORPROF_MAX_MATCH      8
#define STORPROF_MAX_ASSERTIONS 24

enum storprof_metric {
    STORPROF_SEQ_READ_BPS,   /* seq_read_bytes_per_s */
    STORPROF_SEQ_WRITE_BPS,  /* seq_write_bytes_per_s */
    STORPROF_RAND_READ_IOPS, /* rand_read_iops (4 KiB) */
    STORPROF_RAND_WRITE_IOPS,
    STORPROF_ENDURANCE_BYTES, /* endurance_bytes_written (rated TBW x 1e12) */
    STORPROF_METRIC__COUNT,
};

struct storprof_assertion {
    enum storprof_metric metric;
    double value;
    char source[256];  /* who asserts it, where */
    char date[32];     /* when (free text, "2026-01") */
    char context[256]; /* conditions or caveats; "" when none */
};

struct storprof {
    char name[64];
    char device[128]; /* human description */
    char match[STORPROF_MAX_MATCH][64];
    size_t n_match;
    double capacity_bytes; /* 0 = not stated */
    struct storprof_assertion a[STORPROF_MAX_ASSERTIONS];
    size_t n;
};

/* The YAML key of a metric ("seq_read_bytes_per_s", ...). */
const char *storprof_metric_name(enum storprof_metric m);
/* Typed view of a parsed profile (borrowed). -EINVAL with d naming the missing or bad field
 * (name, match.model_contains, vendor_assertions[i].metric|value|source). */
int storprof_from_json(const json_t *j, struct storprof *ret, struct diag *d);
/* Loads and checks one profile file (YAML); diagnostics name the file. */
int storprof_load_file(const char *path, struct storprof *ret, struct diag *d);
/* Whether the NVMe model string contains one of the profile's patterns (case-insensitive,
 * surrounding spaces ignored); *ret_pattern (may be NULL) gets the pattern that matched. */
bool storprof_matches(const struct storprof *p, const char *model, const char **ret_pattern);
/* The first profile under <dir>/storage/ (file names in order) matching model: 0 and *ret,
 * -ENOENT when none matches (or model is empty), -EINVAL when a profile there is malformed
 * (d names the file and field). */
int storprof_find(const char *dir, const char *model, struct storprof *ret, struct diag *d);
/* The lowest rated endurance asserted (the conservative one when sources disagree), or NULL. */
const struct storprof_assertion *storprof_endurance(const struct storprof *p);
/* Vendor versus measured (owned): {status: "matched", profile, device, model, model_source,
 * matched_pattern, comparisons[{metric, vendor_value, source, date, context, measured,
 * measured_shape {rw, block_size_bytes, queue_depth}, ratio, text}], conflicts[{metric, values,
 * text}], note}; or {status: "no_profile", model, model_source, reason: "no storage profile for
 * this device ..."} when p is NULL. probe (borrowed, a probe.json document) may be NULL: the
 * measured side is then null with the reason. model and model_source may be NULL. */
json_t *storprof_compare(const struct storprof *p, const char *model, const char *model_source,
                         const json_t *probe);

#endif
