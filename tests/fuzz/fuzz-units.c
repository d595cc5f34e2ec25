// SPDX-License-Identifier: MIT
// Fuzz harness: the parsers of what admins type (sizes, times, booleans, numbers, PCI addresses), in
// mxgpu.conf and on mxgpuctl's command line. Whatever one accepts must format and parse back the same.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mxgpu/pciaddr.h"
#include "mxgpu/units.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256)
                return 0;
        /* The parsers take C strings: the input up to its first NUL. */
        char s[257];
        memcpy(s, data, size);
        s[size] = 0;

        uint64_t v, back;
        const char *why = NULL;
        char buf[FORMAT_SIZE_MAX > FORMAT_TIME_MAX ? FORMAT_SIZE_MAX : FORMAT_TIME_MAX];
        if (parse_size_mib(s, &v, &why) == 0) {
                CHECK(parse_size_mib(format_size(buf, v), &back, NULL) == 0 && back == v);
        } else
                CHECK(why && why[0]); /* a refusal says what is allowed */
        why = NULL;
        if (parse_time_us(s, &v, &why) == 0) {
                CHECK(parse_time_us(format_time(buf, v), &back, NULL) == 0 && back == v);
        } else
                CHECK(why && why[0]);

        bool b;
        int r = parse_bool(s, &b);
        CHECK(r == 0 || r == -EINVAL);

        uint64_t max = size ? (uint64_t)data[0] << (8 * (size % 8)) : 0;
        r = parse_uint(s, max, &v);
        CHECK(r == 0 ? v <= max : r == -EINVAL || r == -ERANGE);

        struct pci_addr a, a2;
        char text[PCI_ADDR_STRLEN];
        if (pci_addr_parse(s, &a) == 0) {
                CHECK(a.dev < 32 && a.fn < 8);
                CHECK(pci_addr_parse(pci_addr_format(&a, text), &a2) == 0);
                CHECK(a.domain == a2.domain && a.bus == a2.bus && a.dev == a2.dev && a.fn == a2.fn);
                CHECK(pci_addr_valid(s));
        } else
                CHECK(!pci_addr_valid(s));
        return 0;
}
