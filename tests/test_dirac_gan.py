"""The Dirac-GAN of Mescheder et al. (2018), trained with the library's own loss classes.

Real data is a point mass at 0, the generator a point mass at theta, the critic D(x) = psi * x; the
only equilibrium is (theta, psi) = (0, 0). Unregularised GAN and WGAN gradient fields rotate around
it (simultaneous steps spiral out, alternating steps stay on a cycle); R1 with gamma > 0 converges.
The unregularised GAN here is the original minimax game, the form the paper analyses.
"""
import math

import pytest
import torch

from surrogate.core.losses import R1, Minimax, NonSaturating, Wasserstein, WassersteinGP

STEP_SIZE = 0.1
STEPS = 600
START = (1.0, 1.0)  # (theta, psi)


def run_dirac_gan(loss, *, alternating: bool, steps: int = STEPS, start=START, step_size: float = STEP_SIZE):
    """Gradient steps on (theta, psi); returns the trajectory as a (steps + 1, 2) tensor."""
    theta = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(start[1], dtype=torch.float64, requires_grad=True)
    real = torch.zeros(1, 1, dtype=torch.float64)
    c = torch.zeros(1, 0, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)

    def critic(x, _c):
        return psi * x[:, 0]

    def critic_gradient():
        fake = theta.detach().reshape(1, 1)
        value, _ = loss.critic_loss(critic, real, fake, c, penalty=loss.penalty_interval == 1, generator=generator)
        return torch.autograd.grad(value, psi)[0]

    def generator_gradient():
        value, _ = loss.generator_loss(critic, theta.reshape(1, 1), c)
        return torch.autograd.grad(value, theta)[0]

    path = [(theta.item(), psi.item())]
    for _ in range(steps):
        if alternating:
            d_psi = critic_gradient()
            with torch.no_grad():
                psi -= step_size * d_psi
            d_theta = generator_gradient()
            with torch.no_grad():
                theta -= step_size * d_theta
        else:
            d_psi, d_theta = critic_gradient(), generator_gradient()
            with torch.no_grad():
                psi -= step_size * d_psi
                theta -= step_size * d_theta
        path.append((theta.item(), psi.item()))
    return torch.tensor(path)


def distances(path):
    return path.norm(dim=1)


def turns(path):
    """How many times the iterate went around the equilibrium (unwrapped polar angle / 2 pi)."""
    angle = torch.atan2(path[:, 1], path[:, 0])
    step = torch.remainder(angle.diff() + math.pi, 2 * math.pi) - math.pi
    return abs(step.sum().item()) / (2 * math.pi)


@pytest.mark.parametrize("loss", [Minimax(), Wasserstein()], ids=["gan", "wgan"])
@pytest.mark.parametrize("start", [(1.0, 1.0), (0.3, 0.3)])
def test_unregularised_simultaneous_steps_spiral_outwards(loss, start):
    path = run_dirac_gan(loss, alternating=False, start=start)
    d = distances(path)
    assert d[-1] > 1.5 * d[0]
    assert turns(path) > 1


@pytest.mark.parametrize("loss", [Minimax(), Wasserstein()], ids=["gan", "wgan"])
@pytest.mark.parametrize("start", [(1.0, 1.0), (0.3, 0.3)])
def test_unregularised_alternating_steps_circle_without_converging(loss, start):
    path = run_dirac_gan(loss, alternating=True, start=start)
    d = distances(path)
    assert d[-100:].min() > 0.85 * d[0]  # no approach to (0, 0)
    assert d.max() < 1.2 * d[0]  # bounded: a cycle, not a divergence
    assert turns(path) > 3


@pytest.mark.parametrize("alternating", [False, True], ids=["simultaneous", "alternating"])
@pytest.mark.parametrize("gamma", [0.3, 1.0, 3.0])
def test_r1_converges_to_the_equilibrium(gamma, alternating):
    path = run_dirac_gan(R1(gamma=gamma, interval=1), alternating=alternating, steps=1500)
    d = distances(path)
    assert d[-1] < 1e-3 * d[0]


def test_r1_with_zero_gamma_is_the_non_saturating_gan_and_does_not_converge():
    regularised = run_dirac_gan(R1(gamma=0.0, interval=1), alternating=False)
    plain = run_dirac_gan(NonSaturating(), alternating=False)
    torch.testing.assert_close(regularised, plain)
    assert distances(plain)[-200:].min() > 0.25 * distances(plain)[0]


@pytest.mark.parametrize("alternating", [False, True], ids=["simultaneous", "alternating"])
def test_wgan_gp_does_not_converge_either(alternating):
    path = run_dirac_gan(WassersteinGP(gp_lambda=10.0), alternating=alternating)
    assert torch.isfinite(path).all()
    assert distances(path)[-200:].min() > 1.0
