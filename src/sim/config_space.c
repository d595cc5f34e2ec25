// SPDX-License-Identifier: MIT
// Builds each function's 4096-byte config space from the host model, and filters userspace writes to it.
#include <errno.h>
#include <string.h>
#include <pci/header.h>

#include "card.h"
#include "sim.h"

void cfg_w8(uint8_t *c, unsigned off, uint8_t v) { c[off] = v; }
void cfg_w16(uint8_t *c, unsigned off, uint16_t v) { c[off] = v & 0xff; c[off + 1] = v >> 8; }
void cfg_w32(uint8_t *c, unsigned off, uint32_t v) { cfg_w16(c, off, v & 0xffff); cfg_w16(c, off + 2, v >> 16); }
uint16_t cfg_r16(const uint8_t *c, unsigned off) { return (uint16_t)(c[off] | c[off + 1] << 8); }
uint32_t cfg_r32(const uint8_t *c, unsigned off) { return cfg_r16(c, off) | (uint32_t)cfg_r16(c, off + 2) << 16; }

/* Where the capabilities go. The standard list: PM -> PCI Express -> MSI. */
#define POS_PM      0x50
#define POS_PCIE    0x64
#define POS_MSI     0xa0
#define POS_EXT     0x100
#define SRIOV_LEN   0x40
#define ARI_LEN     0x08

static void ext_hdr(uint8_t *c, unsigned pos, uint16_t id, uint8_t ver, uint16_t next) {
        cfg_w32(c, pos, id | (uint32_t)ver << 16 | (uint32_t)next << 20);
}

static void set_ext_next(uint8_t *c, unsigned pos, uint16_t next) {
        cfg_w32(c, pos, (cfg_r32(c, pos) & 0x000fffff) | (uint32_t)next << 20);
}

