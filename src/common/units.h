/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of quantities typed by people: sizes, durations, rates and plain numbers with SI
 * suffixes. The only place in kvtier that interprets "250ms", "4KiB" or "1.5k".
 *
 * Sizes: KiB/MiB/GiB/TiB are binary; kB/KB/MB/GB/TB are decimal (as KVBM's *_GB variables);
 *        a bare K/M/G/T (fio's convention) is binary; no suffix or B = bytes.
 * Durations: ns, us, ms, s, m (minutes), h; a bare number is seconds.
 * Rates and counts: optional k/M/G decimal multiplier; rates may end in "/s".
 * All return 0 on success or -EINVAL (malformed) / -ERANGE (overflow or negative). */
#ifndef KVTIER_COMMON_UNITS_H
#define KVTIER_COMMON_UNITS_H

#include <stdint.h>

int units_parse_size_bytes(const char *s, uint64_t *ret_bytes);
int units_parse_duration_ns(const char *s, uint64_t *ret_ns);
int units_parse_rate_per_s(const char *s, double *ret_rate);
int units_parse_u64(const char *s, uint64_t *ret);
int units_parse_double(const char *s, double *ret);
/* A measured or parsed double as a whole number, saturating: NaN and values below the range
 * give 0 (u64) or INT64_MIN (i64), values past it the maximum; in range, truncation toward
 * zero. Converting an out-of-range double with a cast is undefined behaviour. */
uint64_t units_sat_u64(double x);
int64_t units_sat_i64(double x);
/* Formats bytes as a short human string ("2.0 MiB") into out. */
void units_format_bytes(uint64_t bytes, char *out, unsigned out_len);

#endif
