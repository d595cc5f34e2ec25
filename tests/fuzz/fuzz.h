/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz harnesses: a check that aborts (libFuzzer and replay.c then report the input),
 * and a scratch folder of the harness's own, removed with its contents at exit. */
#pragma once

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_scratch[64];

static int fuzz_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        remove(path); /* best effort: whatever cannot go stays in /tmp */
        return 0;
}

static void fuzz_remove_scratch(void) {
        nftw(fuzz_scratch, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* /tmp/mxgpu-fuzz-NAME.XXXXXX, made on the first call. */
static inline const char *fuzz_dir(const char *name) {
        if (!fuzz_scratch[0]) {
                snprintf(fuzz_scratch, sizeof(fuzz_scratch), "/tmp/mxgpu-fuzz-%s.XXXXXX", name);
                CHECK(mkdtemp(fuzz_scratch));
                atexit(fuzz_remove_scratch);
        }
        return fuzz_scratch;
}

/* The input as the whole content of the file at path. */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size) {
        FILE *f = fopen(path, "we");
        CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
}
