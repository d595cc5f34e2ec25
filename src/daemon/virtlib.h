/* SPDX-License-Identifier: MIT */
/* libvirt loaded when the daemon first needs it (dlopen of libvirt.so.0), behind one table of
 * function pointers: mxgpud does not link libvirt, so a host without it runs everything but the pools. */
#pragma once

#include <stdbool.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* Every libvirt function the daemon calls. The types come from libvirt's headers. */
#define VIRT_LIB_FUNCTIONS(X)                                                                                          \
        X(virConnectClose)                                                                                             \
        X(virConnectDomainEventDeregisterAny)                                                                          \
        X(virConnectDomainEventRegisterAny)                                                                            \
        X(virConnectListAllDomains)                                                                                    \
        X(virConnectNodeDeviceEventDeregisterAny)                                                                      \
        X(virConnectNodeDeviceEventRegisterAny)                                                                        \
        X(virConnectOpen)                                                                                              \
        X(virConnectRegisterCloseCallback)                                                                             \
        X(virConnectSetKeepAlive)                                                                                      \
        X(virDomainAttachDeviceFlags)                                                                                  \
        X(virDomainDetachDeviceFlags)                                                                                  \
        X(virDomainFree)                                                                                               \
        X(virDomainGetName)                                                                                            \
        X(virDomainGetUUIDString)                                                                                      \
        X(virDomainGetXMLDesc)                                                                                         \
        X(virDomainIsActive)                                                                                           \
        X(virDomainIsPersistent)                                                                                       \
        X(virDomainLookupByName)                                                                                       \
        X(virEventRegisterImpl)                                                                                        \
        X(virGetLastError)                                                                                             \
        X(virNodeDeviceDetachFlags)                                                                                    \
        X(virNodeDeviceFree)                                                                                           \
        X(virNodeDeviceGetName)                                                                                        \
        X(virNodeDeviceLookupByName)                                                                                   \
        X(virSetErrorFunc)

struct virt_lib {
#define VIRT_LIB_FIELD(name) typeof(name) *name;
        VIRT_LIB_FUNCTIONS(VIRT_LIB_FIELD)
#undef VIRT_LIB_FIELD
};

/* The table; its pointers are valid once virt_lib_load() succeeded. Call as libvirt.virConnectOpen(...). */
extern struct virt_lib libvirt;

/* Load libvirt.so.0 (or $MXGPU_LIBVIRT_LIBRARY, for tests) and resolve every function, once; later
 * calls return the first outcome. Returns 0, or -ENOPKG (the library cannot be loaded) or -ELIBBAD
 * (a function is missing: too old), with the reason in virt_lib_error(). Never unloads: libvirt
 * keeps threads and atexit handlers. */
int virt_lib_load(void);
bool virt_lib_loaded(void);
/* Why the last virt_lib_load() failed, in plain words ("" when it did not). */
const char *virt_lib_error(void);
