// SPDX-License-Identifier: MIT
// Test helper: a libudev monitor that prints "ACTION SUBSYSTEM DEVPATH" for each udev-group uevent,
// after a "ready" line, until COUNT events arrived or TIMEOUT seconds passed without one.
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "mxgpu/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref)

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: uevent-monitor COUNT TIMEOUT_SECONDS\n");
                return 2;
        }
        int count = atoi(argv[1]), timeout_ms = atoi(argv[2]) * 1000;
        /* the devices live in the simulator, not in /sys */
        setenv("SYSTEMD_DEVICE_VERIFY_SYSFS", "0", 1);
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *mon = udev ? udev_monitor_new_from_netlink(udev, "udev") : NULL;
        if (!mon || udev_monitor_enable_receiving(mon) < 0) {
                fprintf(stderr, "uevent-monitor: cannot listen\n");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        int fd = udev_monitor_get_fd(mon);
        for (int n = 0; n < count;) {
                struct pollfd p = { fd, POLLIN, 0 };
                int r = poll(&p, 1, timeout_ms);
                if (r <= 0) {
                        fprintf(stderr, "uevent-monitor: timed out after %d of %d events\n", n, count);
                        return 1;
                }
                struct udev_device *d = udev_monitor_receive_device(mon);
                if (!d)
                        continue;
                printf("%s %s %s\n", udev_device_get_action(d), udev_device_get_subsystem(d), udev_device_get_devpath(d));
                fflush(stdout);
                udev_device_unref(d);
                n++;
        }
        return 0;
}
