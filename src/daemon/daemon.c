// SPDX-License-Identifier: MIT
// mxgpud's top level: options, logging, the manager's life cycle and the exit code.
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "options.h"

int mxgpud_main(int argc, char **argv) {
        struct mxgpud_options opt;
        int r = mxgpud_parse_options(argc, argv, &opt);
        if (r != 0)
                return r > 0 ? MXGPUD_EXIT_OK : MXGPUD_EXIT_CONFIG;
        if (opt.log_level >= 0)
                mx_log_set_level(opt.log_level);
        r = opt.root ? mx_root_set(opt.root) : mx_root_from_env();
        if (r < 0) {
                if (opt.root)
                        log_error("--root %s: %s", opt.root, mx_root_error(r));
                else
                        log_error("$" ENV_ROOT "=%s: %s", getenv(ENV_ROOT), mx_root_error(r));
                return MXGPUD_EXIT_CONFIG;
        }
        return manager_main(&opt);
}
