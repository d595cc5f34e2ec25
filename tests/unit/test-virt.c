// SPDX-License-Identifier: MIT
// libvirt on the daemon's sd-event loop, against libvirt's test driver: connect, domain lifecycle events, clean removal.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lifecycle_events_in_our_loop),
                cmocka_unit_test(unknown_uri_retries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
