"""The maps' pixel-PDF generator term: its zero, its response to wrong tails, its wiring beside the spectral term."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogate.cosmology.pixel_pdf_loss import QUANTILES, TOLERANCE, PixelPdfLoss
from test_cosmology_models import lognormal_maps
from test_spectral_loss import Identity, train_tiny_map_run


def lognormal_batches(pairs: int = 64, size: int = 32, seed: int = 0):
    """Two independent log-normal maps per parameter point (contrast; contrast grows with sigma8) and the
    standardised conditions."""
    a = lognormal_maps(pairs, size, seed)
    b = lognormal_maps(pairs, size, seed + 1, conditions=a.conditions)
    c = torch.as_tensor((a.conditions - a.conditions.mean(0)) / a.conditions.std(0)).float()
    return torch.as_tensor(a.events), torch.as_tensor(b.events), c


def test_quantiles_of_a_known_map():
    x = torch.arange(1, 1025, dtype=torch.float32).reshape(1, 32, 32)  # x = 1 ... 1024, each once
    quantiles = PixelPdfLoss(1.0).log_quantiles(x)[0]
    assert quantiles.shape == (QUANTILES,)
    assert float(quantiles[0]) == pytest.approx(np.log(1 + round(0.005 * 1023)))
    assert float(quantiles[-1]) == pytest.approx(np.log(1 + round(0.995 * 1023)))
    assert torch.all(torch.diff(quantiles) > 0)


def test_zero_for_identical_batches_and_grows_when_the_voids_are_too_deep():
    maps_a, maps_b, c = lognormal_batches()
    loss = PixelPdfLoss(1.0)
    assert float(loss(Identity(), maps_a, maps_a, c)[0]) == pytest.approx(0.0, abs=1e-6)
    noise = float(loss(Identity(), maps_a, maps_b, c)[0])  # a perfect generator: sampling noise only
    x = maps_a + 1.0
    deeper = torch.where(x < 1.0, x ** 1.5, x) - 1.0  # under-dense pixels emptier; the rest unchanged
    off = float(loss(Identity(), deeper, maps_b, c)[0])
    assert off > 3 * noise
    # an error in the dense tail alone costs too, and a uniform 10% rise of ln x costs about TOLERANCE's price
    denser = torch.where(x > 2.0, x ** 1.3, x) - 1.0
    assert float(loss(Identity(), denser, maps_a, c)[0]) > 1.0
    raised = float(loss(Identity(), torch.exp(torch.log(x) + TOLERANCE) - 1.0, maps_a, c)[0])
    assert raised == pytest.approx(QUANTILES, rel=0.05)  # each quantile biased by exactly TOLERANCE


def test_gradient_reaches_the_pixels_and_the_terms_log_side_by_side(tmp_path):
    maps_a, maps_b, c = lognormal_batches(pairs=16)
    fake = (0.8 * maps_a).requires_grad_(True)
    value, stats = PixelPdfLoss(2.0)(Identity(), fake, maps_b, c)
    value.backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0
    assert float(stats["pixel_pdf"]) == pytest.approx(float(value.detach()))

    rows = train_tiny_map_run(tmp_path, "spectral_weight=1", "pdf_weight=1")
    assert len(rows) == 2 and all(float(row["spectral"]) > 0 and float(row["pixel_pdf"]) > 0 for row in rows)


def test_map_runs_train_with_the_three_terms_by_default_and_older_configs_without_them(tmp_path):
    from surrogate.core.config import ModelConfig
    from surrogate.cosmology.domain import DOMAIN

    rows = train_tiny_map_run(tmp_path)  # no model option given: the defaults
    assert all(float(row["spectral"]) > 0 and float(row["pixel_pdf"]) > 0 and float(row["local_pdf"]) > 0
               for row in rows)
    layout = lognormal_maps(2, size=32).layout
    current = DOMAIN.resolve_model(layout, ModelConfig()).options
    legacy = DOMAIN.resolve_model(layout, ModelConfig(), legacy=True).options  # a config.json from before
    terms = ("spectral_weight", "pdf_weight", "local_pdf_weight", "critic_features")
    assert [current[name] for name in terms] == ["2", "1", "1", "0"]
    assert [legacy[name] for name in terms] == ["0", "0", "0", "0"]


def test_the_texture_term_ignores_the_level_and_sees_pixel_noise():
    from surrogate.cosmology.pixel_pdf_loss import LocalContrastPdfLoss

    maps_a, maps_b, c = lognormal_batches()
    loss = LocalContrastPdfLoss(1.0)
    x = maps_a + 1.0
    flat = torch.ones(2, 8, 8)
    assert torch.allclose(loss.pixel_values(flat), torch.zeros(2, 8, 8), atol=1e-6)  # no texture at all
    assert float(loss(Identity(), 1.3 * x - 1.0, maps_a, c)[0]) == pytest.approx(0.0, abs=1e-4)  # level only
    noise = float(loss(Identity(), maps_a, maps_b, c)[0])
    rough = x * torch.exp(0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))) - 1.0
    assert float(loss(Identity(), rough, maps_b, c)[0]) > 10 * max(noise, 0.1)
