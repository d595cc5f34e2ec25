// SPDX-License-Identifier: MIT
// The GPU-IOV register window: little-endian accessors over a function table, and the sysfs `config` backend.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/regio.h"
#include "mxgpu/sysfs.h"

static int check_range(unsigned off, size_t len) {
        return off < REGIO_CONFIG_SIZE && len <= REGIO_CONFIG_SIZE - off ? 0 : -EINVAL;
}

static int rd(const struct regio *io, unsigned off, uint8_t *buf, size_t len) {
        int r = check_range(off, len);
        return r < 0 ? r : io->ops->read(io->ctx, off, buf, len);
}

static int wr(const struct regio *io, unsigned off, const uint8_t *buf, size_t len) {
        int r = check_range(off, len);
        return r < 0 ? r : io->ops->write(io->ctx, off, buf, len);
}

int regio_read8(const struct regio *io, unsigned off, uint8_t *ret) {
        return rd(io, off, ret, 1);
}

int regio_read16(const struct regio *io, unsigned off, uint16_t *ret) {
        uint8_t b[2];
        int r = rd(io, off, b, sizeof(b));
        if (r < 0)
                return r;
        *ret = regio_le16(b, 0);
        return 0;
}

int regio_read32(const struct regio *io, unsigned off, uint32_t *ret) {
        uint8_t b[4];
        int r = rd(io, off, b, sizeof(b));
        if (r < 0)
                return r;
        *ret = regio_le32(b, 0);
        return 0;
}

int regio_read_block(const struct regio *io, unsigned off, void *buf, size_t len) {
        return rd(io, off, buf, len);
}

int regio_write8(const struct regio *io, unsigned off, uint8_t v) {
        return wr(io, off, &v, 1);
}

int regio_write16(const struct regio *io, unsigned off, uint16_t v) {
        uint8_t b[2] = { v & 0xff, v >> 8 };
        return wr(io, off, b, sizeof(b));
}

int regio_write32(const struct regio *io, unsigned off, uint32_t v) {
        uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
        return wr(io, off, b, sizeof(b));
}

/* --- sysfs `config` backend --- */

struct config_window {
        int fd;
};

static int config_read(void *ctx, unsigned off, void *buf, size_t len) {
        struct config_window *w = ctx;
        ssize_t n;
        do
                n = pread(w->fd, buf, len, off);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        /* Short: beyond the part of config space the kernel lets this user see, or the device went. */
        return (size_t)n == len ? 0 : -EIO;
}

static int config_write(void *ctx, unsigned off, const void *buf, size_t len) {
        struct config_window *w = ctx;
        ssize_t n;
        do
                n = pwrite(w->fd, buf, len, off);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return (size_t)n == len ? 0 : -EIO;
}

static void config_close(void *ctx) {
        struct config_window *w = ctx;
        if (w->fd >= 0)
                close(w->fd);
        free(w);
}

static const struct regio_ops sysfs_ops = {
        .read = config_read, .write = config_write, .close = config_close,
};

int regio_sysfs_open(const char *pf_bdf, struct regio *ret) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        _cleanup_close_ int fd = openat(d, ATTR_CONFIG, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        struct config_window *w = malloc(sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->fd = TAKE_FD(fd);
        *ret = (struct regio){ .ops = &sysfs_ops, .ctx = w };
        return 0;
}

void regio_close(struct regio *io) {
        if (io->ops && io->ops->close)
                io->ops->close(io->ctx);
        *io = (struct regio){ 0 };
}
