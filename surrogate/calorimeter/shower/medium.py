"""The periodic slab structure along z that particles are transported through.

The calorimeter is ``n_periods`` repeats of a stack of slabs, unbounded in x and y, with vacuum in front
(z < 0) and behind (z > depth). A particle sitting exactly on a boundary belongs to the slab it is
moving into, so every position is located together with the direction of flight.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surrogate.calorimeter.geometry import Geometry
from surrogate.calorimeter.materials import Material, get_material
from surrogate.errors import SurrogateError

_NUDGE_MM = 1e-9  # how far past a boundary a particle on it is looked for


@dataclass(frozen=True)
class SlabMedium:
    """Slab bounds within one period, each slab's material index and readout flag."""

    materials: tuple[Material, ...]
    bounds_mm: np.ndarray  # (n_slabs + 1,) from 0 to the period
    material_index: np.ndarray  # (n_slabs,)
    active: np.ndarray  # (n_slabs,) bool
    n_periods: int

    @classmethod
    def from_geometry(cls, geometry: Geometry) -> SlabMedium:
        if not geometry.stack or geometry.n_periods < 1:
            raise SurrogateError(f"geometry {geometry.name!r} has no material stack to simulate")
        names = list(dict.fromkeys(slab.material for slab in geometry.stack))
        thickness = [slab.thickness_mm for slab in geometry.stack]
        if min(thickness) <= 0:
            raise SurrogateError(f"geometry {geometry.name!r} has a slab of zero thickness")
        return cls(
            materials=tuple(get_material(n) for n in names),
            bounds_mm=np.concatenate([[0.0], np.cumsum(thickness)]),
            material_index=np.array([names.index(slab.material) for slab in geometry.stack], dtype=np.intp),
            active=np.array([slab.active for slab in geometry.stack], dtype=bool),
            n_periods=geometry.n_periods,
        )

    @property
    def n_slabs(self) -> int:
        return len(self.material_index)

    @property
    def period_mm(self) -> float:
        return float(self.bounds_mm[-1])

    @property
    def depth_mm(self) -> float:
        return self.period_mm * self.n_periods

    @property
    def thickness_mm(self) -> np.ndarray:
        return np.diff(self.bounds_mm)

    def locate(self, z_mm: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slab index within the period, and the slab's lower and upper z, for points moving with ``w``."""
        probe = z_mm + np.where(w >= 0, _NUDGE_MM, -_NUDGE_MM)
        period = np.floor(probe / self.period_mm)
        offset = probe - period * self.period_mm
        slab = np.clip(np.searchsorted(self.bounds_mm, offset, side="right") - 1, 0, self.n_slabs - 1)
        start = period * self.period_mm
        return slab, start + self.bounds_mm[slab], start + self.bounds_mm[slab + 1]

    def clamp_into(self, z_mm: np.ndarray, slab: np.ndarray, margin_mm: float) -> np.ndarray:
        """Move points on or a rounding error outside the edges of their slab just inside it."""
        lower = self.bounds_mm[slab]
        upper = self.bounds_mm[slab + 1]
        period = np.round((z_mm - 0.5 * (lower + upper)) / self.period_mm)
        start = period * self.period_mm
        return np.clip(z_mm, start + lower + margin_mm, start + upper - margin_mm)

    def photon_flight(self, z_mm: np.ndarray, w: np.ndarray, optical_depth: np.ndarray,
                      mu_per_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Path length to the interaction point of photons that must cross ``optical_depth`` mean free paths.

        mu_per_mm: (n_materials, n) attenuation of each photon in each material. Whole periods are
        skipped at once, so a photon costs a few vectorised operations however far it flies.
        Returns the path length (mm) and the slab index of the interaction point.
        """
        slab, z_lo, z_hi = self.locate(z_mm, w)
        abs_w = np.abs(w)
        forward = w >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            to_exit = np.where(forward, z_hi - z_mm, z_mm - z_lo) / abs_w
        n = z_mm.size
        columns = np.arange(n)
        mu_slab = mu_per_mm[self.material_index, :]  # (n_slabs, n)
        mu_here = mu_slab[slab, columns]
        tau_here = mu_here * to_exit
        path = np.empty(n)
        final_slab = slab.copy()
        done = optical_depth < tau_here
        path[done] = optical_depth[done] / mu_here[done]
        rest = ~done
        if rest.any():
            idx = np.nonzero(rest)[0]
            tau = optical_depth[idx] - tau_here[idx]
            walked = to_exit[idx]
            fw = forward[idx]
            aw = abs_w[idx]
            step = np.where(fw, 1, -1)
            current = (slab[idx] + step) % self.n_slabs
            tau_layer = mu_slab[:, idx] * self.thickness_mm[:, None] / aw  # (n_slabs, m)
            tau_period = tau_layer.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                skipped = np.where(tau_period > 0, np.floor(tau / tau_period), np.inf)
            skipped = np.minimum(skipped, self.n_periods + 1)
            tau = np.maximum(tau - skipped * tau_period, 0.0)
            walked = walked + skipped * self.period_mm / aw
            open_ = np.ones(idx.size, dtype=bool)
            local = np.arange(idx.size)
            for _ in range(self.n_slabs):
                tau_c = tau_layer[current, local]
                stop = open_ & (tau < tau_c)
                mu_c = mu_slab[current, idx]
                with np.errstate(divide="ignore", invalid="ignore"):
                    inner = np.where(mu_c > 0, tau / mu_c, np.inf)
                path_stop = walked + inner
                path[idx[stop]] = path_stop[stop]
                final_slab[idx[stop]] = current[stop]
                open_ &= ~stop
                tau = np.where(open_, tau - tau_c, tau)
                walked = np.where(open_, walked + self.thickness_mm[current] / aw, walked)
                current = np.where(open_, (current + step) % self.n_slabs, current)
            # left over: photons leaving the calorimeter (skips were capped), or a rounding error past a
            # whole period (the photon then interacts at the next boundary)
            path[idx[open_]] = walked[open_]
            final_slab[idx[open_]] = current[open_]
        return path, final_slab
