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

/* Apply edits in order to path (a missing file is an empty one; its directory is created). A key is
 * set in the section's first occurrence, after its last line, or in a new section at the end.
 * Written to a temporary file in the same directory, fsync'ed and renamed over path: a crash leaves
 * the old or the new file. Returns 0 or -errno. */
int mx_dropin_update(const char *path, const struct mx_dropin_edit *edits, size_t n);
