/* SPDX-License-Identifier: MIT */
/* A PF's config space as a register window behind a small function table: sysfs `config` on a host, a
 * simulated card in unit tests. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define REGIO_CONFIG_SIZE 4096

/* Reads and writes of len bytes at config-space offset off; 0 or -errno. */
struct regio_ops {
        int (*read)(void *ctx, unsigned off, void *buf, size_t len);
        int (*write)(void *ctx, unsigned off, const void *buf, size_t len);
        void (*close)(void *ctx); /* may be NULL */
};

struct regio {
        const struct regio_ops *ops;
        void *ctx;
};

/* Little-endian register accessors (PCI config space is little-endian). ret_ written only on success. */
int regio_read8(const struct regio *io, unsigned off, uint8_t *ret);
int regio_read16(const struct regio *io, unsigned off, uint16_t *ret);
int regio_read32(const struct regio *io, unsigned off, uint32_t *ret);
/* len bytes at off in one access (one system call on sysfs; the kernel still reads a dword per cycle). */
int regio_read_block(const struct regio *io, unsigned off, void *buf, size_t len);
/* The little-endian word and dword at byte i of a block read. */
static inline uint16_t regio_le16(const uint8_t *b, size_t i) {
        return (uint16_t)(b[i] | b[i + 1] << 8);
}
static inline uint32_t regio_le32(const uint8_t *b, size_t i) {
        return (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
}
int regio_write8(const struct regio *io, unsigned off, uint8_t v);
int regio_write16(const struct regio *io, unsigned off, uint16_t v);
int regio_write32(const struct regio *io, unsigned off, uint32_t v);

/* The PF's rooted sysfs `config` file, opened read-write (root only: the kernel refuses other users
 * with EACCES, and shows them only the first 64 bytes). Accesses are pread/pwrite at the offset, as
 * libpci's sysfs backend does, with the kernel's errno kept; a short transfer is -EIO.
 * Returns 0 or -errno (-ENODEV: no such function). Close with regio_close(). */
int regio_sysfs_open(const char *pf_bdf, struct regio *ret);
/* Release the window (calls ops->close); safe on a zeroed struct. */
void regio_close(struct regio *io);
