"""A trained surrogate for inference: ``surrogate.load(run_dir).sample(conditions)``.

The object wraps the EMA generator and the preprocessor of a run's export (``model_best.pt`` or
``model.pt``) and turns physical conditions (e.g. incident energies in MeV) into physical events in
the training data's units. For timing, :meth:`Surrogate.generate_preprocessed` runs only the
network (no conversion to physical units) on tensors already on the device, and
:meth:`Surrogate.inverse` is the conversion alone.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from surrogate import pretrained
from surrogate.core import checkpoint
from surrogate.core.conditions import ConditionStream, open_conditions
from surrogate.core.config import TrainConfig, from_dict
from surrogate.core.contracts import build_checked
from surrogate.core.domain import Domain, EventSet, domain_named
from surrogate.errors import SurrogateError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}

log = logging.getLogger(__name__)


def autocast(device: torch.device, precision: str):
    """bf16 autocast on ``device`` for precision "bf16", nothing for "fp32"."""
    if precision not in PRECISIONS:
        raise SurrogateError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    if PRECISIONS[precision] is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=PRECISIONS[precision])


class Surrogate:
    """A generator and its preprocessing, ready to sample; see :func:`load`.

    Attributes: ``domain`` (the Domain object), ``layout`` (the training data's layout, used to
    write generated files), ``config`` (the run's TrainConfig), ``condition_names``,
    ``event_shape``, ``metadata`` (step, samples seen, validation scores, library version).
    """

    def __init__(self, domain: Domain, layout: dict[str, Any], config: TrainConfig,
                 condition_names: tuple[str, ...], event_shape: tuple[int, ...],
                 preprocessor: torch.nn.Module, generator: torch.nn.Module, metadata: dict[str, Any]):
        self.domain = domain
        self.layout = layout
        self.config = config
        self.condition_names = tuple(condition_names)
        self.event_shape = tuple(event_shape)
        self.preprocessor = preprocessor.eval().requires_grad_(False)
        self.generator = generator.eval().requires_grad_(False)
        self.metadata = metadata

    def __repr__(self) -> str:
        ranges = (f"{self._range_text()} (trained range)" if self.trained_range
                  else f"{', '.join(self.condition_names)} (trained range unknown)")
        score = (self.metadata.get("validation") or {}).get("score")
        quick = "" if score is None else f", quick-validation score {score:.3g}"
        card = self.metadata.get("card")
        if card is not None:
            fidelity = card["fidelity"]
            quick = (f", shipped fidelity: median ratio {fidelity['median_ratio']:.3g}, worst "
                     f"{fidelity['worst_ratio']:.3g} ({fidelity['worst']}), AUC {fidelity['classifier_auc']:.3f}")
        return f"<Surrogate {self.domain.name}: {ranges}, step {self.metadata.get('step')}{quick}>"

    @functools.cached_property
    def training_condition_stream(self) -> ConditionStream | None:
        """The conditions of the run's training file (``config.data``) as a stream that knows their count
        and range, None when the file is not readable here (e.g. a model copied elsewhere). Checked once
        per model, block by block."""
        if not self.config.data or not Path(self.config.data).is_file():
            return None
        try:
            return open_conditions(Path(self.config.data), self.condition_names, self.config.data_options)
        except SurrogateError:
            return None

    @property
    def trained_range(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(low, high) of each condition over the training file (for a shipped model: the energy range of
        its card, in MeV, or its parameter ranges), None when it is not known."""
        card = self.metadata.get("card")
        if card is not None and "parameter_ranges" in card:
            ranges = card["parameter_ranges"]
            return tuple(np.array([ranges[name][side] for name in self.condition_names]) for side in (0, 1))
        if card is not None:
            return tuple(np.array([value * 1e3]) for value in card["energy_range_gev"])
        stream = self.training_condition_stream
        return None if stream is None else (stream.low, stream.high)

    def warn_outside_range(self, conditions: np.ndarray | ConditionStream) -> None:
        """One warning when any row of ``conditions`` (an (N, C) array or a stream) lies outside the
        trained range, by more than 5% of an edge's value (a finite training sample stops just short of
        its generating range). A stream inside the range, by its own range, is not read again."""
        trained = self.trained_range
        if trained is None:
            return
        low, high = trained
        low, high = low - 0.05 * np.abs(low), high + 0.05 * np.abs(high)
        if isinstance(conditions, ConditionStream):
            if (conditions.low >= low).all() and (conditions.high <= high).all():
                return
            blocks = conditions.blocks()
        else:
            blocks = [conditions]
        outside = sum(np.count_nonzero(((block < low) | (block > high)).any(axis=1)) for block in blocks)
        if outside:
            log.warning("warning: %d of %d conditions lie outside the training range (%s); the surrogate "
                        "extrapolates there", outside, len(conditions), self._range_text())

    def _range_text(self) -> str:
        return ", ".join(f"{name} {low:.4g}-{high:.4g}" for name, low, high in zip(self.condition_names,
                                                                                   *self.trained_range))

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def latent_dim(self) -> int:
        return int(self.generator.latent_dim)

    def to(self, device: str | torch.device) -> "Surrogate":
        """Move the networks to ``device`` (in place); returns self."""
        self.generator.to(device)
        self.preprocessor.to(device)
        return self

    def conditions_array(self, conditions) -> np.ndarray:
        """Conditions as a float64 (N, C) array; a 1-D array is one value per event when C is 1."""
        array = np.asarray(conditions.cpu() if isinstance(conditions, torch.Tensor) else conditions, dtype=np.float64)
        if array.ndim == 1 and len(self.condition_names) == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != len(self.condition_names):
            raise SurrogateError(f"conditions of shape {array.shape}; this model expects "
                                 f"(N, {len(self.condition_names)}) columns {', '.join(self.condition_names)}")
        if not np.isfinite(array).all():
            raise SurrogateError("conditions contain NaN or inf")
        return array

    @torch.inference_mode()
    def generate_preprocessed(self, conditions: torch.Tensor, *, generator: torch.Generator | None = None,
                              precision: str = "fp32") -> torch.Tensor:
        """One batch in network space: physical conditions (N, C) on the model's device -> (N, features).

        The cost measured by a timing harness: condition transform, noise, generator forward.
        ``generator`` (a torch.Generator on the same device) makes the noise reproducible.
        """
        c = self.preprocessor.transform_conditions(conditions.float())
        z = torch.randn(len(c), self.latent_dim, device=c.device, generator=generator)
        with autocast(c.device, precision):
            return self.generator(z, c)

    @torch.inference_mode()
    def inverse(self, x: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """Network-space samples -> physical events (N, *event_shape), on the same device, in fp32."""
        events = self.preprocessor.inverse(x.float(), conditions.float())
        return events.reshape(len(x), *self.event_shape)

    def sample(self, conditions, *, batch_size: int = 10_000, device: str | torch.device | None = None,
               seed: int = 0, as_torch: bool = False, precision: str = "fp32"):
        """One generated event per condition row, in physical units (MeV for showers).

        conditions: (N, C) array-like in the units of ``condition_names`` (1-D when C is 1, e.g.
            ``model.sample(incident_energies_mev)``).
        Returns a float32 numpy array (N, *event_shape), or a torch tensor on ``device`` with
        ``as_torch``. The result depends on ``seed`` and ``batch_size``.
        """
        array = self.conditions_array(conditions)
        if batch_size < 1:
            raise SurrogateError("batch size must be at least 1")
        self.warn_outside_range(array)
        if device is not None:
            self.to(device)
        device = self.device
        rng = torch.Generator(device=device).manual_seed(int(seed))
        parts = []
        for start in range(0, len(array), batch_size):
            c = torch.as_tensor(array[start:start + batch_size], device=device)
            events = self.inverse(self.generate_preprocessed(c, generator=rng, precision=precision), c)
            parts.append(events if as_torch else events.cpu().numpy())
        if as_torch:
            return torch.cat(parts) if parts else torch.empty(0, *self.event_shape, device=device)
        return np.concatenate(parts) if parts else np.empty((0, *self.event_shape), np.float32)

    def sample_events(self, conditions, **options) -> EventSet:
        """:meth:`sample` wrapped as an EventSet in the training data's layout, ready for ``domain.write``."""
        array = self.conditions_array(conditions)
        return EventSet(array, self.sample(array, **options), self.condition_names, dict(self.layout))


def export_path(run_dir: str | os.PathLike, which: str = "best") -> Path:
    """The export file of a run: ``best`` falls back to ``last`` before any validation ran.

    ``run_dir`` may also be an export file, or the name of a shipped model (``surrogate models``) when
    no file or directory of that name exists.
    """
    if not Path(run_dir).exists() and pretrained.is_shipped(str(run_dir)):
        return pretrained.export_file(str(run_dir))
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if which not in checkpoint.EXPORT_FILES:
        raise SurrogateError(f"unknown checkpoint {which!r}; choose {' or '.join(checkpoint.EXPORT_FILES)}")
    if not run_dir.is_dir():
        shipped = ", ".join(pretrained.names()) or "none"
        raise SurrogateError(f"no such run directory, export file or shipped model (shipped: {shipped})", run_dir)
    path = run_dir / checkpoint.EXPORT_FILES[which]
    if which == "best" and not path.exists():
        path = run_dir / checkpoint.EXPORT_FILES["last"]
    if not path.exists():
        raise SurrogateError(f"no {checkpoint.EXPORT_FILES['last']} here: not a finished or checkpointed run", run_dir)
    return path


def load(run_dir: str | os.PathLike, *, which: str = "best", device: str | torch.device = "cpu") -> Surrogate:
    """The surrogate saved in ``run_dir`` (a run directory, an export ``.pt`` file, or a shipped model's
    name such as ``"ds2-electron"``).

    which: ``best`` (the export with the best quick validation, the default) or ``last``.
    """
    path = export_path(run_dir, which)
    export = checkpoint.load(path, checkpoint.EXPORT_KIND)
    domain = domain_named(export["domain"])
    config = from_dict(TrainConfig, export["config"], path)
    config = dataclasses.replace(config, model=domain.resolve_model(export["layout"], config.model, legacy=True))
    preprocessor, generator, _ = build_checked(domain, export["layout"], config.model)
    try:
        preprocessor.load_state_dict(export["preprocessor"])
        generator.load_state_dict(export["generator"])
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise SurrogateError(f"weights do not fit the {domain.name} model: {first_line}", path) from None
    metadata = {key: export[key] for key in ("step", "samples", "validation", "library_version")}
    if path.parent.parent == pretrained.HERE:
        metadata["card"] = pretrained.card(path.parent.name)
    model = Surrogate(domain, export["layout"], config, tuple(export["condition_names"]),
                      tuple(export["event_shape"]), preprocessor, generator, metadata)
    return model.to(device)
