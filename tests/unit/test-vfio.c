// SPDX-License-Identifier: MIT
// Unit tests for vfio-pci binding: the steps written, the checks after them and the errno of each failure.
// WRAP: sysfs_write_at sysfs_write_path open
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "mxgpu/names.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"

#define VF "0000:03:02.1"
#define VFDIR "sys/devices/pci0000:00/" VF

/* A small kernel model behind the writes: driver_override is stored, driver/unbind removes the driver
 * link, drivers_probe binds the override's driver when `probe_binds` and creates /dev/vfio/<group>
 * when `make_node`. Every write is recorded in `steps`. */
static char steps[1024];
static bool probe_binds, make_node;
static const char *fail_attr; /* a write to this attribute fails with fail_errno */
static int fail_errno;

static void record(const char *what, const char *value) {
        size_t l = strlen(steps);
        snprintf(steps + l, sizeof(steps) - l, "%s%s=%s", l ? " " : "", what, value);
}

int __real_sysfs_write_at(int dfd, const char *attr, const char *value);
int __wrap_sysfs_write_at(int dfd, const char *attr, const char *value);
int __wrap_sysfs_write_at(int dfd, const char *attr, const char *value) {
        record(attr, value);
        if (fail_attr && streq(attr, fail_attr))
                return fail_errno;
        if (streq(attr, "driver/unbind")) {
                char rel[128];
                snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver", value);
                fake_unlink(rel);
                return 0;
        }
        if (streq(attr, "driver_override")) {
                /* the kernel stores the value without its newline; a lone newline clears it */
                char fdp[64], p[1024];
                snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", dfd);
                ssize_t n = readlink(fdp, p, sizeof(p) - 32);
                assert_true(n > 0);
                snprintf(p + n, sizeof(p) - (size_t)n, "/%s", attr);
                FILE *f = fopen(p, "w");
                assert_non_null(f);
                fprintf(f, "%.*s\n", (int)strcspn(value, "\n"), value);
                fclose(f);
                return 0;
        }
        return __real_sysfs_write_at(dfd, attr, value);
}

int __wrap_sysfs_write_path(const char *rel, const char *value);
int __wrap_sysfs_write_path(const char *rel, const char *value) {
        record(rel, value);
        if (fail_attr && streq(rel, fail_attr))
                return fail_errno;
        if (streq(rel, SYS_PCI_DRIVERS_PROBE) && probe_binds) {
                char p[128], override[64], target[128];
                snprintf(p, sizeof(p), "sys/devices/pci0000:00/%s/driver_override", value);
                fake_read(p, override, sizeof(override));
                snprintf(p, sizeof(p), "sys/devices/pci0000:00/%s/driver", value);
                snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", override);
                fake_link(p, target);
                if (make_node && streq(override, "vfio-pci"))
                        fake_file("dev/vfio/21", "%s", "");
        }
        return 0;
}

/* /dev/vfio/22 behaves like a group another process holds open. */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...) {
        va_list ap;
        va_start(ap, flags);
        mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
        va_end(ap);
        /* Nothing may open a VFIO group to test it: that would itself be a use. */
        if (strstr(path, "/dev/vfio/"))
                fail_msg("opened %s", path);
        return __real_open(path, flags, mode);
}

static int setup(void **state) {
        steps[0] = 0;
        probe_binds = make_node = true;
        fail_attr = NULL;
        if (fake_setup(state) < 0)
                return -1;
        fake_pci_dev(VF, 0x1002, 0x692f, 0x038000, NULL);
        fake_file(VFDIR "/driver_override", "(null)\n");
        fake_mkdirs("sys/kernel/iommu_groups/21", 1);
        fake_link(VFDIR "/iommu_group", "../../../kernel/iommu_groups/21");
        fake_mkdirs("sys/bus/pci/drivers/vfio-pci", 1);
        fake_mkdirs("sys/bus/pci/drivers/amdgpu", 1);
        fake_mkdirs("sys/bus/pci/drivers/pci-pf-stub", 1);
        fake_mkdirs("dev/vfio", 1);
        return 0;
}

