// SPDX-License-Identifier: MIT
// Contract tests: the kernel's SR-IOV, driver-binding and VFIO rules as seen through plain sysfs reads and
// writes. The same binary runs against the simulator and against a real kernel (MXGPU_ROOT=/ in a VM).
//   MXGPU_ROOT               root of sys/ and dev/ ("/" for a real kernel)
//   MXGPU_TEST_PF            the PF under test (needs TotalVFs >= 2 and a driver with sriov_configure bound)
//   MXGPU_TEST_GENERIC_ONLY  1 = only the rules of the kernel's generic SR-IOV and VFIO code
//   MXGPU_TEST_FILTER        a cmocka test-name pattern
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "mxgpu/cards.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"

static const char *pf;
static bool generic_only;
static char pf_driver[64];     /* the PF's driver at start, restored after each test */
static unsigned total_vfs;

/* --- helpers --- */

static int rd(const char *bdf, const char *attr, char *buf, size_t size) { return pcidev_read(bdf, attr, buf, size); }
static int wr(const char *bdf, const char *attr, const char *v) { return pcidev_write(bdf, attr, v); }

static unsigned rd_uint(const char *bdf, const char *attr) {
        uint64_t v = 0;
        assert_int_equal(pcidev_read_u64(bdf, attr, &v), 0);
        return (unsigned)v;
}

static bool has_link(const char *bdf, const char *link) {
        char b[128];
        return pcidev_link(bdf, link, b, sizeof(b)) >= 0;
}

static void driver_of(const char *bdf, char *buf, size_t size) {
        if (pcidev_link(bdf, LINK_DRIVER, buf, size) < 0)
                buf[0] = 0;
}

static void vf_addr(unsigned i, char buf[32]) {
        char link[32];
        snprintf(link, sizeof(link), LINK_VIRTFN_PREFIX "%u", i);
        assert_true(pcidev_link(pf, link, buf, 32) > 0);
}

static int drv_write(const char *drv, const char *attr, const char *value) {
        char p[256];
        snprintf(p, sizeof(p), SYS_PCI_DRIVERS "/%s/%s", drv, attr);
        return sysfs_write_path(p, value);
}

/* Bind bdf to drv the way libvirt does: driver_override, unbind, drivers_probe, then clear the override. */
static void rebind(const char *bdf, const char *drv) {
        char cur[64];
        driver_of(bdf, cur, sizeof(cur));
        if (streq(cur, drv))
                return;
        assert_int_equal(wr(bdf, ATTR_DRIVER_OVERRIDE, drv), 0);
        if (cur[0])
                assert_int_equal(drv_write(cur, ATTR_UNBIND, bdf), 0);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, bdf), 0);
        assert_int_equal(wr(bdf, ATTR_DRIVER_OVERRIDE, "\n"), 0);
        driver_of(bdf, cur, sizeof(cur));
        assert_string_equal(cur, drv);
}

static void set_numvfs(unsigned n) {
        char v[16];
        snprintf(v, sizeof(v), "%u", n);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, v), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), n);
}

/* Every test starts and ends with no VFs, autoprobe off and the PF on its original driver. */
static int reset_state(void **state) {
        char cur[64];
        driver_of(pf, cur, sizeof(cur));
        if (!streq(cur, pf_driver) && pf_driver[0]) {
                wr(pf, ATTR_DRIVER_OVERRIDE, pf_driver);
                if (cur[0])
                        drv_write(cur, ATTR_UNBIND, pf);
                sysfs_write_path(SYS_PCI_DRIVERS_PROBE, pf);
                wr(pf, ATTR_DRIVER_OVERRIDE, "\n");
        }
        if (wr(pf, ATTR_SRIOV_NUMVFS, "0") < 0)
                return -1;
        if (wr(pf, ATTR_SRIOV_AUTOPROBE, "0") < 0)
                return -1;
        wr(pf, ATTR_DRIVER_OVERRIDE, "\n");
        return 0;
}

