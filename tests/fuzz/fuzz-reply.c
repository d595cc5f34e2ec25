// SPDX-License-Identifier: MIT
// Fuzz harness: what mxgpuctl's client library makes of the bytes a daemon sends back (another version,
// a wrong program on the socket, a connection cut short). A call ends with a whole reply or a plain
// error, never a crash, a hang or a reply without parameters; the exit code follows the reply.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mxgpu/ctlclient.h"
#include "fuzz.h"

static char path[96];
static int listener = -1;

static void setup(void) {
        snprintf(path, sizeof(path), "%s/mxgpud.sock", fuzz_dir("reply"));
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        CHECK(listener >= 0 && bind(listener, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(listener, 4) == 0);
}

static void check_reply(int r, const struct ctl_reply *reply, bool more) {
        CHECK(r == 0 || r == -ECONNRESET || r == -EBADMSG);
        if (r < 0)
                return;
        CHECK(reply->parameters && json_object_is_type(reply->parameters, json_type_object));
        CHECK(more || !reply->continues);
        enum mx_exit code = ctl_reply_exit_code(reply);
        CHECK(reply->error ? code != MX_EXIT_OK && code <= MX_EXIT_NO_SPACE : code == MX_EXIT_OK);
        CHECK(reply->error_errno >= 0);
}

static int on_reply(const struct ctl_reply *reply, void *userdata) {
        check_reply(0, reply, true);
        ++*(unsigned *)userdata;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The first byte picks the kind of call; the rest is what the "daemon" sends. Kept within what a
         * socket buffers, so that the daemon side needs no thread. */
        if (size < 1 || size > 65536)
                return 0;
        if (listener < 0)
                setup();
        struct ctl_client *c = NULL;
        CHECK(ctl_client_connect(path, &c) == 0);
        int s = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        CHECK(s >= 0);
        CHECK(send(s, data + 1, size - 1, MSG_NOSIGNAL) == (ssize_t)(size - 1));
        shutdown(s, SHUT_WR); /* then the end of the connection: no call may wait past it */
        ctl_client_set_timeout(c, 10 * 1000000ull);

        struct ctl_reply reply;
        int r;
        switch (data[0] % 3) {
        case 0: /* one call, as most verbs make */
                r = ctl_client_call(c, MX_INTERFACE ".List", NULL, &reply);
                check_reply(r, &reply, false);
                if (r == 0)
                        ctl_reply_done(&reply);
                break;
        case 1: { /* a stream, as monitor reads it */
                unsigned n = 0;
                r = ctl_client_call_more(c, MX_INTERFACE ".Monitor", NULL, on_reply, &n);
                CHECK(r == 0 || r == -ECONNRESET || r == -EBADMSG);
                CHECK(r < 0 || n > 0);
                break;
        }
        default: /* calls one after another on one connection, as apply's dry run and commit */
                for (int i = 0; i < 3; i++) {
                        r = ctl_client_call(c, MX_INTERFACE ".Plan", NULL, &reply);
                        check_reply(r, &reply, false);
                        if (r < 0)
                                break;
                        ctl_reply_done(&reply);
                }
        }
        ctl_client_free(c);
        close(s);
        return 0;
}
