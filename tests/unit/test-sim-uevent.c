// SPDX-License-Identifier: MIT
// Unit tests for the uevent sender: it refuses the host's network namespace and checks its input.
// The round trip through libudev needs a private namespace: tests/contract/uevent.sh.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "../../src/sim/uevent.h"

/* The test's own view: are we provably outside PID 1's network namespace? */
static bool private_netns(void) {
        struct stat self, init;
        if (stat("/proc/self/ns/net", &self) < 0 || stat("/proc/1/ns/net", &init) < 0)
                return false;
        return self.st_dev != init.st_dev || self.st_ino != init.st_ino;
}

static void refuses_host_netns(void **state) {
        int fd = sim_uevent_open();
        if (!private_netns()) {
                /* The normal case for `make check`: never a socket that could reach the host's udevd. */
                assert_int_equal(fd, -EPERM);
                return;
        }
        assert_true(fd >= 0);
        sim_uevent_close(fd);
}

static void checks_arguments(void **state) {
        const char *props[] = { "PCI_SLOT_NAME=0000:03:02.0", NULL };
        const char *bad_props[] = { "NO_EQUALS_SIGN", NULL };
        /* fd 1000 is not open: argument errors must come before any send. */
        assert_int_equal(sim_uevent_send(-1, "add", "/devices/x", "pci", NULL, props), -EINVAL);
        assert_int_equal(sim_uevent_send(1000, "add", "/sys/devices/x", "pci", NULL, props), -EINVAL);
        assert_int_equal(sim_uevent_send(1000, NULL, "/devices/x", "pci", NULL, props), -EINVAL);
        assert_int_equal(sim_uevent_send(1000, "add", "/devices/x", NULL, NULL, props), -EINVAL);
        assert_int_equal(sim_uevent_send(1000, "add", "/devices/x", "pci", NULL, bad_props), -EINVAL);
        static char big[9000];
        memset(big, 'a', sizeof(big) - 1);
        memcpy(big, "BIG=", 4);
        const char *big_props[] = { big, NULL };
        assert_int_equal(sim_uevent_send(1000, "add", "/devices/x", "pci", NULL, big_props), -E2BIG);
        /* A good message gets as far as sendmsg, which reports the bad fd. */
        assert_int_equal(sim_uevent_send(1000, "add", "/devices/x", "pci", NULL, props), -EBADF);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(refuses_host_netns),
                cmocka_unit_test(checks_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
