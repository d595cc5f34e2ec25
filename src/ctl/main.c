// SPDX-License-Identifier: MIT
// mxgpuctl's entry point: global options, the verb lookup, and the daemon connection a verb needs.
#include "ctl.h"

int ctl_main(int argc, char **argv);

int main(int argc, char **argv) {
        return ctl_main(argc, argv);
}
