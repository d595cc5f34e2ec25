// SPDX-License-Identifier: MIT
// Live framebuffer resize: search sets of idle VFs to move, smallest first, and pack them with the resized VF into free gaps.
#include <errno.h>
#include <string.h>

#include "mxgpu/fballoc.h"

struct gap {
        uint32_t start, len;
};

struct item {
        unsigned vf;
        uint32_t size;
};

int fb_layout_check(const struct fb_layout *l) {
        if (l->n_vfs > MX_MAX_GPU_VFS || l->area_start_mib % FB_ALIGN_MIB || l->area_end_mib < l->area_start_mib)
                return -EINVAL;
        for (unsigned i = 0; i < l->n_vfs; i++) {
                const struct fb_vf *a = &l->vf[i];
                if (a->size_mib == 0)
                        continue;
                if (a->offset_mib % FB_ALIGN_MIB || a->size_mib % FB_ALIGN_MIB || a->size_mib < FB_MIN_VF_MIB ||
                    a->offset_mib < l->area_start_mib || (uint64_t)a->offset_mib + a->size_mib > l->area_end_mib)
                        return -EINVAL;
                for (unsigned j = i + 1; j < l->n_vfs; j++) {
                        const struct fb_vf *b = &l->vf[j];
                        if (b->size_mib && a->offset_mib < b->offset_mib + b->size_mib && b->offset_mib < a->offset_mib + a->size_mib)
                                return -EINVAL;
                }
        }
        return 0;
}

/* Free gaps of the area around the VFs in keep (bitmap), ascending. */
static unsigned free_gaps(const struct fb_layout *l, uint32_t keep, struct gap gaps[static MX_MAX_GPU_VFS + 1]) {
        unsigned order[MX_MAX_GPU_VFS], n = 0, ng = 0;
        for (unsigned i = 0; i < l->n_vfs; i++)
                if ((keep >> i) & 1) {
                        unsigned j = n++;
                        for (; j > 0 && l->vf[order[j - 1]].offset_mib > l->vf[i].offset_mib; j--)
                                order[j] = order[j - 1];
                        order[j] = i;
                }
        uint32_t pos = l->area_start_mib;
        for (unsigned k = 0; k < n; k++) {
                const struct fb_vf *v = &l->vf[order[k]];
                if (v->offset_mib > pos)
                        gaps[ng++] = (struct gap){ pos, v->offset_mib - pos };
                pos = v->offset_mib + v->size_mib;
        }
        if (l->area_end_mib > pos)
                gaps[ng++] = (struct gap){ pos, l->area_end_mib - pos };
        return ng;
}

/* Assign items (sorted by size, largest first) to gaps; gap_of[i] is the chosen gap. Backtracking. */
static bool pack(const struct item *items, unsigned n, unsigned k, uint32_t room[], unsigned ng, unsigned gap_of[]) {
        if (k == n)
                return true;
        for (unsigned g = 0; g < ng; g++) {
                if (room[g] < items[k].size)
                        continue;
                bool tried = false;  /* a gap with the same room as one already tried gives the same outcome */
                for (unsigned h = 0; h < g && !tried; h++)
                        tried = room[h] == room[g];
                if (tried)
                        continue;
                room[g] -= items[k].size;
                gap_of[k] = g;
                if (pack(items, n, k + 1, room, ng, gap_of))
                        return true;
                room[g] += items[k].size;
        }
        return false;
}

/* Try to place the target and the VFs in `moving` around the rest; with keep_target, the target must
 * stay at its offset. Fills *out on success. */
