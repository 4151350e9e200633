"""Particle-mesh gravity in torch (CPU or GPU): CIC assignment, FFT Poisson solve, CIC force readout,
and kick-drift-kick steps in the scale factor with FastPM's growth-matched kick and drift factors.

Units: comoving positions in Mpc/h, time in 1/H0, momenta p = a^2 dx/dt (Mpc/h H0). The equations
are dx/da = p / (a^3 E) and dp/da = -grad psi / (a^2 E) with lap psi = 1.5 Omega_m delta. FastPM
(Feng et al. 2016) replaces the integrals over a step by ratios of growth functions, which makes a
step exact for a linear growing mode whatever its length: few steps then keep the large scales right.

Forces are interpolated back with the same CIC kernel as the mass assignment, so a particle exerts
no force on itself and momentum is conserved. The potential is -delta_k / (k^2 W(k)), W the CIC
window of the assignment (sinc^2 per axis, so the painting's smoothing is undone once), and its
gradient the 4-point finite difference (8 sin(kh) - sin(2kh)) / 6h of Hockney & Eastwood. With a
mesh finer than the particle lattice, an exact i k gradient amplifies the lattice's own mesh-scale
pattern until near-Nyquist modes run away; the finite difference does not, and it keeps the linear
growth of long waves within 1% (checked in the tests).
"""
from __future__ import annotations

import itertools
import logging
import math

import numpy as np

from surrogate.cosmology.initial_conditions import ParticleState, wavenumbers
from surrogate.cosmology.power_spectrum import GrowthHistory

_LOG = logging.getLogger(__name__)


def paint_cic(positions_cells, n: int, weights=None):
    """Cloud-in-cell mass assignment of unit (or ``weights``) masses onto an n^3 periodic mesh.

    ``positions_cells`` is (P, 3) in mesh-cell units (node i sits at coordinate i). Returns the mass
    per node, (n, n, n), in the positions' dtype; the total equals the total mass.
    """
    import torch

    base = torch.floor(positions_cells)
    upper_weight = positions_cells - base
    lower_weight = 1.0 - upper_weight
    if weights is not None:
        upper_weight[:, 0] *= weights
        lower_weight[:, 0] *= weights
    base = base.to(torch.int64)
    nodes = (torch.remainder(base, n), torch.remainder(base + 1, n))
    node_weights = (lower_weight, upper_weight)
    mesh = torch.zeros(n**3, dtype=positions_cells.dtype, device=positions_cells.device)
    for dx in (0, 1):
        index_x, weight_x = nodes[dx][:, 0] * (n * n), node_weights[dx][:, 0]
        for dy in (0, 1):
            index_xy = index_x + nodes[dy][:, 1] * n
            weight_xy = weight_x * node_weights[dy][:, 1]
            for dz in (0, 1):
                mesh.index_add_(0, index_xy + nodes[dz][:, 2], weight_xy * node_weights[dz][:, 2])
    return mesh.view(n, n, n)


def readout_cic(meshes, positions_cells):
    """Values of periodic meshes (C, n, n, n) (or one (n, n, n) mesh) at the particles: (C, P) (or (P,)).

    Trilinear interpolation with the nodes and weights of :func:`paint_cic` (its adjoint), so a
    particle feels no force from itself; done by ``grid_sample`` on the mesh padded by one periodic
    layer, which is fast on both CPU and GPU.
    """
    import torch

    single = meshes.dim() == 3
    meshes = meshes[None] if single else meshes
    n = meshes.shape[-1]
    padded = torch.nn.functional.pad(meshes[None], (0, 1, 0, 1, 0, 1), mode="circular")
    grid = (positions_cells.flip(-1) * (2.0 / n) - 1.0).view(1, -1, 1, 1, 3).to(meshes.dtype)
    values = torch.nn.functional.grid_sample(padded, grid, mode="bilinear", padding_mode="border",
                                             align_corners=True)
    values = values.view(len(meshes), -1)
    return values[0] if single else values


