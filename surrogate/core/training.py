"""The training loop: critic and generator phases, EMA, checkpoints, logging, quick validation, DDP.

The loss object (surrogate.core.losses) says what each phase computes; this loop owns everything
else: optimisers, the lazy-regularisation interval, the EMA generator, when to log, validate and
checkpoint. Randomness is counter-based: the noise of generator step ``s`` on rank ``r`` comes from a
generator seeded with (seed, r, s) and batch ``k`` is a pure function of (seed, k), so a resumed run
repeats exactly what an uninterrupted one would have done. Under ``torchrun`` every rank runs this
loop on its shard; only rank 0 prints and writes.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from surrogate import __version__
from surrogate.core import checkpoint, distributed, resume_guard
from surrogate.core.config import TrainConfig, from_dict, resolve, to_dict
from surrogate.core.data import ShardedBatches, TensorBatches, preprocess, split_holdout
from surrogate.core.domain import Domain, domain_for_file, read_options
from surrogate.core.ema import EMA
from surrogate.core.losses import make_loss
from surrogate.core.model import autocast
from surrogate.core.monitoring import QuickValidation, TrainingLog
from surrogate.errors import SurrogateError

log = logging.getLogger(__name__)

#: Training events on which a preprocessor's output calibration (if it has one) is fitted.
CALIBRATION_EVENTS = 3000

#: Config keys a resumed run may change: they do not alter what is computed, only how long and where.
RESUMABLE_CHANGES = ("steps", "device", "validate_every", "checkpoint_every", "log_every")


@dataclass
class TrainResult:
    """What a finished run reports: where it is, how far it got, its last quick validation."""

    run_dir: Path
    step: int
    seconds: float
    validation: dict[str, float] | None


class NonFiniteLoss(SurrogateError):
    """A loss became NaN or inf; training stopped without writing, so the last checkpoint is intact."""


def train(config: TrainConfig, run_dir: str | os.PathLike, *, resume: bool = False,
          domain: Domain | None = None, progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue) a conditional GAN on ``config.data`` into ``run_dir``.

    domain: the data file's domain; found from the file when None. Under ``torchrun`` this joins
    the process group; each rank must call it with the same arguments.
    """
    config = resolve(config)
    context = distributed.setup(config.device)
    try:
        result = _Trainer(config, Path(run_dir), context, domain, resume, progress).run()
    except BaseException:
        if context.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        raise
    distributed.teardown(context)
    return result


def _step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0])


