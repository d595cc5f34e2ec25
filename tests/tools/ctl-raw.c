// SPDX-License-Identifier: MIT
// Test tool: speak raw bytes to a Unix socket (malformed and oversized control requests), or listen on one.
//   ctl-raw send SOCKET MSG...   each MSG is sent with a terminating NUL; "@raw:TEXT" without it,
//                                "@big:N" as N bytes of 'x' without a NUL. Then every reply is printed
//                                on its own line until the peer closes ("EOF") or 2 s pass ("TIMEOUT").
//                                With CTL_RAW_EXPECT=N it stops after N replies instead, waiting up
//                                to 60 s for each (a reply that takes a whole cycle, under valgrind).
//   ctl-raw listen PATH          accept and close connections on PATH until killed; prints "ready".
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_addr(const char *path, struct sockaddr_un *sa) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path)) {
                fprintf(stderr, "ctl-raw: path too long: %s\n", path);
                return -1;
        }
        strcpy(sa->sun_path, path);
        return 0;
}

static int send_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static int do_send(const char *path, int argc, char **argv) {
        struct sockaddr_un sa;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sock_addr(path, &sa) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("ctl-raw: connect");
                return 1;
        }
        for (int i = 0; i < argc; i++) {
                int r;
                if (strncmp(argv[i], "@raw:", 5) == 0)
                        r = send_all(fd, argv[i] + 5, strlen(argv[i] + 5));
                else if (strncmp(argv[i], "@big:", 5) == 0) {
                        size_t n = strtoul(argv[i] + 5, NULL, 10);
                        char *b = malloc(n ? n : 1);
                        if (!b)
                                return 1;
                        memset(b, 'x', n);
                        r = send_all(fd, b, n);
                        free(b);
                } else
                        r = send_all(fd, argv[i], strlen(argv[i]) + 1);
                if (r < 0) {
                        printf("SEND-FAILED %s\n", strerror(errno));
                        break;
                }
        }
        char buf[65536];
        size_t have = 0;
        const char *e = getenv("CTL_RAW_EXPECT");
        long expect = e ? strtol(e, NULL, 10) : 0, got = 0;
        while (expect <= 0 || got < expect) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, expect > 0 ? 60000 : 2000);
                if (r == 0) {
                        printf("TIMEOUT\n");
                        break;
                }
                ssize_t n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
                if (n <= 0) {
                        printf("EOF\n");
                        break;
                }
                have += (size_t)n;
                char *nul;
                while ((expect <= 0 || got < expect) && (nul = memchr(buf, 0, have))) {
                        printf("%s\n", buf);
                        got++;
                        size_t used = (size_t)(nul - buf) + 1;
                        memmove(buf, nul + 1, have - used);
                        have -= used;
                }
                fflush(stdout);
                if (have >= sizeof(buf) - 1)
                        have = 0;
        }
        close(fd);
        return 0;
}

static int do_listen(const char *path) {
        struct sockaddr_un sa;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sock_addr(path, &sa) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
                perror("ctl-raw: listen");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                int c = accept(fd, NULL, NULL);
                if (c >= 0)
                        close(c);
        }
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "send") == 0)
                return do_send(argv[2], argc - 3, argv + 3);
        if (argc == 3 && strcmp(argv[1], "listen") == 0)
                return do_listen(argv[2]);
        fprintf(stderr, "usage: ctl-raw send SOCKET MSG... | ctl-raw listen PATH\n");
        return 2;
}
