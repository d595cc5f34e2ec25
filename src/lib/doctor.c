// SPDX-License-Identifier: MIT
// Platform checks for mxgpuctl doctor: read-only looks at sysfs, config space and sockets, each with a verdict and a fix.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mxgpu/cards.h"
#include "mxgpu/doctor.h"
#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/pci.h"
#include "mxgpu/sriov.h"
#include "mxgpu/sysfs.h"

#define CFG_SIZE           4096
#define PCI_CAP_PTR        0x34
#define PCI_CAP_ID_EXP     0x10
#define PCI_EXP_DEVCTL2    0x28
#define PCI_EXP_DEVCTL2_ARI 0x20
#define EXT_CAP_SRIOV      0x10
#define SRIOV_CTRL         0x08
#define SRIOV_CTRL_ARI     0x10

const char *doctor_status_name(enum doctor_status s) {
        return s == DOCTOR_OK ? "ok" : s == DOCTOR_WARN ? "warn" : "fail";
}

static int add(struct doctor_report *r, const char *name, const char *dev, enum doctor_status st, const char *fix,
               const char *fmt, ...) _printf_(6, 7);
static int add(struct doctor_report *r, const char *name, const char *dev, enum doctor_status st, const char *fix,
               const char *fmt, ...) {
        struct doctor_check *n = realloc(r->checks, (r->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        r->checks = n;
        struct doctor_check *c = &n[r->n++];
        *c = (struct doctor_check){ .status = st };
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->device, sizeof(c->device), "%s", dev ? dev : "");
        snprintf(c->fix, sizeof(c->fix), "%s", fix && st != DOCTOR_OK ? fix : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->message, sizeof(c->message), fmt, ap);
        va_end(ap);
        return 0;
}

static bool exists(const char *rel) {
        char p[MX_PATH_MAX];
        return mx_path(p, sizeof(p), "%s", rel) >= 0 && access(p, F_OK) == 0;
}

static unsigned count_entries(const char *rel) {
        char p[MX_PATH_MAX];
        if (mx_path(p, sizeof(p), "%s", rel) < 0)
                return 0;
        _cleanup_closedir_ DIR *d = opendir(p);
        unsigned n = 0;
        struct dirent *de;
        while (d && (de = readdir(d)))
                n += de->d_name[0] != '.';
        return n;
}

/* Config space of a function (as much as sysfs gives; an unprivileged reader gets 64 bytes). */
static ssize_t read_config(const char *dir, uint8_t cfg[static CFG_SIZE]) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/config", dir);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        memset(cfg, 0, CFG_SIZE);
        ssize_t n = pread(fd, cfg, CFG_SIZE, 0);
        return n < 0 ? negative_errno() : n;
}

static uint16_t rd16(const uint8_t *c, unsigned off) { return (uint16_t)(c[off] | c[off + 1] << 8); }
static uint32_t rd32(const uint8_t *c, unsigned off) { return rd16(c, off) | (uint32_t)rd16(c, off + 2) << 16; }

static unsigned find_cap(const uint8_t *c, ssize_t len, uint8_t id) {
        unsigned pos = len > PCI_CAP_PTR ? c[PCI_CAP_PTR] & ~3u : 0;
        for (int guard = 0; pos >= 0x40 && pos + 2 <= (unsigned)len && guard < 48; guard++) {
                if (c[pos] == id)
                        return pos;
                pos = c[pos + 1] & ~3u;
        }
        return 0;
}

static unsigned find_ext_cap(const uint8_t *c, ssize_t len, uint16_t id) {
        unsigned pos = 0x100;
        for (int guard = 0; pos >= 0x100 && pos + 4 <= (unsigned)len && guard < 256; guard++) {
                uint32_t h = rd32(c, pos);
                if (h == 0 || h == 0xffffffff)
                        return 0;
                if ((h & 0xffff) == id)
                        return pos;
                pos = (h >> 20) & ~3u;
        }
        return 0;
}

