/* SPDX-License-Identifier: MIT */
/* Framebuffer allocator for live resize: give one VF a new size, moving as few idle VFs as possible. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mxgpu/plan.h"

struct fb_vf {
        uint32_t offset_mib, size_mib;   /* size 0: the VF has no memory (not placed) */
        bool in_use;                     /* assigned to a running guest: must not move or change */
};

struct fb_layout {
        uint32_t area_start_mib, area_end_mib;   /* the VF area: [vf_base, fb_available) */
        unsigned n_vfs;
        struct fb_vf vf[MX_MAX_GPU_VFS];
};

struct fb_move {
        unsigned vf;
        uint32_t from_mib, to_mib, size_mib;
};

/* Find a layout where VF vf has new_size_mib (>= 256, 16 MiB aligned), contiguous, inside the area,
 * overlapping nothing. Other VFs keep their place unless moving idle ones is needed; then the
 * fewest possible are moved (the resized VF itself may move and is not counted). In-use VFs never
 * move. On success *ret_layout is the new layout and ret_moves[0..*ret_n_moves) the other VFs that
 * moved (the resized VF's own new offset is in ret_layout). Returns 0, -EINVAL (bad arguments or an
 * invalid current layout), -EBUSY (vf is in use) or -ENOSPC (no layout exists). */
int fb_resize(const struct fb_layout *cur, unsigned vf, uint32_t new_size_mib, struct fb_layout *ret_layout,
              struct fb_move ret_moves[static MX_MAX_GPU_VFS], unsigned *ret_n_moves);

/* 0 if every placed VF is aligned, at least 256 MiB, inside the area and overlaps no other; -EINVAL otherwise. */
int fb_layout_check(const struct fb_layout *l);
