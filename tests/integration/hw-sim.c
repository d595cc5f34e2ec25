// SPDX-License-Identifier: MIT
// Integration driver for the hardware layer against a running mxgpu-sim: one subcommand per step, run by hw-sim.sh.
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mxgpu/gpuiov_io.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/pci.h"
#include "mxgpu/regio.h"
#include "mxgpu/sriov.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"

static int failures;

_printf_(2, 3) static void check(bool ok, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, ok ? "ok: " : "FAIL: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        if (!ok)
                failures++;
}

#define CHECK_EQ(got, want, what) do {                                                    \
        long long _g = (long long)(got), _w = (long long)(want);                          \
        check(_g == _w, "%s: %lld (want %lld)", what, _g, _w);                            \
} while (0)

static int cmd_discover(int argc, char **argv) {
        unsigned want = argc > 0 ? (unsigned)atoi(argv[0]) : 2;
        struct pci_pf *pfs = NULL;
        size_t n = 0;
        int r = pci_pf_scan(&pfs, &n);
        CHECK_EQ(r, 0, "pci_pf_scan skipped devices");
        CHECK_EQ(n, want, "PFs found");
        for (size_t i = 0; i < n; i++) {
                check(pfs[i].card && streq(pfs[i].card->model, "s7150"), "%s is an S7150", pfs[i].addr);
                CHECK_EQ(pfs[i].layout, GPUIOV_TONGA, "layout");
                check(pfs[i].gpuiov_cap >= 0x100, "%s GPU-IOV capability at 0x%x", pfs[i].addr, pfs[i].gpuiov_cap);
                CHECK_EQ(pfs[i].total_vfs, 16, "TotalVFs");
                CHECK_EQ(pfs[i].vf_device, 0x692f, "VF device id");
                struct pci_pf one;
                CHECK_EQ(pci_pf_lookup(pfs[i].addr, &one), 0, "pci_pf_lookup");
                CHECK_EQ(one.gpuiov_cap, pfs[i].gpuiov_cap, "lookup agrees with scan");
                printf("%s\n", pfs[i].addr);
        }
        free(pfs);
        return 0;
}

static int cmd_sriov(int argc, char **argv) {
        const char *pf = argv[0];
        char drv[64];
        int r = pf_bind_driver(pf, DRV_PCI_PF_STUB);
        check(r == 0 || r == 1, "PF on pci-pf-stub (%d)", r);
        CHECK_EQ(sriov_change_numvfs(pf, 0, NULL) >= 0, 1, "start from 0 VFs");
        CHECK_EQ(sriov_set_autoprobe(pf, false), 0, "autoprobe off");
        unsigned num, total;
        bool autoprobe = true;
        CHECK_EQ(sriov_read(pf, &num, &total, &autoprobe), 0, "sriov_read");
        CHECK_EQ(autoprobe, 0, "autoprobe reads back off");
        /* the kernel's errnos, unchanged */
        CHECK_EQ(sriov_set_numvfs(pf, total + 1), -ERANGE, "numvfs > totalvfs");
        CHECK_EQ(pcidev_write(pf, ATTR_SRIOV_NUMVFS, "abc"), -EINVAL, "numvfs 'abc'");
        CHECK_EQ(sriov_change_numvfs(pf, 4, NULL), 1, "0 -> 4");
        CHECK_EQ(sriov_set_numvfs(pf, 2), -EBUSY, "4 -> 2 without 0");
        CHECK_EQ(sriov_change_numvfs(pf, 4, NULL), 0, "4 -> 4 is a no-op");
        CHECK_EQ(sriov_change_numvfs(pf, 2, NULL), 1, "4 -> 2 through 0");
        CHECK_EQ(sriov_read(pf, &num, NULL, NULL), 0, "sriov_read");
        CHECK_EQ(num, 2, "numvfs");
        struct vf_ref *vfs = NULL;
        size_t n = 0;
        CHECK_EQ(sriov_list_vfs(pf, &vfs, &n), 0, "sriov_list_vfs");
        CHECK_EQ(n, 2, "VFs listed");
        for (size_t i = 0; i < n; i++) {
                check(vfs[i].iommu_group >= 0, "%s in IOMMU group %d", vfs[i].addr, vfs[i].iommu_group);
                check(!vfs[i].driver[0], "%s unbound (autoprobe off): '%s'", vfs[i].addr, vfs[i].driver);
                printf("%s\n", vfs[i].addr);
        }
        free(vfs);
        CHECK_EQ(pcidev_link(pf, LINK_DRIVER, drv, sizeof(drv)) > 0, 1, "PF driver link");
        return 0;
}

