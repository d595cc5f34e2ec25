// SPDX-License-Identifier: MIT
// unix-bind PATH: leave a Unix socket at PATH that nobody listens on (a connect() is refused), as a daemon killed with -9 leaves.
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: unix-bind PATH (shorter than %zu bytes)\n", sizeof(sa.sun_path));
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror(argv[1]);
                return 1;
        }
        close(fd);
        return 0;
}
