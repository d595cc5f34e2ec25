/* SPDX-License-Identifier: MIT */
/* The simulated host: PCI functions, drivers, IOMMU groups and the kernel's rules that change them. */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mxgpu/gpuiov.h"
#include "mxgpu/macro.h"
#include "mxgpu/pciaddr.h"

struct sim_card;

enum fn_kind {
        FN_ROOT_PORT,   /* PCIe root port on bus 0 */
        FN_UPSTREAM,    /* switch upstream port */
        FN_DOWNSTREAM,  /* switch downstream port */
        FN_PF,          /* an endpoint, with or without SR-IOV */
        FN_VF,
};

enum sim_drv_id {
        DRVI_PCI_PF_STUB,
        DRVI_VFIO_PCI,
        DRVI_AMDGPU,
        DRVI_GIM,
        DRVI_NVME,
        DRVI_PCIEPORT,
        DRVI_COUNT,
};
#define DRVI_NONE (-1)

#define SIM_MAX_DYN_IDS 16
struct sim_driver {
        const char *name;
        struct { uint32_t vendor, device; } dyn_ids[SIM_MAX_DYN_IDS]; /* new_id; PCI_ANY_ID = ~0 */
        unsigned n_dyn_ids;
};

#define SIM_BARS 6
struct sim_bar {
        uint64_t size, addr;
        bool is64, prefetch;
};

/* SR-IOV state of a PF (absent when the PF has no SR-IOV capability). */
struct sim_pf {
        char model[32];
        enum gpuiov_layout layout;
        uint32_t fb_mib;
        unsigned total_vfs, num_vfs;
        bool autoprobe;
        uint16_t vf_device, vf_offset, vf_stride;
        struct sim_bar vf_bars[SIM_BARS]; /* per-VF sizes; addr = base of VF 0 */
        uint16_t sriov_pos, ari_pos, gpuiov_pos;
        struct sim_card *card;
        struct sim_fn **vfs;      /* total_vfs slots; NULL = absent */
        bool *vf_missing;         /* fault: that VF never appears */
};

/* VF n's routing ID: the PF's + First VF Offset + n x VF Stride (PCIe SR-IOV); its bus is the ID >> 8,
 * which may be past the PF's bus. Above 0xffff when the IDs run out (host files refuse that). */
static inline unsigned sim_vf_rid(const struct pci_addr *pf, unsigned offset, unsigned stride, unsigned n) {
        return pci_addr_rid(pf) + offset + n * stride;
}

struct sim_fn {
        struct sim_host *host;
        enum fn_kind kind;
        struct pci_addr addr;
        char bdf[PCI_ADDR_STRLEN];
        struct sim_fn *parent;    /* the bridge above it; NULL on bus 0 */
        uint16_t vendor, device, subvendor, subdevice;
        uint32_t class;
        uint8_t revision;
        struct sim_bar bars[SIM_BARS];
        uint64_t win_start[2], win_end[2]; /* bridges: memory and prefetchable windows (end < start: none) */
        int irq, numa_node;
        uint8_t config[4096];
        uint16_t pcie_pos;
        int drv;                  /* enum sim_drv_id or DRVI_NONE */
        char *driver_override;
        int iommu_group;          /* -1 = none */
        unsigned resets;
        char model[32];           /* "s7150", "nvme", "bridge", ... */
        /* SR-IOV */
        struct sim_pf *pf;        /* PF with the capability, else NULL */
        struct sim_fn *physfn;    /* VF: its PF */
        unsigned vf_index;
        /* VFIO group node state (bound to vfio-pci) */
        bool vfio_open;
        bool vfio_closing;        /* its holder's close() has reached us (FUSE flush); the release follows */
        int vfio_dev_index;       /* vfio-dev/vfioK, -1 when not bound to vfio-pci */
        uid_t vfio_uid;
        gid_t vfio_gid;
        mode_t vfio_mode;
        /* lifetime */
        bool dead;                /* removed from the host; freed at refs == 0 */
        unsigned refs;
        bool locked;              /* the kernel's device_lock, held across sleeps */
};