static void check_iommu(struct doctor_report *r) {
        unsigned n = count_entries(SYS_IOMMU_GROUPS);
        if (n)
                add(r, "iommu", NULL, DOCTOR_OK, NULL, "the IOMMU is on: %u IOMMU groups", n);
        else
                add(r, "iommu", NULL, DOCTOR_FAIL,
                    "add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line, and enable VT-d / "
                    "AMD-Vi (IOMMU) in the firmware setup",
                    "the IOMMU is off: %s has no IOMMU groups, so vfio-pci cannot take any VF", SYS_IOMMU_GROUPS);
}

static void check_driver(struct doctor_report *r, const char *drv, const char *why) {
        char rel[128], fix[256];
        snprintf(rel, sizeof(rel), SYS_PCI_DRIVERS "/%s", drv);
        snprintf(fix, sizeof(fix), "modprobe %s, and load it at boot: echo %s > /etc/modules-load.d/%s.conf", drv, drv, drv);
        if (exists(rel))
                add(r, drv, NULL, DOCTOR_OK, NULL, "the %s driver is loaded", drv);
        else
                add(r, drv, NULL, DOCTOR_FAIL, fix, "the %s driver is not loaded (no %s): %s", drv, rel, why);
}

static void check_ari(struct doctor_report *r, const char *bdf, const char *dir, const uint8_t *cfg, ssize_t len,
                      unsigned sriov, char bridges[][PATH_MAX], size_t nb) {
        const char *fix = "enable ARI (Alternative Routing-ID Interpretation) forwarding in the firmware setup; "
                          "without it only VFs in functions 0-7 of the bus can be reached";
        if (nb > 0) {
                uint8_t bcfg[CFG_SIZE];
                ssize_t bl = read_config(bridges[0], bcfg);
                unsigned exp = bl > 0 ? find_cap(bcfg, bl, PCI_CAP_ID_EXP) : 0;
                if (exp && (unsigned)bl >= exp + PCI_EXP_DEVCTL2 + 2 &&
                    !(rd16(bcfg, exp + PCI_EXP_DEVCTL2) & PCI_EXP_DEVCTL2_ARI)) {
                        add(r, "ari", bdf, DOCTOR_FAIL, fix, "ARI forwarding is off at the upstream port %s",
                            strrchr(bridges[0], '/') + 1);
                        return;
                }
        }
        if (sriov && len >= (ssize_t)(sriov + SRIOV_CTRL + 2) && !(rd16(cfg, sriov + SRIOV_CTRL) & SRIOV_CTRL_ARI)) {
                add(r, "ari", bdf, DOCTOR_WARN, fix, "the PF's SR-IOV control has ARI Capable Hierarchy clear: the kernel "
                    "found no ARI forwarding above it");
                return;
        }
        if (len <= 64)
                add(r, "ari", bdf, DOCTOR_WARN, "run mxgpuctl doctor as root", "cannot read the extended config space (not root)");
        else
                add(r, "ari", bdf, DOCTOR_OK, NULL, "ARI forwarding is on");
}

static void check_mmio(struct doctor_report *r, const char *bdf, unsigned total_vfs) {
        const char *fix = "enable \"Above 4G decoding\" (and \"Resizable BAR\"/large MMIO, if offered) in the firmware "
                          "setup, or boot with pci=realloc";
        struct pci_vf_bar_room room;
        int k = pci_vf_bar_room(bdf, total_vfs, &room);
        if (k < 0) {
                add(r, "mmio", bdf, DOCTOR_WARN, NULL, "the PF's resource file lists no VF BARs; the MMIO room cannot be checked");
                return;
        }
        if (room.unassigned >= 0)
                add(r, "mmio", bdf, DOCTOR_FAIL, fix, "the VF BARs (IOV resource %d) have no address: there was no MMIO "
                    "room for them; writing sriov_numvfs will fail with ENOMEM", room.unassigned);
        else if (room.fit < total_vfs)
                add(r, "mmio", bdf, DOCTOR_FAIL, fix,
                    "no MMIO room for the VF BARs of all %u VFs: they need %" PRIu64 " MiB, the bridge %s forwards only %"
                    PRIu64 " MiB of them, room for %u VF%s; enabling more VFs than fit fails with ENOMEM",
                    total_vfs, room.need >> 20, room.bridge, room.forwarded >> 20, room.fit, room.fit == 1 ? "" : "s");
        else if (room.below_4g)
                add(r, "mmio", bdf, DOCTOR_WARN, fix, "the VF BARs (%" PRIu64 " MiB) sit below 4 GiB: \"Above 4G decoding\" "
                    "looks off; large VF counts may not fit", room.need >> 20);
        else
                add(r, "mmio", bdf, DOCTOR_OK, NULL, "MMIO room for the VF BARs of all %u VFs (%" PRIu64 " MiB), forwarded "
                    "by every bridge above (the kernel's own check runs only when VFs are enabled)", total_vfs, room.need >> 20);
}