static int group_of(const char *bdf) {
        char g[32];
        if (pcidev_link(bdf, LINK_IOMMU_GROUP, g, sizeof(g)) < 0)
                return -1;
        return atoi(g);
}

static int open_group(int group) {
        char p[256];
        mx_path(p, sizeof(p), DEV_VFIO "/%d", group);
        int fd = open(p, O_RDWR | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static bool group_node_exists(int group) {
        char p[256];
        mx_path(p, sizeof(p), DEV_VFIO "/%d", group);
        return access(p, F_OK) == 0;
}

#define SKIP_UNLESS_SIM() do { if (generic_only) skip(); } while (0)

/* --- sriov_numvfs (drivers/pci/iov.c sriov_numvfs_store) --- */

static void numvfs_rejects_non_numbers(void **state) {
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "abc"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "-1"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "\n"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "1x"), -EINVAL);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 0);
}

/* A value that does not fit 16 bits is not a number to the kernel: EINVAL, not ERANGE
 * (seen on Debian 12's 6.1 kernel in make check-vm-kernel). */
static void numvfs_overflow_is_einval(void **state) {
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "65536"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "99999999999999999999999"), -EINVAL);
}

static void numvfs_above_total_is_erange(void **state) {
        char v[16];
        snprintf(v, sizeof(v), "%u", total_vfs + 1);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, v), -ERANGE);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 0);
}

static void numvfs_accepts_newline_and_base0(void **state) {
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0x2\n"), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 2);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0\n"), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 0);
}

static void numvfs_enable_creates_linked_vfs(void **state) {
        set_numvfs(2);
        char vf0[32], vf1[32], back[32];
        vf_addr(0, vf0);
        vf_addr(1, vf1);
        assert_false(has_link(pf, LINK_VIRTFN_PREFIX "2"));
        assert_true(pcidev_link(vf0, LINK_PHYSFN, back, sizeof(back)) > 0);
        assert_string_equal(back, pf);
        assert_true(pcidev_exists(vf1));
        /* VFs are their PF's kind of device, with the VF device ID the PF announces */
        char vend[16], pfvend[16], dev[16], vfdev[16];
        assert_true(rd(vf0, ATTR_VENDOR, vend, sizeof(vend)) > 0);
        assert_true(rd(pf, ATTR_VENDOR, pfvend, sizeof(pfvend)) > 0);
        assert_string_equal(vend, pfvend);
        assert_true(rd(vf0, ATTR_DEVICE, dev, sizeof(dev)) > 0);
        assert_true(rd(pf, ATTR_SRIOV_VF_DEVICE, vfdev, sizeof(vfdev)) > 0);
        assert_int_equal(strtoul(dev, NULL, 16), strtoul(vfdev, NULL, 16));
        set_numvfs(0);
        assert_false(has_link(pf, LINK_VIRTFN_PREFIX "0"));
        assert_false(pcidev_exists(vf0));
}

static void numvfs_same_count_is_noop(void **state) {
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0"), 0);
        set_numvfs(2);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "2"), 0);
        assert_true(has_link(pf, LINK_VIRTFN_PREFIX "1"));
}

static void numvfs_change_needs_zero_first(void **state) {
        set_numvfs(2);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "1"), -EBUSY);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 2);
        set_numvfs(0);
        set_numvfs(1);
}

static void numvfs_without_driver_is_enoent(void **state) {
        assert_true(pf_driver[0]);
        assert_int_equal(drv_write(pf_driver, ATTR_UNBIND, pf), 0);
        assert_false(has_link(pf, LINK_DRIVER));
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "1"), -ENOENT);
        /* the range check comes first */
        char v[16];
        snprintf(v, sizeof(v), "%u", total_vfs + 1);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, v), -ERANGE);
        /* writing the current count is still a no-op */
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0"), 0);
}

