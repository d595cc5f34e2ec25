// SPDX-License-Identifier: MIT
// Test helper: stand in for systemd's notify socket and print every sd_notify() datagram, one per line.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: notify-listen SOCKET-PATH\n");
                return 2;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "notify-listen: path too long\n");
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        unlink(argv[1]);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "notify-listen: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        char buf[4096];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                buf[n] = 0;
                /* One datagram may carry several assignments; keep them on one line. */
                for (char *p = buf; *p; p++)
                        if (*p == '\n')
                                *p = ' ';
                printf("%s\n", buf);
                fflush(stdout);
        }
}
