// SPDX-License-Identifier: MIT
// The simulator's own FUSE device I/O: lets writes to one sysfs file run in parallel, as on kernfs.
#pragma once

struct fuse;

/* Take over the I/O of a mounted filesystem's /dev/fuse descriptor. */
int sim_fuseio_install(struct fuse *f);

/* Called from an open handler: the reply to this open lets the kernel run direct writes to the
 * file concurrently (FOPEN_PARALLEL_DIRECT_WRITES). */
void sim_fuseio_parallel_writes(void);
