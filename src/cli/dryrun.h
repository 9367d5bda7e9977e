/* SPDX-License-Identifier: Apache-2.0 */
/* Printing a --dry-run document (bundle_dry_run) for bundle and doctor: JSON, or per mode the
 * tier sizes, each process's command and environment (secrets already redacted) and the
 * engine-args YAML. */
#ifndef KVTIER_CLI_DRYRUN_H
#define KVTIER_CLI_DRYRUN_H

#include <stdbool.h>

#include <jansson.h>

void dryrun_print(const json_t *doc, bool json);

#endif