static bool try_placement(const struct fb_layout *cur, unsigned target, uint32_t new_size, uint32_t placed,
                          uint32_t moving, bool keep_target, struct fb_layout *out) {
        uint32_t keep = placed & ~moving & ~(1u << target);
        struct gap gaps[MX_MAX_GPU_VFS + 2];
        unsigned ng = free_gaps(cur, keep, gaps);
        struct item items[MX_MAX_GPU_VFS];
        unsigned n = 0;
        *out = *cur;

        /* The resized VF where it is: only the moved VFs are packed around it. */
        uint32_t off = cur->vf[target].offset_mib;
        bool in_place = false;
        if (keep_target) {
                if (!cur->vf[target].size_mib)
                        return false;
                for (unsigned g = 0; g < ng; g++)
                        if (gaps[g].start <= off && (uint64_t)off + new_size <= (uint64_t)gaps[g].start + gaps[g].len) {
                                /* split the gap around the target */
                                struct gap after = { off + new_size, gaps[g].start + gaps[g].len - (off + new_size) };
                                gaps[g].len = off - gaps[g].start;
                                gaps[ng++] = after;
                                in_place = true;
                                break;
                        }
                if (!in_place)
                        return false;
        }
        if (!in_place)
                items[n++] = (struct item){ target, new_size };
        for (unsigned i = 0; i < cur->n_vfs; i++)
                if ((moving >> i) & 1)
                        items[n++] = (struct item){ i, cur->vf[i].size_mib };
        /* largest first, ties by VF index: deterministic and prunes early */
        for (unsigned a = 1; a < n; a++)
                for (unsigned b = a; b > 0 && (items[b - 1].size < items[b].size ||
                                               (items[b - 1].size == items[b].size && items[b - 1].vf > items[b].vf)); b--) {
                        struct item t = items[b];
                        items[b] = items[b - 1];
                        items[b - 1] = t;
                }
        uint32_t room[MX_MAX_GPU_VFS + 2];
        unsigned gap_of[MX_MAX_GPU_VFS];
        for (unsigned g = 0; g < ng; g++)
                room[g] = gaps[g].len;
        if (!pack(items, n, 0, room, ng, gap_of))
                return false;
        /* Lay out each gap's items from its start, in the order they were assigned. */
        uint32_t fill[MX_MAX_GPU_VFS + 2];
        for (unsigned g = 0; g < ng; g++)
                fill[g] = gaps[g].start;
        for (unsigned k = 0; k < n; k++) {
                out->vf[items[k].vf].offset_mib = fill[gap_of[k]];
                fill[gap_of[k]] += items[k].size;
        }
        out->vf[target].size_mib = new_size;
        if (in_place)
                out->vf[target].offset_mib = off;
        return true;
}

/* Prefer the resized VF where it is (fewer changes); else anywhere. */
static bool try_subset(const struct fb_layout *cur, unsigned target, uint32_t new_size, uint32_t placed, uint32_t moving,
                       struct fb_layout *out) {
        return try_placement(cur, target, new_size, placed, moving, true, out) ||
               try_placement(cur, target, new_size, placed, moving, false, out);
}

int fb_resize(const struct fb_layout *cur, unsigned vf, uint32_t new_size_mib, struct fb_layout *ret_layout,
              struct fb_move ret_moves[static MX_MAX_GPU_VFS], unsigned *ret_n_moves) {
        if (fb_layout_check(cur) < 0 || vf >= cur->n_vfs || new_size_mib < FB_MIN_VF_MIB || new_size_mib % FB_ALIGN_MIB)
                return -EINVAL;
        if (cur->vf[vf].in_use)
                return -EBUSY;
        uint32_t placed = 0, movable = 0;
        for (unsigned i = 0; i < cur->n_vfs; i++)
                if (cur->vf[i].size_mib) {
                        placed |= 1u << i;
                        if (i != vf && !cur->vf[i].in_use)
                                movable |= 1u << i;
                }
        struct fb_layout out;
        /* Moving more VFs never hurts feasibility (each could go back where it was): if moving all
         * of them fails, nothing works. */
        if (!try_subset(cur, vf, new_size_mib, placed, movable, &out))
                return -ENOSPC;
        /* Subsets of the movable VFs by size, then by bitmap: the first that works moves the fewest. */
        unsigned n_movable = (unsigned)__builtin_popcount(movable);
        for (unsigned k = 0; k <= n_movable; k++) {
                /* enumerate submasks of movable with k bits */
                for (uint32_t sub = movable;; sub = (sub - 1) & movable) {
                        uint32_t m = movable & ~sub;  /* ascending-ish order over the complement */
                        if ((unsigned)__builtin_popcount(m) == k && try_subset(cur, vf, new_size_mib, placed, m, &out)) {
                                unsigned nm = 0;
                                for (unsigned i = 0; i < cur->n_vfs; i++)
                                        if (i != vf && out.vf[i].offset_mib != cur->vf[i].offset_mib)
                                                ret_moves[nm++] = (struct fb_move){ i, cur->vf[i].offset_mib,
                                                                                   out.vf[i].offset_mib, cur->vf[i].size_mib };
                                *ret_layout = out;
                                *ret_n_moves = nm;
                                return 0;
                        }
                        if (sub == 0)
                                break;
                }
        }
        return -ENOSPC;  /* unreachable: the full set worked */
}
