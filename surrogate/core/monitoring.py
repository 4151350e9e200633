"""What a training run shows its user: the CSV log (and TensorBoard when installed) and the quick
validation, a 1D Wasserstein distance per domain summary between generated and held-out events.
"""
from __future__ import annotations

import csv
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from surrogate._atomic import atomic_path
from surrogate.core.domain import Domain, EventSet

log = logging.getLogger(__name__)


class QuickValidation:
    """W1 of the domain's ``training_summaries`` between held-out events and generated ones.

    The generated events use the held-out conditions and the same noise every time (``seed``), so
    successive scores differ only through the generator. ``score`` (lower is better) is the domain's
    :meth:`~surrogate.core.domain.Domain.checkpoint_score`; by default the mean over summaries of W1
    divided by the held-out summary's standard deviation.
    """

    def __init__(self, domain: Domain, holdout: EventSet, seed: int, batch_size: int = 4096):
        from scipy.stats import wasserstein_distance

        self._w1 = wasserstein_distance
        self.domain = domain
        self.holdout = holdout
        self.seed = seed
        self.batch_size = batch_size
        self.reference = domain.training_summaries(holdout)
        self.score = domain.checkpoint_score(holdout, self.reference, seed)

    @property
    def names(self) -> list[str]:
        return list(self.reference)

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module, preprocessor: torch.nn.Module, device: torch.device,
                 precision: str = "fp32") -> dict[str, float]:
        from surrogate.core.model import autocast

        rng = torch.Generator(device=device).manual_seed(self.seed)
        parts = []
        for start in range(0, len(self.holdout), self.batch_size):
            conditions = torch.as_tensor(self.holdout.conditions[start:start + self.batch_size], device=device)
            c = preprocessor.transform_conditions(conditions.float())
            z = torch.randn(len(c), generator.latent_dim, device=device, generator=rng)
            with autocast(device, precision):
                x = generator(z, c)
            parts.append(preprocessor.inverse(x.float(), conditions.float()).cpu().numpy())
        events = np.concatenate(parts).reshape(len(self.holdout), *self.holdout.event_shape)
        generated = self.domain.training_summaries(
            EventSet(self.holdout.conditions, events, self.holdout.condition_names, dict(self.holdout.layout)))
        w1 = {name: float(self._w1(self.reference[name], generated[name])) for name in self.names}
        return {**self.score(generated, w1), **{f"w1/{name}": value for name, value in w1.items()}}


class TrainingLog:
    """Rows of ``log.csv`` (fixed columns, flushed each row) and, if installed, TensorBoard scalars."""

    def __init__(self, path: Path, columns: list[str], resume_step: int | None, tensorboard_dir: Path | None):
        self.path = path
        self.columns = ["step", "kimg", "seconds"] + columns
        kept = _rows_up_to(path, resume_step) if resume_step is not None else []
        with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)
        self._file = open(path, "a", newline="")
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore")
        self._tensorboard = _tensorboard_writer(tensorboard_dir) if tensorboard_dir else None

    def write(self, step: int, kimg: float, seconds: float, values: dict[str, float]) -> None:
        row = {"step": step, "kimg": f"{kimg:.3f}", "seconds": f"{seconds:.1f}"}
        row.update({key: f"{value:.6g}" for key, value in values.items()})
        self._writer.writerow(row)
        self._file.flush()
        if self._tensorboard is not None:
            for key, value in values.items():
                self._tensorboard.add_scalar(key, value, step)
            self._tensorboard.flush()

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


class ProgressLines:
    """Progress for a non-terminal stderr (a log file, a batch job), in place of a tqdm bar: one line
    every ``every_seconds`` or every ``every_fraction`` of the steps, whichever comes first, e.g.
    ``train: step 120/600 (20%), 3.1 steps/s, ETA 2m35s, critic -1.23, generator 0.45``.
    The same calls as the tqdm bar it replaces: ``update``, ``set_postfix``, ``close``."""

    def __init__(self, total: int, initial: int = 0, every_seconds: float = 30.0, every_fraction: float = 0.1):
        self.total = total
        self.step = self.start = self.printed = initial
        self.every_seconds = every_seconds
        self.every_steps = max(1, math.ceil(total * every_fraction))
        self.started = self.last = time.perf_counter()
        self.postfix: dict[str, str] = {}

    def update(self, steps: int = 1) -> None:
        self.step += steps
        now = time.perf_counter()
        if self.step - self.printed >= self.every_steps or now - self.last >= self.every_seconds:
            self._print(now)

    def set_postfix(self, values: dict[str, str]) -> None:
        self.postfix = dict(values)

    def close(self) -> None:
        if self.step != self.printed:
            self._print(time.perf_counter())

    def _print(self, now: float) -> None:
        rate = (self.step - self.start) / max(now - self.started, 1e-9)
        eta = (self.total - self.step) / rate if rate > 0 else math.inf
        parts = [f"train: step {self.step}/{self.total} ({self.step / self.total:.0%})", f"{rate:.3g} steps/s",
                 f"ETA {_duration(eta)}"] + [f"{key} {value}" for key, value in self.postfix.items()]
        print(", ".join(parts), file=sys.stderr, flush=True)
        self.printed, self.last = self.step, now


def _duration(seconds: float) -> str:
    """``2h05m``, ``2m35s`` or ``12s``."""
    if not math.isfinite(seconds):
        return "unknown"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _rows_up_to(path: Path, step: int) -> list[dict[str, str]]:
    """Rows of an earlier log up to ``step``: a resumed run drops what came after its checkpoint."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit() and int(row["step"]) <= step]


def _tensorboard_writer(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("note: TensorBoard is not installed, so the training log is only in log.csv "
                    "(pip install 'surrogate[tensorboard]' to get it)")
        return None
    return SummaryWriter(str(directory))
