/* SPDX-License-Identifier: MIT */
/* mxgpuctl doctor: read-only checks of the platform (IOMMU, drivers, SR-IOV, ARI, MMIO room, host
 * drivers, libvirt) below the root (mx_root), each with a plain verdict and a fix. */
#pragma once

#include <stddef.h>

#include "mxgpu/pciaddr.h"

#define DEFAULT_LIBVIRT_SOCK "/run/libvirt/libvirt-sock"

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_check {
        char name[24];                     /* iommu, vfio-pci, pci-pf-stub, gpus, sriov, ari, mmio, pf-driver, vf-drivers, libvirt */
        char device[PCI_ADDR_STRLEN];      /* "" for host-wide checks */
        enum doctor_status status;
        char message[512];                 /* what was found, one line */
        char fix[384];                     /* what to do ("" when ok) */
};

struct doctor_report {
        struct doctor_check *checks;       /* owned */
        size_t n;
};

/* Run every check. libvirt_socket: the socket to try, as given; NULL = DEFAULT_LIBVIRT_SOCK below
 * the root. Returns 0 or -ENOMEM. */
int doctor_run(const char *libvirt_socket, struct doctor_report *ret);
void doctor_report_done(struct doctor_report *r);
const char *doctor_status_name(enum doctor_status s);
/* The worst status in the report. */
enum doctor_status doctor_worst(const struct doctor_report *r);
