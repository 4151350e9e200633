"""The fidelity tools of the shower models: the critic's physics features and the data-driven cell noise."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from surrogate.calorimeter.models import build_model, cell_noise_profile, shower_features
from surrogate.calorimeter.preprocessing import ShowerPreprocessor, value_groups
from surrogate.core.config import ModelConfig
from surrogate.core.domain import EventSet
from training_helpers import TINY_GEOMETRY, tiny_showers

N_ALPHA, N_R = TINY_GEOMETRY.layers[0].shape  # 4 angles x 3 radii per layer
CELLS = N_ALPHA * N_R


def _features_of(cells: np.ndarray, incident: np.ndarray):
    """Unstandardised ShowerFeatures of ``cells`` (N, 36) MeV, per feature kind: (N, 3 layers) each."""
    preprocessor = ShowerPreprocessor(value_groups(TINY_GEOMETRY), [True]).fit(cells, incident)
    features = shower_features(TINY_GEOMETRY, preprocessor, None)
    x, _ = preprocessor(torch.tensor(cells, dtype=torch.float64), torch.tensor(incident, dtype=torch.float64))
    raw = features.raw(x.float()).double()
    return dict(zip(("x_mm", "y_mm", "r_mean_mm", "r_width_mm", "log_effective_cells"), raw.split(3, dim=1)))


def test_shower_features_have_known_values():
    centers = TINY_GEOMETRY.layers[0].cell_centers()
    cells = np.zeros((2, TINY_GEOMETRY.n_values))
    one = 1 * N_R + 2  # angle 1, outer radius (10-20 mm): all of every layer in one cell
    cells[0, [one, CELLS + one, 2 * CELLS + one]] = 100.0
    ring = [a * N_R for a in range(N_ALPHA)]  # shower 1: the inner ring shared evenly in every layer
    for layer in range(3):
        cells[1, [layer * CELLS + i for i in ring]] = 25.0
    got = _features_of(cells, np.array([[300.0], [300.0]]))
    torch.testing.assert_close(got["x_mm"][0], torch.full((3,), centers["x_mm"][one], dtype=torch.float64),
                               rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(got["r_mean_mm"][0], torch.full((3,), 15.0, dtype=torch.float64), rtol=1e-4, atol=0)
    torch.testing.assert_close(got["r_width_mm"][0], torch.ones(3, dtype=torch.float64), rtol=1e-3, atol=0)
    torch.testing.assert_close(got["log_effective_cells"][0], torch.zeros(3, dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(got["log_effective_cells"][1], torch.full((3,), math.log(4), dtype=torch.float64),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(got["x_mm"][1], torch.zeros(3, dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(got["r_mean_mm"][1], torch.full((3,), 2.5, dtype=torch.float64), rtol=1e-4, atol=0)


def test_critic_with_features_standardises_them_and_takes_a_gradient_penalty():
    events = tiny_showers(200, seed=1)
    sizes = dict(latent_dim=4, generator_width=8, critic_width=8, depth=1)
    preprocessor, _, critic = build_model(TINY_GEOMETRY, ModelConfig(arch="dense", options={"critic_features": "1"},
                                                                     **sizes), events)
    x, c = preprocessor(torch.tensor(events.events, dtype=torch.float64),
                        torch.tensor(events.conditions, dtype=torch.float64))
    standardised = critic.physics(x.float())
    assert standardised.shape == (200, 5 * 3)
    assert standardised.mean(dim=0).abs().max() < 1e-3
    x = x.float().requires_grad_(True)
    gradient, = torch.autograd.grad(critic(x, c.float()).sum(), x, create_graph=True)
    assert torch.isfinite(gradient).all() and gradient[:, 1 + 3:].abs().sum() > 0
    plain = build_model(TINY_GEOMETRY, ModelConfig(arch="dense", **sizes), events)[2]
    assert plain.physics is None


def test_noise_profile_follows_how_unevenly_rings_share_their_energy():
    rng = np.random.default_rng(0)
    n = 400
    cells = np.zeros((n, TINY_GEOMETRY.n_values))
    for layer in range(3):
        block = cells[:, layer * CELLS:(layer + 1) * CELLS].reshape(n, N_ALPHA, N_R)
        block[:, :, 0] = 10.0  # inner ring: shared evenly in every shower
        block[:, :, 1] = rng.lognormal(0.0, 1.0, (n, N_ALPHA))  # middle ring: uneven
        block[:, :, 2] = rng.lognormal(0.0, 0.2, (n, N_ALPHA))  # outer ring: nearly even
    incident = np.full((n, 1), 100.0)
    events = EventSet(incident, cells.astype(np.float32), ("incident_energy_mev",), {})
    preprocessor = ShowerPreprocessor(value_groups(TINY_GEOMETRY), [True], alpha=1e-3).fit(cells, incident)
    profile = cell_noise_profile(TINY_GEOMETRY, preprocessor, events).reshape(3, N_ALPHA, N_R)
    assert profile[:, :, 0].max() < 1e-6
    assert profile[:, :, 1].min() > 3 * profile[:, :, 2].max()
    sizes = dict(latent_dim=4, generator_width=8, critic_width=8, depth=1)
    options = {"alpha": "1e-3", "cell_noise": "2", "noise_profile": "1"}
    _, generator, _ = build_model(TINY_GEOMETRY, ModelConfig(arch="dense", options=options, **sizes), events)
    scales = generator.head.noise_log_scale.exp().detach().reshape(3, N_ALPHA, N_R)
    torch.testing.assert_close(scales[:, :, 1], 2 * profile[:, :, 1], rtol=1e-5, atol=0)
    assert scales[:, :, 0].max() <= 2e-3  # clamped to a small positive scale: its logarithm is learned


@pytest.mark.parametrize("option", ["noise_profile", "critic_features"])
def test_fidelity_options_refuse_negative_values(option):
    from surrogate.errors import SurrogateError

    sizes = dict(latent_dim=4, generator_width=8, critic_width=8, depth=1)
    with pytest.raises(SurrogateError, match=option):
        build_model(TINY_GEOMETRY, ModelConfig(arch="dense", options={option: "-1"}, **sizes), tiny_showers(50, 1))


def test_training_summaries_width_and_cell_energy_have_known_values():
    from surrogate.calorimeter.models import training_summaries

    r_mm = TINY_GEOMETRY.layers[0].cell_centers()["r_mm"]  # 2.5, 7.5, 15 mm per angle
    cells = np.zeros((2, TINY_GEOMETRY.n_values), dtype=np.float32)
    cells[0, [0, CELLS + 2]] = 10.0  # radius 2.5 mm in layer 0, 15 mm in layer 1
    cells[1, 5] = 1000.0  # one cell: no width
    events = EventSet(np.array([[100.0], [2000.0]]), cells, ("incident_energy_mev",), {})
    summaries = training_summaries(TINY_GEOMETRY, events)
    np.testing.assert_allclose(summaries["radial_width_mm"], [(r_mm[2] - r_mm[0]) / 2, 0.0], atol=1e-9)
    np.testing.assert_allclose(summaries["mean_log10_cell_energy_mev"], [1.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(summaries["etot_over_einc"], [0.2, 0.5], rtol=1e-6)
