/* SPDX-License-Identifier: MIT */
/* mxgpud's command line. */
#pragma once

#include <stdbool.h>

struct mxgpud_options {
        const char *config;       /* main config file */
        const char *config_dir;   /* drop-in folder */
        bool config_dir_given;    /* --config-dir named it: it must exist (the defaults may be missing) */
        const char *state_dir;    /* overrides [daemon] state_dir */
        const char *root;         /* simulated host root ("" = the real host) */
        const char *socket;       /* control socket path */
        bool once;                /* apply and exit */
        bool check_config;        /* validate, print every problem, touch nothing */
        bool foreground;          /* log to the terminal (mxgpud never forks; kept for users who expect it) */
        int log_level;            /* -1 = from config / environment */
};

/* Parse argv. Returns 0 to run, 1 when --help/--version printed and the program should exit 0,
 * or -EINVAL after printing a message that names the argument and what is allowed. */
int mxgpud_parse_options(int argc, char **argv, struct mxgpud_options *ret);
