// SPDX-License-Identifier: MIT
// In-guest helper for the VM tests: write one value to a file and print the kernel's answer
// as an errno name ("OK", "ERANGE", "open:EACCES"), which busybox's echo cannot report.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: %s FILE VALUE (written as given, no newline added)\n", argv[0]);
                return 2;
        }
        int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                printf("open:%s\n", strerrorname_np(errno) ?: "?");
                return 0;
        }
        size_t len = strlen(argv[2]);
        ssize_t n = write(fd, argv[2], len);
        if (n < 0)
                printf("%s\n", strerrorname_np(errno) ?: "?");
        else if ((size_t) n != len)
                printf("SHORT:%zd\n", n);
        else
                printf("OK\n");
        close(fd);
        return 0;
}
