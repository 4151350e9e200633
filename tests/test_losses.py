"""Known values of every loss and penalty on critics whose gradients can be written down."""
import math
import subprocess
import sys

import pytest
import torch

from surrogate.core.config import LossConfig
from surrogate.core.losses import (
    DEFAULT_LOSS, LOSSES, R1, Minimax, NonSaturating, Wasserstein, WassersteinClip, WassersteinGP, make_loss,
)
from surrogate.errors import SurrogateError


class LinearCritic(torch.nn.Module):
    """D(x, c) = w . x + v . c: the input gradient is w everywhere."""

    def __init__(self, w, v=(0.0,)):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w, dtype=torch.float32))
        self.v = torch.nn.Parameter(torch.tensor(v, dtype=torch.float32))

    def forward(self, x, c):
        return x @ self.w + c @ self.v


def batch(n=8, features=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=g), torch.randn(n, features, generator=g), torch.randn(n, 1, generator=g)


@pytest.mark.parametrize("lam", [1.0, 10.0])
def test_gradient_penalty_of_a_linear_critic(lam):
    critic = LinearCritic([3.0, 4.0, 0.0])  # ||grad|| = 5 at every interpolate
    real, fake, c = batch()
    value, stats = WassersteinGP(lam).critic_loss(critic, real, fake, c, penalty=True,
                                                  generator=torch.Generator().manual_seed(0))
    assert stats["penalty"].item() == pytest.approx(lam * 16.0, rel=1e-5)
    expected_main = (critic(fake, c).mean() - critic(real, c).mean()).item()
    assert stats["critic"].item() == pytest.approx(expected_main, rel=1e-5)
    assert value.item() == pytest.approx(expected_main + lam * 16.0, rel=1e-5)


def test_gradient_penalty_gradient_reaches_the_critic_weights():
    critic = LinearCritic([3.0, 4.0, 0.0])
    real, fake, c = batch()
    value, _ = WassersteinGP(10.0).penalty_loss(critic, real, fake, c)
    value.backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 20 * 4 / 5 * w
    torch.testing.assert_close(critic.w.grad, 16.0 * torch.tensor([3.0, 4.0, 0.0]))


def test_gradient_penalty_is_finite_where_the_input_gradient_vanishes():
    critic = LinearCritic([0.0, 0.0, 0.0])  # sqrt(0) would give NaN in the double backward
    real, fake, c = batch()
    value, _ = WassersteinGP(10.0).penalty_loss(critic, real, fake, c)
    value.backward()
    assert value.item() == pytest.approx(10.0, rel=1e-5)
    assert torch.isfinite(critic.w.grad).all()


def test_gradient_penalty_uses_one_epsilon_per_sample():
    seen = []

    class Recorder(LinearCritic):
        def forward(self, x, c):
            seen.append(x.detach().clone())
            return super().forward(x, c)

    real, fake, c = batch()
    WassersteinGP().penalty_loss(Recorder([1.0, 1.0, 1.0]), real, fake, c, generator=torch.Generator().manual_seed(5))
    epsilon = (seen[0] - fake) / (real - fake)  # the same epsilon in every feature of a sample
    assert torch.allclose(epsilon, epsilon[:, :1].expand_as(epsilon), atol=1e-4)
    assert ((epsilon >= 0) & (epsilon <= 1)).all() and epsilon[:, 0].std() > 0.1


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_r1_penalty_is_half_gamma_times_the_squared_gradient_on_real_data(gamma):
    critic = LinearCritic([1.0, 2.0, 2.0])  # ||grad||^2 = 9
    real, fake, c = batch()
    value, stats = R1(gamma, interval=16).penalty_loss(critic, real, fake, c)
    assert value.item() == pytest.approx(gamma / 2 * 9.0, rel=1e-5)
    main, main_stats = R1(gamma).critic_loss(critic, real, fake, c)
    assert "penalty" not in main_stats


def test_r1_penalty_sees_only_real_samples():
    class QuadraticCritic(torch.nn.Module):
        def forward(self, x, c):
            return 0.5 * (x ** 2).sum(dim=1)  # gradient x: ||grad||^2 = ||x||^2

    real, fake, c = batch()
    value, _ = R1(2.0).penalty_loss(QuadraticCritic(), real, fake * 100, c)
    assert value.item() == pytest.approx((real ** 2).sum(dim=1).mean().item(), rel=1e-5)


