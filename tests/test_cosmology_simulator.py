"""The N-body reference: Gaussian initial field, LPT displacements, particle-mesh gravity and growth."""
import math

import numpy as np
import pytest
import torch

from surrogate.cosmology.initial_conditions import (
    ParticleState,
    linear_density_k,
    lpt_displacements,
    lpt_particles,
    wavenumbers,
)
from surrogate.cosmology.observables import _mode_table, default_k_edges, power_spectrum
from surrogate.cosmology.particle_mesh import ParticleMesh, evolve, paint_cic, readout_cic
from surrogate.cosmology.power_spectrum import Cosmology, GrowthHistory, LinearPower
from surrogate.cosmology.simulation import RunSettings, initial_particles, run_nbody


def mode_averaged(power, grid: int, box: float) -> np.ndarray:
    """The input spectrum averaged over the modes of each default bin (what the estimator should see)."""
    k, weight = _mode_table(grid, 3, box)
    edges = default_k_edges(grid, box)
    which = np.searchsorted(edges, k, side="right") - 1
    out = []
    for index in range(len(edges) - 1):
        chosen = (which == index) & (k > 0)
        out.append(np.average(power(k[chosen]), weights=weight[chosen]))
    return np.array(out)


def particle_power(state: ParticleState, grid: int, box: float):
    density = ParticleMesh(box, grid).density_contrast(state.positions_mpc_h).double().numpy()
    return power_spectrum(density, box, dims=3)


def test_initial_gaussian_field_has_the_input_spectrum():
    grid, box = 64, 256.0
    power = LinearPower(Cosmology())
    delta = torch.fft.irfftn(linear_density_k(grid, box, power, seed=11), s=(grid,) * 3).numpy()
    measured = power_spectrum(delta, box, dims=3)
    expected = mode_averaged(power, grid, box)
    # band averages over groups of 4 bins from k ~ 0.1 h/Mpc up: thousands of modes each
    bands = [slice(start, start + 4) for start in range(4, 32, 4)]
    for band in bands:
        ratio = (measured.power[band] * measured.n_modes[band]).sum() / (expected[band] * measured.n_modes[band]).sum()
        assert ratio == pytest.approx(1.0, abs=0.05)
    assert abs(delta.mean()) < 1e-12


def test_lpt_particles_carry_the_field_they_were_made_from():
    """Painted 2LPT particles at z_init, CIC window divided out: P(k) = D^2 P_field(k) of the same
    realisation on large scales; aliasing adds a few percent towards half the particle Nyquist."""
    grid, box = 64, 256.0
    cosmology = Cosmology()
    power = LinearPower(cosmology)
    delta_k = linear_density_k(grid, box, power, seed=5)
    field = power_spectrum(torch.fft.irfftn(delta_k, s=(grid,) * 3).numpy(), box, dims=3)
    state, _ = initial_particles(cosmology, RunSettings(box_mpc_h=box, grid=grid), seed=5)
    density = ParticleMesh(box, grid).density_contrast(state.positions_mpc_h).double()
    window = 1.0
    for k in wavenumbers(grid, box):
        window = window * torch.sinc(k * box / grid / (2.0 * math.pi)) ** 2
    painted = power_spectrum(torch.fft.irfftn(torch.fft.rfftn(density) / window, s=(grid,) * 3).numpy(), box, dims=3)
    ratio = painted.power / (field.power * float(power.growth.d1(state.a)) ** 2)
    assert np.all(np.abs(ratio[:8] - 1.0) < 0.03)
    assert np.all(np.abs(ratio[:16] - 1.0) < 0.10)


def test_second_order_displacement_of_two_crossed_waves_is_analytic():
    """delta = A cos(k1 x) + B cos(k2 y): s2_x = A B k1 sin(k1 x) cos(k2 y) / (k1^2 + k2^2)."""
    grid, box = 32, 100.0
    axis = torch.arange(grid, dtype=torch.float64) * box / grid
    x, y, _ = torch.meshgrid(axis, axis, axis, indexing="ij")
    k1, k2, a, b = 2 * math.pi / box, 3 * 2 * math.pi / box, 0.3, 0.2
    delta = a * torch.cos(k1 * x) + b * torch.cos(k2 * y)
    s1, s2 = lpt_displacements(torch.fft.rfftn(delta), box, order=2)
    assert torch.allclose(s1[0], -a / k1 * torch.sin(k1 * x), atol=1e-10)  # delta = -div s1
    expected = a * b * k1 * torch.sin(k1 * x) * torch.cos(k2 * y) / (k1**2 + k2**2)
    assert torch.allclose(s2[0], expected, atol=1e-10)
    assert torch.allclose(s2[2], torch.zeros_like(s2[2]), atol=1e-12)


def test_cic_conserves_mass_and_readout_is_its_adjoint():
    generator = torch.Generator().manual_seed(0)
    n = 16
    positions = torch.rand(5000, 3, generator=generator) * n
    mesh = paint_cic(positions, n)
    assert mesh.sum().item() == pytest.approx(5000.0, rel=1e-6)
    field = torch.rand(n, n, n, generator=generator)
    # <paint(x), f> = sum over particles of readout(f)(x): the interpolation is the assignment's transpose
    assert (mesh * field).sum().item() == pytest.approx(readout_cic(field, positions).sum().item(), rel=1e-5)
    # a particle on a node puts all its mass there
    single = paint_cic(torch.tensor([[3.0, 4.0, 15.0]]), n)
    assert single[3, 4, 15].item() == 1.0 and single.sum().item() == 1.0