static void numvfs_vfio_pci_needs_enable_sriov(void **state) {
        char param[16];
        int r = sysfs_read_path(SYS_MODULE "/vfio_pci/parameters/enable_sriov", param, sizeof(param));
        if (r < 0)
                skip(); /* vfio-pci not loaded */
        if (group_of(pf) < 0)
                skip(); /* vfio-pci cannot bind without an IOMMU group */
        assert_int_equal(sysfs_write_path(SYS_MODULE "/vfio_pci/parameters/enable_sriov", "0"), 0);
        rebind(pf, DRV_VFIO_PCI);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "1"), -ENOENT);
        assert_int_equal(sysfs_write_path(SYS_MODULE "/vfio_pci/parameters/enable_sriov", "1"), 0);
        set_numvfs(1);
        set_numvfs(0);
        assert_int_equal(sysfs_write_path(SYS_MODULE "/vfio_pci/parameters/enable_sriov", param[0] == 'Y' ? "1" : "0"), 0);
}

static void totalvfs_is_read_only(void **state) {
        char p[256];
        mx_pci_dev_path(p, sizeof(p), pf, ATTR_SRIOV_TOTALVFS);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        int e = errno;
        if (fd >= 0)
                close(fd);
        assert_int_equal(fd, -1);
        assert_int_equal(e, EACCES);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_TOTALVFS), total_vfs);
}

/* The modes Linux gives the SR-IOV attributes (drivers/pci/iov.c; seen on Debian 12's kernel). */
static void sriov_attribute_modes(void **state) {
        static const struct { const char *attr; unsigned mode; } want[] = {
                { ATTR_SRIOV_NUMVFS, 0644 }, { ATTR_SRIOV_TOTALVFS, 0444 }, { ATTR_SRIOV_AUTOPROBE, 0644 },
                { ATTR_DRIVER_OVERRIDE, 0644 },
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                char p[256];
                struct stat st;
                mx_pci_dev_path(p, sizeof(p), pf, want[i].attr);
                assert_int_equal(stat(p, &st), 0);
                if ((st.st_mode & 07777) != want[i].mode)
                        fail_msg("%s: mode %04o, want %04o", want[i].attr, st.st_mode & 07777, want[i].mode);
        }
}

static void config_space_follows_numvfs(void **state) {
        uint8_t cfg[4096];
        char p[256];
        mx_pci_dev_path(p, sizeof(p), pf, ATTR_CONFIG);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        unsigned pos = 0;
        assert_int_equal(pread(fd, cfg, sizeof(cfg), 0), (ssize_t)sizeof(cfg));
        for (unsigned off = 0x100, n = 0; off >= 0x100 && n < 64; n++) {
                uint32_t h = cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 | (uint32_t)cfg[off + 3] << 24;
                if ((h & 0xffff) == 0x0010) {
                        pos = off;
                        break;
                }
                off = h >> 20;
        }
        assert_true(pos >= 0x100);
        assert_int_equal(cfg[pos + 0x0e] | cfg[pos + 0x0f] << 8, total_vfs);
        set_numvfs(2);
        assert_int_equal(pread(fd, cfg, sizeof(cfg), 0), (ssize_t)sizeof(cfg));
        assert_int_equal(cfg[pos + 0x10] | cfg[pos + 0x11] << 8, 2);      /* NumVFs */
        assert_int_equal(cfg[pos + 0x08] & 0x09, 0x09);                    /* VF Enable + VF MSE */
        set_numvfs(0);
        assert_int_equal(pread(fd, cfg, sizeof(cfg), 0), (ssize_t)sizeof(cfg));
        assert_int_equal(cfg[pos + 0x10] | cfg[pos + 0x11] << 8, 0);
        assert_int_equal(cfg[pos + 0x08] & 0x01, 0);
        close(fd);
}

/* --- autoprobe and binding (drivers/pci/pci-driver.c, drivers/base/bus.c) --- */

static void autoprobe_parses_bool(void **state) {
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "2"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "x"), -EINVAL);
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "1"), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_AUTOPROBE), 1);
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "0\n"), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_AUTOPROBE), 0);
}