static uint32_t bar_type_bits(const struct sim_bar *b) {
        return (b->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b->prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

static void write_bars(uint8_t *c, unsigned base, const struct sim_bar *bars, bool with_addr) {
        for (unsigned i = 0; i < SIM_BARS; i++) {
                const struct sim_bar *b = &bars[i];
                if (!b->size)
                        continue;
                uint64_t v = (with_addr ? b->addr : 0) | bar_type_bits(b);
                cfg_w32(c, base + 4 * i, (uint32_t)v);
                if (b->is64 && i + 1 < SIM_BARS)
                        cfg_w32(c, base + 4 * (i + 1), (uint32_t)(v >> 32));
        }
}

static unsigned pcie_port_type(const struct sim_fn *fn) {
        switch (fn->kind) {
        case FN_ROOT_PORT: return PCI_EXP_TYPE_ROOT_PORT;
        case FN_UPSTREAM: return PCI_EXP_TYPE_UPSTREAM;
        case FN_DOWNSTREAM: return PCI_EXP_TYPE_DOWNSTREAM;
        default: return PCI_EXP_TYPE_ENDPOINT;
        }
}

static void build_pcie_cap(struct sim_fn *fn, uint8_t next) {
        uint8_t *c = fn->config;
        unsigned p = POS_PCIE, type = pcie_port_type(fn);
        bool port = type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_DOWNSTREAM;
        bool vf = fn->kind == FN_VF;
        fn->pcie_pos = p;
        cfg_w8(c, p, PCI_CAP_ID_EXP);
        cfg_w8(c, p + 1, next);
        cfg_w16(c, p + PCI_EXP_FLAGS, 2 | type << 4 | (port ? PCI_EXP_FLAGS_SLOT : 0));
        /* 256-byte payload, extended tags, role-based errors; endpoints can do a function-level reset */
        cfg_w32(c, p + PCI_EXP_DEVCAP, 0x1 | PCI_EXP_DEVCAP_EXT_TAG | PCI_EXP_DEVCAP_RBE |
                                           (type == PCI_EXP_TYPE_ENDPOINT ? PCI_EXP_DEVCAP_FLRESET : 0));
        cfg_w16(c, p + PCI_EXP_DEVCTL, vf ? 0 : 0x2000 | 0x0020 | PCI_EXP_DEVCTL_EXT_TAG | PCI_EXP_DEVCTL_RELAXED);
        if (!vf) { /* a VF's link registers are reserved */
                uint8_t port_no = fn->addr.dev;
                cfg_w32(c, p + PCI_EXP_LNKCAP, 3 | 16 << 4 | (uint32_t)port_no << 24);
                cfg_w16(c, p + PCI_EXP_LNKSTA, 3 | 16 << 4 | PCI_EXP_LNKSTA_SL_CLK);
                cfg_w16(c, p + PCI_EXP_LNKCTL2, 3);
                cfg_w32(c, p + PCI_EXP_LNKCAP2, 0x0e);
        }
        if (port) {
                cfg_w32(c, p + PCI_EXP_SLTCAP, (uint32_t)(fn->addr.dev + 1) << 19);
                cfg_w16(c, p + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PRES);
        }
        uint32_t devcap2 = 0x1f; /* completion timeout ranges + disable */
        uint16_t devctl2 = 0;
        if (port) {
                devcap2 |= PCI_EXP_DEVCAP2_ARI;
                if (fn->host->ari)
                        devctl2 |= PCI_EXP_DEVCTL2_ARI;
        }
        cfg_w32(c, p + PCI_EXP_DEVCAP2, devcap2);
        cfg_w16(c, p + PCI_EXP_DEVCTL2, devctl2);
}

static void widen(uint64_t *lo, uint64_t *hi, uint64_t start, uint64_t size) {
        *lo = MIN(*lo, start);
        *hi = MAX(*hi, start + size - 1);
}

static void build_bridge_header(struct sim_fn *fn) {
        uint8_t *c = fn->config;
        struct sim_host *h = fn->host;
        /* bus numbers: secondary = the lowest bus below, subordinate = the highest; windows span the BARs below */
        unsigned sec = 0xff, sub = 0;
        uint64_t lo[2] = { UINT64_MAX, UINT64_MAX }, hi[2] = { 0, 0 }, vf_span[2] = { 0, 0 };
        for (size_t i = 0; i < h->n_fns; i++) {
                struct sim_fn *d = h->fns[i];
                struct sim_fn *a = d->parent;
                while (a && a != fn)
                        a = a->parent;
                if (!a)
                        continue;
                if (d->parent == fn && d->addr.bus < sec)
                        sec = d->addr.bus;
                if (d->addr.bus > sub)
                        sub = d->addr.bus;
                /* the buses a PF's VFs will take are reserved at enumeration (pci_iov_bus_range()) */
                if (d->pf && d->pf->total_vfs) {
                        unsigned last = sim_vf_rid(&d->addr, d->pf->vf_offset, d->pf->vf_stride, d->pf->total_vfs - 1) >> 8;
                        sub = MAX(sub, MIN(last, 255u));
                }
                for (unsigned b = 0; b < SIM_BARS; b++) {
                        const struct sim_bar *bar = &d->bars[b];
                        if (bar->size)
                                widen(&lo[bar->prefetch], &hi[bar->prefetch], bar->addr, bar->size);
                        if (d->pf && d->pf->total_vfs && d->pf->vf_bars[b].size) {
                                bar = &d->pf->vf_bars[b];
                                widen(&lo[bar->prefetch], &hi[bar->prefetch], bar->addr, bar->size * d->pf->total_vfs);
                                vf_span[bar->prefetch] += bar->size * d->pf->total_vfs;
                        }
                }
        }
        /* mmio_room: the firmware gave the bridges only that much for VF BARs (no Above 4G decoding);
         * the VF BARs come last, so the window ends where the room does */
        for (int w = 0; w < 2; w++)
                if (h->mmio_room && vf_span[w] > h->mmio_room && hi[w] - lo[w] > vf_span[w] - h->mmio_room)
                        hi[w] -= vf_span[w] - h->mmio_room;
        if (sec == 0xff)
                sec = sub = fn->addr.bus + 1;
        cfg_w8(c, PCI_PRIMARY_BUS, fn->addr.bus);
        cfg_w8(c, PCI_SECONDARY_BUS, sec);
        cfg_w8(c, PCI_SUBORDINATE_BUS, MAX(sec, sub));
        cfg_w8(c, PCI_IO_BASE, 0xf0); /* I/O window disabled: base above limit */
        for (int w = 0; w < 2; w++) {
                /* windows have 1 MiB granularity */
                if (lo[w] <= hi[w]) {
                        fn->win_start[w] = ALIGN_DOWN(lo[w], 1ull << 20);
                        fn->win_end[w] = ALIGN_UP(hi[w] + 1, 1ull << 20) - 1;
                } else {
                        fn->win_start[w] = 1;
                        fn->win_end[w] = 0;
                }
        }
        if (fn->win_start[0] <= fn->win_end[0]) {
                cfg_w16(c, PCI_MEMORY_BASE, (uint16_t)((fn->win_start[0] >> 16) & 0xfff0));
                cfg_w16(c, PCI_MEMORY_LIMIT, (uint16_t)((fn->win_end[0] >> 16) & 0xfff0));
        } else {
                cfg_w16(c, PCI_MEMORY_BASE, 0xfff0);
                cfg_w16(c, PCI_MEMORY_LIMIT, 0x0000);
        }
        if (fn->win_start[1] <= fn->win_end[1]) {
                cfg_w16(c, PCI_PREF_MEMORY_BASE, (uint16_t)(((fn->win_start[1] >> 16) & 0xfff0) | PCI_PREF_RANGE_TYPE_64));
                cfg_w16(c, PCI_PREF_MEMORY_LIMIT, (uint16_t)(((fn->win_end[1] >> 16) & 0xfff0) | PCI_PREF_RANGE_TYPE_64));
                cfg_w32(c, PCI_PREF_BASE_UPPER32, (uint32_t)(fn->win_start[1] >> 32));
                cfg_w32(c, PCI_PREF_LIMIT_UPPER32, (uint32_t)(fn->win_end[1] >> 32));
        } else {
                cfg_w16(c, PCI_PREF_MEMORY_BASE, 0xfff1);
                cfg_w16(c, PCI_PREF_MEMORY_LIMIT, 0x0001);
        }
}

static void build_sriov_cap(struct sim_fn *fn, unsigned pos, uint16_t next) {
        uint8_t *c = fn->config;
        struct sim_pf *pf = fn->pf;
        ext_hdr(c, pos, PCI_EXT_CAP_ID_SRIOV, 1, next);
        cfg_w16(c, pos + PCI_IOV_INITIALVF, pf->total_vfs);
        cfg_w16(c, pos + PCI_IOV_TOTALVF, pf->total_vfs);
        cfg_w16(c, pos + PCI_IOV_OFFSET, pf->vf_offset);
        cfg_w16(c, pos + PCI_IOV_STRIDE, pf->vf_stride);
        cfg_w16(c, pos + PCI_IOV_DID, pf->vf_device);
        cfg_w32(c, pos + PCI_IOV_SUPPS, 0x553);
        cfg_w32(c, pos + PCI_IOV_SYSPS, 0x1);
        write_bars(c, pos + PCI_IOV_BAR_BASE, pf->vf_bars, true);
        pf->sriov_pos = pos;
        cfg_sync_sriov(fn, pf->num_vfs);
}

void cfg_sync_sriov(struct sim_fn *fn, unsigned numvfs) {
        struct sim_pf *pf = fn->pf;
        if (!pf || !pf->sriov_pos)
                return;
        /* the kernel sets ARI Capable Hierarchy at enumeration when the port forwards ARI */
        uint16_t ctrl = fn->host->ari ? PCI_IOV_CTRL_ARI : 0;
        if (numvfs)
                ctrl |= PCI_IOV_CTRL_VFE | PCI_IOV_CTRL_MSE;
        cfg_w16(fn->config, pf->sriov_pos + PCI_IOV_CTRL, ctrl);
        cfg_w16(fn->config, pf->sriov_pos + PCI_IOV_NUMVF, numvfs);
}

void cfg_build(struct sim_fn *fn) {
        uint8_t *c = fn->config;
        bool bridge = fn->kind == FN_ROOT_PORT || fn->kind == FN_UPSTREAM || fn->kind == FN_DOWNSTREAM;
        bool vf = fn->kind == FN_VF;
        memset(c, 0, 4096);
        cfg_w16(c, PCI_VENDOR_ID, fn->vendor);
        cfg_w16(c, PCI_DEVICE_ID, fn->device);
        cfg_w16(c, PCI_COMMAND, vf ? 0 : PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cfg_w16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
        cfg_w8(c, PCI_REVISION_ID, fn->revision);
        cfg_w8(c, PCI_CLASS_PROG, fn->class & 0xff);
        cfg_w16(c, PCI_CLASS_DEVICE, (uint16_t)(fn->class >> 8));
        cfg_w8(c, PCI_CACHE_LINE_SIZE, vf ? 0 : 0x10);
        cfg_w8(c, PCI_HEADER_TYPE, bridge ? PCI_HEADER_TYPE_BRIDGE : PCI_HEADER_TYPE_NORMAL);
        cfg_w8(c, PCI_CAPABILITY_LIST, POS_PM);
        cfg_w8(c, PCI_INTERRUPT_LINE, vf ? 0 : (uint8_t)fn->irq);
        cfg_w8(c, PCI_INTERRUPT_PIN, vf ? 0 : 1);
        if (bridge) {
                write_bars(c, PCI_BASE_ADDRESS_0, fn->bars, true); /* only BAR0-1 exist on a bridge */
                build_bridge_header(fn);
        } else {
                /* VF BARs read as zero: they live in the PF's SR-IOV capability */
                if (!vf)
                        write_bars(c, PCI_BASE_ADDRESS_0, fn->bars, true);
                cfg_w16(c, PCI_SUBSYSTEM_VENDOR_ID, fn->subvendor);
                cfg_w16(c, PCI_SUBSYSTEM_ID, fn->subdevice);
        }
        /* Power management */
        cfg_w8(c, POS_PM, PCI_CAP_ID_PM);
        cfg_w8(c, POS_PM + 1, POS_PCIE);
        cfg_w16(c, POS_PM + 2, 0x0003);
        cfg_w16(c, POS_PM + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RST);
        build_pcie_cap(fn, vf ? 0 : POS_MSI);
        if (!vf) {
                cfg_w8(c, POS_MSI, PCI_CAP_ID_MSI);
                cfg_w8(c, POS_MSI + 1, 0);
                cfg_w16(c, POS_MSI + PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT);
        }

        /* Extended capabilities from 0x100: SR-IOV, ARI, then the GPU-IOV capability the card fills. */
        if (bridge)
                return;
        unsigned pos = POS_EXT;
        unsigned prev = 0;
        struct sim_pf *pf = fn->pf;
        if (pf && fn->host->sriov) {
                build_sriov_cap(fn, pos, 0);
                prev = pos;
                pos += SRIOV_LEN;
        }
        if (prev)
                set_ext_next(c, prev, pos);
        ext_hdr(c, pos, PCI_EXT_CAP_ID_ARI, 1, 0);
        if (pf)
                pf->ari_pos = pos;
        prev = pos;
        pos += ARI_LEN;
        if (pf && pf->layout != GPUIOV_NONE) {
                pos = ALIGN_UP(pos, 16);
                pf->gpuiov_pos = pos;
                set_ext_next(c, prev, pos);
                /* sim_card_new fills the capability; its next pointer stays 0 (the list ends here) */
        }
}

/* Bytes userspace may change through the config file; the rest reads back unchanged, like
 * read-only registers (the SR-IOV capability belongs to the kernel). */
static bool cfg_byte_writable(const struct sim_fn *fn, unsigned off) {
        if (off == PCI_COMMAND || off == PCI_COMMAND + 1 || off == PCI_CACHE_LINE_SIZE ||
            off == PCI_LATENCY_TIMER || off == PCI_INTERRUPT_LINE)
                return true;
        if (fn->pcie_pos) {
                unsigned p = fn->pcie_pos;
                if (off >= p + PCI_EXP_DEVCTL && off < p + PCI_EXP_DEVCTL + 2)
                        return true;
                if (off >= p + PCI_EXP_LNKCTL && off < p + PCI_EXP_LNKCTL + 2)
                        return true;
                if (off >= p + PCI_EXP_DEVCTL2 && off < p + PCI_EXP_DEVCTL2 + 2)
                        return true;
        }
        if (off >= POS_PM + PCI_PM_CTRL && off < POS_PM + PCI_PM_CTRL + 2)
                return true;
        return false;
}

int cfg_read(struct sim_fn *fn, char *buf, size_t size, off_t off) {
        if (off < 0)
                return -EINVAL;
        if (off >= 4096)
                return 0;
        size_t n = MIN(size, (size_t)(4096 - off));
        if (fn->pf && fn->pf->card)
                sim_card_tick(fn->pf->card, fn->config, sim_now_ns());
        memcpy(buf, fn->config + off, n);
        return (int)n;
}

int cfg_write(struct sim_fn *fn, const char *buf, size_t size, off_t off) {
        if (off < 0)
                return -EINVAL;
        if (off >= 4096)
                return 0;
        size_t n = MIN(size, (size_t)(4096 - off));
        struct sim_card *card = fn->pf ? fn->pf->card : NULL;
        unsigned cs = 0, ce = 0;
        if (card) {
                cs = fn->pf->gpuiov_pos;
                ce = cs + sim_card_cap_len(card);
        }
        unsigned lo = 4096, hi = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned o = (unsigned)off + (unsigned)i;
                if (card && o >= cs && o < ce) {
                        fn->config[o] = (uint8_t)buf[i];
                        lo = MIN(lo, o);
                        hi = MAX(hi, o + 1);
                } else if (cfg_byte_writable(fn, o)) {
                        fn->config[o] = (uint8_t)buf[i];
                }
        }
        if (card && lo < hi)
                sim_card_config_written(card, fn->config, lo, hi - lo, sim_now_ns());
        return (int)n;
}
