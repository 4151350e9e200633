"""One generator iteration of a conditional GAN: the step logic alone, apart from the run's lifecycle.

:class:`GANStep` is given the networks, their optimisers, the loss, the EMA generator and the training
batches, and does what one generator step is: ``critic_steps`` critic updates (with the lazy penalty
when it is due), one generator update (plus the domain's physics term, if its preprocessor has one),
the EMA update. It knows nothing of run directories, checkpoints, logs or validation, which
:mod:`surrogate.core.training` owns, as stylegan2-ada's ``loss.py`` is apart from its training loop.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from surrogate.core import distributed
from surrogate.core.config import TrainConfig
from surrogate.core.data import TensorBatches
from surrogate.core.ema import EMA
from surrogate.core.losses import GANLoss
from surrogate.core.model import autocast


class GANStep:
    """The critic and generator updates of one training step; ``run(step, rng)`` returns its statistics.

    physics_loss: None or the preprocessor's extra generator term ``(preprocessor, fake, real, c) ->
    (value, stats)``. Under DDP the networks are wrapped here; with ``config.compile`` every network pass
    except the penalty's is compiled. The eager ``generator`` and ``critic`` stay the reference that
    checkpoints save.
    """

    def __init__(self, config: TrainConfig, context: distributed.Context, *, generator: torch.nn.Module,
                 critic: torch.nn.Module, preprocessor: torch.nn.Module, physics_loss: Callable[..., Any] | None,
                 loss: GANLoss, optimizer_generator: torch.optim.Optimizer,
                 optimizer_critic: torch.optim.Optimizer, ema: EMA, batches: TensorBatches):
        self.config = config
        self.device = context.device
        self.generator, self.critic, self.preprocessor = generator, critic, preprocessor
        self.physics_loss = physics_loss
        self.loss, self.ema, self.batches = loss, ema, batches
        self.optimizer_generator, self.optimizer_critic = optimizer_generator, optimizer_critic
        self.generator_ddp, self.critic_ddp = self.generator, self.critic
        if context.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator_ddp = DistributedDataParallel(self.generator, device_ids=ids, broadcast_buffers=False)
            self.critic_ddp = DistributedDataParallel(self.critic, device_ids=ids, broadcast_buffers=False)
        # --compile: every network pass except the penalty's, which needs a double backward that
        # compiled modules do not support; the eager modules stay the reference.
        compiled = functools.partial(torch.compile, dynamic=False) if config.compile else (lambda module: module)
        self.fast_generator, self.fast_generator_ddp = compiled(self.generator), compiled(self.generator_ddp)
        self.fast_critic, self.fast_critic_ddp = compiled(self.critic), compiled(self.critic_ddp)

    def run(self, step: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """Generator step ``step`` (from 0): ``critic_steps`` critic updates (with the lazy penalty when due),
        one generator update; returns the step's statistics as detached scalar tensors, still on the device."""
        config, loss = self.config, self.loss
        interval = loss.penalty_interval
        stats: dict[str, torch.Tensor] = {}
        precision = config.precision
        for inner in range(config.optim.critic_steps):
            number = step * config.optim.critic_steps + inner
            real, c = self.batches.batch(number)
            with torch.no_grad(), autocast(self.device, precision):
                fake = self.fast_generator(self.noise(len(real), rng), c)
            with autocast(self.device, precision):
                value, critic_stats = loss.critic_loss(self.fast_critic_ddp, real, fake, c, penalty=interval == 1,
                                                       generator=rng, penalty_critic=self.critic_ddp)
            _apply(self.optimizer_critic, value)
            loss.after_critic_step(self.critic)
            stats.update(critic_stats)
            if interval > 1 and number % interval == 0:
                value, penalty_stats = loss.penalty_loss(self.critic_ddp, real, fake, c, generator=rng)
                _apply(self.optimizer_critic, value * interval)
                stats.update(penalty_stats)
        self.critic.requires_grad_(False)
        with autocast(self.device, precision):
            fake = self.fast_generator_ddp(self.noise(len(c), rng), c)
            value, generator_stats = loss.generator_loss(self.fast_critic, fake, c)
            if self.physics_loss is not None:
                term, term_stats = self.physics_loss(self.preprocessor, fake, real, c)
                value = value + term
                generator_stats.update(term_stats)
        _apply(self.optimizer_generator, value)
        self.critic.requires_grad_(True)
        stats.update(generator_stats)
        self.ema.update(self.generator, self.config.batch_size, (step + 1) * self.config.batch_size)
        return stats

    def noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """``n`` rows of the generator's input noise z ~ N(0, 1), drawn from ``rng``."""
        return torch.randn(n, self.generator.latent_dim, device=self.device, generator=rng)


def _apply(optimizer: torch.optim.Optimizer, value: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