static int cmd_bind(int argc, char **argv) {
        const char *vf = argv[0];
        char drv[64], group[16], node[MX_PATH_MAX];
        struct stat st;
        CHECK_EQ(vfio_bind(vf), 0, "vfio_bind");
        CHECK_EQ(vfio_bind(vf), 1, "vfio_bind again: already bound");
        CHECK_EQ(pcidev_link(vf, LINK_DRIVER, drv, sizeof(drv)) > 0, 1, "driver link");
        check(streq(drv, DRV_VFIO_PCI), "driver is %s", drv);
        CHECK_EQ(pcidev_link(vf, LINK_IOMMU_GROUP, group, sizeof(group)) > 0, 1, "iommu_group link");
        mx_path(node, sizeof(node), DEV_VFIO "/%s", group);
        CHECK_EQ(stat(node, &st), 0, node);
        CHECK_EQ(vfio_group_in_use(atoi(group)), 0, "group not in use");
        printf("%s\n", group);
        return 0;
}

static int cmd_unbind(int argc, char **argv) {
        char drv[64];
        CHECK_EQ(vfio_unbind(argv[0]), 0, "vfio_unbind");
        CHECK_EQ(pcidev_link(argv[0], LINK_DRIVER, drv, sizeof(drv)), -ENOENT, "no driver link");
        return 0;
}

static int cmd_gpuiov(int argc, char **argv) {
        const char *pf = argv[0];
        struct regio io;
        struct gpuiov_dev d;
        uint16_t cap;
        unsigned num;
        CHECK_EQ(sriov_read(pf, &num, NULL, NULL), 0, "sriov_read");
        int r = regio_sysfs_open(pf, &io);
        CHECK_EQ(r, 0, "regio_sysfs_open");
        if (r < 0)
                return 0;
        CHECK_EQ(gpuiov_find_cap(&io, &cap), 0, "gpuiov_find_cap");
        CHECK_EQ(gpuiov_open(&io, cap, GPUIOV_TONGA, &d), 0, "gpuiov_open");
        CHECK_EQ(d.fb_available_mib, 8192, "TOTAL_FB_AVAILABLE");
        struct gpuiov_fb ctx = { 256, 8 }, vfs[16];
        uint32_t each = num ? ALIGN_DOWN((8192 - 272) / num, 16) : 0;
        for (unsigned n = 0; n < num; n++)
                vfs[n] = (struct gpuiov_fb){ 272 + n * each, each };
        CHECK_EQ(gpuiov_write_partition(&d, 256, &ctx, vfs, num), 0, "gpuiov_write_partition");
        struct gpuiov_partition p;
        CHECK_EQ(gpuiov_read_partition(&d, num, &p), 0, "gpuiov_read_partition");
        CHECK_EQ(p.pf_reserve_mib, 256, "PF reserve");
        if (num)
                CHECK_EQ(p.vf[num - 1].offset_mib, 272 + (num - 1) * each, "last VF offset");
        struct gpuiov_sched_cfg cfg = { .mode = GPUIOV_SCHED_SOLID, .quanta_ms = { 6, 12, 24, 48 },
                                        .n_vfs = num, .active = SCH_ACTIVE_PF_BIT | ((1u << num) - 1) };
        for (unsigned n = 0; n < num; n++)
                cfg.vf_index[n] = n % 4;
        CHECK_EQ(gpuiov_write_sched(&d, &cfg), 0, "gpuiov_write_sched");
        /* CLEAR_VF_STATE is GIM8's: never sent on the Tonga layout */
        if (num)
                CHECK_EQ(gpuiov_clear_vf(&d, 0), d.layout == GPUIOV_TONGA ? -EOPNOTSUPP : 0, "gpuiov_clear_vf");
        regio_close(&io);
        return 0;
}

