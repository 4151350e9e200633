"""GAN objectives as small objects, one method per training phase (the loop owns optimisers and intervals).

Every method takes the critic as a callable ``critic(x, c) -> (N,)`` scores, real and generated
samples ``x`` of one batch and their shared conditions ``c``, and returns ``(loss, stats)`` where
``stats`` maps names to detached scalar tensors for the log. Formulas and references are in
docs/concepts.md; the Dirac-GAN test (tests/test_dirac_gan.py) exercises these very classes.

Phases: ``critic_loss`` every critic step (with ``penalty=True`` the regulariser is added in the
same step, used when ``penalty_interval == 1``); ``penalty_loss`` alone, for lazy regularisation
every ``penalty_interval`` steps (the loop scales it by the interval); ``generator_loss``; and
``after_critic_step`` (weight clipping).

:data:`LOSSES` is the one registry of objectives: name -> class, the config keys it takes and the
optimiser settings that suit it. The config, the CLI's ``--loss`` and the trainer all read it. torch is
imported inside the methods, so that the CLI can list the losses without loading it.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from surrogate.errors import SurrogateError

if TYPE_CHECKING:
    import torch

    from surrogate.core.config import LossConfig

#: Added under the square root of the gradient norm: sqrt has an infinite derivative at 0, which
#: would turn the double-backward pass into NaN.
NORM_EPSILON = 1e-12


def _scores(critic, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return critic(x, c).reshape(len(x)).float()


def _input_gradient(critic, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """d critic / d x per sample, in fp32 and with the graph kept for the double backward."""
    import torch

    x = x.detach().float().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):  # the double backward too: it records ops
        scores = _scores(critic, x, c.float())
        (gradient,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return gradient.reshape(len(x), -1)


class GANLoss(abc.ABC):
    """An objective: subclasses give the critic's and generator's terms and, optionally, a penalty."""

    name = ""
    penalty_interval = 0  # 0: no penalty; 1: in every critic step; k > 1: lazy, every k steps

    @abc.abstractmethod
    def critic_main(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """The critic's loss from its scores of real and generated samples."""

    @abc.abstractmethod
    def generator_main(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """The generator's loss from the critic's scores of generated samples."""

    def penalty(self, critic, real: torch.Tensor, fake: torch.Tensor, c: torch.Tensor,
                generator: torch.Generator | None) -> torch.Tensor:
        """The critic's regulariser (zero for unregularised losses)."""
        import torch

        return torch.zeros((), device=real.device)

    def critic_loss(self, critic, real: torch.Tensor, fake: torch.Tensor, c: torch.Tensor, *,
                    penalty: bool = False, generator: torch.Generator | None = None, penalty_critic=None):
        """The critic's loss on one batch; with ``penalty`` the (unscaled) regulariser is included.

        penalty_critic: the same critic for the penalty's double backward when ``critic`` is a compiled
        version of it (compiled modules cannot be differentiated twice); None: ``critic`` itself.
        """
        import torch

        scores = _scores(critic, torch.cat([real, fake.detach()]), torch.cat([c, c]))
        real_scores, fake_scores = scores[: len(real)], scores[len(real):]
        main = self.critic_main(real_scores, fake_scores)
        stats = {"critic": main.detach(), "real_score": real_scores.mean().detach(),
                 "fake_score": fake_scores.mean().detach()}
        if not penalty:
            return main, stats
        value = self.penalty(critic if penalty_critic is None else penalty_critic, real, fake, c, generator)
        stats["penalty"] = value.detach()
        return main + value, stats

    def penalty_loss(self, critic, real: torch.Tensor, fake: torch.Tensor, c: torch.Tensor, *,
                     generator: torch.Generator | None = None):
        """The regulariser alone (lazy phase); the caller multiplies it by ``penalty_interval``."""
        value = self.penalty(critic, real, fake, c, generator)
        return value, {"penalty": value.detach()}

    def generator_loss(self, critic, fake: torch.Tensor, c: torch.Tensor):
        """The generator's loss for generated samples ``fake`` (with graph) at conditions ``c``."""
        value = self.generator_main(_scores(critic, fake, c))
        return value, {"generator": value.detach()}

    def after_critic_step(self, critic: torch.nn.Module) -> None:
        """Constraint applied to the critic's weights after each of its optimiser steps."""


class Minimax(GANLoss):
    """Goodfellow et al. 2014: the critic is a logistic classifier, G minimises log(1 - D(G(z)))."""

    name = "minimax"

    def critic_main(self, real_scores, fake_scores):
        from torch.nn.functional import softplus

        return softplus(-real_scores).mean() + softplus(fake_scores).mean()

    def generator_main(self, fake_scores):
        from torch.nn.functional import softplus

        return -softplus(fake_scores).mean()


class NonSaturating(Minimax):
    """The same critic; G maximises log D(G(z)), which does not saturate when D rejects fakes."""

    name = "ns"

    def generator_main(self, fake_scores):
        from torch.nn.functional import softplus

        return softplus(-fake_scores).mean()


class R1(NonSaturating):
    """Non-saturating loss plus (gamma / 2) E ||grad_x D(x_real)||^2 (Mescheder et al. 2018)."""

    name = "r1"

    def __init__(self, gamma: float = 1.0, interval: int = 16):
        self.gamma = gamma
        self.penalty_interval = interval

    def penalty(self, critic, real, fake, c, generator):
        gradient = _input_gradient(critic, real, c)
        return 0.5 * self.gamma * gradient.square().sum(dim=1).mean()


class Wasserstein(GANLoss):
    """WGAN critic E[D(fake)] - E[D(real)] and generator -E[D(fake)], with no Lipschitz constraint."""

    name = "wgan"

    def critic_main(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def generator_main(self, fake_scores):
        return -fake_scores.mean()


class WassersteinClip(Wasserstein):
    """Arjovsky et al. 2017: Lipschitz continuity through weight clipping to [-c, c]."""

    name = "wgan-clip"

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = clip_value

    def after_critic_step(self, critic):
        import torch

        with torch.no_grad():
            for parameter in critic.parameters():
                parameter.clamp_(-self.clip_value, self.clip_value)


class WassersteinGP(Wasserstein):
    """Gulrajani et al. 2017: lambda E[(||grad D(x_hat)|| - 1)^2] on random interpolates x_hat."""

    name = "wgan-gp"
    penalty_interval = 1

    def __init__(self, gp_lambda: float = 10.0):
        self.gp_lambda = gp_lambda

    def penalty(self, critic, real, fake, c, generator):
        import torch

        shape = (len(real),) + (1,) * (real.dim() - 1)
        epsilon = torch.rand(shape, device=real.device, generator=generator)
        interpolates = epsilon * real.float() + (1 - epsilon) * fake.detach().float()
        gradient = _input_gradient(critic, interpolates, c)
        norm = torch.sqrt(gradient.square().sum(dim=1) + NORM_EPSILON)
        return self.gp_lambda * (norm - 1).square().mean()


@dataclass(frozen=True)
class LossEntry:
    """One objective of :data:`LOSSES`: its class, what ``--loss`` says of it, the config keys its class
    takes (in order, from :class:`~surrogate.core.config.LossConfig`) and the optimiser settings that
    suit it (the papers' defaults), used where the config leaves them unset."""

    loss_class: type[GANLoss]
    summary: str
    settings: tuple[str, ...]
    optimizer: str
    lr: float
    betas: tuple[float, float]
    critic_steps: int


#: Every objective the trainer offers, by name; the first is the default.
LOSSES: dict[str, LossEntry] = {entry.loss_class.name: entry for entry in (
    LossEntry(WassersteinGP, "Wasserstein + gradient penalty", ("gp_lambda",), "adam", 1e-4, (0.0, 0.9), 5),
    LossEntry(R1, "non-saturating + lazy R1", ("r1_gamma", "r1_interval"), "adam", 2e-4, (0.0, 0.99), 1),
    LossEntry(NonSaturating, "for comparison", (), "adam", 2e-4, (0.5, 0.999), 1),
    LossEntry(Minimax, "for comparison", (), "adam", 2e-4, (0.5, 0.999), 1),
    LossEntry(WassersteinClip, "for comparison", ("clip_value",), "rmsprop", 5e-5, (0.0, 0.0), 5),
)}

DEFAULT_LOSS = next(iter(LOSSES))


def loss_entry(name: str) -> LossEntry:
    """The registry's entry for ``name``; a SurrogateError listing the choices for an unknown one."""
    if name not in LOSSES:
        raise SurrogateError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


def make_loss(config: LossConfig) -> GANLoss:
    """The loss object named by ``config.name`` with its penalty settings."""
    entry = loss_entry(config.name)
    return entry.loss_class(*(getattr(config, key) for key in entry.settings))
