// SPDX-License-Identifier: MIT
// mxgpud's entry point: everything else is in libmxgpud so tests can link it.
#include "daemon.h"

int main(int argc, char **argv) {
        return mxgpud_main(argc, argv);
}
