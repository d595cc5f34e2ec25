/* SPDX-License-Identifier: MIT */
/* The daemon's manager: the event loop, signals, readiness and the per-PF work it drives. */
#pragma once

#include "options.h"

/* Run mxgpud with parsed options; returns the process exit code (daemon.h). */
int manager_main(const struct mxgpud_options *opt);
