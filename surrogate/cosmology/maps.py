"""Projected density-contrast maps of slabs of a periodic box, along the three axes.

Map ``i`` of ``n_maps`` projects along axis ``i % 3`` the slab number ``i // 3``; the box is cut
into ``ceil(n_maps / 3)`` slabs of equal thickness along each axis, so the maps of one axis tile the
box. A pixel holds delta_2D = Sigma / Sigma_mean - 1, the surface density of the slab's particles
(2D cloud-in-cell onto P x P nodes, node (u, v) at transverse coordinates (u, v) box/P) divided by
its mean for that slab thickness. The two transverse axes keep their order: projecting along x
gives (y, z) maps, along y (x, z), along z (x, y).
"""
from __future__ import annotations

import math

import numpy as np

_CORNERS_2D = [(du, dv) for du in (0, 1) for dv in (0, 1)]


def slabs_per_axis(n_maps: int) -> int:
    return math.ceil(n_maps / 3)


def slab_maps(positions_mpc_h, box_mpc_h: float, map_size: int, n_maps: int) -> np.ndarray:
    """(n_maps, map_size, map_size) float32 projected density contrast of slabs (see module doc).

    ``positions_mpc_h`` is a (P, 3) torch tensor in [0, box); the work runs on its device.
    """
    import torch

    if n_maps < 1 or map_size < 2:
        raise ValueError(f"need n_maps >= 1 and map_size >= 2, got {n_maps}, {map_size}")
    n_slabs = slabs_per_axis(n_maps)
    thickness = box_mpc_h / n_slabs
    expected = len(positions_mpc_h) / (n_slabs * map_size * map_size)
    maps = np.empty((n_maps, map_size, map_size), dtype=np.float32)
    for axis in range(3):
        wanted = list(range(axis, n_maps, 3))
        if not wanted:
            continue
        u_axis, v_axis = [other for other in range(3) if other != axis]
        slab = torch.clamp((positions_mpc_h[:, axis] / thickness).to(torch.int64), 0, n_slabs - 1)
        cells = positions_mpc_h[:, (u_axis, v_axis)] * (map_size / box_mpc_h)
        base = torch.floor(cells)
        frac = cells - base
        base = base.to(torch.int64)
        surface = torch.zeros(n_slabs * map_size * map_size, dtype=positions_mpc_h.dtype,
                              device=positions_mpc_h.device)
        for du, dv in _CORNERS_2D:
            iu = torch.remainder(base[:, 0] + du, map_size)
            iv = torch.remainder(base[:, 1] + dv, map_size)
            weight = (frac[:, 0] if du else 1.0 - frac[:, 0]) * (frac[:, 1] if dv else 1.0 - frac[:, 1])
            surface.index_add_(0, (slab * map_size + iu) * map_size + iv, weight)
        surface = surface.view(n_slabs, map_size, map_size).cpu().numpy()
        maps[wanted] = surface[[index // 3 for index in wanted]] / expected - 1.0
    return maps
