// SPDX-License-Identifier: MIT
// Sizes, times and booleans as users write them: strict parsing (unit required) and formatting.
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "mxgpu/macro.h"
#include "mxgpu/units.h"

#define SIZE_UNITS_HELP "K, M, G or T (powers of 1024, optional iB/B), e.g. 2048M, 2G, 2GiB"
#define TIME_UNITS_HELP "us, ms or s, e.g. 6ms"

static void set_err(const char **ret_err, const char *msg) {
        if (ret_err)
                *ret_err = msg;
}

/* Leading unsigned decimal digits; *end after them. -EINVAL without digits, -ERANGE on overflow. */
static int parse_digits(const char *s, uint64_t *ret, const char **end) {
        uint64_t v = 0;
        const char *p = s;
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        *end = p;
        return 0;
}

/* Common front part of sizes and times: number, optional spaces, unit word. */
static int split_number_unit(const char *s, uint64_t *ret_n, const char **ret_unit, const char **ret_err,
                             const char *help_no_unit, const char *help_bad, const char *help_fraction) {
        const char *p = s, *end;
        if (!s || !*s) {
                set_err(ret_err, help_bad);
                return -EINVAL;
        }
        while (isspace((unsigned char)*p))
                p++;
        if (*p == '-') {
                set_err(ret_err, "negative values are not allowed");
                return -EINVAL;
        }
        if (*p == '+')
                p++;
        uint64_t n;
        int r = parse_digits(p, &n, &end);
        if (r == -ERANGE) {
                set_err(ret_err, "the number is too large");
                return r;
        }
        if (r < 0) {
                set_err(ret_err, help_bad);
                return r;
        }
        if (*end == '.' || *end == ',') {
                set_err(ret_err, help_fraction);
                return -EINVAL;
        }
        if (n == 0 && end == p + 1 && (*end == 'x' || *end == 'X')) {
                set_err(ret_err, "hexadecimal is not allowed: write the number in decimal");
                return -EINVAL;
        }
        while (isspace((unsigned char)*end))
                end++;
        if (!*end) {
                set_err(ret_err, help_no_unit);
                return -EINVAL;
        }
        *ret_n = n;
        *ret_unit = end;
        return 0;
}

int parse_size_mib(const char *s, uint64_t *ret_mib, const char **ret_err) {
        static const struct { char c; int shift; } units[] = { /* shift relative to KiB */
                { 'k', 0 }, { 'm', 10 }, { 'g', 20 }, { 't', 30 },
        };
        uint64_t n;
        const char *u;
        int r = split_number_unit(s, &n, &u, ret_err, "a size needs a unit: " SIZE_UNITS_HELP,
                                  "not a size: use a number with a unit: " SIZE_UNITS_HELP,
                                  "fractions are not allowed: use a whole number of a smaller unit (1536M, not 1.5G)");
        if (r < 0)
                return r;
        int shift = -1;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (tolower((unsigned char)u[0]) == units[i].c)
                        shift = units[i].shift;
        const char *rest = u + 1;
        if (shift < 0 || !(*rest == 0 || strcasecmp(rest, "i") == 0 || strcasecmp(rest, "ib") == 0 ||
                           strcasecmp(rest, "b") == 0)) {
                set_err(ret_err, "unknown size unit: use " SIZE_UNITS_HELP);
                return -EINVAL;
        }
        /* Work in KiB so K values can be checked for whole MiB. */
        if (shift > 0 && n > (UINT64_MAX >> shift)) {
                set_err(ret_err, "the size is too large");
                return -ERANGE;
        }
        uint64_t kib = n << shift;
        if (kib % 1024) {
                set_err(ret_err, "not a whole number of MiB");
                return -EINVAL;
        }
        *ret_mib = kib / 1024;
        return 0;
}

int parse_time_us(const char *s, uint64_t *ret_us, const char **ret_err) {
        uint64_t n, mult;
        const char *u;
        int r = split_number_unit(s, &n, &u, ret_err, "a time needs a unit: " TIME_UNITS_HELP,
                                  "not a time: use a number with a unit: " TIME_UNITS_HELP,
                                  "fractions are not allowed: use a whole number with a unit");
        if (r < 0)
                return r;
        if (strcasecmp(u, "us") == 0)
                mult = 1;
        else if (strcasecmp(u, "ms") == 0)
                mult = 1000;
        else if (strcasecmp(u, "s") == 0)
                mult = 1000000;
        else {
                set_err(ret_err, "unknown time unit: use " TIME_UNITS_HELP);
                return -EINVAL;
        }
        if (n > UINT64_MAX / mult) {
                set_err(ret_err, "the time is too large");
                return -ERANGE;
        }
        *ret_us = n * mult;
        return 0;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v;
        const char *end;
        if (!s)
                return -EINVAL;
        int r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

char *format_size(char buf[static FORMAT_SIZE_MAX], uint64_t mib) {
        if (mib != 0 && mib % (1024 * 1024) == 0)
                snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 " TiB", mib / (1024 * 1024));
        else if (mib != 0 && mib % 1024 == 0)
                snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 " GiB", mib / 1024);
        else
                snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 " MiB", mib);
        return buf;
}

char *format_time(char buf[static FORMAT_TIME_MAX], uint64_t us) {
        if (us != 0 && us % 1000000 == 0)
                snprintf(buf, FORMAT_TIME_MAX, "%" PRIu64 " s", us / 1000000);
        else if (us != 0 && us % 1000 == 0)
                snprintf(buf, FORMAT_TIME_MAX, "%" PRIu64 " ms", us / 1000);
        else
                snprintf(buf, FORMAT_TIME_MAX, "%" PRIu64 " us", us);
        return buf;
}
