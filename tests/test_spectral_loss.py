"""The maps' spectral generator term: its bands, its zero, its response to known errors, its wiring."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from surrogate.core.config import ModelConfig
from surrogate.cosmology import formats
from surrogate.cosmology.domain import DOMAIN
from surrogate.cosmology.band_power import band_index
from surrogate.cosmology.spectral_loss import TOLERANCE, SpectralLoss
from test_cosmology_models import NAMES, lognormal_maps


class Identity:
    """A preprocessor whose network space is the physical one (density contrast: offset 1)."""

    offset = 1.0

    def inverse(self, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return y.reshape(len(y), *y.shape[-2:])


def gaussian_maps(conditions: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Gaussian fields with P(k) ~ k^-2 and an amplitude proportional to sigma8 (the second parameter)."""
    rng = np.random.default_rng(seed)
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    amplitude = np.where(k > 0, 1.0 / np.maximum(k, 1e-9), 0.0)
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((len(conditions), size, size))) * amplitude).real
    return (0.2 * conditions[:, 1, None, None] * field / field.std()).astype(np.float32)


def paired_batches(size: int = 32, pairs: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two independent maps per parameter point: (maps_a, maps_b, standardised conditions)."""
    conditions = lognormal_maps(pairs, size, seed).conditions
    c = torch.as_tensor((conditions - conditions.mean(0)) / conditions.std(0)).float()
    a, b = gaussian_maps(conditions, size, seed), gaussian_maps(conditions, size, seed + 1)
    return torch.as_tensor(a), torch.as_tensor(b), c


def test_bands_cover_fundamental_to_nyquist_once():
    index, bands = band_index(64)
    kx, ky = np.meshgrid(np.fft.fftfreq(64, 1 / 64), np.fft.rfftfreq(64, 1 / 64), indexing="ij")
    k = np.hypot(kx, ky).ravel()
    inside = (k >= 0.5) & (k < 32.5)
    assert np.array_equal(index.numpy() >= 0, inside)  # k = 0 and the corners beyond Nyquist are left out
    first = index.numpy()[np.isclose(k, 1.0)]
    assert bands >= 6 and np.all(first == 0)  # the fundamental modes open the first band
    assert np.all(np.diff([k[index.numpy() == b].mean() for b in range(bands)]) > 0)


def test_a_single_wave_puts_its_power_in_its_band():
    size, wave = 32, 5
    u = np.arange(size)
    maps = torch.as_tensor(1 + 0.5 * np.cos(2 * np.pi * wave * u / size)[None, :, None].repeat(size, axis=2)).float()
    loss = SpectralLoss(size, 1.0)
    log_power = loss.log_band_power(maps)[0]
    index, _ = band_index(size)
    kx, ky = np.meshgrid(np.fft.fftfreq(size, 1 / size), np.fft.rfftfreq(size, 1 / size), indexing="ij")
    band = int(index.numpy()[np.isclose(kx, wave).ravel() & np.isclose(ky, 0).ravel()][0])
    assert int(torch.argmax(log_power)) == band
    assert float(log_power[band] - log_power[np.arange(len(log_power)) != band].max()) > 10  # e^10 above the floor


def test_zero_for_identical_batches_and_grows_with_an_amplitude_error():
    maps_a, maps_b, c = paired_batches()
    loss = SpectralLoss(32, 1.0)
    assert float(loss(Identity(), maps_a, maps_a, c)[0]) == pytest.approx(0.0, abs=1e-6)
    noise = float(loss(Identity(), maps_a, maps_b, c)[0])  # a perfect generator: only sampling noise
    off = float(loss(Identity(), 0.9 * maps_a, maps_b, c)[0])  # 10% low in amplitude, 19% in power
    assert off > 3 * noise


def test_the_conditional_fit_sees_a_wrong_dependence_on_the_parameters():
    maps_a, maps_b, c = paired_batches()
    loss = SpectralLoss(32, 1.0)
    # amplitude too high at high sigma8 and too low at low sigma8: the batch mean is nearly right
    tilted = maps_a * (1.0 + 0.3 * c[:, 1:2, None])
    assert float(loss(Identity(), tilted, maps_b, c)[0]) > 3 * float(loss(Identity(), maps_a, maps_b, c)[0])


def test_a_uniform_change_of_level_costs_its_level_bias_only():
    maps_a, maps_b, c = paired_batches()
    loss = SpectralLoss(32, 1.0)
    raised = 1.3 * (maps_a + 1.0) - 1.0  # every pixel's rho / rho_mean times 1.3: the same relative map
    shape = loss.log_level_and_shape(raised + 1.0)[:, 1:]
    assert torch.allclose(shape, loss.log_level_and_shape(maps_a + 1.0)[:, 1:], atol=1e-4)  # shape unchanged
    # the level's bias is log 1.3 at every map, its scatter unchanged: (log 1.3 / TOLERANCE)^2 and nothing else
    expected = (np.log(1.3) / TOLERANCE) ** 2
    assert float(loss(Identity(), raised, maps_a, c)[0]) == pytest.approx(expected, rel=1e-3)


def test_the_largest_scales_weigh_as_much_as_the_smallest():
    maps_a, maps_b, c = paired_batches()
    loss = SpectralLoss(32, 1.0)
    index, bands = band_index(32)

    def boosted(band: int) -> torch.Tensor:
        """maps_a with the power of one band times 1.2 (amplitude sqrt 1.2), the mean kept."""
        spectrum = torch.fft.rfft2(maps_a)
        factor = torch.ones(spectrum.shape[-2:]).reshape(-1)
        factor[index == band] = 1.2 ** 0.5
        return torch.fft.irfft2(spectrum * factor.reshape(spectrum.shape[-2:]), s=maps_a.shape[-2:])

    low, high = float(loss(Identity(), boosted(0), maps_a, c)[0]), float(loss(Identity(), boosted(bands - 1), maps_a, c)[0])
    assert low == pytest.approx(high, rel=0.05) and low == pytest.approx((np.log(1.2) / TOLERANCE) ** 2, rel=0.05)


def test_collapsed_spectra_cost_more_than_honest_scatter():
    maps_a, maps_b, c = paired_batches()
    loss = SpectralLoss(32, 1.0)
    collapsed = maps_a[:1].expand_as(maps_a)  # one map everywhere: no map-to-map scatter
    assert float(loss(Identity(), collapsed, maps_b, c)[0]) > float(loss(Identity(), maps_a, maps_b, c)[0])


def test_gradient_reaches_the_generated_maps_and_is_finite():
    maps_a, maps_b, c = paired_batches()
    fake = (0.9 * maps_a).requires_grad_(True)
    value, stats = SpectralLoss(32, 2.0)(Identity(), fake, maps_b, c)
    value.backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0
    assert float(stats["spectral"]) == pytest.approx(float(value.detach()))


def test_option_builds_the_term_without_changing_the_saved_state():
    layout = lognormal_maps(2, size=32).layout
    sizes = dict(latent_dim=8, generator_width=32, critic_width=32, depth=1)
    plain, _, _ = DOMAIN.build_model(layout, ModelConfig(**sizes))
    spectral, _, _ = DOMAIN.build_model(layout, ModelConfig(options={"spectral_weight": "3"}, **sizes))
    assert plain.physics_loss is None and spectral.physics_loss.names == ("spectral",)
    assert spectral.physics_loss.terms[0].weight == 3.0
    assert spectral.state_dict().keys() == plain.state_dict().keys()  # exports load either way


def train_tiny_map_run(tmp_path, *options: str) -> list[dict[str, str]]:
    """log.csv's rows of a 4-step R1 run on 32 small maps with the given ``--model-option`` values."""
    from click.testing import CliRunner

    from surrogate.cli import cli

    data = tmp_path / "maps.h5"
    events = lognormal_maps(32, size=32)
    formats.write_nbody(data, events.events, events.conditions, NAMES,
                        {"box_mpc_h": 100.0, "redshift": 0.0, "quantity": formats.CONTRAST})
    arguments = ["train", "--data", str(data), "--loss", "r1", "--steps", "4", "--out", str(tmp_path / "run"),
                 "--batch-size", "8", "--width", "32", "--depth", "1", "--latent-dim", "8", "--device", "cpu",
                 "--no-progress", "--validate-every", "2"]
    for option in options:
        arguments += ["--model-option", option]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader((tmp_path / "run" / "log.csv").open()))


def test_training_with_the_term_logs_it(tmp_path):
    rows = train_tiny_map_run(tmp_path, "spectral_weight=1")
    assert len(rows) == 2 and all(float(row["spectral"]) > 0 for row in rows)
