/* SPDX-License-Identifier: Apache-2.0 */
/* jansson conventions of kvtier: bounded loads with duplicate-key rejection and positioned
 * diagnostics, atomic pretty writes with schema_version, typed getters with defaults. */
#ifndef KVTIER_COMMON_JSONX_H
#define KVTIER_COMMON_JSONX_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/diag.h"

#define JSONX_FILE_MAX_BYTES (256u << 20) /* largest JSON document kvtier will load */
#define JSONX_SCHEMA_VERSION 1

/* Parses text (len bytes) with JSON_REJECT_DUPLICATES; on error fills d (line, column, msg)
 * and returns -EINVAL. *ret is owned. */
int jsonx_parse(const char *text, size_t len, json_t **ret, struct diag *d);
/* Loads a file (bounded by JSONX_FILE_MAX_BYTES); errors name the file. */
int jsonx_load_file(const char *path, json_t **ret, struct diag *d);
/* Writes v (borrowed) to path atomically, indented, with sorted-as-inserted keys. Adds
 * "schema_version" first when v is an object without one. */
int jsonx_write_file(const char *path, json_t *v);
/* Compact one-line dump (owned string, no newline) with JSON_REAL_PRECISION(9). */
char *jsonx_dump_line(const json_t *v);
/* Getters: return the value or def when absent or of the wrong type. o is borrowed. */
uint64_t jsonx_u64(const json_t *o, const char *key, uint64_t def);
int64_t jsonx_i64(const json_t *o, const char *key, int64_t def);
double jsonx_num(const json_t *o, const char *key, double def);
bool jsonx_bool(const json_t *o, const char *key, bool def);
const char *jsonx_str(const json_t *o, const char *key, const char *def); /* borrowed */
/* Dotted path lookup ("a.b.c"); borrowed or NULL. */
json_t *jsonx_path(const json_t *o, const char *path);
/* Sets o.key = a new real, or null when v is NaN/inf (JSON has neither). */
void jsonx_set_num(json_t *o, const char *key, double v);

#endif
