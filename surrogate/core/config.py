"""Typed training configuration: dataclasses with defaults, read from TOML/JSON, unknown keys rejected.

A run directory keeps the resolved configuration (every default filled in) as ``config.json``, so a
run can be repeated or resumed from it alone. Loss-dependent defaults (learning rate, betas, critic
steps, optimizer) are ``None`` until :func:`resolve` fills them from the loss registry
(:data:`surrogate.core.losses.LOSSES`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from surrogate.core.losses import DEFAULT_LOSS, loss_entry
from surrogate.errors import SurrogateError

PRECISIONS = ("fp32", "bf16")
GENERATOR_CONDITIONING = ("concat", "film")
CRITIC_CONDITIONING = ("concat", "projection")

@dataclass
class ModelConfig:
    """Network sizes and conditioning; the domain's ``build_model`` interprets ``arch``.

    arch: "auto" lets the domain choose (calorimeter: "dense" for CaloChallenge binnings,
        "layer-streams" for CaloGAN-like geometries; "conv" for equal polar layers).
    generator_conditioning: "concat" (condition appended to z and to every hidden layer's input)
        or "film" (conditional scale and shift of every hidden layer).
    critic_conditioning: "concat" (condition appended to the input) or "projection" (inner
        product of a condition embedding with the critic's last features, Miyato & Koyama 2018).
    options: settings only one domain understands (its preprocessing), read by that domain's
        ``build_model`` through :func:`model_options`; e.g. {"a": "10"} for the maps' s(x) transform.
    """

    arch: str = "auto"
    latent_dim: int = 64
    generator_width: int = 256
    critic_width: int = 256
    depth: int = 3
    generator_conditioning: str = "concat"
    critic_conditioning: str = "concat"
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class LossConfig:
    """Which GAN objective and its penalty weights (see docs/concepts.md)."""

    name: str = DEFAULT_LOSS  # a key of surrogate.core.losses.LOSSES
    gp_lambda: float = 10.0
    r1_gamma: float = 1.0
    r1_interval: int = 16  # lazy R1: penalty every this many critic steps, scaled by it
    clip_value: float = 0.01  # wgan-clip: critic weights kept in [-clip_value, clip_value]


@dataclass
class OptimConfig:
    """Optimisers of both networks; None means the loss's default (its entry in the loss registry)."""

    optimizer: str | None = None  # "adam" or "rmsprop"
    lr_generator: float | None = None
    lr_critic: float | None = None
    betas: tuple[float, float] | None = None
    critic_steps: int | None = None  # critic updates per generator update


@dataclass
class TrainConfig:
    """Everything one training run needs. Progress is counted in generator steps of ``batch_size``
    samples (the global batch, split over DDP ranks), so a config means the same on 1 or N devices.
    """

    data: str = ""
    data_options: dict[str, str] = field(default_factory=dict)  # reader options, e.g. {"card": "x.toml"}
    steps: int = 2000
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    precision: str = "fp32"  # "bf16": autocast of the network passes; penalties stay fp32
    tf32: bool = True  # CUDA only: TF32 tensor cores for fp32 matmuls/convolutions, cuDNN autotuning
    compile: bool = False  # torch.compile of the network passes outside the penalty's double backward
    ema_halflife_kimg: float = 10.0  # half-life of the generator EMA, thousands of samples
    ema_rampup: float = 0.05  # half-life at most this fraction of the samples seen so far (0: off)
    holdout_fraction: float = 0.1  # events kept out of training for the quick validation
    validation_events: int = 2000  # at most this many held-out events are compared
    validate_every: int = 500  # generator steps between quick validations (0: only at the end)
    checkpoint_every: int = 500  # generator steps between checkpoints (always one at the end)
    log_every: int = 50  # generator steps between rows of log.csv
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    model: ModelConfig = field(default_factory=ModelConfig)


def from_dict(cls, values: dict[str, Any], where: str | os.PathLike | None = None, prefix: str = ""):
    """Build dataclass ``cls`` from nested dicts; an unknown key or a wrong type is a SurrogateError."""
    if not isinstance(values, dict):
        raise SurrogateError(f"{prefix or 'config'} must be a table, got {type(values).__name__}", where)
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SurrogateError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(known))})", where)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = from_dict(hint, value, where, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hint, f"{prefix}{name}", where)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, key: str, where) -> Any:
    """``value`` checked against a field's type: bool, int, float (ints accepted), str, a pair, a table of
    strings, or X | None."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    kind = next(option for option in options if option is not type(None))
    if value is None:
        if type(None) in options:
            return None
        raise SurrogateError(f"config key {key} may not be empty", where)
    if typing.get_origin(kind) is dict:
        if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
            raise SurrogateError(f"config key {key} must be a table of strings or numbers, got {value!r}", where)
        return {str(k): str(v) for k, v in value.items()}
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise SurrogateError(f"config key {key} must be a pair of numbers, got {value!r}", where)
        return tuple(float(item) for item in value)
    if kind is float and _is_number(value):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SurrogateError(f"config key {key} must be {kind.__name__}, got {value!r}", where)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_dict(config) -> dict[str, Any]:
    """Nested plain dict (tuples become lists), ready for JSON."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def read_config_file(path: str | os.PathLike) -> TrainConfig:
    """A TrainConfig from a ``.toml`` or ``.json`` file (missing keys keep their defaults)."""
    return from_dict(TrainConfig, read_config_values(path), path)