static void autoprobe_off_keeps_vfs_unbound(void **state) {
        set_numvfs(2);
        char vf[32];
        for (unsigned i = 0; i < 2; i++) {
                vf_addr(i, vf);
                assert_false(has_link(vf, LINK_DRIVER));
        }
        /* drivers_probe binds nothing without driver_override (kernel commit 2d2f4273cbe9), and says nothing */
        vf_addr(0, vf);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf), 0);
        assert_false(has_link(vf, LINK_DRIVER));
}

static void autoprobe_on_offers_vfs_to_drivers(void **state) {
        SKIP_UNLESS_SIM(); /* QEMU's NVMe VFs fail their probe: the real-kernel result depends on the device */
        char vend[16], vfdev[16], want[16] = "";
        assert_true(rd(pf, ATTR_VENDOR, vend, sizeof(vend)) > 0);
        assert_true(rd(pf, ATTR_SRIOV_VF_DEVICE, vfdev, sizeof(vfdev)) > 0);
        char cls[16];
        assert_true(rd(pf, ATTR_CLASS, cls, sizeof(cls)) > 0);
        if (strtoul(cls, NULL, 16) == 0x010802)
                snprintf(want, sizeof(want), DRV_NVME);
        else if (strtoul(vend, NULL, 16) == AMD_VENDOR_ID)
                snprintf(want, sizeof(want), DRV_AMDGPU);
        else
                skip();
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "1"), 0);
        set_numvfs(1);
        char vf[32], drv[64];
        vf_addr(0, vf);
        driver_of(vf, drv, sizeof(drv));
        assert_string_equal(drv, want);
        set_numvfs(0);
}

static void driver_override_shows_null_and_clears(void **state) {
        char v[64];
        assert_true(rd(pf, ATTR_DRIVER_OVERRIDE, v, sizeof(v)) > 0);
        assert_string_equal(v, "(null)");
        assert_int_equal(wr(pf, ATTR_DRIVER_OVERRIDE, "vfio-pci\n"), 0);
        assert_true(rd(pf, ATTR_DRIVER_OVERRIDE, v, sizeof(v)) > 0);
        assert_string_equal(v, "vfio-pci");
        assert_int_equal(wr(pf, ATTR_DRIVER_OVERRIDE, "\n"), 0);
        assert_true(rd(pf, ATTR_DRIVER_OVERRIDE, v, sizeof(v)) > 0);
        assert_string_equal(v, "(null)");
}

static void override_and_probe_bind_vfio(void **state) {
        set_numvfs(1);
        char vf[32], drv[64];
        vf_addr(0, vf);
        int g = group_of(vf);
        if (g < 0)
                skip(); /* no IOMMU: see vfio_needs_iommu_group */
        assert_false(group_node_exists(g));
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf), 0);
        driver_of(vf, drv, sizeof(drv));
        assert_string_equal(drv, DRV_VFIO_PCI);
        assert_true(group_node_exists(g));
        char p[256], link[64];
        snprintf(p, sizeof(p), SYS_PCI_DRIVERS "/" DRV_VFIO_PCI "/%s", vf);
        char full[512];
        mx_path(full, sizeof(full), "%s", p);
        assert_true(readlink(full, link, sizeof(link)) > 0);
        /* each VF is alone in its IOMMU group */
        assert_true(g != group_of(pf));
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_UNBIND, vf), 0);
        assert_false(group_node_exists(g));
        assert_false(has_link(vf, LINK_DRIVER));
}

static void bind_rules(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_BIND, "0000:ff:1f.7"), -ENODEV);  /* no such device */
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_BIND, vf), -ENODEV);              /* no ids, no override */
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        if (group_of(vf) < 0)
                skip();
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_BIND, vf), 0);
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_BIND, vf), -EBUSY);               /* already bound */
        assert_int_equal(drv_write(pf_driver, ATTR_UNBIND, vf), -ENODEV);                /* not its driver */
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_UNBIND, vf), 0);
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_UNBIND, vf), -ENODEV);
}