class ParticleMesh:
    """Gravity on an n_mesh^3 periodic mesh for a box of side ``box_mpc_h``.

    :meth:`accelerations` returns g = -grad phi with lap phi = delta (the factor 1.5 Omega_m is
    carried by the kick factor), from the CIC-painted density (see the module doc for the kernels).
    """

    def __init__(self, box_mpc_h: float, n_mesh: int, device="cpu"):
        import torch

        self.box_mpc_h = float(box_mpc_h)
        self.n_mesh = int(n_mesh)
        self.device = torch.device(device)
        kx, ky, kz = wavenumbers(n_mesh, box_mpc_h, self.device, torch.float32)
        spacing = self.box_mpc_h / self.n_mesh
        k2 = kx * kx + ky * ky + kz * kz
        k2[0, 0, 0] = 1.0
        assignment_window = 1.0
        for k in (kx, ky, kz):
            assignment_window = assignment_window * torch.sinc(k * (spacing / (2.0 * math.pi))) ** 2
        self._potential_kernel = 1.0 / (k2 * assignment_window)
        self._potential_kernel[0, 0, 0] = 0.0
        self._gradient_k = tuple(
            (8.0 * torch.sin(k * spacing) - torch.sin(2.0 * k * spacing)) / (6.0 * spacing) for k in (kx, ky, kz))

    def to_cells(self, positions_mpc_h):
        return positions_mpc_h * (self.n_mesh / self.box_mpc_h)

    def density_contrast(self, positions_mpc_h):
        """delta = rho / rho_mean - 1 on the mesh (CIC), (n, n, n) float32."""
        counts = paint_cic(self.to_cells(positions_mpc_h), self.n_mesh)
        return counts * (self.n_mesh**3 / len(positions_mpc_h)) - 1.0

    def accelerations(self, positions_mpc_h):
        """(P, 3) float32: -grad phi at the particles, lap phi = delta (window-compensated), Mpc/h units."""
        import torch

        delta_k = torch.fft.rfftn(self.density_contrast(positions_mpc_h))
        delta_k *= self._potential_kernel
        shape = (self.n_mesh,) * 3
        cells = self.to_cells(positions_mpc_h)
        result = torch.empty_like(positions_mpc_h)
        for axis, k_axis in enumerate(self._gradient_k):  # one force mesh at a time keeps the peak memory low
            result[:, axis] = readout_cic(torch.fft.irfftn(delta_k * (1j * k_axis), s=shape), cells)
        return result


def kick_factor(growth: GrowthHistory, a_from: float, a_to: float, a_force: float) -> float:
    """FastPM kick: (G_p(a_to) - G_p(a_from)) / D1(a_force), multiplying g = -grad(lap^-1 delta)."""
    rise = float(growth.momentum_growth(a_to) - growth.momentum_growth(a_from))
    return rise / float(growth.d1(a_force))


def drift_factor(growth: GrowthHistory, a_from: float, a_to: float, a_momentum: float) -> float:
    """FastPM drift: (D1(a_to) - D1(a_from)) / G_p(a_momentum), multiplying p."""
    return float(growth.d1(a_to) - growth.d1(a_from)) / float(growth.momentum_growth(a_momentum))


def _wrap(positions_mpc_h, box_mpc_h: float):
    import torch

    positions_mpc_h = torch.remainder(positions_mpc_h, box_mpc_h)
    return torch.where(positions_mpc_h >= box_mpc_h, positions_mpc_h - box_mpc_h, positions_mpc_h)


def evolve(
    state: ParticleState,
    growth: GrowthHistory,
    mesh: ParticleMesh,
    a_stop: float,
    steps: int,
) -> ParticleState:
    """Kick-drift-kick from ``state.a`` to ``a_stop`` in ``steps`` steps uniform in a.

    The force at the end of one step is reused at the start of the next: steps + 1 force solves.
    """
    if steps < 1:
        raise ValueError("need at least one step")
    if not state.a < a_stop:
        raise ValueError(f"the run starts at a = {state.a:.4f}, after the output at a = {a_stop:.4f}")
    edges = np.linspace(state.a, a_stop, steps + 1)
    positions, momenta = state.positions_mpc_h.clone(), state.momenta.clone()
    force = mesh.accelerations(positions)
    for step, (a_from, a_to) in enumerate(itertools.pairwise(edges), start=1):
        a_half = 0.5 * (a_from + a_to)
        momenta += force * kick_factor(growth, a_from, a_half, a_from)
        positions = _wrap(positions + momenta * drift_factor(growth, a_from, a_to, a_half), mesh.box_mpc_h)
        force = mesh.accelerations(positions)
        momenta += force * kick_factor(growth, a_half, a_to, a_to)
        _LOG.debug("step %d/%d: a = %.4f (z = %.3f)", step, steps, a_to, 1.0 / a_to - 1.0)
    return ParticleState(positions, momenta, float(a_stop))

