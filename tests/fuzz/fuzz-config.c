// SPDX-License-Identifier: MIT
// Fuzz harness: mxgpu.conf as written by hand. A file is accepted or refused with at least one error,
// each naming a line of that file and saying what is wrong; an accepted config copies whole.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxgpu/config.h"
#include "mxgpu/diags.h"
#include "fuzz.h"

static char path[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 16384)
                return 0;
        if (!path[0])
                snprintf(path, sizeof(path), "%s/mxgpu.conf", fuzz_dir("config"));
        fuzz_write(path, data, size);
        unsigned lines = 1;
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';

        struct mx_diags diags = {};
        struct mx_config *cfg = NULL;
        int r = mx_config_load(path, NULL, &cfg, &diags);
        CHECK(r == 0 || r == -EINVAL);
        CHECK(r == 0 ? cfg && !mx_diags_has_errors(&diags) : !cfg && diags.n_errors > 0);
        for (size_t i = 0; i < diags.n; i++) {
                const struct mx_diag *d = &diags.items[i];
                CHECK(d->message && d->message[0]);
                if (d->file) {
                        CHECK(strcmp(d->file, path) == 0);
                        CHECK(d->line <= lines);
                }
                char *line = mx_diag_format(d);
                CHECK(line);
                free(line);
        }
        if (cfg) {
                struct mx_config *copy = NULL;
                CHECK(mx_config_copy(cfg, &copy) == 0);
                CHECK(copy->n_sections == cfg->n_sections);
                mx_config_free(copy);
        }
        mx_config_free(cfg);
        mx_diags_clear(&diags);
        return 0;
}