static void vfio_needs_iommu_group(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        if (group_of(vf) >= 0)
                skip(); /* runs on a host with iommu = no */
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(drv_write(DRV_VFIO_PCI, ATTR_BIND, vf), -EINVAL);
        assert_false(has_link(vf, LINK_DRIVER));
}

static void vfio_group_is_exclusive(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        int g = group_of(vf);
        if (g < 0)
                skip();
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf), 0);
        int fd = open_group(g);
        assert_true(fd >= 0);
        assert_int_equal(open_group(g), -EBUSY);
        /* The group is free again once close() has returned: a VM restarting at once gets it. */
        for (int i = 0; i < 50; i++) {
                close(fd);
                fd = open_group(g);
                assert_true(fd >= 0);
        }
        close(fd);
}

struct writer {
        int result;
        bool done;
        pthread_mutex_t lock;
};

static void *write_zero(void *arg) {
        struct writer *w = arg;
        int r = wr(pf, ATTR_SRIOV_NUMVFS, "0");
        pthread_mutex_lock(&w->lock);
        w->result = r;
        w->done = true;
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void disable_waits_for_vfio_user(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        int g = group_of(vf);
        if (g < 0)
                skip();
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf), 0);
        int fd = open_group(g);
        assert_true(fd >= 0);
        struct writer w = { .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, write_zero, &w), 0);
        /* Proving that something does not happen needs a window: give the write 300 ms to (wrongly) finish. */
        struct timespec ts = { 0, 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&w.lock);
        bool done_early = w.done;
        pthread_mutex_unlock(&w.lock);
        assert_false(done_early);
        close(fd);
        pthread_join(t, NULL);
        assert_int_equal(w.result, 0);
        assert_false(pcidev_exists(vf));
}

static void disable_unbound_vfio_vf_does_not_wait(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        if (group_of(vf) < 0)
                skip();
        assert_int_equal(wr(vf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf), 0);
        set_numvfs(0); /* bound but not open: succeeds at once */
        assert_false(pcidev_exists(vf));
}

static void pf_unbind_leaves_vfs(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        assert_int_equal(drv_write(pf_driver, ATTR_UNBIND, pf), 0);
        assert_true(pcidev_exists(vf));
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 1);
        /* without a driver the count cannot change, not even to 0 */
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0"), -ENOENT);
        rebind(pf, pf_driver);
        set_numvfs(0);
}

static void reset_accepts_only_one(void **state) {
        set_numvfs(1);
        char vf[32];
        vf_addr(0, vf);
        assert_int_equal(wr(vf, ATTR_RESET, "2"), -EINVAL);
        assert_int_equal(wr(vf, ATTR_RESET, "x"), -EINVAL);
        assert_int_equal(wr(vf, ATTR_RESET, "1"), 0);
}

/* --- simulator-only rules (drivers that exist only on GPU hosts, removal) --- */

static bool pf_is_amd_gpu(void) {
        char v[16], d[16];
        if (rd(pf, ATTR_VENDOR, v, sizeof(v)) < 0 || rd(pf, ATTR_DEVICE, d, sizeof(d)) < 0)
                return false;
        return mx_card_by_pf_id((uint16_t)strtoul(v, NULL, 16), (uint16_t)strtoul(d, NULL, 16)) != NULL;
}

static void amdgpu_has_no_sriov_configure(void **state) {
        SKIP_UNLESS_SIM();
        if (!pf_is_amd_gpu())
                skip();
        rebind(pf, DRV_AMDGPU);
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "1"), -ENOENT);
}