def read_config_values(path: str | os.PathLike) -> dict[str, Any]:
    """The nested tables of a ``.toml`` or ``.json`` config file, as written (not checked yet)."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as error:
        raise SurrogateError(f"cannot read config ({error.strerror})", path) from None
    try:
        if path.suffix == ".json":
            values = json.loads(text)
        else:
            toml = __import__("tomllib" if sys.version_info >= (3, 11) else "tomli")
            values = toml.loads(text.decode())
    except (ValueError, UnicodeDecodeError) as error:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise SurrogateError(f"not a valid {kind} config: {error}", path) from None
    return values


def resolve(config: TrainConfig) -> TrainConfig:
    """A copy with the loss-dependent optimiser defaults filled in, after checking every choice."""
    defaults = loss_entry(config.loss.name)
    if config.precision not in PRECISIONS:
        raise SurrogateError(f"unknown precision {config.precision!r}; choose one of {', '.join(PRECISIONS)}")
    if config.model.generator_conditioning not in GENERATOR_CONDITIONING:
        raise SurrogateError(f"unknown generator conditioning {config.model.generator_conditioning!r}; "
                             f"choose {' or '.join(GENERATOR_CONDITIONING)}")
    if config.model.critic_conditioning not in CRITIC_CONDITIONING:
        raise SurrogateError(f"unknown critic conditioning {config.model.critic_conditioning!r}; "
                             f"choose {' or '.join(CRITIC_CONDITIONING)}")
    _check_positive(config)
    optim = config.optim
    lr = defaults.lr
    resolved = dataclasses.replace(
        optim,
        optimizer=optim.optimizer or defaults.optimizer,
        lr_generator=optim.lr_generator if optim.lr_generator is not None else lr,
        lr_critic=optim.lr_critic if optim.lr_critic is not None else lr,
        betas=tuple(optim.betas) if optim.betas is not None else defaults.betas,
        critic_steps=optim.critic_steps if optim.critic_steps is not None else defaults.critic_steps,
    )
    if resolved.optimizer not in ("adam", "rmsprop"):
        raise SurrogateError(f"unknown optimizer {resolved.optimizer!r}; choose adam or rmsprop")
    if resolved.critic_steps < 1:
        raise SurrogateError("critic_steps must be at least 1")
    return dataclasses.replace(config, optim=resolved)


#: The ranges a model option may be declared with: name -> (test, wording for the error).
OPTION_RANGES = {"positive": (lambda value: value > 0, "positive"), "non-negative": (lambda value: value >= 0, ">= 0")}


def model_options(config: ModelConfig, accepted: dict[str, str], domain: str) -> dict[str, float]:
    """``config.options`` as numbers; ``accepted`` maps each option ``domain`` knows to its range (a key of
    :data:`OPTION_RANGES`). An unknown name, a non-number or a value out of range is a SurrogateError."""
    known = ", ".join(accepted) or "none"
    values = {}
    for name, text in config.options.items():
        if name not in accepted:
            raise SurrogateError(f"unknown model option {name!r} for {domain} (accepted: {known})")
        try:
            value = float(text)
        except ValueError:
            raise SurrogateError(f"model option {name}={text!r}: expected float") from None
        if not math.isfinite(value):
            raise SurrogateError(f"model option {name}={text!r}: not a finite number")
        in_range, wording = OPTION_RANGES[accepted[name]]
        if not in_range(value):
            raise SurrogateError(f"model option {name} must be {wording}, not {value}")
        values[name] = value
    return values


def _check_positive(config: TrainConfig) -> None:
    checks = {
        "steps": config.steps >= 1, "batch_size": config.batch_size >= 1,
        "ema_halflife_kimg": config.ema_halflife_kimg > 0, "ema_rampup": config.ema_rampup >= 0,
        "holdout_fraction": 0 <= config.holdout_fraction < 1, "validation_events": config.validation_events >= 1,
        "validate_every": config.validate_every >= 0, "checkpoint_every": config.checkpoint_every >= 0,
        "log_every": config.log_every >= 1, "loss.gp_lambda": config.loss.gp_lambda >= 0,
        "loss.r1_gamma": config.loss.r1_gamma >= 0, "loss.r1_interval": config.loss.r1_interval >= 1,
        "loss.clip_value": config.loss.clip_value > 0, "model.latent_dim": config.model.latent_dim >= 1,
        "model.generator_width": config.model.generator_width >= 1,
        "model.critic_width": config.model.critic_width >= 1, "model.depth": config.model.depth >= 1,
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise SurrogateError(f"config value out of range: {bad[0]}")
