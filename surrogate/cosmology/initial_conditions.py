"""Initial conditions: a Gaussian random field and its Lagrangian displacements (Zel'dovich and 2LPT).

Conventions: the box has side ``box_mpc_h`` and ``grid`` points per side; Fourier transforms are
numpy's (unnormalised forward), so a field with power P(k) has <|delta_k|^2> = P(k) N^6 / V.
The random phases come only from ``seed`` and ``grid`` (white noise drawn in real space by numpy),
so the same seed gives the same universe for any cosmology and output redshift.

Particles start on the lattice q = (i, j, k) L/N (optionally shifted, see :func:`lpt_particles`) and
move to x = q + D1 s1(q) + D2 s2(q), with s1 = -grad phi1, lap phi1 = delta_L (the z=0 linear field)
and s2 = grad phi2, lap phi2 = sum_{i<j} (phi1_ii phi1_jj - phi1_ij^2); D2 ~ -3/7 D1^2 comes from the
growth ODE.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from surrogate.cosmology.power_spectrum import GrowthHistory, LinearPower

if TYPE_CHECKING:
    import torch


def wavenumbers(grid: int, box_mpc_h: float, device=None, dtype=None):
    """kx, ky, kz in h/Mpc shaped to broadcast over a real-FFT array (grid, grid, grid//2+1)."""
    import torch

    dtype = dtype or torch.float64
    full = torch.fft.fftfreq(grid, d=1.0 / grid, device=device, dtype=dtype) * (2.0 * math.pi / box_mpc_h)
    half = torch.fft.rfftfreq(grid, d=1.0 / grid, device=device, dtype=dtype) * (2.0 * math.pi / box_mpc_h)
    return full.view(-1, 1, 1), full.view(1, -1, 1), half.view(1, 1, -1)


def gradient_wavenumbers(grid: int, box_mpc_h: float, device=None, dtype=None):
    """Like :func:`wavenumbers` with the Nyquist component zeroed, as needed for odd derivatives."""
    ks = wavenumbers(grid, box_mpc_h, device, dtype)
    if grid % 2 == 0:
        ks = tuple(k.clone() for k in ks)
        ks[0].view(-1)[grid // 2] = 0.0
        ks[1].view(-1)[grid // 2] = 0.0
        ks[2].view(-1)[-1] = 0.0
    return ks


def white_noise(grid: int, seed: int) -> np.ndarray:
    """Unit-variance real white noise on grid^3 points, a function of ``seed`` and ``grid`` only."""
    return np.random.default_rng(seed).standard_normal((grid, grid, grid))


def linear_density_k(grid: int, box_mpc_h: float, power: LinearPower, seed: int, device="cpu"):
    """The z=0 linear overdensity in Fourier space, complex128 of shape (grid, grid, grid//2+1).

    delta_k = FFT(white noise) sqrt(P(k) N^3 / V), so the mean of |delta_k|^2 is P(k) N^6 / V;
    the k = 0 mode is zero (the box has the mean density).
    """
    import torch

    noise = torch.from_numpy(white_noise(grid, seed)).to(device)
    noise_k = torch.fft.rfftn(noise)
    del noise
    kx, ky, kz = wavenumbers(grid, box_mpc_h, device)
    k = torch.sqrt(kx * kx + ky * ky + kz * kz)
    amplitude = np.sqrt(power(k.cpu().numpy()) * grid**3 / box_mpc_h**3)
    return noise_k * torch.from_numpy(amplitude).to(device)


def lpt_displacements(delta_k, box_mpc_h: float, order: int = 2):
    """Lagrangian displacement fields per unit growth: [s1] or [s1, s2], each (3, N, N, N) float64 in Mpc/h."""
    import torch

    grid = delta_k.shape[0]
    kx, ky, kz = wavenumbers(grid, box_mpc_h, delta_k.device)
    k2 = kx * kx + ky * ky + kz * kz
    k2[0, 0, 0] = 1.0
    phi1_k = -delta_k / k2  # lap phi1 = delta_L
    gx, gy, gz = gradient_wavenumbers(grid, box_mpc_h, delta_k.device)
    shape = (grid, grid, grid)

    def gradient(potential_k, sign: float):
        return torch.stack([torch.fft.irfftn(sign * 1j * g * potential_k, s=shape) for g in (gx, gy, gz)])

    displacements = [gradient(phi1_k, -1.0)]
    if order == 1:
        return displacements
    if order != 2:
        raise ValueError(f"LPT order must be 1 or 2, not {order}")
    full = (kx, ky, kz)
    odd = (gx, gy, gz)
    diagonal = [torch.fft.irfftn(-full[i] * full[i] * phi1_k, s=shape) for i in range(3)]
    source = diagonal[0] * diagonal[1] + diagonal[0] * diagonal[2] + diagonal[1] * diagonal[2]
    del diagonal
    for i, j in ((0, 1), (0, 2), (1, 2)):
        source -= torch.fft.irfftn(-odd[i] * odd[j] * phi1_k, s=shape) ** 2
    phi2_k = -torch.fft.rfftn(source) / k2
    phi2_k[0, 0, 0] = 0.0
    displacements.append(gradient(phi2_k, 1.0))
    return displacements


@dataclass
class ParticleState:
    """Particles at scale factor ``a``: comoving positions in [0, box) Mpc/h and momenta p = a^2 dx/dt.

    Momenta are in Mpc/h times H0 (so 100 km/s units); both are float32 torch tensors of shape (P, 3).
    """

    positions_mpc_h: torch.Tensor
    momenta: torch.Tensor
    a: float


def lpt_particles(
    delta_k, box_mpc_h: float, growth: GrowthHistory, a: float, order: int = 2, lattice_offset: float = 0.0,
) -> ParticleState:
    """Particles on the lattice moved by 1LPT/2LPT to scale factor ``a``, with growing-mode momenta.

    ``lattice_offset`` shifts the lattice by that fraction of a particle spacing along each axis, and
    the displacement field is sampled at the shifted points (a Fourier phase shift), so the universe
    stays where it is. Half a force-mesh cell keeps CIC assignment linear for small displacements
    (particles on mesh nodes make it kink) and makes the unperturbed lattice paint a uniform mesh.
    """
    import torch

    grid = delta_k.shape[0]
    cell = box_mpc_h / grid
    if lattice_offset:
        kx, ky, kz = wavenumbers(grid, box_mpc_h, delta_k.device)
        delta_k = delta_k * torch.exp(1j * (kx + ky + kz) * (lattice_offset * cell))
    cosmology = growth.cosmology
    prefactor = a * a * float(cosmology.hubble_e(a))
    displacements = lpt_displacements(delta_k, box_mpc_h, order)
    d1, f1 = float(growth.d1(a)), float(growth.f1(a))
    shift = d1 * displacements[0]
    velocity = prefactor * f1 * d1 * displacements[0]
    if order == 2:
        d2, f2 = float(growth.d2(a)), float(growth.f2(a))
        shift += d2 * displacements[1]
        velocity += prefactor * f2 * d2 * displacements[1]
    del displacements
    axis = (torch.arange(grid, device=delta_k.device, dtype=torch.float64) + lattice_offset) * cell
    lattice = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"))
    positions = torch.remainder(lattice + shift, box_mpc_h)
    positions = positions.reshape(3, -1).T.to(torch.float32).contiguous()
    positions = torch.where(positions >= box_mpc_h, positions - box_mpc_h, positions)
    momenta = velocity.reshape(3, -1).T.to(torch.float32).contiguous()
    return ParticleState(positions, momenta, a)