static void gim_enables_all_vfs_itself(void **state) {
        SKIP_UNLESS_SIM();
        if (!pf_is_amd_gpu())
                skip();
        rebind(pf, DRV_GIM);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), total_vfs);
        char link[32];
        snprintf(link, sizeof(link), LINK_VIRTFN_PREFIX "%u", total_vfs - 1);
        assert_true(has_link(pf, link));
        assert_int_equal(wr(pf, ATTR_SRIOV_NUMVFS, "0"), -ENOENT); /* gim has no sriov_configure */
        assert_int_equal(drv_write(DRV_GIM, ATTR_UNBIND, pf), 0);
        assert_int_equal(rd_uint(pf, ATTR_SRIOV_NUMVFS), 0);      /* GIM disables SR-IOV when it goes */
}

static void static_ids_match(void **state) {
        SKIP_UNLESS_SIM();
        /* a driver with no ids for this device refuses a bind with ENODEV, even when unbound */
        assert_int_equal(drv_write(pf_driver, ATTR_UNBIND, pf), 0);
        const char *foreign = pf_is_amd_gpu() ? DRV_NVME : DRV_GIM;
        assert_int_equal(drv_write(foreign, ATTR_BIND, pf), -ENODEV);
        /* an override for another driver blocks even a matching one */
        assert_int_equal(wr(pf, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI), 0);
        assert_int_equal(drv_write(pf_is_amd_gpu() ? DRV_AMDGPU : DRV_NVME, ATTR_BIND, pf), -ENODEV);
}

static void new_id_binds_unbound_devices(void **state) {
        SKIP_UNLESS_SIM(); /* a dynamic id stays in the real driver until remove_id */
        assert_int_equal(wr(pf, ATTR_SRIOV_AUTOPROBE, "1"), 0);
        assert_int_equal(drv_write(DRV_PCI_PF_STUB, ATTR_NEW_ID, "zz"), -EINVAL);
        char vend[16], vfdev[16], id[32];
        assert_true(rd(pf, ATTR_VENDOR, vend, sizeof(vend)) > 0);
        assert_true(rd(pf, ATTR_SRIOV_VF_DEVICE, vfdev, sizeof(vfdev)) > 0);
        /* with autoprobe on, VFs go to their static driver first; unbind one, then add the id */
        set_numvfs(1);
        char vf[32], drv[64];
        vf_addr(0, vf);
        driver_of(vf, drv, sizeof(drv));
        if (drv[0])
                assert_int_equal(drv_write(drv, ATTR_UNBIND, vf), 0);
        snprintf(id, sizeof(id), "%lx %s", strtoul(vend, NULL, 16), vfdev);
        int r = drv_write(DRV_PCI_PF_STUB, ATTR_NEW_ID, id);
        if (r == 0) {
                /* a new id is offered to every unbound device at once (driver_attach) */
                driver_of(vf, drv, sizeof(drv));
                assert_string_equal(drv, DRV_PCI_PF_STUB);
                assert_int_equal(drv_write(DRV_PCI_PF_STUB, ATTR_UNBIND, vf), 0);
        } else {
                assert_int_equal(r, -EEXIST); /* an earlier run on this host added it */
        }
        assert_int_equal(drv_write(DRV_PCI_PF_STUB, ATTR_NEW_ID, id), -EEXIST);
        /* the id now matches: a plain bind works */
        assert_int_equal(drv_write(DRV_PCI_PF_STUB, ATTR_BIND, vf), 0);
        assert_int_equal(drv_write(DRV_PCI_PF_STUB, ATTR_UNBIND, vf), 0);
}

static void remove_makes_a_vf_vanish(void **state) {
        SKIP_UNLESS_SIM();
        set_numvfs(2);
        char vf[32];
        vf_addr(1, vf);
        assert_int_equal(wr(vf, ATTR_REMOVE, "x"), -EINVAL);
        assert_int_equal(wr(vf, ATTR_REMOVE, "1"), 0);
        assert_false(pcidev_exists(vf));
        assert_false(has_link(pf, LINK_VIRTFN_PREFIX "1"));
        assert_true(has_link(pf, LINK_VIRTFN_PREFIX "0"));
        set_numvfs(0);
}

/* --- the card behind the GPU-IOV capability, through the PF's config file --- */

