"""Cell-spectrum calibration: quantile mapping onto the training cells, layer energies kept."""
from __future__ import annotations

import numpy as np
import torch

from surrogate.calorimeter.calibration import CellSpectrumCalibration, calibration_rings

N_LAYERS, CELLS_PER_LAYER = 3, 40
GROUPS = torch.arange(N_LAYERS).repeat_interleave(CELLS_PER_LAYER)


def _showers(n: int, seed: int, empty: float, power: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-normal cells (MeV), a fraction ``empty`` of them 0, raised to ``power``; E_inc 1-100 GeV."""
    rng = np.random.default_rng(seed)
    cells = rng.lognormal(1.5, 1.0, (n, N_LAYERS * CELLS_PER_LAYER)) ** power
    cells[rng.random(cells.shape) < empty] = 0.0
    incident = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n))
    return torch.as_tensor(cells), torch.as_tensor(incident)


def _layer_sums(cells: torch.Tensor) -> torch.Tensor:
    return cells.new_zeros(len(cells), N_LAYERS).index_add_(1, GROUPS, cells)


def test_calibration_maps_the_generated_spectrum_onto_the_target_and_keeps_layer_energies():
    target, incident = _showers(3000, seed=0, empty=0.5)
    generated, _ = _showers(3000, seed=1, empty=0.3, power=0.5)  # too many hits, too evenly shared
    calibration = CellSpectrumCalibration(GROUPS, GROUPS)  # one ring per layer
    torch.testing.assert_close(calibration(generated, incident), generated)  # inactive before fit
    calibration.fit(generated, target, incident)
    fresh_target, fresh_incident = _showers(3000, seed=2, empty=0.5)
    fresh_generated, _ = _showers(3000, seed=3, empty=0.3, power=0.5)
    calibrated = calibration(fresh_generated, fresh_incident)
    hit_fraction = (calibrated > 0).double().mean()
    assert abs(hit_fraction - 0.5) < 0.02  # was 0.7
    # the spread of hit cells' log energies is the target's (the layer rescaling shifts, not widens, them)
    spread = lambda cells: torch.log10(cells[cells > 0]).std()
    assert abs(spread(calibrated) / spread(fresh_target) - 1) < 0.05
    assert abs(spread(fresh_generated) / spread(fresh_target) - 1) > 0.4
    torch.testing.assert_close(_layer_sums(calibrated), _layer_sums(fresh_generated), rtol=1e-5, atol=1e-6)  # float32
    assert (calibrated[fresh_generated == 0] == 0).all()


def test_calibration_state_round_trips_and_leaves_overflow_entries_alone():
    target, incident = _showers(500, seed=0, empty=0.5)
    generated, _ = _showers(500, seed=1, empty=0.3, power=0.5)
    rings = GROUPS.clone()
    rings[::CELLS_PER_LAYER] = -1  # first entry of each layer: an overflow entry
    calibration = CellSpectrumCalibration(GROUPS, rings)
    calibration.fit(generated, target, incident)
    restored = CellSpectrumCalibration(GROUPS, rings)
    restored.load_state_dict(calibration.state_dict())
    out = restored(generated, incident)
    torch.testing.assert_close(out, calibration(generated, incident))
    mapped = rings >= 0
    torch.testing.assert_close(out[:, ~mapped], generated[:, ~mapped])
    assert not torch.allclose(out[:, mapped], generated[:, mapped])
    torch.testing.assert_close(_layer_sums(out * mapped), _layer_sums(generated * mapped), rtol=1e-5, atol=1e-6)


def test_rings_restore_a_radial_profile_the_generator_got_wrong():
    """Generated outer cells far too weak and all hit: per-ring mapping gives each ring its real share."""
    from training_helpers import TINY_GEOMETRY, tiny_showers

    rings = calibration_rings(TINY_GEOMETRY)
    assert rings.tolist() == [3 * layer + r for layer in range(3) for _ in range(4) for r in range(3)]
    layers = torch.arange(3).repeat_interleave(12)
    real = torch.as_tensor(tiny_showers(3000, seed=0).events, dtype=torch.float64)
    incident = torch.full((3000,), 5000.0)
    narrow = real.clone().reshape(3000, 3, 4, 3)
    narrow[..., 2] = narrow[..., 0] * 1e-3 + 1e-3  # outer ring: tiny, never empty
    narrow = narrow.reshape(3000, -1)
    narrow *= (real.reshape(3000, 3, 12).sum(2) / narrow.reshape(3000, 3, 12).sum(2)).repeat_interleave(12, 1)
    calibration = CellSpectrumCalibration(layers, rings)
    calibration.fit(narrow, real, incident)
    fixed = calibration(narrow, incident).reshape(3000, 3, 4, 3)
    outer_share = lambda cells: (cells[..., 2].sum((1, 2)) / cells.sum((1, 2, 3))).mean()
    assert abs(outer_share(fixed) / outer_share(real.reshape(3000, 3, 4, 3)) - 1) < 0.1
    assert outer_share(narrow.reshape(3000, 3, 4, 3)) < 0.01 * outer_share(real.reshape(3000, 3, 4, 3))
    assert abs((fixed[..., 2] == 0).double().mean() - (real.reshape(3000, 3, 4, 3)[..., 2] == 0).double().mean()) < 0.02


def test_training_fits_the_calibration_into_the_exports(tmp_path):
    import surrogate
    from surrogate.core.config import ModelConfig
    from training_helpers import train_tiny_run

    model_config = ModelConfig(latent_dim=8, generator_width=16, critic_width=16, depth=2, arch="dense",
                               options={"calibrate": "1"})
    run = train_tiny_run(tmp_path, model=model_config)
    model = surrogate.load(run)
    assert bool(model.preprocessor.calibration.active)
    showers = model.sample(np.full(50, 3000.0), seed=1)
    assert showers.shape == (50, 36) and np.isfinite(showers).all() and (showers >= 0).all()
    uncalibrated = surrogate.load(run)
    uncalibrated.preprocessor.calibration.is_active = False
    raw = uncalibrated.sample(np.full(50, 3000.0), seed=1)
    layers = lambda cells: torch.as_tensor(cells).reshape(50, 3, -1).sum(dim=2)
    torch.testing.assert_close(layers(showers), layers(raw), rtol=1e-4, atol=1e-3)
    assert not np.allclose(showers, raw)
