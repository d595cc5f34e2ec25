// SPDX-License-Identifier: MIT
// udev-format uevents on the kernel's uevent netlink family, so libudev monitors in a private
// network namespace see the simulator's devices come and go as if udevd had processed them.
#include <endian.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mxgpu/macro.h"
#include "uevent.h"

/* libudev's monitor message (systemd src/libsystemd/sd-device/device-monitor.c,
 * struct monitor_netlink_header): the magic and the hashes are big-endian because the
 * receiver's BPF filter loads them with absolute word loads; the sizes are host order. */
#define UDEV_MONITOR_MAGIC 0xfeedcafeu
#define UDEV_MONITOR_GROUP 2u
struct udev_monitor_header {
        char prefix[8];                 /* "libudev\0" */
        uint32_t magic;
        uint32_t header_size;
        uint32_t properties_off;
        uint32_t properties_len;
        uint32_t filter_subsystem_hash;
        uint32_t filter_devtype_hash;
        uint32_t filter_tag_bloom_hi;
        uint32_t filter_tag_bloom_lo;
};
_Static_assert(sizeof(struct udev_monitor_header) == 40, "libudev header is 40 bytes");

/* libudev's receive buffer is 8 KiB, header included. */
#define UEVENT_MAX 8192

/* MurmurHash2 (Austin Appleby), 32 bit, as udev uses it with seed 0 for its socket filters. */
static uint32_t murmurhash2(const void *key, size_t len, uint32_t seed) {
        const uint32_t m = 0x5bd1e995;
        const unsigned char *data = key;
        uint32_t h = seed ^ (uint32_t)len;

        for (; len >= 4; data += 4, len -= 4) {
                uint32_t k = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                             (uint32_t)data[3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len) {
        case 3: h ^= (uint32_t)data[2] << 16; /* fall through */
        case 2: h ^= (uint32_t)data[1] << 8;  /* fall through */
        case 1: h ^= data[0]; h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

/* True unless this process is provably outside PID 1's network namespace. */
static bool in_host_netns(void) {
        struct stat self, init;
        if (stat("/proc/self/ns/net", &self) < 0 || stat("/proc/1/ns/net", &init) < 0)
                return true; /* cannot tell: assume the host's, never send there */
        return self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

int sim_uevent_open(void) {
        if (in_host_netns())
                return -EPERM;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
                return negative_errno();
        return fd;
}

void sim_uevent_close(int fd) {
        if (fd >= 0)
                close(fd);
}

/* Append "KEY=VALUE\0" to buf; -E2BIG when it does not fit. */
static int add_property(char *buf, size_t size, size_t *len, const char *key, const char *value) {
        int n = snprintf(buf + *len, size - *len, "%s%s%s", key, key[0] ? "=" : "", value);
        if (n < 0 || (size_t)n + 1 > size - *len)
                return -E2BIG;
        *len += (size_t)n + 1;
        return 0;
}

int sim_uevent_send(int fd, const char *action, const char *devpath, const char *subsystem,
                    const char *devtype, const char *const *props) {
        static uint64_t seqnum;
        char body[UEVENT_MAX - sizeof(struct udev_monitor_header)];
        char seq[24];
        size_t len = 0;
        int r;

        if (fd < 0 || !action || !devpath || !subsystem || strncmp(devpath, "/devices/", 9) != 0)
                return -EINVAL;
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)__atomic_add_fetch(&seqnum, 1, __ATOMIC_RELAXED));
        if ((r = add_property(body, sizeof(body), &len, "ACTION", action)) < 0 ||
            (r = add_property(body, sizeof(body), &len, "DEVPATH", devpath)) < 0 ||
            (r = add_property(body, sizeof(body), &len, "SUBSYSTEM", subsystem)) < 0 ||
            (devtype && (r = add_property(body, sizeof(body), &len, "DEVTYPE", devtype)) < 0) ||
            (r = add_property(body, sizeof(body), &len, "SEQNUM", seq)) < 0)
                return r;
        for (size_t i = 0; props && props[i]; i++) {
                if (!strchr(props[i], '='))
                        return -EINVAL;
                if ((r = add_property(body, sizeof(body), &len, "", props[i])) < 0)
                        return r;
        }

        struct udev_monitor_header hdr = {
                .prefix = "libudev",
                .magic = htobe32(UDEV_MONITOR_MAGIC),
                .header_size = sizeof(hdr),
                .properties_off = sizeof(hdr),
                .properties_len = (uint32_t)len,
                .filter_subsystem_hash = htobe32(murmurhash2(subsystem, strlen(subsystem), 0)),
                .filter_devtype_hash = devtype ? htobe32(murmurhash2(devtype, strlen(devtype), 0)) : 0,
        };
        struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { body, len } };
        struct sockaddr_nl dest = { .nl_family = AF_NETLINK, .nl_groups = UDEV_MONITOR_GROUP };
        struct msghdr msg = { .msg_name = &dest, .msg_namelen = sizeof(dest), .msg_iov = iov, .msg_iovlen = 2 };

        if (sendmsg(fd, &msg, 0) < 0) {
                /* A multicast send with no listener reports ECONNREFUSED: the message went out. */
                if (errno == ECONNREFUSED)
                        return 0;
                return negative_errno();
        }
        return 0;
}