/* Per-operation delays in ns (--latency). */
struct sim_latency {
        uint64_t vf_enable, vf_enable_per_vf, vf_disable, bind, cmd;
};

struct sim_write_fault {
        char target[64];          /* PCI address, driver name or "bus" */
        char attr[32];
        int err;                  /* positive errno */
        unsigned count;
};

struct sim_slot; /* host.c: a bridge or PF of the host spec, as built at start */

struct sim_host {
        pthread_mutex_t lock;     /* one lock around the whole model */
        pthread_cond_t cond;      /* device locks, vfio group closes */
        bool iommu, ari, sriov, vfio_enable_sriov;
        uint64_t mmio_room;       /* bytes for VF BARs; 0 = unlimited */
        char *spec;
        struct sim_fn **fns;      /* live functions, sorted by address */
        size_t n_fns;
        struct sim_driver drivers[DRVI_COUNT];
        struct sim_latency lat;
        struct sim_write_fault faults[32];
        unsigned n_faults;
        int uevent_fd;            /* -1 = no uevents */
        bool shutting_down;
        bool starting;            /* building: no latency, no uevents */
        int next_irq;
        uint64_t mmio_next, mmio32_next;
        struct sim_slot *slots;   /* every bridge and PF of the spec, parents first: what a rescan finds */
        size_t n_slots;
};

/* A function a rescan brought back, and what to bind it to: a driver, DRVI_NONE, or
 * SIM_HOTPLUG_PROBE (offer it to the drivers in probe order, as device_attach() does). */
#define SIM_HOTPLUG_PROBE (-2)
struct sim_hotplug {
        struct sim_fn *fn;
        int drv;
};

/* --- host.c: building the host --- */
/* Build a host from SPEC (a preset expression or an INI file). On error, writes a message to err. */
int sim_host_new(const char *spec, const struct sim_latency *lat, struct sim_host **ret, char *err, size_t errsize);
void sim_host_free(struct sim_host *h);
const char *sim_host_presets_help(void);

/* Functions list (caller holds the lock). */
struct sim_fn *sim_fn_new(struct sim_host *h, enum fn_kind kind, const struct pci_addr *a, struct sim_fn *parent);
void sim_host_add_fn(struct sim_host *h, struct sim_fn *fn);
/* Take fn out of the host's list and mark it dead; the caller drops the host's reference. */
void sim_host_del_fn(struct sim_host *h, struct sim_fn *fn);
struct sim_fn *sim_host_find(struct sim_host *h, const char *bdf);
void sim_fn_ref(struct sim_fn *fn);
void sim_fn_unref(struct sim_fn *fn);
int sim_host_alloc_group(struct sim_host *h);
void sim_host_assign_mmio(struct sim_host *h, struct sim_fn *fn);
/* pci_rescan_bus() on every bus: each bridge and PF of the spec that is missing (removed) comes back
 * under its bridge with fresh state: config space at reset, a new card model, a new IOMMU group, its
 * original BAR addresses. They join the host unannounced; ret lists them in the kernel's order of
 * pci_bus_add_devices() (a bus's devices, then the buses below), for the caller to announce and bind.
 * The caller frees *ret. */
int sim_host_rescan(struct sim_host *h, struct sim_hotplug **ret, size_t *ret_n);
/* The function's directory below /sys, e.g. "devices/pci0000:00/0000:00:02.0/0000:03:00.0". */
int sim_fn_sysfs_dir(const struct sim_fn *fn, char *buf, size_t size);
/* Number of path components of that directory (for relative links). */
unsigned sim_fn_depth(const struct sim_fn *fn);

/* --- config_space.c --- */
void cfg_build(struct sim_fn *fn);
/* Write NumVFs and the control bits (VF Enable, MSE, ARI) of the PF's SR-IOV capability. */
void cfg_sync_sriov(struct sim_fn *pf, unsigned numvfs);
/* Userspace read/write of the config file at an offset; returns bytes or -errno. */
int cfg_read(struct sim_fn *fn, char *buf, size_t size, off_t off);
int cfg_write(struct sim_fn *fn, const char *buf, size_t size, off_t off);
void cfg_w8(uint8_t *c, unsigned off, uint8_t v);
void cfg_w16(uint8_t *c, unsigned off, uint16_t v);
void cfg_w32(uint8_t *c, unsigned off, uint32_t v);
uint16_t cfg_r16(const uint8_t *c, unsigned off);
uint32_t cfg_r32(const uint8_t *c, unsigned off);

