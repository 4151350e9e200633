"""Synthetic shower files and tiny configs shared by the training tests (CPU, seconds per run)."""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.layout import make_layout
from surrogate.calorimeter.geometry import Geometry, PolarLayer
from surrogate.core.config import LossConfig, ModelConfig, OptimConfig, TrainConfig
from surrogate.core.domain import EventSet
from surrogate.core.training import train

#: 3 layers x 4 angles x 3 radii = 36 cells.
TINY_GEOMETRY = Geometry("tiny", "calochallenge", tuple(
    PolarLayer((0.0, 5.0, 10.0, 20.0), 4, z_front_mm=3.0 * i, z_back_mm=3.0 * (i + 1)) for i in range(3)))
LAYER_SHARES = np.array([0.3, 0.5, 0.2])
RADIAL_SHARES = np.array([0.6, 0.3, 0.1])


def tiny_showers(n_events: int, seed: int, geometry: Geometry = TINY_GEOMETRY) -> EventSet:
    """Showers with a known simple law: E_tot/E_inc ~ N(0.9, 0.05), fixed mean layer and radial
    shares with log-normal cell fluctuations, and about 20% of cells empty; E_inc log-uniform 1-10 GeV."""
    rng = np.random.default_rng(seed)
    incident = np.exp(rng.uniform(np.log(1e3), np.log(1e4), n_events))
    n_alpha, n_r = geometry.layers[0].shape
    mean_share = (LAYER_SHARES[:, None, None] * np.full((1, n_alpha, 1), 1 / n_alpha) * RADIAL_SHARES[None, None, :])
    cells = mean_share.reshape(-1)[None, :] * rng.lognormal(0.0, 0.4, (n_events, geometry.n_values))
    cells[rng.random(cells.shape) < 0.2] = 0.0
    response = rng.normal(0.9, 0.05, n_events)
    cells *= (response * incident / cells.sum(axis=1))[:, None]
    layout = make_layout("calochallenge", geometry, particle="e-")
    return EventSet(incident[:, None], cells.astype(np.float32), ("incident_energy_mev",), layout)


def write_tiny_file(path: Path, n_events: int = 1000, seed: int = 0) -> Path:
    DOMAIN.write(path, tiny_showers(n_events, seed))
    return path


def tiny_config(data: Path, **changes) -> TrainConfig:
    """A few-second CPU run: small MLPs, small batches, frequent checkpoints."""
    loss = changes.pop("loss", "wgan-gp")
    optim = changes.pop("optim", {})
    values = dict(data=str(data), steps=20, batch_size=32, validate_every=10, checkpoint_every=10, log_every=5,
                  validation_events=200, ema_halflife_kimg=1.0,
                  loss=LossConfig(name=loss, r1_interval=4),
                  optim=OptimConfig(**optim),
                  model=ModelConfig(latent_dim=8, generator_width=16, critic_width=16, depth=2))
    values.update(changes)
    return TrainConfig(**values)


@contextlib.contextmanager
def one_torch_thread():
    """Tiny networks only lose time to thread hand-offs; restore the thread count afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_tiny_run(root: Path, data: Path | None = None, **changes) -> Path:
    """A finished tiny run in ``root / "run"`` (on ``data``, or on a 300-event tiny file written there)."""
    data = data or write_tiny_file(root / "tiny.h5", n_events=300)
    with one_torch_thread():
        train(tiny_config(data, **changes), root / "run", progress=False)
    return root / "run"


def needs_cuda(test):
    """Mark a test ``cuda`` (``pytest -m cuda`` runs just these, as benchmarks/gpu_check.py does) and skip
    it where torch sees no CUDA device."""
    return pytest.mark.cuda(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")(test))