static void check_gpu(struct doctor_report *r, const char *bdf, const struct mx_card *card) {
        char dir[MX_PATH_MAX];
        if (mx_path(dir, sizeof(dir), SYS_PCI_DEVICES "/%s", bdf) < 0)
                return;
        uint8_t cfg[CFG_SIZE];
        ssize_t len = read_config(dir, cfg);
        char bridges[8][PATH_MAX];
        size_t nb = pci_upstream_bridges(dir, bridges, ARRAY_SIZE(bridges));
        uint64_t total = 0;
        bool has_sriov = pcidev_read_u64(bdf, ATTR_SRIOV_TOTALVFS, &total) >= 0;
        unsigned sriov = len > 0x100 ? find_ext_cap(cfg, len, EXT_CAP_SRIOV) : 0;

        if (!has_sriov || total == 0)
                add(r, "sriov", bdf, DOCTOR_FAIL, "enable SR-IOV in the firmware setup (often under PCI or chipset settings), "
                    "then reboot", "%s shows no SR-IOV capability: the firmware hides it", card->product);
        else if (total < card->max_vfs && !card->experimental)
                /* hardware.md 7: VF counts silently capped; the kernel shows the firmware's TotalVFs (an
                 * experimental card's maximum is itself a guess) */
                add(r, "sriov", bdf, DOCTOR_WARN, "look for an SR-IOV or number-of-VFs setting in the firmware (BIOS) setup, "
                    "and check the card's firmware (VBIOS) version",
                    "%s: SR-IOV with up to %" PRIu64 " VFs, fewer than the card's %u: the firmware caps it (TotalVFs %" PRIu64
                    ")", card->product, total, card->max_vfs, total);
        else
                add(r, "sriov", bdf, DOCTOR_OK, NULL, "%s: SR-IOV with up to %" PRIu64 " VFs", card->product, total);
        check_ari(r, bdf, dir, cfg, len, sriov, bridges, nb);
        if (has_sriov && total)
                check_mmio(r, bdf, (unsigned)total);

        char drv[PCI_DRIVER_NAME_MAX] = "";
        if (pcidev_link(bdf, "driver", drv, sizeof(drv)) < 0)
                drv[0] = 0;
        if (streq(drv, DRV_AMDGPU))
                add(r, "pf-driver", bdf, DOCTOR_FAIL,
                    "keep amdgpu off this card (e.g. softdep amdgpu pre: pci-pf-stub plus driver_override, or blacklist "
                    "amdgpu when the host has no other AMD GPU), or set take_over_host_driver = yes in mxgpu.conf",
                    "the host GPU driver amdgpu owns the PF: mxgpud leaves it alone");
        else if (streq(drv, DRV_GIM))
                add(r, "pf-driver", bdf, DOCTOR_OK, NULL, "gim owns the PF and SR-IOV: use pf_driver = gim (mxgpud leaves "
                    "it alone otherwise, unless take_over_host_driver = yes)");
        else
                add(r, "pf-driver", bdf, DOCTOR_OK, NULL, "PF driver: %s", drv[0] ? drv : "none");

        _cleanup_free_ struct vf_ref *vfs = NULL;
        size_t n = 0;
        if (sriov_list_vfs(bdf, &vfs, &n) < 0)
                n = 0;
        char list[400] = "";
        size_t o = 0;
        unsigned grabbed = 0;
        for (size_t i = 0; i < n; i++)
                if (vfs[i].driver[0] && !streq(vfs[i].driver, DRV_VFIO_PCI)) {
                        if (grabbed < 3 && o < sizeof(list))
                                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s on %s", grabbed ? ", " : "",
                                                      vfs[i].addr, vfs[i].driver);
                        grabbed++;
                }
        if (grabbed)
                add(r, "vf-drivers", bdf, DOCTOR_WARN,
                    "turn sriov_drivers_autoprobe off before enabling VFs (mxgpud does), or unbind them; mxgpud takes them "
                    "from the host driver only with take_over_host_driver = yes", "%u of %zu VFs are held by a host driver: %s%s", grabbed, n, list,
                    grabbed > 3 ? ", ..." : "");
        else if (n)
                add(r, "vf-drivers", bdf, DOCTOR_OK, NULL, "no VF is held by a host driver (%zu VFs)", n);
}

