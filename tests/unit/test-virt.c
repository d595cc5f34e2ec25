// SPDX-License-Identifier: MIT
// libvirt on the daemon's sd-event loop, against libvirt's test driver: connect, domain lifecycle events, clean removal.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/daemon/manager.h"
#include "../../src/daemon/virt.h"

static int n_connected;
static int events[16], n_events;

static void connected(struct manager *m, virConnectPtr conn) {
        n_connected++;
}

static void domain_event(struct manager *m, virConnectPtr conn, virDomainPtr dom, int event, int detail) {
        if (n_events < 16)
                events[n_events++] = event;
}

/* Run the loop until cond holds, at most 2000 iterations of 10 ms. */
#define RUN_UNTIL(e, cond) do {                                                 \
                for (int _k = 0; _k < 2000 && !(cond); _k++)                    \
                        assert_true(sd_event_run(e, 10 * 1000) >= 0);           \
                assert_true(cond);                                              \
        } while (0)

static void lifecycle_events_in_our_loop(void **state) {
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        struct manager m = { .event = e };
        const struct virt_callbacks cb = { .connected = connected, .domain_event = domain_event };
        assert_int_equal(manager_virt_start(&m, "test:///default", &cb), 0);
        assert_null(manager_virt_conn(&m)); /* connects from the loop */
        RUN_UNTIL(e, n_connected == 1);
        virConnectPtr conn = manager_virt_conn(&m);
        assert_non_null(conn);
        assert_true(virt_event_n_registered() >= 1); /* the test driver's event timer */

        virDomainPtr dom = virDomainDefineXML(conn, "<domain type='test'><name>vm-virt</name><memory>65536</memory>"
                                                    "<os><type>hvm</type></os></domain>");
        assert_non_null(dom);
        RUN_UNTIL(e, n_events >= 1);
        assert_int_equal(events[0], VIR_DOMAIN_EVENT_DEFINED);
        assert_int_equal(virDomainCreate(dom), 0);
        RUN_UNTIL(e, n_events >= 2);
        assert_int_equal(events[1], VIR_DOMAIN_EVENT_STARTED);
        assert_int_equal(virDomainDestroy(dom), 0);
        RUN_UNTIL(e, n_events >= 3);
        assert_int_equal(events[2], VIR_DOMAIN_EVENT_STOPPED);
        assert_int_equal(virDomainUndefine(dom), 0);
        RUN_UNTIL(e, n_events >= 4);
        assert_int_equal(events[3], VIR_DOMAIN_EVENT_UNDEFINED);
        virDomainFree(dom);

        /* Node devices of the test driver's default host are listed through our loop's connection. */
        virNodeDevicePtr *devs = NULL;
        int nd = virConnectListAllNodeDevices(conn, &devs, 0);
        assert_true(nd > 0);
        for (int i = 0; i < nd; i++)
                virNodeDeviceFree(devs[i]);
        free(devs);

        manager_virt_stop(&m);
        assert_null(m.virt);
        /* The connection's handles and timeouts are gone, their free callbacks have run. */
        assert_int_equal(virt_event_n_registered(), 0);
        sd_event_unref(e);
}

static void unknown_uri_retries(void **state) {
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        struct manager m = { .event = e };
        n_connected = 0;
        const struct virt_callbacks cb = { .connected = connected };
        /* A libvirt that is not there: no failure, no connection, retried in the background. */
        assert_int_equal(manager_virt_start(&m, "test:///nonexistent-mxgpu-node.xml", &cb), 0);
        for (int k = 0; k < 30; k++)
                assert_true(sd_event_run(e, 10 * 1000) >= 0);
        assert_null(manager_virt_conn(&m));
        assert_int_equal(n_connected, 0);
        manager_virt_stop(&m);
        sd_event_unref(e);
}

