// SPDX-License-Identifier: MIT
// In-guest helper for the VM tests: open a VF through VFIO the way a VMM does (container, group,
// device) and hold it. Prints HELD once open, REQUESTED when the kernel asks for the device back
// (vfio-pci's request interrupt, sent while a VF is being removed), then waits for a line or EOF
// on stdin before it closes everything and prints RELEASED. Usage: vfio-hold GROUP ADDRESS.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what) {
        printf("ERROR %s: %s\n", what, strerrorname_np(errno) ?: "?");
        return 1;
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: %s GROUP ADDRESS (an IOMMU group number and a PCI address)\n", argv[0]);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (container < 0)
                return fail("open /dev/vfio/vfio");
        if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                return fail("VFIO_GET_API_VERSION");
        char path[64];
        snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
        int group = open(path, O_RDWR | O_CLOEXEC);
        if (group < 0)
                return fail(path);
        struct vfio_group_status status = { .argsz = sizeof status };
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return fail("VFIO_GROUP_GET_STATUS");
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                printf("ERROR group %s is not viable\n", argv[1]);
                return 1;
        }
        if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
                return fail("VFIO_GROUP_SET_CONTAINER");
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return fail("VFIO_SET_IOMMU");
        int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
        if (device < 0)
                return fail("VFIO_GROUP_GET_DEVICE_FD");

        // The request interrupt signals an eventfd when the kernel wants the device released.
        int req = eventfd(0, EFD_CLOEXEC);
        if (req < 0)
                return fail("eventfd");
        char buf[sizeof(struct vfio_irq_set) + sizeof(int)];
        struct vfio_irq_set *irq = (struct vfio_irq_set *) buf;
        *irq = (struct vfio_irq_set) {
                .argsz = sizeof buf,
                .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                .index = VFIO_PCI_REQ_IRQ_INDEX,
                .count = 1,
        };
        memcpy(irq->data, &req, sizeof req);
        if (ioctl(device, VFIO_DEVICE_SET_IRQS, irq) < 0)
                return fail("VFIO_DEVICE_SET_IRQS request");
        printf("HELD\n");

        uint64_t count;
        if (read(req, &count, sizeof count) != sizeof count)
                return fail("read request eventfd");
        printf("REQUESTED\n");
        char line[16];
        (void) !fgets(line, sizeof line, stdin);
        close(device);
        close(group);
        close(container);
        printf("RELEASED\n");
        return 0;
}
