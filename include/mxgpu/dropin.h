/* SPDX-License-Identifier: MIT */
/* Edit one INI drop-in file in place (mxgpuctl --persist): set or remove keys and sections, keep every
 * other line (comments included), replace the file atomically. */
#pragma once

#include <stddef.h>

struct mx_dropin_edit {
        const char *section;   /* the header's text without brackets, e.g. "vf 0000:03:00.0 1" */
        const char *key;       /* NULL together with value NULL: remove the whole section */
        const char *value;     /* NULL: remove the key */
};

/* The text of path (a missing file is an empty one) with the edits applied in order. A section that
 * appears several times is edited in every copy: a key is replaced wherever the section has it, or
 * added after the last line of its first copy, or in a new section at the end; a removal removes it
 * from every copy. Returns 0 and a malloc'ed *ret_text, or -errno. */
int mx_dropin_render(const char *path, const struct mx_dropin_edit *edits, size_t n, char **ret_text);
/* Replace path with text (its directory is created): written to a temporary file in the same
 * directory, fsync'ed and renamed over path, so a crash leaves the old or the new file. 0 or -errno. */
int mx_dropin_write(const char *path, const char *text);
/* Both: apply the edits to path. */
int mx_dropin_update(const char *path, const struct mx_dropin_edit *edits, size_t n);