static int config_fd(int flags) {
        char p[256];
        mx_pci_dev_path(p, sizeof(p), pf, ATTR_CONFIG);
        return open(p, flags | O_CLOEXEC);
}

static uint32_t cfg32(int fd, unsigned off) {
        uint8_t b[4];
        assert_int_equal(pread(fd, b, 4, off), 4);
        return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void cfgw32(int fd, unsigned off, uint32_t v) {
        uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
        assert_int_equal(pwrite(fd, b, 4, off), 4);
}

static unsigned find_gpuiov(int fd) {
        for (unsigned off = 0x100, n = 0; off >= 0x100 && off < 4096 && n < 64; n++) {
                uint32_t h = cfg32(fd, off);
                if ((h & 0xffff) == 0x000b && (cfg32(fd, off + GPUIOV_VSEC_HDR) & 0xffff) == GPUIOV_VSEC_ID)
                        return off;
                off = h >> 20;
        }
        return 0;
}

static const struct mx_card *card_of_pf(void) {
        char v[16], d[16];
        assert_true(rd(pf, ATTR_VENDOR, v, sizeof(v)) > 0);
        assert_true(rd(pf, ATTR_DEVICE, d, sizeof(d)) > 0);
        return mx_card_by_pf_id((uint16_t)strtoul(v, NULL, 16), (uint16_t)strtoul(d, NULL, 16));
}

static void card_capability_announces_memory(void **state) {
        SKIP_UNLESS_SIM();
        const struct mx_card *card = card_of_pf();
        if (!card)
                skip();
        int fd = config_fd(O_RDONLY);
        assert_true(fd >= 0);
        unsigned cap = find_gpuiov(fd);
        assert_true(cap >= 0x100);
        const struct gpuiov_regs *r = gpuiov_regs(card->layout);
        uint32_t avail = cfg32(fd, cap + r->fb_available) & 0xffff;
        /* the simulator's presets use the card table's memory */
        assert_int_equal(avail * r->fb_total_unit_mib, card->mem_mib);
        close(fd);
}

static void card_registers_read_only_and_writable(void **state) {
        SKIP_UNLESS_SIM();
        const struct mx_card *card = card_of_pf();
        if (!card)
                skip();
        int fd = config_fd(O_RDWR);
        assert_true(fd >= 0);
        unsigned cap = find_gpuiov(fd);
        const struct gpuiov_regs *r = gpuiov_regs(card->layout);
        uint32_t avail_dword = cfg32(fd, cap + (r->fb_available & ~3u));
        uint32_t enc = gpuiov_fb_encode(card->layout, 272, 480);
        cfgw32(fd, cap + r->vf_fb0 + 4, enc);
        assert_int_equal(cfg32(fd, cap + r->vf_fb0 + 4), enc);
        cfgw32(fd, cap + (r->fb_available & ~3u), 0xffffffff);
        assert_int_equal(cfg32(fd, cap + (r->fb_available & ~3u)) & (0xffffu << ((r->fb_available & 2) * 8)),
                         avail_dword & (0xffffu << ((r->fb_available & 2) * 8)));
        cfgw32(fd, cap + r->vf_fb0 + 4, 0);
        /* the kernel owns the SR-IOV capability: NumVFs does not change through config */
        uint8_t before[4096], after[4096];
        assert_int_equal(pread(fd, before, sizeof(before), 0), 4096);
        uint8_t junk[2] = { 7, 0 };
        for (unsigned off = 0x100; off < cap; off += 2)
                if ((before[off] | before[off + 1] << 8) == 0x0010 && off + 0x10 < cap)
                        assert_int_equal(pwrite(fd, junk, 2, off + 0x10), 2);
        assert_int_equal(pread(fd, after, sizeof(after), 0), 4096);
        assert_memory_equal(before + 0x100, after + 0x100, cap - 0x100);
        close(fd);
}

static void card_command_completes(void **state) {
        SKIP_UNLESS_SIM();
        const struct mx_card *card = card_of_pf();
        if (!card)
                skip();
        int fd = config_fd(O_RDWR);
        assert_true(fd >= 0);
        unsigned cap = find_gpuiov(fd);
        const struct gpuiov_regs *r = gpuiov_regs(card->layout);
        unsigned ctl = r->cmd_control, st = r->cmd_status;
        if (!ctl) { /* MI300: scheduler block 0 */
                unsigned blk = (cfg32(fd, cap + MI300_SCH_OFFSET) & 0xff) << 4;
                ctl = blk + SCH_CMD_CONTROL;
                st = blk + SCH_CMD_STATUS;
        }
        cfgw32(fd, cap + ctl, gpuiov_cmd_word(GPUIOV_CMD_IDLE_GPU, GPUIOV_FUNC_PF, GPUIOV_FUNC_PF));
        /* poll for completion (the contract runs with --latency zero; 5 s is the bound, not the expectation) */
        uint32_t v = 0;
        for (int i = 0; i < 5000; i++) {
                v = cfg32(fd, cap + ctl);
                if (!(v & GPUIOV_CMD_EXECUTE))
                        break;
                struct timespec ts = { 0, 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        assert_int_equal(v & GPUIOV_CMD_EXECUTE, 0);
        assert_int_equal(cfg32(fd, cap + st) & 0xff, GPUIOV_STATUS_OK);
        close(fd);
}

/* --- setup --- */

static int group_setup(void **state) {
        pf = getenv("MXGPU_TEST_PF");
        generic_only = getenv("MXGPU_TEST_GENERIC_ONLY") && streq(getenv("MXGPU_TEST_GENERIC_ONLY"), "1");
        if (mx_root_from_env() < 0 || !pf) {
                fprintf(stderr, "set MXGPU_ROOT and MXGPU_TEST_PF\n");
                return -1;
        }
        driver_of(pf, pf_driver, sizeof(pf_driver));
        total_vfs = rd_uint(pf, ATTR_SRIOV_TOTALVFS);
        if (total_vfs < 2 || !pf_driver[0]) {
                fprintf(stderr, "%s needs TotalVFs >= 2 and a PF driver with sriov_configure (has %u, driver '%s')\n", pf,
                        total_vfs, pf_driver);
                return -1;
        }
        return reset_state(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, reset_state, reset_state)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(numvfs_rejects_non_numbers),
                T(numvfs_overflow_is_einval),
                T(sriov_attribute_modes),
                T(numvfs_above_total_is_erange),
                T(numvfs_accepts_newline_and_base0),
                T(numvfs_enable_creates_linked_vfs),
                T(numvfs_same_count_is_noop),
                T(numvfs_change_needs_zero_first),
                T(numvfs_without_driver_is_enoent),
                T(numvfs_vfio_pci_needs_enable_sriov),
                T(totalvfs_is_read_only),
                T(config_space_follows_numvfs),
                T(autoprobe_parses_bool),
                T(autoprobe_off_keeps_vfs_unbound),
                T(autoprobe_on_offers_vfs_to_drivers),
                T(driver_override_shows_null_and_clears),
                T(override_and_probe_bind_vfio),
                T(bind_rules),
                T(vfio_needs_iommu_group),
                T(vfio_group_is_exclusive),
                T(disable_waits_for_vfio_user),
                T(disable_unbound_vfio_vf_does_not_wait),
                T(pf_unbind_leaves_vfs),
                T(reset_accepts_only_one),
                T(amdgpu_has_no_sriov_configure),
                T(gim_enables_all_vfs_itself),
                T(static_ids_match),
                T(new_id_binds_unbound_devices),
                T(remove_makes_a_vf_vanish),
                T(card_capability_announces_memory),
                T(card_registers_read_only_and_writable),
                T(card_command_completes),
        };
        const char *filter = getenv("MXGPU_TEST_FILTER");
        if (filter)
                cmocka_set_test_filter(filter);
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
