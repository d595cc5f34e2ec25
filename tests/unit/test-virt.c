// SPDX-License-Identifier: MIT
// libvirt on the daemon's sd-event loop, against libvirt's test driver: connect, domain lifecycle events, clean removal.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A local libvirtd that is not there: no timer, no attempt, not even libvirt loaded by us; the socket's
 * folder is watched (here a folder that does not exist yet: its parent is). */
static void local_socket_waited_for(void **state) {
        char dir[] = "/tmp/mxgpu-test-virt.XXXXXX", uri[256];
        assert_non_null(mkdtemp(dir));
        snprintf(uri, sizeof(uri), "qemu:///system?socket=%s/run/libvirt-sock", dir);
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        struct manager m = { .event = e };
        n_connected = 0;
        const struct virt_callbacks cb = { .connected = connected };
        assert_int_equal(manager_virt_start(&m, uri, &cb), 0);
        assert_true(sd_event_run(e, 0) > 0);  /* the first look: no socket */
        /* Then nothing fires (a retry timer's first step would come after 0.1 s). */
        assert_int_equal(sd_event_run(e, 300 * 1000), 0);
        assert_null(manager_virt_conn(&m));
        manager_virt_stop(&m);
        sd_event_unref(e);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lifecycle_events_in_our_loop),
                cmocka_unit_test(unknown_uri_retries),
                cmocka_unit_test(local_uri_sockets),
                cmocka_unit_test(local_socket_waited_for),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
