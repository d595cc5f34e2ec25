/* SPDX-License-Identifier: MIT */
/* VF pools for libvirt domains: which VF a request gets (pure, tested), the assignments kept in the
 * state file, publication in libvirt's node device list, domain lifecycle and reconciliation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mxgpu/pciaddr.h"
#include "mxgpu/state.h"

struct manager;
struct ctl_call;

/* --- pure: the choice of a VF --- */

struct pool_vf {
        char addr[PCI_ADDR_STRLEN];
        char pf[PCI_ADDR_STRLEN];
        unsigned index;
        char pool[STATE_NAME_MAX];
        uint32_t memory_mib;           /* its framebuffer slice; 0 = unknown (generic device) */
        bool usable;                   /* on vfio-pci, its PF ready or degraded */
        bool dirty;                    /* returned, but the reset failed: not handed out */
        char domain[STATE_DOMAIN_MAX]; /* "" = free */
};

struct pool_request {
        const char *pool;              /* NULL = any pool */
        uint32_t memory_min_mib;       /* 0 = any size */
        const char *vf;                /* a given VF (canonical address), NULL = any */
};

/* The VF a request gets: the free, usable, clean VF of the pool whose memory fits best (the
 * smallest that is at least memory_min; ties: the lowest address). Returns 0 and *ret_index, or
 * -ENOENT (no such pool or VF), -EINVAL (the VF is in another pool), -EBUSY (the VF is assigned or
 * not usable), -ENOSPC (the pool has no free VF that fits: "pool exhausted"). why (may be NULL)
 * gets the reason of a refusal for people. */
int pool_pick(const struct pool_vf *vfs, size_t n, const struct pool_request *req, size_t *ret_index, char *why,
              size_t why_size);
/* Pick and take in one step for domain: the rule that two requests never get the same VF is that
 * a claim marks the VF before anything else can look at the list. Same returns as pool_pick. */
int pool_claim(struct pool_vf *vfs, size_t n, const struct pool_request *req, const char *domain, size_t *ret_index,
               char *why, size_t why_size);

/* The PCI addresses of a domain XML's <hostdev type='pci'> sources (canonical, malloc'ed array).
 * Returns 0 and the list (possibly empty), or -ENOMEM. */
int pool_hostdevs_from_xml(const char *xml, char (**ret)[PCI_ADDR_STRLEN], size_t *ret_n);
/* <hostdev mode='subsystem' type='pci' managed='no'> for addr into buf. Returns 0 or -EINVAL. */
int pool_hostdev_xml(const char *addr, char *buf, size_t size);
/* libvirt's node device name of a PCI address: pci_0000_03_02_0. */
int pool_nodedev_name(const char *addr, char *buf, size_t size);

/* --- the daemon's pools --- */

/* Every VF of every managed PF with vfio = yes, its pool and assignment, from the manager's last
 * cycle, its state and sysfs now. */
int pool_collect(struct manager *m, struct pool_vf **ret, size_t *ret_n);

/* True when vf_addr is assigned to a domain; *ret_domain (may be NULL) borrows its name until the
 * next change of assignments. For set-vfs/resize refusals and List's "vm" field. */
bool virt_vf_assigned(struct manager *m, const char *vf_addr, const char **ret_domain);

/* Start following libvirt at the config's libvirt_uri; the pools work once it is connected. */
int manager_pool_start(struct manager *m);
void manager_pool_stop(struct manager *m);
/* After a cycle: publish new VFs in libvirt. */
void manager_pool_changed(struct manager *m);

/* Control-socket handlers: io.mxgpu.Manager.Attach, Detach and Pool. */
int pool_handle_attach(struct ctl_call *call, struct json_object *params, void *userdata);
int pool_handle_detach(struct ctl_call *call, struct json_object *params, void *userdata);
int pool_handle_pool(struct ctl_call *call, struct json_object *params, void *userdata);
