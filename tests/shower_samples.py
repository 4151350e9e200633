"""Synthetic shower files and a CLI runner shared by the shower-format tests (no simulator needed)."""
from __future__ import annotations

import numpy as np

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.known_geometries import geometry_named
from surrogate.calorimeter.formats.layout import make_layout
from surrogate.cli import main
from surrogate.core.domain import EventSet


def sample_events(geometry, n_events: int, seed: int, file_format: str = "calochallenge",
                  particle: str | None = "e-") -> EventSet:
    """Sparse, non-negative random showers (MeV) at energies 1-100 GeV, in ``file_format``."""
    if isinstance(geometry, str):
        geometry = geometry_named(geometry)
    rng = np.random.default_rng(seed)
    events = rng.exponential(5.0, (n_events, geometry.n_values)).astype(np.float32)
    events[rng.random(events.shape) < 0.7] = 0.0
    energies_mev = np.exp(rng.uniform(np.log(1e3), np.log(1e5), (n_events, 1)))
    layout = make_layout(file_format, geometry, particle=particle, sampling_fraction=geometry.sampling_fraction)
    return EventSet(energies_mev, events, ("incident_energy_mev",), layout)


def write_sample(path, geometry, n_events: int, seed: int, file_format: str = "calochallenge", **kwargs) -> EventSet:
    """Write :func:`sample_events` to ``path`` and return what was written."""
    events = sample_events(geometry, n_events, seed, file_format, **kwargs)
    DOMAIN.write(path, events)
    return events


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``surrogate ARGS`` in-process as the console script does: (exit code, stdout, stderr)."""
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err
