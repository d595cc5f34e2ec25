// SPDX-License-Identifier: MIT
/* Times a whole command, start to exit, over repeated runs: posix_spawnp (vfork + exec, the cheapest
 * way a caller can start a process, so the figure is the command's own cost and not a shell's fork),
 * stdout to /dev/null, waitpid. Every run must exit 0. Used by bench/bench.sh for the mxgpuctl rows.
 *
 * Usage: spawn --runs N (1..100000) -- COMMAND [ARG...]
 * Prints one line: "runs=.. p50_us=.. p99_us=.. max_us=.." */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mxgpu/clock.h"
#include "latency.h"

extern char **environ;

int main(int argc, char **argv) {
        unsigned long runs = 0;
        int i = 1;
        for (; i < argc; i++) {
                if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
                        char *end;
                        errno = 0;
                        runs = strtoul(argv[++i], &end, 10);
                        if (errno || *end || runs < 1 || runs > 100000) {
                                fprintf(stderr, "spawn: --runs %s: give a number from 1 to 100000\n", argv[i]);
                                return 2;
                        }
                } else if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else {
                        fprintf(stderr, "spawn: unexpected argument '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!runs || i >= argc) {
                fprintf(stderr, "usage: spawn --runs N -- COMMAND [ARG...]\n");
                return 2;
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        uint64_t *lat = calloc(runs, sizeof(*lat));
        if (!lat) {
                fprintf(stderr, "spawn: out of memory\n");
                return 1;
        }
        for (unsigned long k = 0; k < runs; k++) {
                pid_t pid;
                int status;
                uint64_t t0 = mx_now_nsec();
                int r = posix_spawnp(&pid, argv[i], &fa, NULL, argv + i, environ);
                if (r) {
                        fprintf(stderr, "spawn: %s: %s\n", argv[i], strerror(r));
                        return 1;
                }
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR) {
                                perror("spawn: waitpid");
                                return 1;
                        }
                lat[k] = mx_now_nsec() - t0;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "spawn: run %lu of %s: %s %d\n", k + 1, argv[i],
                                WIFEXITED(status) ? "exit status" : "killed by signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                        return 1;
                }
        }
        posix_spawn_file_actions_destroy(&fa);
        struct latency_summary s = latency_summarize(lat, runs);
        printf("runs=%lu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", runs, s.p50 / 1e3, s.p99 / 1e3, s.max / 1e3);
        free(lat);
        return 0;
}
