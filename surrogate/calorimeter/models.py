"""The calorimeter's training hooks: networks and preprocessing for a geometry, and quick summaries.

:func:`build_model` is what ``CalorimeterDomain.build_model`` returns (see
:meth:`surrogate.core.domain.Domain.build_model`); :func:`training_summaries` feeds the quick
validation that the training loop logs.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from surrogate.calorimeter.geometry import CartesianLayer, Geometry, PolarLayer
from surrogate.calorimeter.observables import layer_cells
from surrogate.core.config import model_options
from surrogate.core.domain import EventSet
from surrogate.errors import SurrogateError

ARCHITECTURES = ("dense", "conv", "layer-streams")
#: Every model option and the range it may take (see :func:`surrogate.core.config.model_options`).
OPTION_RANGES = {"alpha": "positive", "cell_noise": "non-negative", "noise_profile": "non-negative",
                 "response_weight": "positive", "critic_features": "non-negative", "calibrate": "non-negative"}
#: The options' defaults: the best configuration of the fidelity benchmark (docs/training.md), with which
#: both shipped models were trained. Cell noise (and so its profile) is for the ``dense`` generator only.
OPTION_DEFAULTS = {"alpha": 1e-3, "cell_noise": 1.5, "noise_profile": 1, "response_weight": 3, "calibrate": 1,
                   "critic_features": 0}
#: The defaults before 2026-11-30, when config.json recorded only the options given: a stored config
#: that lacks an option was trained with these.
LEGACY_OPTION_DEFAULTS = {"alpha": 1e-6, "cell_noise": 0, "noise_profile": 0, "response_weight": 1, "calibrate": 0,
                          "critic_features": 0}
#: The energy groups of the quick summaries: at most this many bands of consecutive layers.
SUMMARY_BANDS = 5


def polar_grid(geometry: Geometry) -> tuple[int, int, int] | None:
    """(layers, angles, radii) when every layer is polar with the same bins and there is no overflow."""
    layers = geometry.layers
    if geometry.overflow or not all(isinstance(layer, PolarLayer) for layer in layers):
        return None
    shapes = {layer.shape for layer in layers}
    if len(shapes) != 1 or 0 in next(iter(shapes)):
        return None
    return (len(layers), *next(iter(shapes)))


def choose_architecture(geometry: Geometry, arch: str) -> str:
    """``auto`` -> ``layer-streams`` for rectangular (CaloGAN-like) layers, ``dense`` otherwise."""
    if arch == "auto":
        return "layer-streams" if all(isinstance(layer, CartesianLayer) for layer in geometry.layers) else "dense"
    if arch not in ARCHITECTURES:
        raise SurrogateError(f"unknown architecture {arch!r} for showers; choose auto or {', '.join(ARCHITECTURES)}")
    if arch == "conv" and polar_grid(geometry) is None:
        raise SurrogateError(
            f"architecture 'conv' needs polar layers that all share one binning (geometry {geometry.name!r} "
            "does not); use 'dense'")
    return arch


def option_defaults(arch: str, legacy: bool = False) -> dict[str, str]:
    """The model options ``arch`` (``dense``, ``conv`` or ``layer-streams``) is built with when a config does
    not give them, as text; ``legacy``: those of configs written before every option was recorded."""
    defaults = dict(LEGACY_OPTION_DEFAULTS if legacy else OPTION_DEFAULTS)
    if arch != "dense":
        defaults.update(cell_noise=0, noise_profile=0)
    return {name: format(value, "g") for name, value in defaults.items()}


def build_model(geometry: Geometry, config, train_events: EventSet | None = None) -> tuple:
    """``(preprocessor, generator, critic)`` for showers of ``geometry``; ``config`` is a ModelConfig.

    With ``train_events`` the preprocessor is fitted to them; without, it has the right shapes and
    waits for ``load_state_dict``.
    """
    import torch

    from surrogate.calorimeter import networks
    from surrogate.calorimeter.preprocessing import ShowerPreprocessor, value_groups

    arch = choose_architecture(geometry, config.arch)
    groups = value_groups(geometry)
    options = model_options(replace(config, options={**option_defaults(arch), **config.options}), OPTION_RANGES,
                            "showers")
    alpha, cell_noise, response_weight = options["alpha"], options["cell_noise"], options["response_weight"]
    if cell_noise > 0 and arch != "dense":
        raise SurrogateError(f"model option cell_noise is implemented for arch 'dense' only, not {arch!r}")
    calibration = None
    if options["calibrate"]:
        from surrogate.calorimeter.calibration import CellSpectrumCalibration, calibration_rings

        calibration = CellSpectrumCalibration(torch.as_tensor(groups), calibration_rings(geometry))
    preprocessor = ShowerPreprocessor(groups, log_conditions=[True], alpha=alpha, response_weight=response_weight,
                                      calibration=calibration)
    if train_events is not None:
        if train_events.events.reshape(len(train_events), -1).shape[1] != geometry.n_values:
            raise SurrogateError(f"events have {int(np.prod(train_events.event_shape))} values, "
                                 f"geometry {geometry.name!r} has {geometry.n_values}")
        preprocessor.fit(train_events.events, train_events.conditions)
        if cell_noise > 0 and options["noise_profile"] > 0:
            cell_noise = cell_noise * cell_noise_profile(geometry, preprocessor, train_events)
    n_features, n_conditions = preprocessor.n_features, preprocessor.n_conditions
    sizes = dict(width=config.generator_width, depth=config.depth, conditioning=config.generator_conditioning,
                 head=networks.SimplexHead.like(preprocessor))
    critic_sizes = dict(width=config.critic_width, depth=config.depth, conditioning=config.critic_conditioning)
    if arch == "conv":
        grid = polar_grid(geometry)
        generator = networks.ConvGenerator(config.latent_dim, n_conditions, grid, **sizes)
        critic = networks.ConvCritic(n_conditions, grid, **critic_sizes)
    elif arch == "layer-streams":
        generator = networks.LayerStreamGenerator(config.latent_dim, n_conditions, groups, **sizes)
    else:
        generator = networks.DenseGenerator(config.latent_dim, n_conditions, n_features, cell_noise=cell_noise,
                                            **sizes)
    if arch != "conv":
        physics = shower_features(geometry, preprocessor, train_events) if options["critic_features"] else None
        critic = networks.DenseCritic(n_features, n_conditions, n_summary=1 + preprocessor.n_groups,
                                      physics=physics, **critic_sizes)
    return preprocessor, generator, critic


def shower_features(geometry: Geometry, preprocessor, events: EventSet | None, max_events: int = 4000):
    """The critic's :class:`~surrogate.calorimeter.networks.ShowerFeatures` for ``geometry``, standardised
    on up to ``max_events`` training showers (left unfitted without them: a checkpoint fills it)."""
    from surrogate.calorimeter.networks import ShowerFeatures

    coordinates = {name: np.zeros(geometry.n_values) for name in ("x_mm", "y_mm", "r_mm")}
    is_cell = np.zeros(geometry.n_values)
    for layer in layer_cells(geometry):
        for name, values in coordinates.items():
            values[layer.cells] = getattr(layer, name)
        is_cell[layer.cells] = 1.0
    features = ShowerFeatures(preprocessor, coordinates["x_mm"], coordinates["y_mm"], coordinates["r_mm"], is_cell)
    if events is not None:
        energies, conditions = _first_events(geometry, events, max_events)
        features.fit(preprocessor(energies, conditions)[0].float())
    return features


def _first_events(geometry: Geometry, events: EventSet, max_events: int):
    """The first ``max_events`` showers (N, n_values) and their conditions (N, C), as float64 tensors."""
    import torch

    rows = slice(0, min(len(events), max_events))
    energies = torch.as_tensor(np.asarray(events.events[rows], dtype=np.float64)).reshape(-1, geometry.n_values)
    return energies, torch.as_tensor(np.asarray(events.conditions[rows], dtype=np.float64))


def cell_noise_profile(geometry: Geometry, preprocessor, events: EventSet, max_events: int = 4000) -> torch.Tensor:
    """Per event entry, how much its log fraction varies on its own, in the head's raw units.

    In a polar layer that is the spread over showers of a cell's log fraction minus the mean over the
    angular cells of its ring: the unevenness of the angular sharing, small in the dense core and large
    where cells are hit now and then. Elsewhere (Cartesian layers, overflow) it is the cell's plain
    spread. Divided by the feature's standard deviation, it is the noise scale that gives each cell's
    logit the independent variation of real showers (model option ``noise_profile=1``).
    """
    energies, conditions = _first_events(geometry, events, max_events)
    logs = preprocessor.raw_features(energies, conditions[:, 0])[:, 1 + preprocessor.n_groups:]
    spread = logs.std(dim=0)
    for layer, cells in zip(geometry.layers, geometry.layer_slices()):
        if isinstance(layer, PolarLayer) and layer.size and layer.n_alpha > 1:
            block = logs[:, cells].reshape(len(logs), *layer.shape)  # (events, angles, radii)
            spread[cells] = (block - block.mean(dim=1, keepdim=True)).std(dim=0).reshape(-1)
    return (spread / preprocessor.feature_std[1 + preprocessor.n_groups:]).float()


def _bands(n_layers: int) -> list[tuple[int, int]]:
    """Up to SUMMARY_BANDS ranges of consecutive layers [first, last], as equal as possible."""
    edges = np.linspace(0, n_layers, min(SUMMARY_BANDS, n_layers) + 1).round().astype(int)
    return [(int(a), int(b) - 1) for a, b in zip(edges[:-1], edges[1:])]


def training_summaries(geometry: Geometry, events: EventSet) -> dict[str, np.ndarray]:
    """Cheap per-shower numbers for the quick validation during training (name -> (N,) float64).

    ``etot_over_einc`` (recorded over incident energy), energy in up to five bands of consecutive
    layers (MeV), the number of cells above zero, the energy-weighted mean layer index, radial width
    (mm, all layers together) and mean log10 energy of the hit cells (the cell-energy spectrum).
    """
    energies = np.asarray(events.events, dtype=np.float64).reshape(len(events), -1)
    incident = np.asarray(events.conditions[:, 0], dtype=np.float64)
    layer_mev = np.stack([energies[:, cells].sum(axis=1) for cells in geometry.layer_slices()], axis=1)
    total = energies.sum(axis=1)
    digits = len(str(len(geometry.layers) - 1))
    out = {"etot_over_einc": total / incident}
    for first, last in _bands(len(geometry.layers)):
        name = f"layer{first:0{digits}d}" if first == last else f"layers{first:0{digits}d}-{last:0{digits}d}"
        out[f"{name}_energy_mev"] = layer_mev[:, first:last + 1].sum(axis=1)
    out["n_cells_above_zero"] = (energies[:, :geometry.n_cells] > 0).sum(axis=1).astype(np.float64)
    cell_total = layer_mev.sum(axis=1)
    depth = layer_mev @ np.arange(len(geometry.layers), dtype=np.float64)
    out["mean_layer_index"] = np.divide(depth, cell_total, out=np.zeros_like(depth), where=cell_total > 0)
    cells = energies[:, :geometry.n_cells]
    r_mm = np.concatenate([layer.r_mm for layer in layer_cells(geometry)])
    r_mean = _weighted_mean(cells, r_mm, cell_total)
    r_square = _weighted_mean(cells, r_mm ** 2, cell_total)
    out["radial_width_mm"] = np.sqrt(np.clip(r_square - r_mean ** 2, 0, None))
    hits = cells > 0
    log_energy = np.log10(np.where(hits, cells, 1.0)).sum(axis=1)
    n_hits = hits.sum(axis=1)
    out["mean_log10_cell_energy_mev"] = np.divide(log_energy, n_hits, out=np.zeros_like(log_energy),
                                                  where=n_hits > 0)
    return out


def _weighted_mean(cells: np.ndarray, values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Per shower, the mean of ``values`` (one per cell) weighted by the cells' energies (0 if empty)."""
    sums = cells @ values
    return np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)
