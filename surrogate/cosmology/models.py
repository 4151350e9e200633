"""The cosmology domain's training hooks: map preprocessing, networks for a layout, quick summaries.

:func:`build_model` is what ``CosmologyDomain.build_model`` returns (see
:meth:`surrogate.core.domain.Domain.build_model`). Architectures (``ModelConfig.arch``):
"auto" or "dcgan" (pixel transform s(x), tanh output) and "dcgan-log" (log transform,
linear output). Model options (``ModelConfig.options``): ``a`` of s(x) (default 4), ``epsilon`` of
the log transform (default 1e-3), ``spectral_weight`` (default 2), the weight of the generator's
power-spectrum term (:mod:`surrogate.cosmology.spectral_loss`), ``pdf_weight`` (default 1), that of its
pixel-distribution term (:mod:`surrogate.cosmology.pixel_pdf_loss`), ``local_pdf_weight`` (default 1), that of
its pixel-texture term (the same module), all carried by the preprocessor for training (0 turns a term off), and ``critic_features`` (default 0: off; 1: the critic also sees the map's
log band powers, :class:`surrogate.cosmology.networks.MapCritic`).
``generator_width`` / ``critic_width`` are the channels at 4x4 resolution (halved per doubling, at least 32),
``depth`` the convolutions per resolution (1 to 3).
"""
from __future__ import annotations

import numpy as np
import torch

from surrogate.core.config import model_options
from surrogate.core.domain import EventSet
from surrogate.cosmology.conditional_match import physical_maps
from surrogate.cosmology.formats import CONTRAST
from surrogate.cosmology.pixel_pdf_loss import LocalContrastPdfLoss, PixelPdfLoss
from surrogate.cosmology.spectral_loss import SpectralLoss
from surrogate.cosmology.transforms import (
    DEFAULT_A,
    DEFAULT_LOG_EPSILON,
    inverse_log_transform,
    inverse_s_transform,
    log_transform,
    s_transform,
)
from surrogate.errors import SurrogateError

ARCHITECTURES = {"auto": "s", "dcgan": "s", "dcgan-log": "log"}
#: The model option that sets each pixel transform's parameter, and the parameter's default.
TRANSFORM_PARAMETER = {"s": "a", "log": "epsilon"}
TRANSFORM_DEFAULT = {"s": DEFAULT_A, "log": DEFAULT_LOG_EPSILON}
#: The defaults of the options that only change training: the generator terms and the critic's features,
#: at the map fidelity benchmark's best configuration (docs/cosmology.md).
TRAINING_DEFAULTS = {"spectral_weight": 2, "pdf_weight": 1, "local_pdf_weight": 1, "critic_features": 0}
#: Their defaults before 2026-11-30, when config.json recorded only the options given: all off.
LEGACY_TRAINING_DEFAULTS = {"spectral_weight": 0, "pdf_weight": 0, "local_pdf_weight": 0, "critic_features": 0}


