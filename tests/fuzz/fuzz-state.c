// SPDX-License-Identifier: MIT
// Fuzz harness: state.json as a crash, a full disk or a hand edit may leave it. Loading either succeeds,
// or moves the file aside and says so, or refuses a newer version; what loads saves and loads back the same.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/state.h"
#include "fuzz.h"

static char dir[64], again[80], file[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "%s", fuzz_dir("state"));
                snprintf(again, sizeof(again), "%s/again", dir);
                CHECK(mkdir(again, 0700) == 0);
                snprintf(file, sizeof(file), "%s/state.json", dir);
        }
        fuzz_write(file, data, size);

        struct mx_state st;
        char *corrupt = NULL;
        int r = state_load(dir, &st, &corrupt);
        CHECK(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
        if (r == -EBADMSG) {
                /* moved aside, and the caller told where */
                CHECK(corrupt && access(file, F_OK) < 0 && access(corrupt, F_OK) == 0);
                CHECK(unlink(corrupt) == 0);
                free(corrupt);
                return 0;
        }
        CHECK(!corrupt);
        if (r < 0)
                return 0;

        /* What loaded is a state the daemon can write and read back unchanged. */
        uint64_t gen = st.generation;
        CHECK(state_save_mark(again, &st) == 0);
        CHECK(st.generation == (gen < INT64_MAX ? gen + 1 : gen)); /* INT64_MAX: what a larger number loads as */
        struct mx_state back;
        CHECK(state_load(again, &back, NULL) == 0);
        CHECK(back.generation == st.generation && back.n_pfs == st.n_pfs && back.n_assignments == st.n_assignments);
        for (size_t i = 0; i < st.n_pfs; i++)
                CHECK(strcmp(st.pfs[i].addr, back.pfs[i].addr) == 0 && st.pfs[i].num_vfs == back.pfs[i].num_vfs);
        state_done(&back);
        state_done(&st);
        return 0;
}