static void driver_of(const char *bdf, char *buf, size_t size) {
        if (pcidev_link(bdf, "driver", buf, size) < 0)
                buf[0] = 0;
}

static void bind_unbound(void **state) {
        char drv[64];
        assert_int_equal(vfio_bind(VF), 0);
        assert_string_equal(steps, "driver_override=vfio-pci /sys/bus/pci/drivers_probe=" VF);
        driver_of(VF, drv, sizeof(drv));
        assert_string_equal(drv, "vfio-pci");
        assert_true(fake_exists("dev/vfio/21"));

        steps[0] = 0;
        assert_int_equal(vfio_bind(VF), 1); /* already bound: nothing written */
        assert_string_equal(steps, "");
}

static void bind_from_other_driver(void **state) {
        fake_link(VFDIR "/driver", "../../../bus/pci/drivers/amdgpu");
        assert_int_equal(vfio_bind(VF), 0);
        assert_string_equal(steps, "driver_override=vfio-pci driver/unbind=" VF
                                   " /sys/bus/pci/drivers_probe=" VF);
}

static void bind_without_iommu_group(void **state) {
        fake_unlink(VFDIR "/iommu_group");
        assert_int_equal(vfio_bind(VF), -ENXIO);
        assert_string_equal(steps, ""); /* refused before any write */
}

static void bind_probe_refused(void **state) {
        probe_binds = false;
        assert_int_equal(vfio_bind(VF), -EIO);
        char p[1024];
        fake_path(p, sizeof(p), "sys/bus/pci/drivers/vfio-pci");
        rmdir(p);
        assert_int_equal(vfio_bind(VF), -ENOPKG);
}

static void bind_taken_by_other(void **state) {
        /* drivers_probe bound another driver (the override was lost) */
        fake_file(VFDIR "/driver_override", "amdgpu");
        fail_attr = "driver_override";
        fail_errno = 0;
        assert_int_equal(vfio_bind(VF), -EBUSY);
}

static void bind_node_missing(void **state) {
        make_node = false;
        assert_int_equal(vfio_bind(VF), -ETIMEDOUT);
}

/* vfio_bind_start() writes, and vfio_bind_outcome() judges from a later listing, as vfio_bind() would. */
static void bind_in_two_halves(void **state) {
        fake_pci_dev("0000:03:00.0", 0x1002, 0x692f, 0x038000, NULL);
        fake_link("sys/devices/pci0000:00/0000:03:00.0/virtfn0", "../" VF);
        int pf = pcidev_open("0000:03:00.0");
        assert_true(pf >= 0);
        char addr[PCI_ADDR_STRLEN];
        int vd = sriov_open_vf(pf, 0, addr);
        assert_true(vd >= 0);
        assert_string_equal(addr, VF);
        assert_int_equal(vfio_bind_start(vd, addr), 0);
        assert_string_equal(steps, "driver_override=vfio-pci /sys/bus/pci/drivers_probe=" VF);

        struct vf_ref now = { .index = 0, .addr = VF, .driver = "vfio-pci", .iommu_group = 21 };
        assert_int_equal(vfio_bind_outcome(&now, NULL), 0); /* dev/vfio/21 made by the probe */
        fake_file("dev/vfio/vfio", "%s", "");
        fake_file("dev/vfio/7", "%s", "");
        struct vfio_nodes nodes;
        assert_int_equal(vfio_nodes_read(&nodes), 0);
        assert_int_equal(nodes.n, 2); /* not the container */
        assert_true(vfio_nodes_has(&nodes, 21) && vfio_nodes_has(&nodes, 7) && !vfio_nodes_has(&nodes, 23));
        assert_int_equal(vfio_bind_outcome(&now, &nodes), 0);
        now.iommu_group = 23;
        assert_int_equal(vfio_bind_outcome(&now, &nodes), -ETIMEDOUT); /* no dev/vfio/23: waited for */
        vfio_nodes_free(&nodes);
        now.iommu_group = 21;
        snprintf(now.driver, sizeof(now.driver), "amdgpu");
        assert_int_equal(vfio_bind_outcome(&now, NULL), -EBUSY); /* held through the probe */
        now.driver[0] = 0;
        assert_int_equal(vfio_bind_outcome(&now, NULL), -EIO);
        now.iommu_group = -1;
        assert_int_equal(vfio_bind_outcome(&now, NULL), -ENXIO); /* unbound for want of a group */
        now.iommu_group = 21;
        char p[1024];
        fake_path(p, sizeof(p), "sys/bus/pci/drivers/vfio-pci");
        rmdir(p);
        assert_int_equal(vfio_bind_outcome(&now, NULL), -ENOPKG);

        /* held by another driver: the writes leave it there (no unbind), vfio_bind() takes it over */
        steps[0] = 0;
        fake_link(VFDIR "/driver", "../../../bus/pci/drivers/amdgpu");
        assert_int_equal(vfio_bind_start(vd, addr), 0);
        assert_string_equal(steps, "driver_override=vfio-pci /sys/bus/pci/drivers_probe=" VF);
        assert_int_equal(sriov_open_vf(pf, 5, addr), -ENOENT); /* no virtfn5 */
        close(vd);
        close(pf);
}