def _optimizer(parameters, kind: str, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if kind == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    return torch.optim.Adam(parameters, lr=lr, betas=betas)


class _Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, context: distributed.Context,
                 domain: Domain | None, resume: bool, progress: bool):
        self.context = context
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
        self.calibration_events = train_events.subset(np.arange(min(len(train_events), CALIBRATION_EVENTS)))
        self._build_networks(train_events, saved_state)
        self._build_optimizers()
        self.step, self.best_score = 0, math.inf
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
        self.generator_ddp, self.critic_ddp = self.generator, self.critic
        if context.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator_ddp = DistributedDataParallel(self.generator, device_ids=ids, broadcast_buffers=False)
            self.critic_ddp = DistributedDataParallel(self.critic, device_ids=ids, broadcast_buffers=False)

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
        preprocessor, generator, critic = self.domain.build_model(
            self.layout, config.model, None if saved_state else train_events)
        if saved_state:
            preprocessor.load_state_dict(saved_state["preprocessor"])
        self.preprocessor = preprocessor.to(self.device).eval().requires_grad_(False)
        self.generator = generator.to(self.device)
        self.critic = critic.to(self.device)
        x, c = preprocess(self.preprocessor, train_events, device=self.device)
        sampler = ShardedBatches(len(x), config.batch_size // self.context.world_size, seed=config.seed,
                                 rank=self.context.rank, world_size=self.context.world_size)
        self.batches = TensorBatches(x, c, sampler, self.device)

    def _build_optimizers(self) -> None:
        """Loss, optimisers (the critic's rescaled for lazy regularisation) and the EMA generator."""
        config, optim = self.config, self.config.optim
        self.loss = make_loss(config.loss)
        interval = self.loss.penalty_interval
        ratio = interval / (interval + 1) if interval > 1 else 1.0
        self.optimizer_generator = _optimizer(self.generator.parameters(), optim.optimizer, optim.lr_generator,
                                              optim.betas)
        self.optimizer_critic = _optimizer(self.critic.parameters(), optim.optimizer, optim.lr_critic * ratio,
                                           tuple(beta ** ratio for beta in optim.betas))
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
            resume_guard.check_resumable(self.run_dir, config.steps, int(state["step"]))
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
        comparable = dataclasses.replace(requested, data=requested.data or saved.data,
                                         **{key: getattr(saved, key) for key in RESUMABLE_CHANGES})
        differing = _first_difference(to_dict(comparable), to_dict(saved))
        if differing:
            raise SurrogateError(f"cannot change {differing} when resuming (see {checkpoint.CONFIG_FILE})",
                                 self.run_dir)
        return dataclasses.replace(saved, **{key: getattr(requested, key) for key in RESUMABLE_CHANGES})

    def _restore(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer_generator.load_state_dict(state["optimizer_generator"])
        self.optimizer_critic.load_state_dict(state["optimizer_critic"])
        self.step = int(state["step"])
        self.best_score = float(state["best_score"])
        checkpoint.set_global_rng_state(state["global_rng"])

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        config, context = self.config, self.context
        start_step, started = self.step, time.perf_counter()
        logbook = self._open_log(start_step) if context.is_main else None
        bar = self._progress_bar(start_step)
        rng = torch.Generator(device=self.device)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}  # per name: lazy penalties come only every few steps
        validation = None
        try:
            while self.step < config.steps:
                rng.manual_seed(_step_seed(config.seed, context.rank, self.step))
                for key, value in self._train_step(rng).items():
                    sums[key] = sums.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + 1
                self.step += 1
                bar.update(1)
                final = self.step == config.steps
                validate = self._due(config.validate_every) or final
                if context.is_main and (validate or self.step % config.log_every == 0):
                    values = {key: total / counts[key] for key, total in sums.items()}
                    sums, counts = {}, {}
                    if validate:
                        self._fit_output_calibration()
                    if validate and self.validation is not None:
                        validation = self.validation(self.ema.module, self.preprocessor, self.device, config.precision)
                        values.update(validation)
                        if validation["score"] < self.best_score:
                            self.best_score = validation["score"]
                            checkpoint.save(self._export(validation), self.run_dir / checkpoint.EXPORT_FILES["best"])
                    kimg = self.step * config.batch_size / 1000
                    logbook.write(self.step, kimg, time.perf_counter() - started, values)
                    bar.set_postfix({key: f"{values[key]:.3g}" for key in ("critic", "generator", "score")
                                     if key in values})
                if self._due(config.checkpoint_every) or final:
                    self._save(validation)
        finally:
            bar.close()
            if logbook is not None:
                logbook.close()
        if context.is_main and self.step == start_step:
            log.warning(f"{self.run_dir}: already at step {self.step}; give a larger --steps to continue")
        return TrainResult(self.run_dir, self.step, time.perf_counter() - started, validation)

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _train_step(self, rng: torch.Generator) -> dict[str, float]:
        """``critic_steps`` critic updates (with the lazy penalty when due), one generator update."""
        config, loss = self.config, self.loss
        interval = loss.penalty_interval
        stats: dict[str, torch.Tensor] = {}
        precision = config.precision
        for inner in range(config.optim.critic_steps):
            number = self.step * config.optim.critic_steps + inner
            real, c = self.batches.batch(number)
            with torch.no_grad(), autocast(self.device, precision):
                fake = self.generator(self._noise(len(real), rng), c)
            with autocast(self.device, precision):
                value, critic_stats = loss.critic_loss(self.critic_ddp, real, fake, c, penalty=interval == 1,
                                                       generator=rng)
            self._apply(self.optimizer_critic, value)
            loss.after_critic_step(self.critic)
            stats.update(critic_stats)
            if interval > 1 and number % interval == 0:
                value, penalty_stats = loss.penalty_loss(self.critic_ddp, real, fake, c, generator=rng)
                self._apply(self.optimizer_critic, value * interval)
                stats.update(penalty_stats)
        self.critic.requires_grad_(False)
        with autocast(self.device, precision):
            fake = self.generator_ddp(self._noise(len(c), rng), c)
            value, generator_stats = loss.generator_loss(self.critic, fake, c)
        self._apply(self.optimizer_generator, value)
        self.critic.requires_grad_(True)
        stats.update(generator_stats)
        self.ema.update(self.generator, self.config.batch_size, (self.step + 1) * self.config.batch_size)
        return self._checked(stats)

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
                return generator(self._noise(len(c), rng), c)

        events = self.calibration_events
        fit(sample, events.events, events.conditions)

    def _noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.generator.latent_dim, device=self.device, generator=rng)

    @staticmethod
    def _apply(optimizer: torch.optim.Optimizer, value: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()

    def _checked(self, stats: dict[str, torch.Tensor]) -> dict[str, float]:
        """Stats averaged over ranks as floats; a NaN or inf anywhere stops every rank."""
        names = sorted(stats)
        values = distributed.mean_over_ranks(torch.stack([stats[name].float() for name in names]), self.context)
        values = values.tolist()
        for name, value in zip(names, values):
            if not math.isfinite(value):
                saved = self.run_dir / checkpoint.TRAINING_STATE_FILE
                where = f"the last good checkpoint is {saved}" if saved.exists() else "no checkpoint was written yet"
                raise NonFiniteLoss(f"training stopped at step {self.step + 1}: {name} is {value}; {where} "
                                    "(try a lower learning rate or --precision fp32)")
        return dict(zip(names, values))

    # -- validation, logging, checkpoints --------------------------------------------------------

    def _open_log(self, start_step: int) -> TrainingLog:
        columns = ["critic", "real_score", "fake_score", "generator"]
        if self.loss.penalty_interval:
            columns.append("penalty")
        if self.validation is not None:
            columns += ["score"] + [f"w1/{name}" for name in self.validation.names]
        return TrainingLog(self.run_dir / checkpoint.LOG_FILE, columns, start_step if start_step else None,
                           self.run_dir / "tensorboard")

    def _progress_bar(self, start_step: int):
        from tqdm import tqdm

        show = self.context.is_main and self.progress
        return tqdm(total=self.config.steps, initial=start_step, unit="step", dynamic_ncols=True,
                    disable=None if show else True, desc="train")

    def _save(self, validation: dict[str, float] | None) -> None:
        """Training state and the latest export (rank 0 only); ``validation``: the latest quick validation."""
        if not self.context.is_main:
            return
        state = {
            "kind": checkpoint.TRAINING_STATE_KIND, "format_version": checkpoint.FORMAT_VERSION,
            "step": self.step, "samples": self.step * self.config.batch_size, "best_score": self.best_score,
            "world_size": self.context.world_size,
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
