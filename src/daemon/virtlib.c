// SPDX-License-Identifier: MIT
// libvirt.so.0 loaded on first use, its functions resolved once into one table (virtlib.h).
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mxgpu/names.h"
#include "virtlib.h"

struct virt_lib libvirt;

static int load_result = 1; /* 1: not tried yet */
static char load_error[512];

int virt_lib_load(void) {
        if (load_result <= 0)
                return load_result;
        const char *name = getenv(ENV_LIBVIRT_LIBRARY);
        if (!name || !*name)
                name = LIBVIRT_SONAME;
        void *dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                const char *e = dlerror();
                snprintf(load_error, sizeof(load_error), "libvirt is not installed (%s cannot be loaded: %s)", name,
                         e ? e : "?");
                return (load_result = -ENOPKG);
        }
        struct virt_lib t = {};
#define VIRT_LIB_RESOLVE(fn)                                                                                          \
        if (!(t.fn = (typeof(t.fn))dlsym(dl, #fn))) {                                                                  \
                snprintf(load_error, sizeof(load_error), "%s lacks %s: libvirt is too old", name, #fn);                \
                dlclose(dl);                                                                                           \
                return (load_result = -ELIBBAD);                                                                       \
        }
        VIRT_LIB_FUNCTIONS(VIRT_LIB_RESOLVE)
#undef VIRT_LIB_RESOLVE
        libvirt = t;
        load_error[0] = 0;
        return (load_result = 0);
}

bool virt_lib_loaded(void) {
        return load_result == 0;
}

const char *virt_lib_error(void) {
        return load_error;
}
