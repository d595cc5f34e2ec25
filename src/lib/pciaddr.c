// SPDX-License-Identifier: MIT
// Parse and format PCI addresses; routing IDs for VF numbering (PF RID + offset + n * stride).
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mxgpu/pciaddr.h"

static int hexfield(const char **p, unsigned digits, unsigned *ret) {
        unsigned v = 0;
        for (unsigned i = 0; i < digits; i++) {
                char c = **p;
                if (!isxdigit((unsigned char)c))
                        return -EINVAL;
                v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10));
                (*p)++;
        }
        *ret = v;
        return 0;
}

int pci_addr_parse(const char *s, struct pci_addr *ret) {
        unsigned dom = 0, bus, dev, fn;
        const char *p = s;
        if (!s)
                return -EINVAL;
        size_t len = strlen(s);
        if (len == 12) {
                if (hexfield(&p, 4, &dom) < 0 || *p++ != ':')
                        return -EINVAL;
        } else if (len != 7)
                return -EINVAL;
        if (hexfield(&p, 2, &bus) < 0 || *p++ != ':' || hexfield(&p, 2, &dev) < 0 || *p++ != '.' ||
            hexfield(&p, 1, &fn) < 0 || *p)
                return -EINVAL;
        if (dev > 31 || fn > 7)
                return -EINVAL;
        *ret = (struct pci_addr){ .domain = (uint16_t)dom, .bus = (uint8_t)bus, .dev = (uint8_t)dev, .fn = (uint8_t)fn };
        return 0;
}

char *pci_addr_format(const struct pci_addr *a, char buf[static PCI_ADDR_STRLEN]) {
        snprintf(buf, PCI_ADDR_STRLEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev & 31u, a->fn & 7u);
        return buf;
}

uint16_t pci_addr_rid(const struct pci_addr *a) {
        return (uint16_t)(a->bus << 8 | a->dev << 3 | a->fn);
}

void pci_addr_from_rid(uint16_t domain, uint16_t rid, struct pci_addr *ret) {
        *ret = (struct pci_addr){ .domain = domain, .bus = (uint8_t)(rid >> 8), .dev = (rid >> 3) & 31, .fn = rid & 7 };
}

bool pci_addr_valid(const char *s) {
        struct pci_addr a;
        return pci_addr_parse(s, &a) == 0;
}
