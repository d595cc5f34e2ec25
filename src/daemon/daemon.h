/* SPDX-License-Identifier: MIT */
/* mxgpud as a library: the whole program behind one call, for main() and for tests. */
#pragma once

/* Exit codes of mxgpud (documented in mxgpud(8)). */
enum {
        MXGPUD_EXIT_OK = 0,
        MXGPUD_EXIT_DEGRADED = 1,   /* --once: a PF failed or is degraded */
        MXGPUD_EXIT_CONFIG = 2,     /* invalid config or arguments */
        MXGPUD_EXIT_ENV = 3,        /* the platform or environment is not usable */
};

int mxgpud_main(int argc, char **argv);
