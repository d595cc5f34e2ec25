// SPDX-License-Identifier: MIT
// The diagnostics list: collect every problem of a config or plan, then print it or hand it out as JSON.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "mxgpu/diags.h"

void mx_diags_init(struct mx_diags *d) {
        *d = (struct mx_diags){};
}

static void diag_free(struct mx_diag *diag) {
        free(diag->file);
        free(diag->key);
        free(diag->value);
        free(diag->device);
        free(diag->message);
}

void mx_diags_clear(struct mx_diags *d) {
        for (size_t i = 0; i < d->n; i++)
                diag_free(&d->items[i]);
        free(d->items);
        *d = (struct mx_diags){};
}

size_t mx_utf8_char_len(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        if (p[0] < 0x80)
                return 1;
        size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
        for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        /* no overlong forms, UTF-16 surrogates or code points above U+10FFFF */
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
            (p[0] == 0xf4 && p[1] > 0x8f))
                return 0;
        return n;
}

char *mx_escape(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                size_t n = mx_utf8_char_len((const char *)p);
                /* C0 and C1 controls and DEL move a terminal's cursor or start escape sequences; bytes that
                 * are not UTF-8 may combine with what follows: shown as \xNN */
                bool c1 = n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
                if (n == 0 || c1 || *p < 0x20 || *p == 0x7f) {
                        for (size_t i = 0; i < (n ? n : 1); i++)
                                fprintf(f, "\\x%02x", p[i]);
                        p += n ? n : 1;
                        continue;
                }
                fwrite(p, 1, n, f);
                p += n;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* A copy with every byte that is not printable UTF-8 escaped: values come from files and sockets. */
static int strdup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = mx_escape(s);
        return *ret ? 0 : -ENOMEM;
}

int mx_diags_add(struct mx_diags *d, enum mx_severity sev, const char *file, unsigned line, const char *key,
                 const char *value, const char *device, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = mx_diags_addv(d, sev, file, line, key, value, device, fmt, ap);
        va_end(ap);
        return r;
}

int mx_diags_addv(struct mx_diags *d, enum mx_severity sev, const char *file, unsigned line, const char *key,
                  const char *value, const char *device, const char *fmt, va_list ap) {
        if (!d)
                return 0;
        if (sev == MX_DIAG_ERROR)
                d->n_errors++;
        if (d->n == d->allocated) {
                size_t n = d->allocated ? d->allocated * 2 : 8;
                struct mx_diag *items = realloc(d->items, n * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                d->items = items;
                d->allocated = n;
        }
        struct mx_diag diag = { .severity = sev, .line = line };
        _cleanup_free_ char *raw = NULL;
        if (vasprintf(&raw, fmt, ap) < 0) {
                raw = NULL;
                return -ENOMEM;
        }
        if (strdup_opt(raw, &diag.message) < 0 || strdup_opt(file, &diag.file) < 0 || strdup_opt(key, &diag.key) < 0 ||
            strdup_opt(value, &diag.value) < 0 || strdup_opt(device, &diag.device) < 0) {
                diag_free(&diag);
                return -ENOMEM;
        }
        d->items[d->n++] = diag;
        return 0;
}

char *mx_diag_format(const struct mx_diag *diag) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        if (diag->file) {
                fputs(diag->file, f);
                if (diag->line)
                        fprintf(f, ":%u", diag->line);
                fputs(": ", f);
        }
        else if (diag->device)
                fprintf(f, "%s: ", diag->device);  /* with a file, the message names the device itself */
        if (diag->key) {
                fputs(diag->key, f);
                if (diag->value)
                        fprintf(f, " = %s", diag->value);
                fputs(": ", f);
        }
        if (diag->severity == MX_DIAG_WARNING)
                fputs("warning: ", f);
        fputs(diag->message, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

void mx_diags_print(const struct mx_diags *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *s = mx_diag_format(&d->items[i]);
                fprintf(f, "%s\n", s ? s : d->items[i].message);
        }
}

static int add_str(struct json_object *o, const char *name, const char *s) {
        if (!s)
                return 0;
        struct json_object *v = json_object_new_string(s);
        if (!v)
                return -ENOMEM;
        json_object_object_add(o, name, v);
        return 0;
}

struct json_object *mx_diags_to_json(const struct mx_diags *d) {
        struct json_object *arr = json_object_new_array();
        if (!arr)
                return NULL;
        for (size_t i = 0; i < d->n; i++) {
                const struct mx_diag *diag = &d->items[i];
                struct json_object *o = json_object_new_object();
                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(arr);
                        return NULL;
                }
                if (add_str(o, "severity", diag->severity == MX_DIAG_ERROR ? "error" : "warning") < 0 ||
                    add_str(o, "file", diag->file) < 0 || add_str(o, "key", diag->key) < 0 ||
                    add_str(o, "value", diag->value) < 0 || add_str(o, "device", diag->device) < 0 ||
                    add_str(o, "message", diag->message) < 0) {
                        json_object_put(arr);
                        return NULL;
                }
                if (diag->file && diag->line)
                        json_object_object_add(o, "line", json_object_new_int64(diag->line));
        }
        return arr;
}

bool mx_diags_contains(const struct mx_diags *d, const char *needle) {
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *s = mx_diag_format(&d->items[i]);
                if (s && strstr(s, needle))
                        return true;
        }
        return false;
}
