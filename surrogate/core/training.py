"""The training run's lifecycle: run directory, resume, optimisers, EMA, logging, quick validation, checkpoints.

The loss object (surrogate.core.losses) says what each phase computes and
:class:`~surrogate.core.training_step.GANStep` does one generator step (critic updates, the generator
update, EMA, DDP and compiled passes); this loop owns everything else: the run directory, optimisers
and the lazy-regularisation interval they are scaled for, when to log, validate and checkpoint.
Randomness is counter-based: the noise of generator step ``s`` on rank ``r`` comes from a
generator seeded with (seed, r, s) and batch ``k`` is a pure function of (seed, k), so a resumed run
repeats exactly what an uninterrupted one would have done. Under ``torchrun`` every rank runs this
loop on its shard; only rank 0 prints and writes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from surrogate._version import __version__
from surrogate.core import checkpoint, distributed, resume_guard
from surrogate.core.benchmark import fp32_arithmetic
from surrogate.core.config import TrainConfig, from_dict, resolve, to_dict
from surrogate.core.contracts import build_checked
from surrogate.core.data import TensorBatches, preprocess, split_holdout
from surrogate.core.domain import Domain, domain_for_file, read_options
from surrogate.core.ema import EMA
from surrogate.core.losses import make_loss
from surrogate.core.model import autocast
from surrogate.core.monitoring import ProgressLines, QuickValidation, TrainingLog
from surrogate.core.training_step import GANStep
from surrogate.errors import SurrogateError

log = logging.getLogger(__name__)

#: Training events on which a preprocessor's output calibration (if it has one) is fitted.
CALIBRATION_EVENTS = 3000

#: Config keys a resumed run may change: they do not alter what is computed, only how long and where.
RESUMABLE_CHANGES = ("steps", "device", "validate_every", "checkpoint_every", "log_every", "tf32", "compile")
#: What a resume may change besides, when the user allows other training data (``--allow-new-data``).
NEW_DATA_CHANGES = ("data", "data_options")


@dataclass
class TrainResult:
    """What a finished run reports: where it is, how far it got, its last quick validation."""

    run_dir: Path
    step: int
    seconds: float
    validation: dict[str, float] | None


class NonFiniteLoss(SurrogateError):
    """A loss became NaN or inf; training stopped without writing, so the last checkpoint is intact."""


def train(config: TrainConfig, run_dir: str | os.PathLike, *, resume: bool = False, allow_new_data: bool = False,
          domain: Domain | None = None, progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue) a conditional GAN on ``config.data`` into ``run_dir``.

    allow_new_data: with ``resume``, continue although the training data changed (``config.data`` names
        another file, or the file was rewritten); its events must have the run's shape and conditions.
        The run's ``data_fingerprint.json`` records the new file and the step it took over from.
    domain: the data file's domain; found from the file when None. Under ``torchrun`` this joins
    the process group; each rank must call it with the same arguments.
    """
    if allow_new_data and not resume:
        raise SurrogateError("--allow-new-data applies to a resumed run (give --resume)")
    config = resolve(config)
    context = distributed.setup(config.device)
    try:
        result = _Trainer(config, Path(run_dir), context, domain, resume, progress, allow_new_data).run()
    except BaseException:
        if context.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        raise
    distributed.teardown(context)
    return result


def _step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0])


def _optimizer(parameters, kind: str, lr: float, betas: tuple[float, float],
               device: torch.device) -> torch.optim.Optimizer:
    if kind == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    # CUDA: one fused kernel for the whole update instead of several multi-tensor launches
    return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=device.type == "cuda" or None)


@contextlib.contextmanager
def _cuda_math(device: torch.device, tf32: bool):
    """On CUDA: TF32 tensor cores for fp32 matmuls and convolutions (or strict fp32) and cuDNN's
    autotuner while training; the previous settings come back afterwards. Nothing on other devices."""
    if device.type != "cuda":
        yield
        return
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = tf32
    try:
        with fp32_arithmetic("tf32" if tf32 else "fp32"):
            yield
    finally:
        torch.backends.cudnn.benchmark = previous