/* --- kernel.c: the kernel's rules. Each store returns 0 or -errno; the lock is held on entry and exit
 * (it may be dropped inside, for latency sleeps and waits). --- */
int kstrtoull_kernel(const char *s, unsigned base, unsigned long long *ret);
int kstrtobool_kernel(const char *s, bool *ret);
int kern_store_sriov_numvfs(struct sim_host *h, struct sim_fn *fn, const char *buf);
int kern_store_autoprobe(struct sim_host *h, struct sim_fn *fn, const char *buf);
int kern_store_driver_override(struct sim_host *h, struct sim_fn *fn, const char *buf);
int kern_store_reset(struct sim_host *h, struct sim_fn *fn, const char *buf);
int kern_store_remove(struct sim_host *h, struct sim_fn *fn, const char *buf);
int kern_store_bind(struct sim_host *h, int drv, const char *buf);
int kern_store_unbind(struct sim_host *h, int drv, const char *buf);
int kern_store_new_id(struct sim_host *h, int drv, const char *buf);
int kern_store_drivers_probe(struct sim_host *h, const char *buf);
int kern_store_enable_sriov_param(struct sim_host *h, const char *buf);
/* /sys/bus/pci/rescan: re-adds the spec's missing functions (sim_host_rescan), then "add" and a driver for each. */
int kern_store_rescan(struct sim_host *h, const char *buf);
bool kern_drv_has_sriov_configure(const struct sim_host *h, int drv);
/* Bind a driver at start (host file's driver =); no uevents. */
int kern_bind_initial(struct sim_host *h, struct sim_fn *fn, int drv);
/* Surprise removal (fault) or remove attribute: the function, its VFs, its children vanish. */
void kern_remove_fn(struct sim_host *h, struct sim_fn *fn);
/* Fault check before a store: -errno when an armed fault fires, else 0. */
int kern_check_fault(struct sim_host *h, const char *target, const char *attr);
/* Sleep ns with the lock dropped. */
void sim_sleep_unlocked(struct sim_host *h, uint64_t ns);
uint64_t sim_now_ns(void);
void kern_uevent(struct sim_host *h, const char *action, struct sim_fn *fn, const char *extra_devpath,
                 const char *subsystem, const char *const *props);
const char *sim_drv_name(int drv);
int sim_drv_by_name(const char *name);
/* The sysfs "uevent" attribute text of a function. */
int sim_fn_uevent_text(const struct sim_fn *fn, char *buf, size_t size);
/* vfio: the node /dev/vfio/N is opened or closed. */
/* Open takes a reference on the function, release drops it. */
int kern_vfio_open(struct sim_host *h, int group, struct sim_fn **ret);
/* The holder closed its fd (FUSE flush): the release is on its way. */
void kern_vfio_closing(struct sim_host *h, struct sim_fn *fn);
void kern_vfio_release(struct sim_host *h, struct sim_fn *fn);
struct sim_fn *kern_vfio_fn(struct sim_host *h, int group);

/* --- status.c --- */
struct json_object *sim_status_json(struct sim_host *h);
int sim_latency_parse(const char *spec, struct sim_latency *lat, char *err, size_t errsize);
void sim_latency_default(struct sim_latency *lat);
int sim_errno_parse(const char *s);

/* --- fs.c / devfs.c --- */
struct fuse_operations;
extern const struct fuse_operations sim_sysfs_ops;
extern const struct fuse_operations sim_devfs_ops;
extern struct sim_host *sim_global_host;

/* --- control.c --- */
int control_server_start(struct sim_host *h, const char *path, int stop_fd);
void control_server_stop(void);
/* Send one request line; the reply body is written to out (may be NULL). Returns 0, or -errno from
 * the server's ERR line (message in errbuf), or -errno of the connection. */
int control_request(const char *sock, const char *line, char **ret_body, char *errbuf, size_t errsize);