def test_logistic_losses_at_known_scores():
    real_scores, fake_scores = torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])
    log2 = math.log(2.0)
    assert NonSaturating().critic_main(real_scores, fake_scores).item() == pytest.approx(2 * log2)
    assert NonSaturating().generator_main(fake_scores).item() == pytest.approx(log2)
    assert Minimax().generator_main(fake_scores).item() == pytest.approx(-log2)
    confident = torch.tensor([30.0])  # D(G(z)) ~ 1: nothing left for either generator loss to gain
    assert NonSaturating().generator_main(confident).item() == pytest.approx(0.0, abs=1e-12)
    assert Minimax().generator_main(-confident).item() == pytest.approx(0.0, abs=1e-12)


def test_minimax_saturates_where_non_saturating_does_not():
    rejected = torch.tensor([-8.0], requires_grad=True)  # the critic confidently rejects the fake
    Minimax().generator_main(rejected).backward()
    minimax_slope = rejected.grad.abs().item()
    rejected.grad = None
    NonSaturating().generator_main(rejected).backward()
    assert minimax_slope < 1e-3 < rejected.grad.abs().item()


def test_wasserstein_losses_and_clipping():
    real_scores, fake_scores = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert Wasserstein().critic_main(real_scores, fake_scores).item() == pytest.approx(-3.0)
    assert Wasserstein().generator_main(fake_scores).item() == pytest.approx(0.0)
    critic = LinearCritic([0.5, -0.2, 0.005], [3.0])
    WassersteinClip(0.01).after_critic_step(critic)
    torch.testing.assert_close(critic.w.data, torch.tensor([0.01, -0.01, 0.005]))
    assert critic.v.item() == pytest.approx(0.01)


def test_penalty_is_computed_in_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    real, fake, c = batch(features=4)
    wrapped = lambda x, c: critic(x)  # noqa: E731
    reference, _ = WassersteinGP().penalty_loss(wrapped, real, fake, c, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = WassersteinGP().penalty_loss(wrapped, real, fake, c, generator=torch.Generator().manual_seed(1))
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(reference.item(), rel=1e-6)


def test_make_loss_builds_the_configured_objective():
    assert isinstance(make_loss(LossConfig(name="wgan-gp", gp_lambda=3.0)), WassersteinGP)
    assert make_loss(LossConfig(name="wgan-gp", gp_lambda=3.0)).gp_lambda == 3.0
    r1 = make_loss(LossConfig(name="r1", r1_gamma=0.7, r1_interval=8))
    assert (r1.gamma, r1.penalty_interval) == (0.7, 8)
    assert type(make_loss(LossConfig(name="ns"))) is NonSaturating
    assert type(make_loss(LossConfig(name="minimax"))) is Minimax
    assert make_loss(LossConfig(name="wgan-clip", clip_value=0.05)).clip_value == 0.05
    assert make_loss(LossConfig(name="ns")).penalty_interval == 0


def test_the_registry_drives_the_config_the_cli_and_the_trainer():
    from surrogate.cli import cli
    from surrogate.core.config import TrainConfig, resolve

    loss_option = next(param for param in cli.commands["train"].params if param.name == "loss")
    assert list(loss_option.type.choices) == list(LOSSES) and LossConfig().name == DEFAULT_LOSS
    settings = {"gp_lambda": 3.0, "r1_gamma": 0.7, "r1_interval": 8, "clip_value": 0.05}
    for name, entry in LOSSES.items():
        optim = resolve(TrainConfig(loss=LossConfig(name=name))).optim
        assert (optim.optimizer, optim.lr_generator, optim.lr_critic, optim.betas, optim.critic_steps) == (
            entry.optimizer, entry.lr, entry.lr, entry.betas, entry.critic_steps)
        loss = make_loss(LossConfig(name=name, **settings))
        assert type(loss) is entry.loss_class and loss.name == name
        assert all(settings[key] in vars(loss).values() for key in entry.settings)
    with pytest.raises(SurrogateError, match="unknown loss 'hinge'; choose one of " + ", ".join(LOSSES)):
        resolve(TrainConfig(loss=LossConfig(name="hinge")))


def test_the_registry_loads_without_torch():
    code = "import sys, surrogate.core.config, surrogate.core.losses; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