/* vfio_bound_read(): the functions linked in vfio-pci's driver folder, and nothing else found there. */
static void bound_from_driver_folder(void **state) {
        struct vfio_bound b;
        assert_int_equal(vfio_bound_read(&b), 0);
        assert_int_equal(b.n, 0);
        assert_false(vfio_bound_has(&b, VF));
        fake_link("sys/bus/pci/drivers/vfio-pci/" VF, "../../../../devices/pci0000:00/" VF);
        fake_link("sys/bus/pci/drivers/vfio-pci/0001:00:00.3", "../../../../devices/pci0001:00/0001:00:00.3");
        fake_link("sys/bus/pci/drivers/vfio-pci/0000:03:02.0", "../../../../devices/pci0000:00/0000:03:02.0");
        fake_file("sys/bus/pci/drivers/vfio-pci/bind", "%s", "");
        fake_file("sys/bus/pci/drivers/vfio-pci/new_id", "%s", "");
        fake_link("sys/bus/pci/drivers/vfio-pci/module", "../../../../module/vfio_pci");
        assert_int_equal(vfio_bound_read(&b), 0);
        assert_int_equal(b.n, 3);
        assert_true(vfio_bound_has(&b, VF));
        assert_true(vfio_bound_has(&b, "0000:03:02.0"));
        assert_false(vfio_bound_has(&b, "1:00:00.3")); /* not an address */
        assert_true(vfio_bound_has(&b, "0001:00:00.3"));
        assert_false(vfio_bound_has(&b, "0000:03:02.2"));
        assert_false(vfio_bound_has(&b, "0001:03:02.1")); /* another domain */
        assert_false(vfio_bound_has(&b, "bind"));
        vfio_bound_free(&b);
        assert_int_equal(b.n, 0);
        /* vfio-pci not loaded: nothing is bound to it */
        char p[1024];
        fake_path(p, sizeof(p), "sys/bus/pci/drivers/vfio-pci");
        assert_int_equal(nftw(p, fake_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        assert_int_equal(vfio_bound_read(&b), 0);
        assert_int_equal(b.n, 0);
}

static void bind_write_errors_unchanged(void **state) {
        fail_attr = "driver_override";
        fail_errno = -EACCES;
        assert_int_equal(vfio_bind(VF), -EACCES);
        fail_attr = SYS_PCI_DRIVERS_PROBE;
        fail_errno = -ENODEV;
        assert_int_equal(vfio_bind(VF), -ENODEV);
        assert_int_equal(vfio_bind("0000:09:00.0"), -ENODEV);
}

static void unbind(void **state) {
        char drv[64], ov[64];
        assert_int_equal(vfio_bind(VF), 0);
        steps[0] = 0;
        assert_int_equal(vfio_unbind(VF), 0);
        assert_string_equal(steps, "driver_override=\n driver/unbind=" VF);
        driver_of(VF, drv, sizeof(drv));
        assert_string_equal(drv, "");
        assert_string_equal(fake_read(VFDIR "/driver_override", ov, sizeof(ov)), "");
        steps[0] = 0;
        assert_int_equal(vfio_unbind(VF), 0); /* unbound: only the override is cleared */
        assert_string_equal(steps, "driver_override=\n");
}

static void pf_driver(void **state) {
        char drv[64];
        fake_link(VFDIR "/driver", "../../../bus/pci/drivers/amdgpu");
        assert_int_equal(pf_bind_driver(VF, "pci-pf-stub"), 0);
        assert_string_equal(steps, "driver_override=pci-pf-stub driver/unbind=" VF
                                   " /sys/bus/pci/drivers_probe=" VF);
        driver_of(VF, drv, sizeof(drv));
        assert_string_equal(drv, "pci-pf-stub");
        assert_int_equal(pf_bind_driver(VF, "pci-pf-stub"), 1);
        assert_int_equal(pf_bind_driver(VF, "../x"), -EINVAL);
        probe_binds = false;
        assert_int_equal(pf_bind_driver(VF, "gim"), -ENOPKG);
}

/* A VM holds group 22 open: another process with the node among its open files. */
static void group_in_use(void **state) {
        fake_file("dev/vfio/21", "%s", "");
        fake_file("dev/vfio/22", "%s", "");
        char node[MX_PATH_MAX];
        mx_path(node, sizeof(node), "/dev/vfio/22");
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                int fd = __real_open(node, O_RDWR, 0);
                (void)!write(ready[1], fd >= 0 ? "1" : "0", 1);
                pause();
                _exit(0);
        }
        char c = 0;
        assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(c, '1');
        assert_int_equal(vfio_group_in_use(21), 0);
        assert_int_equal(vfio_group_in_use(22), 1);
        int groups[] = { 22, 21, 7 };
        bool held[3];
        assert_int_equal(vfio_groups_held(groups, 3, held), 0);
        assert_true(held[0]);
        assert_false(held[1]);
        assert_false(held[2]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        close(ready[0]);
        close(ready[1]);
        assert_int_equal(vfio_group_in_use(22), 0);
        assert_int_equal(vfio_group_in_use(23), -ENOENT);
        assert_int_equal(vfio_group_in_use(-1), -EINVAL);
        /* Our own open files do not count: the daemon is not a VM. */
        int fd = __real_open(node, O_RDWR, 0);
        assert_true(fd >= 0);
        assert_int_equal(vfio_group_in_use(22), 0);
        close(fd);
}

static void reset(void **state) {
        char buf[8];
        fake_file(VFDIR "/reset", "%s", "");
        assert_int_equal(pci_function_reset(VF), 0);
        assert_string_equal(fake_read(VFDIR "/reset", buf, sizeof(buf)), "1");
        fail_attr = "reset";
        fail_errno = -ENOTTY;
        assert_int_equal(pci_function_reset(VF), -ENOTTY);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, fake_teardown)
        const struct CMUnitTest tests[] = {
                T(bind_unbound), T(bind_from_other_driver), T(bind_without_iommu_group),
                T(bind_probe_refused), T(bind_taken_by_other), T(bind_node_missing), T(bind_in_two_halves), T(bound_from_driver_folder),
                T(bind_write_errors_unchanged), T(unbind), T(pf_driver), T(group_in_use), T(reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
