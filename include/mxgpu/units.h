/* SPDX-License-Identifier: MIT */
/* Parsing and formatting of sizes, times and booleans as written in mxgpu.conf and on the command line. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A size with a unit, in MiB: "2048M", "2G", "2GiB", "512 MiB", "1T", "262144K".
 * Units K, M, G, T (powers of 1024), optional "i", "iB" or "B", case-insensitive; spaces
 * before the unit are allowed. A bare number is refused (ambiguous), so are negatives,
 * fractions, overflow and sizes that are not a whole number of MiB. On failure *ret_err (if
 * not NULL) points to a static sentence that says what is allowed. Returns 0 or -EINVAL/-ERANGE. */
int parse_size_mib(const char *s, uint64_t *ret_mib, const char **ret_err);

/* A time with a unit, in microseconds: "500us", "6ms", "1s". Units us, ms, s (case-insensitive).
 * A bare number, negatives, fractions and overflow are refused, as above. */
int parse_time_us(const char *s, uint64_t *ret_us, const char **ret_err);

/* yes/no, true/false, on/off, 1/0 (case-insensitive). -EINVAL otherwise. */
int parse_bool(const char *s, bool *ret);

/* A plain unsigned decimal number without sign or unit, up to max. -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t max, uint64_t *ret);

#define FORMAT_SIZE_MAX 32
#define FORMAT_TIME_MAX 32
/* "480 MiB", "2 GiB", "1 TiB": the largest unit that divides the value exactly. Returns buf. */
char *format_size(char buf[static FORMAT_SIZE_MAX], uint64_t mib);
/* "6 ms", "1500 us", "2 s": the largest unit that divides the value exactly. Returns buf. */
char *format_time(char buf[static FORMAT_TIME_MAX], uint64_t us);
