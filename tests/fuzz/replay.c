// SPDX-License-Identifier: MIT
// Runs a fuzz harness over saved inputs without libFuzzer: every file named, and every file in every
// folder named, in name order. make check runs each harness over its corpus this way (any compiler).
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t size = 0, cap = 4096;
        uint8_t *buf = malloc(cap);
        for (size_t n; buf && (n = fread(buf + size, 1, cap - size, f)) > 0;) {
                size += n;
                if (size == cap) {
                        uint8_t *more = realloc(buf, cap *= 2);
                        if (!more)
                                free(buf);
                        buf = more;
                }
        }
        bool bad = ferror(f) || !buf;
        fclose(f);
        if (bad) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                free(buf);
                return -1;
        }
        /* A copy of exactly size bytes: reading past the input is then an error ASan and valgrind see. */
        uint8_t *exact = malloc(size ? size : 1);
        if (!exact) {
                free(buf);
                return -1;
        }
        memcpy(exact, buf, size);
        free(buf);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv) {
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|FOLDER...\n", argv[0]);
                return 2;
        }
        unsigned n = 0, failed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed += run_file(argv[i]) < 0;
                        n++;
                        continue;
                }
                struct dirent **list;
                int k = scandir(argv[i], &list, NULL, by_name);
                if (k < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                for (int j = 0; j < k; j++) {
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], list[j]->d_name);
                        if (list[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                failed += run_file(path) < 0;
                                n++;
                        }
                        free(list[j]);
                }
                free(list);
        }
        printf("replay: %u input(s), %u unreadable\n", n, failed);
        if (n == 0)
                fprintf(stderr, "replay: no input found: an empty corpus tests nothing\n");
        return failed || n == 0 ? 1 : 0;
}