def test_forces_conserve_momentum_and_match_a_plane_wave():
    box, grid = 128.0, 16
    mesh = ParticleMesh(box, 2 * grid)
    generator = torch.Generator().manual_seed(1)
    positions = torch.rand(4000, 3, generator=generator) * box
    force = mesh.accelerations(positions)
    assert force.sum(dim=0).abs().max().item() < 1e-4 * force.abs().sum().item()
    # a lattice displaced by s = eps sin(kx) feels g = s (lap phi = delta = -ds/dx): the linear-theory force
    axis = (torch.arange(grid, dtype=torch.float64) + 0.25) * box / grid
    lattice = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1).T
    k = 2 * math.pi / box
    shift = torch.zeros_like(lattice)
    shift[:, 0] = 0.05 * torch.sin(k * lattice[:, 0] + 0.3)
    force = mesh.accelerations(((lattice + shift) % box).float()).double()
    gain = (force[:, 0] * shift[:, 0]).sum() / (shift[:, 0] ** 2).sum()
    assert gain.item() == pytest.approx(1.0, abs=0.02)
    assert force[:, 1:].abs().max().item() < 1e-3 * force[:, 0].abs().max().item()


def growth_ratio(cosmology: Cosmology, settings: RunSettings, seed: int):
    """P_final / (P_init (D_final / D_init)^2) per bin, from the particles painted on the particle grid."""
    state, power = initial_particles(cosmology, settings, seed)
    mesh = ParticleMesh(settings.box_mpc_h, settings.mesh_factor * settings.grid)
    final = evolve(state, power.growth, mesh, 1.0 / (1.0 + settings.redshift), settings.steps)
    before = particle_power(state, settings.grid, settings.box_mpc_h)
    after = particle_power(final, settings.grid, settings.box_mpc_h)
    linear = (float(power.growth.d1(final.a)) / float(power.growth.d1(state.a))) ** 2
    return after.k_h_mpc, after.power / before.power / linear, final


def test_linear_regime_growth_is_exact_on_large_scales():
    """sigma8 = 0.01: everything is linear; 10 FastPM steps reproduce (D/D_init)^2."""
    settings = RunSettings(box_mpc_h=256.0, grid=32, steps=10)
    _, ratio, _ = growth_ratio(Cosmology(sigma8=0.01), settings, seed=2)
    assert np.all(np.abs(ratio[:2] - 1.0) < 0.01)
    assert np.all(np.abs(ratio[:4] - 1.0) < 0.03)  # lattice discreteness: long waves grow slightly faster


def test_large_scales_follow_linear_growth_and_small_scales_grow_faster():
    settings = RunSettings(box_mpc_h=512.0, grid=32, steps=10)
    k, ratio, final = growth_ratio(Cosmology(), settings, seed=4)
    assert np.mean(ratio[:3]) == pytest.approx(1.0, abs=0.05)
    small_box = RunSettings(box_mpc_h=64.0, grid=32, steps=10)
    k, ratio, final = growth_ratio(Cosmology(), small_box, seed=4)
    nonlinear = (k > 0.5) & (k < 1.2)
    assert np.all(ratio[nonlinear] > 1.25)  # halofit: P_nl / P_lin ~ 1.5 at 0.5 h/Mpc, ~ 5 at 1 h/Mpc
    assert ratio[nonlinear][-1] > 2.5
    density = ParticleMesh(64.0, 32).density_contrast(final.positions_mpc_h)
    assert density.mean().abs().item() < 1e-5  # mass conserved: the mean overdensity stays zero
    assert torch.all((final.positions_mpc_h >= 0) & (final.positions_mpc_h < 64.0))


def test_runs_are_reproducible_and_redshift_keeps_the_universe():
    cosmology = Cosmology()
    settings = RunSettings(box_mpc_h=128.0, grid=16, steps=4, n_maps=3)
    first, again = run_nbody(cosmology, settings, 9), run_nbody(cosmology, settings, 9)
    assert np.array_equal(first.density, again.density) and np.array_equal(first.maps, again.maps)
    other = run_nbody(cosmology, settings, 10)
    assert not np.allclose(first.density, other.density)
    earlier = run_nbody(cosmology, RunSettings(box_mpc_h=128.0, grid=16, steps=4, n_maps=3, redshift=1.0), 9)
    from surrogate.cosmology.observables import correlation_coefficient

    same = correlation_coefficient(first.density, earlier.density, 128.0, dims=3)
    different = correlation_coefficient(first.density, other.density, 128.0, dims=3)
    assert np.all(same[:3] > 0.95)
    assert np.all(np.abs(different[:3]) < 0.6)
    growth = GrowthHistory(cosmology)
    assert earlier.density.std() < first.density.std() * (float(growth.d1(0.5)) + 0.1)


def test_zeldovich_and_2lpt_particles_start_on_the_lattice_offset():
    grid, box = 8, 80.0
    power = LinearPower(Cosmology(sigma8=1e-6))
    delta_k = linear_density_k(grid, box, power, seed=1)
    state = lpt_particles(delta_k, box, power.growth, 0.05, order=1, lattice_offset=0.25)
    expected = (torch.arange(grid) + 0.25) * box / grid
    assert torch.allclose(state.positions_mpc_h[:grid, 2], expected.float(), atol=1e-4)
