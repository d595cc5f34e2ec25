/* SPDX-License-Identifier: MIT */
/* PCI addresses ("0000:03:00.0"): strict parsing and formatting. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct pci_addr {
        uint16_t domain;
        uint8_t bus, dev, fn; /* dev 0-31, fn 0-7 */
};

#define PCI_ADDR_STRLEN 16 /* "dddd:bb:dd.f" + NUL, with room */

/* Accepts "dddd:bb:dd.f" and "bb:dd.f" (domain 0), hex, case-insensitive. -EINVAL otherwise. */
int pci_addr_parse(const char *s, struct pci_addr *ret);
/* Always "dddd:bb:dd.f", lower case. Returns buf. */
char *pci_addr_format(const struct pci_addr *a, char buf[static PCI_ADDR_STRLEN]);
/* Routing ID (bus << 8 | devfn) and back. */
uint16_t pci_addr_rid(const struct pci_addr *a);
void pci_addr_from_rid(uint16_t domain, uint16_t rid, struct pci_addr *ret);
bool pci_addr_valid(const char *s);
