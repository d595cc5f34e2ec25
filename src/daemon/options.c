// SPDX-License-Identifier: MIT
// Parse mxgpud's command line; every error names the argument and what is allowed.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "mxgpu/log.h"
#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "options.h"

#ifndef MXGPU_VERSION
#define MXGPU_VERSION "0.1"
#endif

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mxgpud [OPTIONS]\n"
                "Partition MxGPU SR-IOV GPUs into virtual functions and keep them ready for VMs.\n\n"
                "  -c, --config FILE      main config file (default " DEFAULT_CONFIG ")\n"
                "      --config-dir DIR   drop-in folder (default " DEFAULT_CONFIG_DIR ")\n"
                "      --state-dir DIR    state folder (default: [daemon] state_dir, " DEFAULT_STATE_DIR ")\n"
                "      --root DIR         look up every sysfs and /dev path below DIR (a simulated host)\n"
                "      --socket PATH      control socket (default: [daemon] socket, " DEFAULT_SOCKET ")\n"
                "      --once             apply the config once and exit\n"
                "      --check-config     check the config against the hardware, print every problem, change nothing\n"
                "  -f, --foreground       stay in the foreground (mxgpud never forks; accepted for scripts)\n"
                "      --log-level LEVEL  err, warning, notice, info or debug\n"
                "  -h, --help             this text\n"
                "      --version          the version\n\n"
                "Exit status: 0 success; 1 a PF failed or degraded (--once); 2 invalid config or arguments;\n"
                "3 the platform or environment is not usable. See mxgpud(8).\n");
}

int mxgpud_parse_options(int argc, char **argv, struct mxgpud_options *o) {
        enum { OPT_CONFIG_DIR = 256, OPT_STATE_DIR, OPT_ROOT, OPT_SOCKET, OPT_ONCE, OPT_CHECK, OPT_LOG_LEVEL, OPT_VERSION };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "config-dir", required_argument, NULL, OPT_CONFIG_DIR },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "root", required_argument, NULL, OPT_ROOT },
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "once", no_argument, NULL, OPT_ONCE },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "foreground", no_argument, NULL, 'f' },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {}
        };
        *o = (struct mxgpud_options){ .config = DEFAULT_CONFIG, .config_dir = DEFAULT_CONFIG_DIR, .log_level = -1 };
        bool config_dir_set = false, config_set = false;
        int c;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:fh", longopts, NULL)) >= 0) {
                switch (c) {
                case 'c': o->config = optarg; config_set = true; break;
                case OPT_CONFIG_DIR: o->config_dir = optarg; config_dir_set = o->config_dir_given = true; break;
                case OPT_STATE_DIR: o->state_dir = optarg; break;
                case OPT_ROOT: o->root = optarg; break;
                case OPT_SOCKET: o->socket = optarg; break;
                case OPT_ONCE: o->once = true; break;
                case OPT_CHECK: o->check_config = true; break;
                case 'f': o->foreground = true; break;
                case OPT_LOG_LEVEL:
                        o->log_level = mx_log_parse_level(optarg);
                        if (o->log_level < 0) {
                                fprintf(stderr, "mxgpud: --log-level %s: use err, warning, notice, info or debug\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h': usage(stdout); return 1;
                case OPT_VERSION: printf("mxgpud %s\n", MXGPU_VERSION); return 1;
                case ':':
                        fprintf(stderr, "mxgpud: %s needs a value; see mxgpud --help\n", argv[optind - 1]);
                        return -EINVAL;
                default:
                        fprintf(stderr, "mxgpud: unknown option '%s'; see mxgpud --help\n", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "mxgpud: unexpected argument '%s': mxgpud takes options only; see mxgpud --help\n", argv[optind]);
                return -EINVAL;
        }
        /* Checked here, before anything runs: a bad path found later would come after the first cycle. */
        const struct {
                const char *option, *value;
                bool absolute;
        } paths[] = {
                { "--config", o->config, false },   { "--config-dir", o->config_dir, false },
                { "--state-dir", o->state_dir, true }, { "--socket", o->socket, true },
                { "--root", o->root, true },
        };
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
                const char *v = paths[i].value;
                if (v && (!v[0] || (paths[i].absolute && v[0] != '/'))) {
                        fprintf(stderr, "mxgpud: %s '%s': give %s path\n", paths[i].option, v,
                                paths[i].absolute ? "an absolute" : "a non-empty");
                        return -EINVAL;
                }
        }
        if (o->once && o->check_config) {
                fprintf(stderr, "mxgpud: --once and --check-config exclude each other\n");
                return -EINVAL;
        }
        /* A config file given elsewhere brings its drop-ins along: FILE.d next to it. */
        if (config_set && !config_dir_set) {
                static char dir[4096];
                snprintf(dir, sizeof(dir), "%s.d", o->config);
                o->config_dir = dir;
        }
        return 0;
}