static int cmd_disable(int argc, char **argv) {
        int r = sriov_change_numvfs(argv[0], 0, NULL);
        check(r >= 0, "disable VFs (%d)", r);
        return 0;
}

/* An armed `mxgpu-sim fault write` comes back as the same errno. */
static int cmd_numvfs_errno(int argc, char **argv) {
        CHECK_EQ(sriov_change_numvfs(argv[0], (unsigned)atoi(argv[1]), NULL), -atoi(argv[2]), "sriov_change_numvfs errno");
        return 0;
}

static int cmd_bind_errno(int argc, char **argv) {
        CHECK_EQ(vfio_bind(argv[0]), -atoi(argv[1]), "vfio_bind errno");
        return 0;
}

/* After `mxgpu-sim fault cmd-hang`: the command fails with CMD_STATUS 0x0e. */
static int cmd_hang(int argc, char **argv) {
        struct regio io;
        struct gpuiov_dev d;
        uint16_t cap;
        CHECK_EQ(regio_sysfs_open(argv[0], &io), 0, "regio_sysfs_open");
        CHECK_EQ(gpuiov_find_cap(&io, &cap), 0, "gpuiov_find_cap");
        CHECK_EQ(gpuiov_open(&io, cap, GPUIOV_TONGA, &d), 0, "gpuiov_open");
        CHECK_EQ(gpuiov_command(&d, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_IDLE_GPU, GPUIOV_FUNC_PF, 0, 0), -EIO, "IDLE_GPU");
        CHECK_EQ(d.last_status, GPUIOV_STATUS_GFX_HANG, "CMD_STATUS");
        fprintf(stderr, "status: %s\n", gpuiov_status_name(d.last_status));
        regio_close(&io);
        return 0;
}

/* Scan over and over while the script removes a PF: never a crash, never an error. Stops a few
 * rounds after the count dropped, or after MAX_ROUNDS. */
static int cmd_scan_loop(int argc, char **argv) {
        unsigned max_rounds = (unsigned)atoi(argv[0]), rounds = 0, after_drop = 0;
        size_t lo = SIZE_MAX, hi = 0;
        int errors = 0, skipped = 0;
        for (; rounds < max_rounds && after_drop < 5; rounds++) {
                struct pci_pf *pfs = NULL;
                size_t n = 0;
                int r = pci_pf_scan(&pfs, &n);
                if (r < 0)
                        errors++;
                else
                        skipped += r;
                lo = MIN(lo, n);
                hi = MAX(hi, n);
                if (lo < hi)
                        after_drop++;
                free(pfs);
        }
        CHECK_EQ(errors, 0, "scans that failed");
        fprintf(stderr, "scan-loop: %u rounds, %zu-%zu PFs, %d devices skipped mid-scan\n", rounds, lo, hi, skipped);
        printf("%zu\n", lo);
        return 0;
}

int main(int argc, char **argv) {
        static const struct { const char *name; int (*fn)(int, char **); int args; } cmds[] = {
                { "discover", cmd_discover, 0 }, { "sriov", cmd_sriov, 1 }, { "bind", cmd_bind, 1 },
                { "unbind", cmd_unbind, 1 }, { "gpuiov", cmd_gpuiov, 1 }, { "disable", cmd_disable, 1 },
                { "scan-loop", cmd_scan_loop, 1 }, { "numvfs-errno", cmd_numvfs_errno, 3 },
                { "bind-errno", cmd_bind_errno, 2 }, { "hang", cmd_hang, 1 },
        };
        if (argc < 3) {
                fprintf(stderr, "usage: %s ROOT COMMAND [ARG]\n", argv[0]);
                return 2;
        }
        if (mx_root_set(argv[1]) < 0) {
                fprintf(stderr, "%s: bad root '%s'\n", argv[0], argv[1]);
                return 2;
        }
        for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
                if (streq(argv[2], cmds[i].name)) {
                        if (argc - 3 < cmds[i].args) {
                                fprintf(stderr, "%s: %s needs %d argument(s)\n", argv[0], argv[2], cmds[i].args);
                                return 2;
                        }
                        cmds[i].fn(argc - 3, argv + 3);
                        return failures ? 1 : 0;
                }
        fprintf(stderr, "%s: unknown command '%s'\n", argv[0], argv[2]);
        return 2;
}
