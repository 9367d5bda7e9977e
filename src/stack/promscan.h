/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal scan of Prometheus text for the handful of values the stack launcher and doctor
 * need (is a KVBM metric registered, what does a capacity gauge say). The full parser with
 * deltas lives in observe/; this one only sums the samples of one metric name. */
#ifndef KVTIER_STACK_PROMSCAN_H
#define KVTIER_STACK_PROMSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define PROMSCAN_LINE_MAX_BYTES 65536 /* longer lines are skipped */

/* Sums the values of every sample of metric `name` (any labels) in text (len bytes, need not be
 * NUL-terminated). Returns the number of samples found (0 = absent); *ret_sum written when > 0.
 * Comments, malformed lines and NaN values are skipped. */
int promscan_sum(const char *text, size_t len, const char *name, double *ret_sum);
/* Whether any metric whose name starts with prefix is present. */
bool promscan_has_prefix(const char *text, size_t len, const char *prefix);

#endif