class _Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, context: distributed.Context,
                 domain: Domain | None, resume: bool, progress: bool, allow_new_data: bool = False):
        self.context = context
        self.allow_new_data = allow_new_data
        self.device = context.device
        self.run_dir = run_dir
        self.progress = progress
        config = dataclasses.replace(config, data=str(Path(config.data).resolve()) if config.data else "")
        saved_state = self._prepare_run_dir(config, resume)
        if saved_state is not None:
            config = self._resumed_config(config)
        self.config = config
        if config.batch_size % context.world_size:
            raise SurrogateError(f"batch size {config.batch_size} is not divisible by {context.world_size} processes")
        self.domain = domain or domain_for_file(config.data)
        train_events, holdout = self._read_data()
        if saved_state is not None and allow_new_data:
            self._check_events_fit_the_run()
        # config.json names the architecture and every model option used (a resumed run's config may predate that)
        model = self.domain.resolve_model(self.layout, config.model, legacy=saved_state is not None)
        self.config = config = dataclasses.replace(config, model=model)
        self.calibration_events = train_events.subset(np.arange(min(len(train_events), CALIBRATION_EVENTS)))
        self._build_networks(train_events, saved_state)
        self._build_optimizers()
        self.step, self.best_score, self.seconds_before = 0, math.inf, 0.0
        if saved_state:
            self._restore(saved_state)
        self.validation = None
        if context.is_main:
            if len(holdout):
                self.validation = QuickValidation(self.domain, holdout, seed=config.seed)
            checkpoint.write_json(to_dict(config), run_dir / checkpoint.CONFIG_FILE)
            checkpoint.write_json(self.layout, run_dir / checkpoint.LAYOUT_FILE)
            if saved_state is None:
                resume_guard.record(run_dir, config.data)
            elif allow_new_data:
                self._record_new_data()
        self.gan_step = GANStep(config, context, generator=self.generator, critic=self.critic,
                                preprocessor=self.preprocessor, physics_loss=self.physics_loss, loss=self.loss,
                                optimizer_generator=self.optimizer_generator,
                                optimizer_critic=self.optimizer_critic, ema=self.ema, batches=self.batches)

    def _read_data(self):
        """The training events and the held-out ones (at most ``validation_events``)."""
        config = self.config
        events = self.domain.read(Path(config.data), **read_options(config.data_options))
        try:
            train_index, holdout_index = split_holdout(len(events), config.holdout_fraction, config.seed)
        except SurrogateError as error:
            raise SurrogateError(error.message, config.data) from None
        if config.batch_size > len(train_index):
            raise SurrogateError(f"batch size {config.batch_size} exceeds the {len(train_index)} training events "
                                 f"it holds; give a smaller --batch-size", config.data)
        self.layout = dict(events.layout)
        self.condition_names = events.condition_names
        self.event_shape = events.event_shape
        return events.subset(train_index), events.subset(holdout_index[: config.validation_events])

    def _build_networks(self, train_events, saved_state: dict[str, Any] | None) -> None:
        """The domain's modules on the device, and the training data in network space."""
        config = self.config
        torch.manual_seed(config.seed)  # network initialisation, identical on every rank
        preprocessor, generator, critic = build_checked(self.domain, self.layout, config.model,
                                                        None if saved_state else train_events)
        if saved_state:
            preprocessor.load_state_dict(saved_state["preprocessor"])
        self.preprocessor = preprocessor.to(self.device).eval().requires_grad_(False)
        # a domain's extra generator term in physical space (e.g. the maps' spectral loss), or None
        self.physics_loss = getattr(preprocessor, "physics_loss", None)
        self.generator = generator.to(self.device)
        self.critic = critic.to(self.device)
        x, c = preprocess(self.preprocessor, train_events, device=self.device)
        self.batches = TensorBatches(x, c, config.batch_size // self.context.world_size, self.device,
                                     seed=config.seed, rank=self.context.rank, world_size=self.context.world_size)

    def _build_optimizers(self) -> None:
        """Loss, optimisers (the critic's rescaled for lazy regularisation) and the EMA generator."""
        config, optim = self.config, self.config.optim
        self.loss = make_loss(config.loss)
        interval = self.loss.penalty_interval
        ratio = interval / (interval + 1) if interval > 1 else 1.0
        self.optimizer_generator = _optimizer(self.generator.parameters(), optim.optimizer, optim.lr_generator,
                                              optim.betas, self.device)
        self.optimizer_critic = _optimizer(self.critic.parameters(), optim.optimizer, optim.lr_critic * ratio,
                                           tuple(beta ** ratio for beta in optim.betas), self.device)
        self.ema = EMA(self.generator, config.ema_halflife_kimg * 1000, config.ema_rampup)

    # -- run directory -------------------------------------------------------------------------

    def _prepare_run_dir(self, config: TrainConfig, resume: bool) -> dict[str, Any] | None:
        state_path = self.run_dir / checkpoint.TRAINING_STATE_FILE
        if self.context.is_main and self.run_dir.is_dir():
            checkpoint.remove_stale_temporaries(self.run_dir)
        if resume:
            if not state_path.exists():
                raise SurrogateError(f"nothing to resume: no {checkpoint.TRAINING_STATE_FILE}", self.run_dir)
            state = checkpoint.load(state_path, checkpoint.TRAINING_STATE_KIND, map_location=self.device)
            resume_guard.check_resumable(self.run_dir, config.steps, int(state["step"]),
                                         allow_new_data=self.allow_new_data)
            return state
        if state_path.exists():
            raise SurrogateError("already holds a run; use --resume to continue it, or another --out", self.run_dir)
        if not config.data:
            raise SurrogateError("no training data given (--data FILE)")
        return None

    def _resumed_config(self, requested: TrainConfig) -> TrainConfig:
        """The saved config, with only :data:`RESUMABLE_CHANGES` taken from the request."""
        path = self.run_dir / checkpoint.CONFIG_FILE
        saved = resolve(from_dict(TrainConfig, checkpoint.read_json(path), path))
        # the saved config names the architecture "auto" chose and the model options the request leaves out
        arch = saved.model.arch if requested.model.arch == "auto" else requested.model.arch
        requested = dataclasses.replace(requested, model=dataclasses.replace(
            requested.model, arch=arch, options={**saved.model.options, **requested.model.options}))
        requested = dataclasses.replace(requested, data=requested.data or saved.data)
        changeable = RESUMABLE_CHANGES + (NEW_DATA_CHANGES if self.allow_new_data else ())
        comparable = dataclasses.replace(requested, **{key: getattr(saved, key) for key in changeable})
        differing = _first_difference(to_dict(comparable), to_dict(saved))
        if differing:
            hint = " (--allow-new-data lets a resume change them)" if differing.split(".")[0] in NEW_DATA_CHANGES \
                else ""
            raise SurrogateError(f"cannot change {differing} when resuming{hint} (see {checkpoint.CONFIG_FILE})",
                                 self.run_dir)
        return dataclasses.replace(saved, **{key: getattr(requested, key) for key in changeable})

    def _check_events_fit_the_run(self) -> None:
        """Other data (``--allow-new-data``) must have the events and conditions the networks were built for."""
        last = checkpoint.load(self.run_dir / checkpoint.EXPORT_FILES["last"], checkpoint.EXPORT_KIND)
        before = (tuple(last["condition_names"]), tuple(last["event_shape"]))
        now = (tuple(self.condition_names), tuple(self.event_shape))
        if now != before:
            raise SurrogateError(f"holds events of shape {now[1]} conditioned on {', '.join(now[0])}; this run's "
                                 f"networks are for shape {before[1]} conditioned on {', '.join(before[0])}",
                                 self.config.data)

    def _record_new_data(self) -> None:
        """Record data that changed under ``--allow-new-data`` and the step it trains from. The best quick
        validation so far was scored on the old data, so the next one starts the new best export."""
        change = resume_guard.record_new_data(self.run_dir, self.config.data, self.step)
        if change is None:
            return
        self.best_score = math.inf
        log.warning("%s: continuing on %s from step %d (%s; recorded in %s)", self.run_dir, self.config.data,
                    self.step, change, checkpoint.FINGERPRINT_FILE)

    def _restore(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer_generator.load_state_dict(state["optimizer_generator"])
        self.optimizer_critic.load_state_dict(state["optimizer_critic"])
        self.step = int(state["step"])
        self.best_score = float(state["best_score"])
        self.seconds_before = float(state.get("seconds", 0.0))  # older states lack it
        checkpoint.set_global_rng_state(state["global_rng"])

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        config, context = self.config, self.context
        start_step, started = self.step, time.perf_counter()
        logbook = self._open_log(start_step) if context.is_main else None
        progress = self._progress(start_step)
        rng = torch.Generator(device=self.device)
        self._reset_stats()
        interval_start = (self.step, started)  # log rows report the rate since the previous row
        validation = None
        try:
            with _cuda_math(self.device, config.tf32):
                while self.step < config.steps:
                    rng.manual_seed(_step_seed(config.seed, context.rank, self.step))
                    self._accumulate(self.gan_step.run(self.step, rng))
                    self.step += 1
                    progress.update(1)
                    final = self.step == config.steps
                    validate = self._due(config.validate_every) or final
                    save = self._due(config.checkpoint_every) or final
                    if validate or self._due(config.log_every):
                        values = self._read_stats()
                        self._reset_stats()
                        now = time.perf_counter()
                        values.update(self._rates(self.step - interval_start[0], now - interval_start[1]))
                        if context.is_main:
                            if validate:
                                self._fit_output_calibration()
                            if validate and self.validation is not None:
                                validation = self._validate()
                                values.update(validation)
                            kimg = self.step * config.batch_size / 1000
                            logbook.write(self.step, kimg, self.seconds_before + now - started, values)
                            progress.set_postfix({key: f"{values[key]:.3g}" for key in ("critic", "generator", "score")
                                                  if key in values})
                    elif save:
                        self._read_stats()  # a checkpoint never holds a step with a non-finite loss
                    if save:
                        self._save(validation, self.seconds_before + time.perf_counter() - started)
                    if save or validate or self._due(config.log_every):
                        interval_start = (self.step, time.perf_counter())  # rates leave out this upkeep
        finally:
            progress.close()
            if logbook is not None:
                logbook.close()
        if context.is_main and self.step == start_step:
            log.warning(f"{self.run_dir}: already at step {self.step}; give a larger --steps to continue")
        return TrainResult(self.run_dir, self.step, time.perf_counter() - started, validation)

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _validate(self) -> dict[str, float]:
        """Quick validation of the EMA generator; a new best score also writes the best export."""
        validation = self.validation(self.ema.module, self.preprocessor, self.device, self.config.precision)
        if validation["score"] < self.best_score:
            self.best_score = validation["score"]
            checkpoint.save(self._export(validation), self.run_dir / checkpoint.EXPORT_FILES["best"])
        return validation

    def _rates(self, steps: int, seconds: float) -> dict[str, float]:
        """Speed since the previous log row and, on CUDA, the peak memory allocated so far."""
        rates = {"seconds_per_step": seconds / steps, "samples_per_second": steps * self.config.batch_size / seconds}
        if self.device.type == "cuda":
            rates["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2 ** 30
        return rates

    def _fit_output_calibration(self) -> None:
        """Refit the preprocessor's output calibration, for domains whose preprocessor has one, to the
        current EMA generator (fixed noise), so exports and quick validations use it."""
        fit = getattr(self.preprocessor, "fit_output_calibration", None)
        if fit is None:
            return
        generator, rng = self.ema.module, torch.Generator(device=self.device).manual_seed(self.config.seed)

        def sample(conditions: torch.Tensor) -> torch.Tensor:
            c = self.preprocessor.transform_conditions(conditions)
            with autocast(self.device, self.config.precision):
                return generator(self.gan_step.noise(len(c), rng), c)

        events = self.calibration_events
        fit(sample, events.events, events.conditions)

    # -- statistics: summed on the device, read once per log row or checkpoint ---------------------

    def _reset_stats(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}  # per name: lazy penalties come only every few steps
        self._stats_since = self.step

    def _accumulate(self, stats: dict[str, torch.Tensor]) -> None:
        """Add one step's stats to the running sums without waiting for the device."""
        for name, value in stats.items():
            if name in self._sums:
                self._sums[name] += value
            else:
                self._sums[name] = value.double()
            self._counts[name] = self._counts.get(name, 0) + 1

    def _read_stats(self) -> dict[str, float]:
        """Mean of each stat since the last reset, averaged over ranks (the loop's one wait for the
        device); a NaN or inf stops every rank, before anything of these steps is written."""
        names = sorted(self._sums)
        means = torch.stack([self._sums[name] / self._counts[name] for name in names])
        values = distributed.mean_over_ranks(means, self.context).tolist()
        for name, value in zip(names, values):
            if not math.isfinite(value):
                saved = self.run_dir / checkpoint.TRAINING_STATE_FILE
                where = f"the last good checkpoint is {saved}" if saved.exists() else "no checkpoint was written yet"
                raise NonFiniteLoss(f"training stopped at step {self.step}: {name} is {value} (mean over steps "
                                    f"{self._stats_since + 1}-{self.step}); {where} "
                                    "(try a lower learning rate or --precision fp32)")
        return dict(zip(names, values))

    # -- validation, logging, checkpoints --------------------------------------------------------

    def _open_log(self, start_step: int) -> TrainingLog:
        columns = ["critic", "real_score", "fake_score", "generator"]
        if self.loss.penalty_interval:
            columns.append("penalty")
        if self.physics_loss is not None:
            columns += list(self.physics_loss.names)
        columns += ["seconds_per_step", "samples_per_second"]
        if self.device.type == "cuda":
            columns.append("peak_memory_gib")
        if self.validation is not None:
            columns += ["score"] + [f"w1/{name}" for name in self.validation.names]
        return TrainingLog(self.run_dir / checkpoint.LOG_FILE, columns, start_step if start_step else None,
                           self.run_dir / "tensorboard")

    def _progress(self, start_step: int):
        """A tqdm bar on a terminal; otherwise (a log file, a batch job) a line now and then."""
        from tqdm import tqdm

        show = self.context.is_main and self.progress
        if show and not sys.stderr.isatty():
            return ProgressLines(self.config.steps, start_step)
        return tqdm(total=self.config.steps, initial=start_step, unit="step", dynamic_ncols=True,
                    disable=not show, desc="train")

    def _save(self, validation: dict[str, float] | None, seconds: float) -> None:
        """Training state and the latest export (rank 0 only); ``validation``: the latest quick validation,
        ``seconds``: training time so far, resumed runs included (log.csv's seconds go on from it)."""
        if not self.context.is_main:
            return
        state = {
            "kind": checkpoint.TRAINING_STATE_KIND, "format_version": checkpoint.FORMAT_VERSION,
            "step": self.step, "samples": self.step * self.config.batch_size, "best_score": self.best_score,
            "seconds": seconds, "world_size": self.context.world_size,
            "generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
            "ema": self.ema.state_dict(), "preprocessor": self.preprocessor.state_dict(),
            "optimizer_generator": self.optimizer_generator.state_dict(),
            "optimizer_critic": self.optimizer_critic.state_dict(),
            "global_rng": checkpoint.global_rng_state(),
        }
        checkpoint.save(state, self.run_dir / checkpoint.TRAINING_STATE_FILE)
        checkpoint.save(self._export(validation), self.run_dir / checkpoint.EXPORT_FILES["last"])

    def _export(self, validation: dict[str, float] | None) -> dict[str, Any]:
        return {
            "kind": checkpoint.EXPORT_KIND, "format_version": checkpoint.FORMAT_VERSION,
            "library_version": __version__, "domain": self.domain.name, "layout": self.layout,
            "config": to_dict(self.config), "condition_names": list(self.condition_names),
            "event_shape": list(self.event_shape), "step": self.step,
            "samples": self.step * self.config.batch_size, "validation": validation,
            "generator": self.ema.state_dict(), "preprocessor": self.preprocessor.state_dict(),
        }


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    return prefix.rstrip(".") if a != b else None
