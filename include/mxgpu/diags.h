/* SPDX-License-Identifier: MIT */
/* Diagnostics: a growable list of problems, each naming file:line, key, value and what is allowed. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mxgpu/macro.h"

struct json_object;

enum mx_severity {
        MX_DIAG_ERROR,
        MX_DIAG_WARNING,
};

struct mx_diag {
        enum mx_severity severity;
        char *file;       /* NULL when the problem has no place in a file */
        unsigned line;    /* 0 = the whole file or section */
        char *key;        /* NULL when no key is involved */
        char *value;      /* NULL when no value is involved */
        char *device;     /* PCI address the problem was found on, or NULL */
        char *message;    /* what is wrong and what is allowed */
};

/* Zero-initialise (struct mx_diags d = {};) or call mx_diags_init(). */
struct mx_diags {
        struct mx_diag *items;
        size_t n, allocated;
        size_t n_errors;
};

void mx_diags_init(struct mx_diags *d);
/* Frees every entry; the list is empty and reusable afterwards. */
void mx_diags_clear(struct mx_diags *d);

/* Add one problem. Any of file, key, value, device may be NULL. Every string is stored escaped
 * (mx_escape), so what a file or a client sent never reaches a terminal or log raw. Returns 0 or -ENOMEM
 * (the diagnostic is then lost, but n_errors still counts an error). d may be NULL (ignored). */
int mx_diags_add(struct mx_diags *d, enum mx_severity sev, const char *file, unsigned line, const char *key,
                 const char *value, const char *device, const char *fmt, ...) _printf_(8, 9);

int mx_diags_addv(struct mx_diags *d, enum mx_severity sev, const char *file, unsigned line, const char *key,
                  const char *value, const char *device, const char *fmt, va_list ap) _printf_(8, 0);

/* The length of the valid UTF-8 character at s (1-4; 1 for ASCII, also for the NUL), or 0 when the
 * bytes there are not valid UTF-8 (overlong, surrogate, above U+10FFFF, cut short). */
size_t mx_utf8_char_len(const char *s);
/* A malloc'ed copy of s with control characters (C0, DEL, C1) and bytes that are not UTF-8 written as
 * \xNN; printable UTF-8 is kept. NULL on ENOMEM. */
char *mx_escape(const char *s);

static inline bool mx_diags_has_errors(const struct mx_diags *d) { return d && d->n_errors > 0; }

/* One line: "FILE:LINE: KEY = VALUE: MESSAGE" (DEVICE replaces FILE:LINE when there is no file), with "warning: " before the message for
 * warnings. Parts that are NULL are left out. Returns a malloc'ed string or NULL (ENOMEM). */
char *mx_diag_format(const struct mx_diag *diag);
/* Every entry, one per line. */
void mx_diags_print(const struct mx_diags *d, FILE *f);
/* [{ "severity": "error", "file": ..., "line": N, "key": ..., "value": ..., "device": ..., "message": ... }]
 * with absent parts left out. NULL on ENOMEM. The caller owns the reference. */
struct json_object *mx_diags_to_json(const struct mx_diags *d);
/* True if some entry's formatted line contains needle (for tests and callers that filter). */
bool mx_diags_contains(const struct mx_diags *d, const char *needle);