static void check_gpus(struct doctor_report *r) {
        char p[MX_PATH_MAX];
        if (mx_path(p, sizeof(p), SYS_PCI_DEVICES) < 0)
                return;
        struct dirent **names = NULL;
        int n = scandir(p, &names, NULL, alphasort);
        unsigned found = 0;
        for (int i = 0; i < n; i++) {
                const char *bdf = names[i]->d_name;
                uint64_t vendor, device;
                char phys[64];
                if (bdf[0] != '.' && pcidev_read_u64(bdf, ATTR_VENDOR, &vendor) >= 0 &&
                    pcidev_read_u64(bdf, ATTR_DEVICE, &device) >= 0 && pcidev_link(bdf, LINK_PHYSFN, phys, sizeof(phys)) < 0) {
                        const struct mx_card *card = mx_card_by_pf_id((uint16_t)vendor, (uint16_t)device);
                        if (card) {
                                found++;
                                check_gpu(r, bdf, card);
                        }
                }
                free(names[i]);
        }
        free(names);
        if (!found)
                add(r, "gpus", NULL, DOCTOR_WARN, "check that the card is seated and powered (lspci -d 1002:)",
                    "no supported MxGPU card found below %s", SYS_PCI_DEVICES);
}

static void check_libvirt(struct doctor_report *r, const char *sock) {
        char p[MX_PATH_MAX];
        const char *fix = "start libvirt (systemctl start libvirtd, or virtqemud.socket), or ignore this when VMs are "
                          "started without libvirt";
        if (sock)
                snprintf(p, sizeof(p), "%s", sock);  /* given: taken as it is */
        else if (mx_path(p, sizeof(p), "%s", DEFAULT_LIBVIRT_SOCK) < 0)
                return;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(p) >= sizeof(sa.sun_path)) {
                add(r, "libvirt", NULL, DOCTOR_WARN, fix, "the libvirt socket path %s is too long to connect to", p);
                return;
        }
        strcpy(sa.sun_path, p);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                add(r, "libvirt", NULL, DOCTOR_OK, NULL, "libvirt answers at %s", p);
        else
                add(r, "libvirt", NULL, DOCTOR_WARN, fix, "libvirt is not reachable at %s (%s): VFs cannot be assigned "
                    "to VMs through libvirt", p, strerror(errno));
}

int doctor_run(const char *libvirt_socket, struct doctor_report *ret) {
        struct doctor_report r = {};
        check_iommu(&r);
        check_driver(&r, DRV_VFIO_PCI, "VFs cannot be handed to VMs");
        check_driver(&r, DRV_PCI_PF_STUB, "mxgpud holds PFs with it (pf_driver = pci-pf-stub, the default)");
        check_gpus(&r);
        check_libvirt(&r, libvirt_socket);
        *ret = r;
        return 0;
}

void doctor_report_done(struct doctor_report *r) {
        free(r->checks);
        *r = (struct doctor_report){};
}

enum doctor_status doctor_worst(const struct doctor_report *r) {
        enum doctor_status w = DOCTOR_OK;
        for (size_t i = 0; i < r->n; i++)
                w = MAX(w, r->checks[i].status);
        return w;
}
