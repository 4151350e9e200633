"""GANStep on its own: one generator iteration from networks, optimisers, loss, EMA and batches, with no
run directory; the same inputs and noise seed give the same weights (what bit-identical resumes rest on)."""
import pytest
import torch

from surrogate.core.config import LossConfig, OptimConfig, TrainConfig, resolve
from surrogate.core.data import TensorBatches
from surrogate.core.distributed import Context
from surrogate.core.ema import EMA
from surrogate.core.losses import make_loss
from surrogate.core.training_step import GANStep

FEATURES, CONDITIONS, LATENT = 6, 1, 4


class Generator(torch.nn.Module):
    latent_dim = LATENT

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(LATENT + CONDITIONS, FEATURES)

    def forward(self, z, c):
        return self.net(torch.cat([z, c], dim=1))


class Critic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(FEATURES + CONDITIONS, 16), torch.nn.Tanh(),
                                       torch.nn.Linear(16, 1))

    def forward(self, x, c):
        return self.net(torch.cat([x, c], dim=1)).squeeze(1)


def make_step(loss_name: str) -> GANStep:
    torch.manual_seed(0)
    config = resolve(TrainConfig(batch_size=8, loss=LossConfig(name=loss_name, r1_interval=2),
                                 optim=OptimConfig(critic_steps=2)))
    generator, critic = Generator(), Critic()
    data = torch.Generator().manual_seed(1)
    batches = TensorBatches(torch.randn(64, FEATURES, generator=data), torch.rand(64, CONDITIONS, generator=data),
                            8, torch.device("cpu"), seed=0)
    return GANStep(config, Context(0, 1, torch.device("cpu")), generator=generator, critic=critic,
                   preprocessor=torch.nn.Identity(), physics_loss=None, loss=make_loss(config.loss),
                   optimizer_generator=torch.optim.Adam(generator.parameters(), lr=1e-3),
                   optimizer_critic=torch.optim.Adam(critic.parameters(), lr=1e-3),
                   ema=EMA(generator, 100.0), batches=batches)


def weights(step: GANStep) -> list[torch.Tensor]:
    """Generator, critic and EMA weights, each network flattened into one vector."""
    return [torch.cat([parameter.detach().flatten() for parameter in net.parameters()])
            for net in (step.generator, step.critic, step.ema.module)]


@pytest.mark.parametrize("loss_name", ["wgan-gp", "r1"])
def test_one_step_updates_both_networks_and_the_ema_and_reports_its_stats(loss_name):
    step = make_step(loss_name)
    before = weights(step)
    stats = step.run(0, torch.Generator().manual_seed(5))
    after = weights(step)
    assert all(not torch.equal(old, new) for old, new in zip(before, after))  # generator, critic, EMA all moved
    assert set(stats) == {"critic", "real_score", "fake_score", "generator", "penalty"}  # r1: due at critic step 0
    assert all(value.dim() == 0 and torch.isfinite(value) for value in stats.values())
    assert all(parameter.requires_grad for parameter in step.critic.parameters())  # frozen only for G's update


def test_the_same_step_number_and_noise_seed_give_the_same_weights():
    first, second = make_step("r1"), make_step("r1")
    for number in range(3):
        first.run(number, torch.Generator().manual_seed(number))
        second.run(number, torch.Generator().manual_seed(number))
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(second)))
    third = make_step("r1")
    for number in range(3):
        third.run(number, torch.Generator().manual_seed(number + 10))
    assert not all(torch.equal(a, b) for a, b in zip(weights(first), weights(third)))
