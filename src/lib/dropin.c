// SPDX-License-Identifier: MIT
// Edit an INI drop-in (set/remove keys and sections) keeping its other lines, and replace it atomically.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/dropin.h"
#include "mxgpu/macro.h"

struct lines {
        char **l;
        size_t n;
};

static void lines_done(struct lines *ls) {
        for (size_t i = 0; i < ls->n; i++)
                free(ls->l[i]);
        free(ls->l);
}

static int lines_insert(struct lines *ls, size_t at, const char *text) {
        char **n = realloc(ls->l, (ls->n + 1) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        ls->l = n;
        char *s = strdup(text);
        if (!s)
                return -ENOMEM;
        memmove(&ls->l[at + 1], &ls->l[at], (ls->n - at) * sizeof(char *));
        ls->l[at] = s;
        ls->n++;
        return 0;
}

static void lines_delete(struct lines *ls, size_t at) {
        free(ls->l[at]);
        memmove(&ls->l[at], &ls->l[at + 1], (ls->n - at - 1) * sizeof(char *));
        ls->n--;
}

/* Compare a and b ignoring leading/trailing blanks and treating runs of blanks as one. */
static bool same_words(const char *a, size_t alen, const char *b) {
        const char *ae = a + alen;
        for (;;) {
                while (a < ae && isblank((unsigned char)*a))
                        a++;
                while (isblank((unsigned char)*b))
                        b++;
                if (a == ae || !*b)
                        return a == ae && !*b;
                while (a < ae && *b && !isblank((unsigned char)*a) && !isblank((unsigned char)*b))
                        if (*a++ != *b++)
                                return false;
                if ((a < ae && !isblank((unsigned char)*a)) || (*b && !isblank((unsigned char)*b)))
                        return false;
        }
}

/* The header's text between [ and ], or NULL when the line is not a header. */
static const char *header(const char *line, size_t *ret_len) {
        while (isspace((unsigned char)*line))
                line++;
        if (*line != '[')
                return NULL;
        const char *end = strchr(line, ']');
        if (!end)
                return NULL;
        *ret_len = (size_t)(end - line - 1);
        return line + 1;
}

static bool is_key(const char *line, const char *key) {
        while (isspace((unsigned char)*line))
                line++;
        const char *eq = strchr(line, '=');
        if (!eq || *line == ';' || *line == '#')
                return false;
        return same_words(line, (size_t)(eq - line), key);
}

/* [start, end) of the first section named name at or after line from; false when there is none. */
static bool find_section(const struct lines *ls, size_t from, const char *name, size_t *ret_start, size_t *ret_end) {
        for (size_t i = from; i < ls->n; i++) {
                size_t len;
                const char *h = header(ls->l[i], &len);
                if (!h || !same_words(h, len, name))
                        continue;
                size_t e = i + 1;
                while (e < ls->n && !header(ls->l[e], &len))
                        e++;
                *ret_start = i;
                *ret_end = e;
                return true;
        }
        return false;
}

/* Every copy of the section counts: the config merges them, the last line read winning, so a key left
 * in a later copy would undo the edit at the next reload. */
static int apply_edit(struct lines *ls, const struct mx_dropin_edit *e) {
        size_t start, end, first_start = 0, first_end = 0;
        bool found = false, replaced = false;
        _cleanup_free_ char *kv = NULL;
        if (e->value && asprintf(&kv, "%s = %s", e->key, e->value) < 0)
                return -ENOMEM;
        for (size_t from = 0; find_section(ls, from, e->section, &start, &end); from = end) {
                if (!e->key) {
                        for (size_t i = end; i > start; i--)
                                lines_delete(ls, i - 1);
                        end = start;
                        continue;
                }
                if (!found) {
                        first_start = start;
                        first_end = end;
                        found = true;
                }
                for (size_t i = start + 1; i < end; i++) {
                        if (!is_key(ls->l[i], e->key))
                                continue;
                        if (!e->value) {
                                lines_delete(ls, i--);
                                end--;
                                continue;
                        }
                        char *s = strdup(kv);
                        if (!s)
                                return -ENOMEM;
                        free(ls->l[i]);
                        ls->l[i] = s;
                        replaced = true;
                }
        }
        if (!e->key || !e->value || replaced)
                return 0;
        if (!found) {
                _cleanup_free_ char *h = NULL;
                if (asprintf(&h, "[%s]", e->section) < 0)
                        return -ENOMEM;
                int r = 0;
                if (ls->n > 0 && ls->l[ls->n - 1][0])
                        r = lines_insert(ls, ls->n, "");
                if (r >= 0)
                        r = lines_insert(ls, ls->n, h);
                return r < 0 ? r : lines_insert(ls, ls->n, kv);
        }
        size_t at = first_end;
        while (at > first_start + 1 && !ls->l[at - 1][strspn(ls->l[at - 1], " \t")])
                at--;  /* after the section's last non-blank line */
        return lines_insert(ls, at, kv);
}

static int read_lines(const char *path, struct lines *ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        ssize_t len;
        while ((len = getline(&buf, &size, f)) >= 0) {
                while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                        buf[--len] = 0;
                int r = lines_insert(ret, ret->n, buf);
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0;
}

static int write_atomic(const char *path, const char *text) {
        _cleanup_free_ char *dir_copy = strdup(path), *tmp = NULL;
        if (!dir_copy || asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        const char *dir = dirname(dir_copy);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int r = negative_errno();
                close(fd);
                unlink(tmp);
                return r;
        }
        fputs(text, f);
        int r = 0;
        if (fflush(f) != 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
                r = negative_errno();
        if (fclose(f) != 0 && r == 0)
                r = negative_errno();
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void)fsync(dfd);
        return 0;
}

int mx_dropin_render(const char *path, const struct mx_dropin_edit *edits, size_t n, char **ret_text) {
        struct lines ls = {};
        int r = read_lines(path, &ls);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = apply_edit(&ls, &edits[i]);
        char *buf = NULL;
        size_t size = 0;
        FILE *f = r >= 0 ? open_memstream(&buf, &size) : NULL;
        if (r >= 0 && !f)
                r = -ENOMEM;
        for (size_t i = 0; f && i < ls.n; i++)
                fprintf(f, "%s\n", ls.l[i]);
        if (f && fclose(f) != 0)
                r = -ENOMEM;
        lines_done(&ls);
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret_text = buf;
        return 0;
}

int mx_dropin_write(const char *path, const char *text) {
        return write_atomic(path, text);
}

int mx_dropin_update(const char *path, const struct mx_dropin_edit *edits, size_t n) {
        _cleanup_free_ char *text = NULL;
        int r = mx_dropin_render(path, edits, n, &text);
        return r < 0 ? r : write_atomic(path, text);
}