class GeneratorTerms:
    """Several generator terms (:class:`surrogate.cosmology.conditional_match.MapTerm`) as one ``physics_loss``:
    their sum, each logged under its own name; the maps are transformed back to physical units once for all."""

    def __init__(self, terms: list):
        self.terms = terms
        self.names = tuple(term.name for term in terms)

    def __call__(self, preprocessor, fake: torch.Tensor, real: torch.Tensor,
                 c: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake_maps = physical_maps(preprocessor, fake, c)
        with torch.no_grad():
            real_maps = physical_maps(preprocessor, real, c)
        total, stats = 0.0, {}
        for term in self.terms:
            value, term_stats = term.compare(fake_maps, real_maps, c)
            total, stats = total + value, {**stats, **term_stats}
        return total, stats


class MapPreprocessor(torch.nn.Module):
    """Physical maps <-> network space.

    Pixels: x = (map + offset) / scale (offset 1 for density contrast, so x = rho/rho_mean, else 0;
    scale the training mean of map + offset), then s(x) with parameter a, or log(x + epsilon).
    Conditions: standardised to zero mean and unit spread over the training set (a constant column
    keeps scale 1). forward(events (N, P, P), conditions (N, C)) -> (x (N, 1, P, P), c (N, C));
    :meth:`inverse` undoes it and returns maps with map + offset >= 0. ``physics_loss``, when given, is
    the trainer's extra generator term ``physics_loss(preprocessor, fake, real, c)``.
    """

    def __init__(self, transform: str, n_conditions: int, offset: float, parameter: float | None = None,
                 physics_loss: GeneratorTerms | None = None):
        super().__init__()
        self.physics_loss = physics_loss  # a generator term for training; not part of the state
        if transform not in ("s", "log"):
            raise SurrogateError(f"unknown pixel transform {transform!r}; choose s or log")
        self.transform = transform
        default = TRANSFORM_DEFAULT[transform]
        self.register_buffer("parameter", torch.tensor(float(default if parameter is None else parameter)))
        self.register_buffer("offset", torch.tensor(float(offset)))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("condition_mean", torch.zeros(n_conditions))
        self.register_buffer("condition_scale", torch.ones(n_conditions))

    def fit(self, events: np.ndarray, conditions: np.ndarray) -> None:
        """Pixel scale and condition standardisation from training maps and their parameters."""
        conditions = np.asarray(conditions, dtype=np.float64)
        if not np.isfinite(conditions).all():
            raise SurrogateError("the training conditions contain NaN or inf (a snapshot without sigma8 in its "
                                 "header needs --snapshot-sigma8)")
        total, count, lowest = 0.0, 0, np.inf
        for start in range(0, len(events), 256):
            block = np.asarray(events[start:start + 256], dtype=np.float64)
            if not np.isfinite(block).all():
                raise SurrogateError("the training maps contain NaN or inf")
            total, count, lowest = total + block.sum(), count + block.size, min(lowest, block.min())
        offset = float(self.offset)
        if lowest + offset < 0:
            raise SurrogateError(f"map values + offset reach {lowest + offset:.3g} < 0: the pixel transform needs "
                                 "non-negative values")
        mean = total / max(count, 1) + offset
        self.scale.fill_(mean if mean > 0 else 1.0)
        spread = conditions.std(axis=0)
        self.condition_mean.copy_(torch.as_tensor(conditions.mean(axis=0)))
        self.condition_scale.copy_(torch.as_tensor(np.where(spread > 0, spread, 1.0)))

    def transform_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        return (conditions.float() - self.condition_mean) / self.condition_scale

    def forward(self, events: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (events.float() + self.offset) / self.scale
        y = s_transform(x, self.parameter) if self.transform == "s" else log_transform(x, self.parameter)
        return y.unsqueeze(1), self.transform_conditions(conditions)

    def inverse(self, y: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        y = y.reshape(len(y), *y.shape[-2:]).float()
        if self.transform == "s":
            x = inverse_s_transform(y, self.parameter)
        else:
            x = inverse_log_transform(y, self.parameter).clamp(min=0.0)
        return x * self.scale - self.offset


def option_defaults(arch: str, legacy: bool = False) -> dict[str, str]:
    """The model options of ``arch`` at their defaults, as text: its pixel transform's parameter and
    :data:`TRAINING_DEFAULTS` ({} for an unknown arch, which ``build_model`` refuses); ``legacy``: those
    of configs written before every option was recorded (:data:`LEGACY_TRAINING_DEFAULTS`)."""
    transform = ARCHITECTURES.get(arch)
    if transform is None:
        return {}
    training = LEGACY_TRAINING_DEFAULTS if legacy else TRAINING_DEFAULTS
    return {TRANSFORM_PARAMETER[transform]: format(TRANSFORM_DEFAULT[transform], "g"),
            **{name: format(value, "g") for name, value in training.items()}}


def _check(config) -> tuple[str, dict[str, float]]:
    """The pixel transform of ``config.arch`` and the model options given (name -> number), checked."""
    if config.arch not in ARCHITECTURES:
        raise SurrogateError(f"unknown architecture {config.arch!r} for maps; choose {', '.join(ARCHITECTURES)}")
    if not 1 <= config.depth <= 3:
        raise SurrogateError(f"depth (convolutions per resolution) must be 1, 2 or 3 for maps, not {config.depth}")
    transform = ARCHITECTURES[config.arch]
    accepted = {TRANSFORM_PARAMETER[transform]: "positive", "spectral_weight": "non-negative",
                "pdf_weight": "non-negative", "local_pdf_weight": "non-negative", "critic_features": "non-negative"}
    return transform, model_options(config, accepted, f"maps with the {transform} transform")


def generator_terms(map_size: int, options: dict[str, float]) -> GeneratorTerms | None:
    """The generator terms the options switch on (spectral_weight, pdf_weight, local_pdf_weight), or None."""
    terms = []
    if options.get("spectral_weight", 0.0) > 0:
        terms.append(SpectralLoss(map_size, options["spectral_weight"]))
    if options.get("pdf_weight", 0.0) > 0:
        terms.append(PixelPdfLoss(options["pdf_weight"]))
    if options.get("local_pdf_weight", 0.0) > 0:
        terms.append(LocalContrastPdfLoss(options["local_pdf_weight"]))
    return GeneratorTerms(terms) if terms else None


def build_model(layout: dict, config, train_events: EventSet | None = None) -> tuple:
    """``(preprocessor, generator, critic)`` for maps of ``layout``; ``config`` is a ModelConfig.

    The number of conditions comes from ``layout["condition_names"]`` or, when fitting, from the
    training events (which set it in the layout they carry).
    """
    from surrogate.cosmology.networks import MapCritic, MapGenerator

    transform, options = _check(config)
    map_size = int(layout["map_size"])
    names = layout.get("condition_names") or (train_events.condition_names if train_events is not None else None)
    if not names:
        raise SurrogateError("the map layout does not name its parameters (condition_names)")
    offset = 1.0 if layout.get("quantity", CONTRAST) == CONTRAST else 0.0
    preprocessor = MapPreprocessor(transform, len(names), offset, options.get(TRANSFORM_PARAMETER[transform]),
                                   generator_terms(map_size, options))
    if train_events is not None:
        if train_events.event_shape != (map_size, map_size):
            raise SurrogateError(f"maps of shape {train_events.event_shape}, layout says {map_size}x{map_size}")
        preprocessor.fit(train_events.events, train_events.conditions)
    head = "tanh" if transform == "s" else "linear"
    generator = MapGenerator(config.latent_dim, len(names), map_size, width=config.generator_width,
                             convs_per_block=config.depth, conditioning=config.generator_conditioning, head=head)
    critic = MapCritic(len(names), map_size, width=config.critic_width, convs_per_block=config.depth,
                       conditioning=config.critic_conditioning,
                       power_features=bool(options.get("critic_features")))
    return preprocessor, generator, critic
