/* SPDX-License-Identifier: Apache-2.0 */
/* YAML through libyaml into the one document model of kvtier (jansson json_t), and back out
 * through the libyaml emitter (TRT-LLM extra-engine-args files). Plain scalars are typed as
 * YAML 1.2 core schema does (null, booleans, integers, floats); quoted ones stay strings.
 * Anchors and aliases are refused; depth and size are bounded. */
#ifndef KVTIER_COMMON_YAMLX_H
#define KVTIER_COMMON_YAMLX_H

#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/diag.h"

#define YAMLX_MAX_DEPTH 32
#define YAMLX_MAX_BYTES (8u << 20)

/* Parses one YAML document from text; *ret owned. Errors: -EINVAL with d at line/column. */
int yamlx_parse(const char *text, size_t len, json_t **ret, struct diag *d);
/* Loads a YAML file; diagnostics name the file. */
int yamlx_load_file(const char *path, json_t **ret, struct diag *d);
/* Emits v (borrowed; objects, arrays, scalars) as a block-style YAML document into out. */
int yamlx_emit(const json_t *v, struct buf *out);

#endif
