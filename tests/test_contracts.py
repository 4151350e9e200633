"""The model a domain builds is checked against surrogate.core.contracts where the core receives it."""
import pytest

from surrogate.calorimeter.domain import CalorimeterDomain
from surrogate.core.contracts import Critic, Generator, Preprocessor, build_checked, members
from surrogate.core.training import train
from surrogate.cosmology.domain import DOMAIN as MAPS
from surrogate.errors import SurrogateError
from test_cosmology_models import lognormal_maps
from training_helpers import ModelConfig, tiny_config, write_tiny_file

SIZES = dict(latent_dim=8, generator_width=16, critic_width=16, depth=1)


class _WithoutLatentDim(CalorimeterDomain):
    """Reads shower files like the calorimeter, but its generator lacks ``latent_dim``."""

    name = "stub"

    def build_model(self, layout, config, train_events=None):
        preprocessor, generator, critic = super().build_model(layout, config, train_events)
        del generator.latent_dim
        return preprocessor, generator, critic


class _WithoutInverse(CalorimeterDomain):
    name = "stub"

    def build_model(self, layout, config, train_events=None):
        return object(), None, None


def test_the_domains_models_satisfy_the_protocols():
    events = lognormal_maps(4, size=64)
    preprocessor, generator, critic = build_checked(MAPS, events.layout, ModelConfig(**SIZES), events)
    assert isinstance(preprocessor, Preprocessor) and isinstance(generator, Generator)
    assert isinstance(critic, Critic)
    assert members(Generator)[0] == "latent_dim" and "inverse" in members(Preprocessor)


def test_training_refuses_a_generator_without_latent_dim_naming_domain_and_member(tmp_path):
    data = write_tiny_file(tmp_path / "showers.h5", n_events=200)
    with pytest.raises(SurrogateError) as raised:
        train(tiny_config(data, steps=2), tmp_path / "run", domain=_WithoutLatentDim(), progress=False)
    message = str(raised.value)
    assert "stub domain's generator" in message and "no latent_dim" in message and "\n" not in message


def test_a_part_missing_every_member_is_named_by_its_first():
    with pytest.raises(SurrogateError, match="stub domain's preprocessor .object. has no forward"):
        build_checked(_WithoutInverse(), {}, ModelConfig(**SIZES))


def test_build_model_must_return_three_parts():
    class _Pair(CalorimeterDomain):
        name = "stub"

        def build_model(self, layout, config, train_events=None):
            return (1, 2)

    with pytest.raises(SurrogateError, match="must return .preprocessor, generator, critic."):
        build_checked(_Pair(), {}, ModelConfig(**SIZES))
