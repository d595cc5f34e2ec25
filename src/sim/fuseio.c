// SPDX-License-Identifier: MIT
// The simulator's own FUSE device I/O: lets writes to one sysfs file run in parallel, as on kernfs,
// and answers the kernel's interrupts itself.
//
// The kernel's FUSE takes a file's inode lock for every write unless the open reply carries
// FOPEN_PARALLEL_DIRECT_WRITES. Without it every VF bind (all go through the one drivers_probe
// file) would wait for the previous one, which the real kernel does not do: kernfs serialises
// writes per open file only, and binds of different devices run concurrently. libfuse 3.14 has no
// field for the flag, so the open reply is amended on its way to /dev/fuse.
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuseio.h"

/* Set by the open handler; libfuse writes the open's reply from the same thread right after. */
static _Thread_local bool open_wants_parallel;

void sim_fuseio_parallel_writes(void) {
        open_wants_parallel = true;
}

static ssize_t fuseio_writev(int fd, struct iovec *iov, int count, void *userdata) {
        (void)userdata;
        if (open_wants_parallel) {
                open_wants_parallel = false;
                struct fuse_out_header *h = count == 2 && iov[0].iov_len == sizeof(*h) ? iov[0].iov_base : NULL;
                if (h && h->error == 0 && iov[1].iov_len == sizeof(struct fuse_open_out))
                        ((struct fuse_open_out *)iov[1].iov_base)->open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
        }
        return writev(fd, iov, count);
}

/* FUSE_INTERRUPT is answered here with ENOSYS, which tells the kernel to send no more (its
 * no_interrupt): the simulator finishes every request anyway, and libfuse 3.14 keeps an interrupt
 * whose request has already been answered on a list that nothing frees, a leak at exit. */
static ssize_t fuseio_read(int fd, void *buf, size_t len, void *userdata) {
        (void)userdata;
        for (;;) {
                ssize_t n = read(fd, buf, len);
                const struct fuse_in_header *in = buf;
                if (n < (ssize_t)sizeof(*in) || in->opcode != FUSE_INTERRUPT)
                        return n;
                struct fuse_out_header out = { .len = sizeof(out), .error = -ENOSYS, .unique = in->unique };
                /* ENOENT when the request it names was answered meanwhile: nothing to tell then */
                (void)!write(fd, &out, sizeof(out));
        }
}

int sim_fuseio_install(struct fuse *f) {
        static const struct fuse_custom_io io = { .writev = fuseio_writev, .read = fuseio_read };
        struct fuse_session *se = fuse_get_session(f);
        int fd = fuse_session_fd(se);
        if (fd < 0)
                return -EBADF;
        /* the descriptor stays the mounted one; only the calls on it are ours */
        return fuse_session_custom_io(se, &io, fd);
}