static void local_uri_sockets(void **state) {
        struct virt_socket s;
        assert_int_equal(virt_uri_socket("qemu:///system", &s), 0);
        assert_string_equal(s.dir, "/run/libvirt");
        assert_int_equal(s.n_names, 3);
        assert_string_equal(s.names[0], "libvirt-sock");
        assert_string_equal(s.names[1], "virtqemud-sock");
        assert_string_equal(s.names[2], "virtproxyd-sock");
        assert_int_equal(virt_uri_socket("lxc+unix:///system", &s), 0);
        assert_string_equal(s.names[1], "virtlxcd-sock");
        assert_int_equal(virt_uri_socket("qemu:///system?mode=legacy&socket=/tmp/x/libvirt-sock", &s), 0);
        assert_string_equal(s.dir, "/tmp/x");
        assert_int_equal(s.n_names, 1);
        assert_string_equal(s.names[0], "libvirt-sock");
        assert_int_equal(virt_uri_socket("qemu+unix:///system?socket=/sock", &s), 0);
        assert_string_equal(s.dir, "/");
        assert_string_equal(s.names[0], "sock");
        /* Nothing local to watch: other hosts and transports, in-process drivers, session daemons. */
        assert_int_equal(virt_uri_socket("qemu+ssh://host/system", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("qemu://host/system", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("qemu+tls:///system", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("test:///default", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("test:///system", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("qemu:///session", &s), -EREMOTE);
        assert_int_equal(virt_uri_socket("qemu:///system?socket=relative", &s), -EINVAL);
        assert_int_equal(virt_uri_socket("nonsense", &s), -EINVAL);
}

/* Follow uri from a new loop and run its first look, which finds no socket. */
static sd_event *start_waiting(struct manager *m, const char *uri) {
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        *m = (struct manager){ .event = e };
        n_connected = 0;
        const struct virt_callbacks cb = { .connected = connected };
        assert_int_equal(manager_virt_start(m, uri, &cb), 0);
        assert_true(sd_event_run(e, 0) > 0);
        return e;
}

/* A local libvirtd that is not there: no timer, no attempt, not even libvirt loaded by us; the socket's
 * folder is watched (here a folder that does not exist yet: its parent is). */
static void local_socket_waited_for(void **state) {
        char dir[] = "/tmp/mxgpu-test-virt.XXXXXX", uri[256];
        assert_non_null(mkdtemp(dir));
        snprintf(uri, sizeof(uri), "qemu:///system?socket=%s/run/libvirt-sock", dir);
        struct manager m;
        sd_event *e = start_waiting(&m, uri);
        /* Then nothing fires (a retry timer's first step would come after 0.1 s). */
        assert_int_equal(sd_event_run(e, 300 * 1000), 0);
        assert_null(manager_virt_conn(&m));
        manager_virt_stop(&m);
        sd_event_unref(e);
        assert_int_equal(rmdir(dir), 0);
}

/* sd-event's inotify watches go through here (this program's symbol comes before libc's for
 * libsystemd too): a folder named in race_mkdir appears just before the next watch is added, after
 * the daemon looked for the nearest existing one, as with mkdir -p racing the daemon. */
static const char *race_mkdir;
static int n_watches;

int inotify_add_watch(int fd, const char *name, uint32_t mask) {
        static int (*real)(int, const char *, uint32_t);
        if (!real)
                real = (int (*)(int, const char *, uint32_t))dlsym(RTLD_NEXT, "inotify_add_watch");
        n_watches++;
        if (race_mkdir) {
                assert_int_equal(mkdir(race_mkdir, 0755), 0);
                race_mkdir = NULL;
        }
        return real(fd, name, mask);
}

/* Accept one connection, take the socket away (no second attempt) and hang up: libvirt's attempt
 * fails at once, and it was made. */
struct listener {
        int fd;
        const char *path;
        int accepted; /* set by the accepting thread (atomically), read by the loop */
};

static void *accept_one(void *arg) {
        struct listener *l = arg;
        int c = accept(l->fd, NULL, NULL);
        if (c >= 0) {
                (void)unlink(l->path);
                close(c);
                __atomic_store_n(&l->accepted, 1, __ATOMIC_RELEASE);
        }
        return NULL;
}

/* mkdir -p of the socket's folder racing the watch: the folder that came between the look and the
 * watch is found on a second look, and the socket made in it afterwards is noticed. */
static void local_socket_folder_races_watch(void **state) {
        char dir[] = "/tmp/mxgpu-test-virt.XXXXXX", run[64], lv[80], sock[96], uri[160];
        assert_non_null(mkdtemp(dir));
        snprintf(run, sizeof(run), "%s/run", dir);
        snprintf(lv, sizeof(lv), "%s/libvirt", run);
        snprintf(sock, sizeof(sock), "%s/libvirt-sock", lv);
        snprintf(uri, sizeof(uri), "qemu:///system?socket=%s", sock);
        n_watches = 0;
        struct manager m;
        sd_event *e = start_waiting(&m, uri); /* dir is watched */
        assert_int_equal(n_watches, 1);

        /* run appears; when the daemon watches it, libvirt has come too, unseen by that watch. */
        assert_int_equal(mkdir(run, 0755), 0);
        race_mkdir = lv;
        assert_true(sd_event_run(e, 1000 * 1000) > 0);
        assert_null(race_mkdir);

        struct listener l = { .fd = socket(AF_UNIX, SOCK_STREAM, 0), .path = sock };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        assert_int_equal(bind(l.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(l.fd, 1), 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, accept_one, &l), 0);
        /* The socket's creation is seen and an attempt made (no retry timer runs meanwhile). */
        for (int k = 0; k < 200 && !__atomic_load_n(&l.accepted, __ATOMIC_ACQUIRE); k++)
                assert_true(sd_event_run(e, 10 * 1000) >= 0);
        if (!__atomic_load_n(&l.accepted, __ATOMIC_ACQUIRE))
                shutdown(l.fd, SHUT_RDWR); /* ends accept() */
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(l.accepted);
        close(l.fd);

        manager_virt_stop(&m);
        sd_event_unref(e);
        assert_int_equal(rmdir(lv), 0);
        assert_int_equal(rmdir(run), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN); /* as mxgpud does (manager_main()): a hung-up libvirtd is an EPIPE */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lifecycle_events_in_our_loop),
                cmocka_unit_test(unknown_uri_retries),
                cmocka_unit_test(local_uri_sockets),
                cmocka_unit_test(local_socket_waited_for),
                cmocka_unit_test(local_socket_folder_races_watch),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
