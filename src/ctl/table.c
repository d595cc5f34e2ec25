// SPDX-License-Identifier: MIT
// Human output for mxgpuctl: aligned text tables, and state words coloured only on a terminal.
#include <string.h>

#include "ctl.h"

struct ctl_table {
        size_t n_columns, n_rows;
        char **cells;             /* (n_rows + 1) * n_columns, the headers first */
};

struct ctl_table *ctl_table_new(size_t n_columns, const char *const *headers) {
        struct ctl_table *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        if (ctl_table_add(t, headers) < 0) {
                free(t);
                return NULL;
        }
        t->n_rows = 0;
        return t;
}

int ctl_table_add(struct ctl_table *t, const char *const *cells) {
        size_t row = t->cells ? t->n_rows + 1 : 0;
        char **p = realloc(t->cells, (row + 1) * t->n_columns * sizeof(char *));
        if (!p)
                return -ENOMEM;
        t->cells = p;
        for (size_t i = 0; i < t->n_columns; i++)
                p[row * t->n_columns + i] = strdup(cells[i] ? cells[i] : "-");
        if (row > 0)
                t->n_rows++;
        return 0;
}

/* Display width: escape sequences take no room; UTF-8 continuation bytes neither. */
static size_t text_width(const char *s) {
        size_t w = 0;
        for (; *s; s++) {
                if (*s == '\033') {
                        while (*s && *s != 'm')
                                s++;
                        if (!*s)
                                break;
                } else if (((unsigned char)*s & 0xc0) != 0x80)
                        w++;
        }
        return w;
}

void ctl_table_print(struct ctl_table *t, FILE *f, bool color) {
        size_t width[t->n_columns];
        for (size_t c = 0; c < t->n_columns; c++) {
                width[c] = 0;
                for (size_t r = 0; r <= t->n_rows; r++)
                        width[c] = MAX(width[c], text_width(t->cells[r * t->n_columns + c] ?: ""));
        }
        for (size_t r = 0; r <= t->n_rows; r++) {
                if (r == 0 && color)
                        fputs("\033[1m", f);
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = t->cells[r * t->n_columns + c] ?: "";
                        bool last = c + 1 == t->n_columns;
                        fputs(s, f);
                        if (!last)
                                fprintf(f, "%*s", (int)(width[c] - text_width(s) + 2), "");
                }
                if (r == 0 && color)
                        fputs(CTL_COLOR_RESET, f);
                fputc('\n', f);
        }
}

void ctl_table_free(struct ctl_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < (t->n_rows + 1) * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

const char *ctl_state_color(const char *state, bool color) {
        if (!color || !state)
                return "";
        if (streq(state, "ready"))
                return "\033[32m";
        if (streq(state, "degraded"))
                return "\033[33m";
        if (streq(state, "failed"))
                return "\033[31m";
        return "";
}
