// SPDX-License-Identifier: MIT
// Round trip of sim_uevent_send through a libudev monitor; run it in a private network namespace
// (tests/contract/uevent.sh does). Exits 0 when the monitor got the event with the right fields.
#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxgpu/macro.h"
#include "../../src/sim/uevent.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)

#define DEVPATH "/devices/pci0000:00/0000:00:02.0/0000:03:02.0"

static int expect(const char *what, const char *got, const char *want) {
        if (got && streq(got, want))
                return 0;
        fprintf(stderr, "uevent-roundtrip: %s is \"%s\", expected \"%s\"\n", what, got ? got : "(none)", want);
        return 1;
}

int main(void) {
        /* The devices exist only in the simulator: libudev must not look for them in /sys. */
        setenv("SYSTEMD_DEVICE_VERIFY_SYSFS", "0", 1);
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        if (!udev) {
                perror("uevent-roundtrip: udev_new");
                return 1;
        }
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *mon = udev_monitor_new_from_netlink(udev, "udev");
        /* Subsystems of several lengths, and one with a devtype, exercise every part of the hash
         * that the kernel-side socket filter compares. */
        if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "pci", NULL) < 0 ||
            udev_monitor_filter_add_match_subsystem_devtype(mon, "vfio-dev", NULL) < 0 ||
            udev_monitor_filter_add_match_subsystem_devtype(mon, "block", "disk") < 0 ||
            udev_monitor_enable_receiving(mon) < 0) {
                fprintf(stderr, "uevent-roundtrip: cannot set up a udev monitor\n");
                return 1;
        }

        int fd = sim_uevent_open();
        if (fd < 0) {
                fprintf(stderr, "uevent-roundtrip: sim_uevent_open: %s\n", strerror(-fd));
                return 1;
        }
        /* Events the monitor's filter must drop (other subsystem, other devtype) around the ones it
         * must deliver, in this order. */
        const char *usb_props[] = { "BUSNUM=001", NULL };
        const char *props[] = { "PCI_SLOT_NAME=0000:03:02.0", "DRIVER=vfio-pci", "PCI_ID=1002:692F", NULL };
        int r = sim_uevent_send(fd, "add", "/devices/pci0000:00/0000:00:14.0/usb1", "usb", "usb_device", usb_props);
        if (r == 0)
                r = sim_uevent_send(fd, "add", DEVPATH, "pci", NULL, props);
        if (r == 0)
                r = sim_uevent_send(fd, "add", "/devices/virtual/block/loop0/loop0p1", "block", "partition", NULL);
        if (r == 0)
                r = sim_uevent_send(fd, "add", "/devices/virtual/vfio-dev/vfio0", "vfio-dev", NULL, NULL);
        if (r == 0)
                r = sim_uevent_send(fd, "remove", "/devices/virtual/block/loop0", "block", "disk", NULL);
        sim_uevent_close(fd);
        if (r < 0) {
                fprintf(stderr, "uevent-roundtrip: sim_uevent_send: %s\n", strerror(-r));
                return 1;
        }

        static const struct { const char *action, *devpath, *subsystem; } want[] = {
                { "add", DEVPATH, "pci" },
                { "add", "/devices/virtual/vfio-dev/vfio0", "vfio-dev" },
                { "remove", "/devices/virtual/block/loop0", "block" },
        };
        int bad = 0;
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
                struct pollfd pfd = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };
                if (poll(&pfd, 1, 5000) <= 0) {
                        fprintf(stderr, "uevent-roundtrip: %s %s did not reach the monitor within 5 s\n",
                                want[i].action, want[i].devpath);
                        return 1;
                }
                _cleanup_(udev_device_unrefp) struct udev_device *dev = udev_monitor_receive_device(mon);
                if (!dev) {
                        fprintf(stderr, "uevent-roundtrip: the monitor rejected the message: %s\n", strerror(errno));
                        return 1;
                }
                bad += expect("ACTION", udev_device_get_action(dev), want[i].action) +
                       expect("DEVPATH", udev_device_get_devpath(dev), want[i].devpath) +
                       expect("SUBSYSTEM", udev_device_get_subsystem(dev), want[i].subsystem);
                if (udev_device_get_seqnum(dev) == 0) {
                        fprintf(stderr, "uevent-roundtrip: SEQNUM missing\n");
                        bad++;
                }
                if (i == 0)
                        bad += expect("PCI_SLOT_NAME", udev_device_get_property_value(dev, "PCI_SLOT_NAME"), "0000:03:02.0") +
                               expect("DRIVER", udev_device_get_property_value(dev, "DRIVER"), "vfio-pci") +
                               expect("PCI_ID", udev_device_get_property_value(dev, "PCI_ID"), "1002:692F");
                if (i == 2)
                        bad += expect("DEVTYPE", udev_device_get_devtype(dev), "disk");
                if (!bad)
                        printf("uevent-roundtrip: %s %s received\n", want[i].action, want[i].devpath);
        }
        return bad ? 1 : 0;
}
