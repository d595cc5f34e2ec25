/* SPDX-License-Identifier: MIT */
/* Test helper (header-only, one copy per test binary): a fake sysfs tree in a temporary folder, set as the root. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/paths.h"

static char fake_root[256];

/* Make every folder of root-relative path rel (not the last component when file). */
__attribute__((unused)) static void fake_mkdirs(const char *rel, int include_last) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", fake_root, rel[0] == '/' ? rel + 1 : rel);
        for (char *s = p + strlen(fake_root) + 1;; s++) {
                if (*s == '/' || (*s == 0 && include_last)) {
                        char c = *s;
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                abort();
                        *s = c;
                }
                if (!*s)
                        break;
        }
}

__attribute__((unused)) static void fake_path(char *buf, size_t size, const char *rel) {
        snprintf(buf, size, "%s/%s", fake_root, rel[0] == '/' ? rel + 1 : rel);
}

/* Write a file with printf-formatted content. */
__attribute__((unused, format(printf, 2, 3))) static void fake_file(const char *rel, const char *fmt, ...) {
        char p[1024];
        fake_mkdirs(rel, 0);
        fake_path(p, sizeof(p), rel);
        FILE *f = fopen(p, "w");
        if (!f)
                abort();
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fclose(f);
}

__attribute__((unused)) static void fake_bytes(const char *rel, const void *data, size_t len) {
        char p[1024];
        fake_mkdirs(rel, 0);
        fake_path(p, sizeof(p), rel);
        FILE *f = fopen(p, "w");
        if (!f || fwrite(data, 1, len, f) != len)
                abort();
        fclose(f);
}

/* Content of a fake file into buf without trailing newline ("" when missing). */
__attribute__((unused)) static const char *fake_read(const char *rel, char *buf, size_t size) {
        char p[1024];
        fake_path(p, sizeof(p), rel);
        buf[0] = 0;
        FILE *f = fopen(p, "r");
        if (!f)
                return buf;
        size_t n = fread(buf, 1, size - 1, f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--; /* attributes written in place keep the old file's tail newline */
        buf[n] = 0;
        fclose(f);
        return buf;
}

/* A symlink at rel pointing to target (taken literally). */
__attribute__((unused)) static void fake_link(const char *rel, const char *target) {
        char p[1024];
        fake_mkdirs(rel, 0);
        fake_path(p, sizeof(p), rel);
        unlink(p);
        if (symlink(target, p) < 0)
                abort();
}

__attribute__((unused)) static void fake_unlink(const char *rel) {
        char p[1024];
        fake_path(p, sizeof(p), rel);
        unlink(p);
}

__attribute__((unused)) static int fake_exists(const char *rel) {
        char p[1024];
        struct stat st;
        fake_path(p, sizeof(p), rel);
        return lstat(p, &st) == 0;
}

static int fake_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p);
}

__attribute__((unused)) static int fake_setup(void **state) {
        snprintf(fake_root, sizeof(fake_root), "/tmp/mxgpu-fake-XXXXXX");
        if (!mkdtemp(fake_root))
                return -1;
        return mx_root_set(fake_root);
}

__attribute__((unused)) static int fake_teardown(void **state) {
        nftw(fake_root, fake_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        mx_root_set(NULL);
        return 0;
}

/* A PCI function below /sys/devices/pci0000:00 with the files libpci needs, linked from
 * /sys/bus/pci/devices. config: 4096 bytes (NULL = a minimal header with ids only). */
__attribute__((unused)) static void fake_pci_dev(const char *bdf, uint16_t vendor, uint16_t device,
                                                 uint32_t class_code, const uint8_t *config) {
        char rel[256], target[256];
        snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s", bdf);
        fake_mkdirs(rel, 1);
        snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", bdf);
        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", bdf);
        fake_link(rel, target);
#define ATTR(name, ...) do { snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/" name, bdf); fake_file(rel, __VA_ARGS__); } while (0)
        ATTR("vendor", "0x%04x\n", vendor);
        ATTR("device", "0x%04x\n", device);
        ATTR("class", "0x%06x\n", class_code);
        ATTR("irq", "0\n");
        ATTR("numa_node", "1\n");
        ATTR("subsystem_vendor", "0x%04x\n", vendor);
        ATTR("subsystem_device", "0x0b0c\n");
        /* BAR0 of 256 MiB, the rest empty */
        ATTR("resource", "0x00000000e0000000 0x00000000efffffff 0x000000000014220c\n%s",
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
#undef ATTR
        uint8_t cfg[4096] = { 0 };
        if (config)
                memcpy(cfg, config, sizeof(cfg));
        cfg[0] = vendor & 0xff; cfg[1] = vendor >> 8;
        cfg[2] = device & 0xff; cfg[3] = device >> 8;
        /* what the kernel's class and subsystem attributes say, the config space says too */
        cfg[0x09] = class_code & 0xff; cfg[0x0a] = (class_code >> 8) & 0xff; cfg[0x0b] = (class_code >> 16) & 0xff;
        cfg[0x2c] = vendor & 0xff; cfg[0x2d] = vendor >> 8;
        cfg[0x2e] = 0x0c; cfg[0x2f] = 0x0b;
        snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/config", bdf);
        fake_bytes(rel, cfg, sizeof(cfg));
}

static inline void put16(uint8_t *c, unsigned off, uint16_t v) { c[off] = v & 0xff; c[off + 1] = v >> 8; }
static inline void put32(uint8_t *c, unsigned off, uint32_t v) { put16(c, off, v & 0xffff); put16(c, off + 2, v >> 16); }

/* A config space with a PCI Express capability, an SR-IOV capability at 0x100 and, when vsec_len is
 * not 0, a GPU-IOV VSEC at 0x200 (what libpci needs to see extended capabilities). */
__attribute__((unused)) static void fake_sriov_config(uint8_t cfg[4096], uint16_t total_vfs, uint16_t num_vfs,
                                                      uint16_t vf_device, uint16_t vsec_len) {
        memset(cfg, 0, 4096);
        put16(cfg, 0x06, 0x0010);          /* status: capability list */
        cfg[0x0b] = 0x03;                   /* class: display */
        cfg[0x34] = 0x40;                   /* capabilities pointer */
        cfg[0x40] = 0x10;                   /* PCI Express, next 0 */
        put16(cfg, 0x42, 0x0002);           /* version 2, endpoint */
        put32(cfg, 0x100, 0x0010 | 1u << 16 | (vsec_len ? 0x200u : 0u) << 20);
        put16(cfg, 0x100 + 0x0c, total_vfs);
        put16(cfg, 0x100 + 0x0e, total_vfs);
        put16(cfg, 0x100 + 0x10, num_vfs);
        put16(cfg, 0x100 + 0x14, 0x80);
        put16(cfg, 0x100 + 0x16, 1);
        put16(cfg, 0x100 + 0x1a, vf_device);
        if (vsec_len) {
                put32(cfg, 0x200, 0x000b | 1u << 16);
                put32(cfg, 0x204, 0x0002 | (uint32_t)vsec_len << 20);
        }
}
