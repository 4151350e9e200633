"""Map GAN pieces: pixel transforms, the preprocessor, networks, validation hooks, and train -> generate ->
validate through the core on a tiny 64x64 map set."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from surrogate.cli import cli
from surrogate.core.config import ModelConfig
from surrogate.core.domain import EventSet
from surrogate.core.model import load
from surrogate.cosmology import formats
from surrogate.cosmology.domain import DOMAIN
from surrogate.cosmology.models import MapPreprocessor
from surrogate.cosmology.networks import MapCritic, MapGenerator, resolutions
from surrogate.cosmology.transforms import inverse_log_transform, inverse_s_transform, log_transform, s_transform
from surrogate.errors import SurrogateError

NAMES = ("omega_m", "sigma8")


def lognormal_maps(n_maps: int, size: int = 64, seed: int = 0, conditions: np.ndarray | None = None) -> EventSet:
    """Log-normal density-contrast maps whose contrast grows with sigma8 (a known, simple law), at random
    parameters or at the given (n_maps, 2) ``conditions``."""
    rng = np.random.default_rng(seed)
    drawn = np.column_stack([rng.uniform(0.2, 0.4, n_maps), rng.uniform(0.6, 1.0, n_maps)])
    conditions = drawn if conditions is None else conditions
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    smooth = np.exp(-(k * 12) ** 2)
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n_maps, size, size))) * smooth).real
    field /= field.std(axis=(1, 2), keepdims=True)
    sigma = conditions[:, 1, None, None]
    maps = np.exp(sigma * field - sigma**2 / 2) - 1.0
    layout = {"domain": "cosmology", "format": formats.NBODY, "box_mpc_h": 100.0, "map_size": size,
              "quantity": formats.CONTRAST, "redshift": 0.0, "condition_names": list(NAMES)}
    return EventSet(conditions, maps.astype(np.float32), NAMES, layout)


def test_pixel_transforms_invert_exactly():
    x = np.array([0.0, 1e-3, 0.5, 1.0, 4.0, 37.0, 1e4])
    for a in (1.0, 4.0, 20.0):
        s = s_transform(x, a)
        assert np.all((s >= -1) & (s < 1))
        assert np.allclose(inverse_s_transform(s, a), x, rtol=1e-12, atol=1e-12)
    assert np.allclose(inverse_log_transform(log_transform(x)), x, rtol=1e-12, atol=1e-15)
    tensor = torch.tensor(x, dtype=torch.float64)
    assert torch.allclose(inverse_s_transform(s_transform(tensor)), tensor, rtol=1e-10)
    assert s_transform(4.0) == 0.0  # x = a sits in the middle of the range


@pytest.mark.parametrize("transform", ["s", "log"])
def test_preprocessor_round_trip_and_standardised_conditions(transform):
    events = lognormal_maps(12, size=16)
    preprocessor = MapPreprocessor(transform, 2, offset=1.0)
    preprocessor.fit(events.events, events.conditions)
    x, c = preprocessor(torch.from_numpy(events.events), torch.from_numpy(events.conditions))
    assert x.shape == (12, 1, 16, 16)
    assert torch.allclose(c.mean(dim=0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(c.std(dim=0, unbiased=False), torch.ones(2), atol=1e-5)
    back = preprocessor.inverse(x, torch.from_numpy(events.conditions))
    assert torch.allclose(back, torch.from_numpy(events.events), atol=2e-5)
    # anything the generator can output maps back to physical contrast >= -1
    wild = preprocessor.inverse(torch.linspace(-5, 5, 256).view(1, 1, 16, 16).clamp(-1, 0.999) if transform == "s"
                                else torch.linspace(-5, 5, 256).view(1, 1, 16, 16), torch.zeros(1, 2))
    assert torch.all(wild >= -1.0) and torch.isfinite(wild).all()


def test_preprocessor_refuses_missing_parameters():
    events = lognormal_maps(4, size=16)
    conditions = events.conditions.copy()
    conditions[0, 1] = np.nan
    with pytest.raises(SurrogateError, match="snapshot-sigma8"):
        MapPreprocessor("s", 2, offset=1.0).fit(events.events, conditions)


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_networks_shapes_and_independence_of_samples(size):
    torch.manual_seed(0)
    generator = MapGenerator(16, 2, size, width=64, convs_per_block=1, conditioning="film")
    critic = MapCritic(2, size, width=64, convs_per_block=1, conditioning="projection")
    z, c = torch.randn(3, 16), torch.randn(3, 2)
    maps = generator(z, c)
    assert maps.shape == (3, 1, size, size) and maps.abs().max() < 1
    scores = critic(maps, c)
    assert scores.shape == (3,)
    # no layer mixes the samples of a batch (needed by the per-sample gradient penalties)
    assert torch.allclose(critic(maps[:1], c[:1]), scores[:1], atol=1e-5)
    assert torch.allclose(generator(z[1:2], c[1:2]), maps[1:2], atol=1e-5)
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in critic.modules())
    convolutions = [m for net in (generator, critic) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(conv.padding_mode == "circular" for conv in convolutions)  # the maps are periodic


def test_model_options_set_the_transform_parameter_and_refuse_others():
    layout = lognormal_maps(2, size=64).layout
    sizes = dict(latent_dim=8, generator_width=32, critic_width=32, depth=1)
    preprocessor, _, _ = DOMAIN.build_model(layout, ModelConfig(options={"a": "10"}, **sizes))
    assert preprocessor.transform == "s" and float(preprocessor.parameter) == 10.0
    preprocessor, _, _ = DOMAIN.build_model(layout, ModelConfig(arch="dcgan-log", options={"epsilon": "0.01"}, **sizes))
    assert float(preprocessor.parameter) == pytest.approx(0.01)
    for options, message in (({"epsilon": "0.01"}, "unknown model option"), ({"a": "ten"}, "expected float"),
                             ({"a": "-1"}, "must be positive")):
        with pytest.raises(SurrogateError, match=message):
            DOMAIN.build_model(layout, ModelConfig(options=options, **sizes))


def test_build_model_checks_its_options():
    layout = lognormal_maps(2, size=64).layout
    preprocessor, generator, _ = DOMAIN.build_model(layout, ModelConfig(arch="dcgan-log", latent_dim=8,
                                                                             generator_width=32, critic_width=32,
                                                                             depth=1))
    assert preprocessor.transform == "log" and isinstance(generator.head, torch.nn.Identity)
    for bad in (ModelConfig(arch="dense"), ModelConfig(depth=5)):
        with pytest.raises(SurrogateError):
            DOMAIN.build_model(layout, bad)
    for size in (8, 48, 1024):
        with pytest.raises(SurrogateError, match="power of two from 16 to 512 pixels.*--map-size"):
            DOMAIN.build_model({**layout, "map_size": size}, ModelConfig())
    assert resolutions(512) == [4, 8, 16, 32, 64, 128, 256, 512]


def test_validation_hooks_give_finite_per_map_numbers():
    events = lognormal_maps(6, size=32)
    scalars = DOMAIN.observables(events)
    assert all(values.shape == (6,) and np.isfinite(values).all() for values in scalars.values())
    assert np.all(scalars["void_fraction"] > 0.4)  # log-normal: most pixels lie below the mean
    pooled = DOMAIN.pooled_observables(events)["pixel_log10_x"]
    assert np.all(pooled.counts.sum(axis=1) == 32 * 32)
    profiles = DOMAIN.profiles(events)
    assert profiles["power_spectrum"].values.shape == (6, 16)
    assert set(profiles) >= {"peak_counts", "minkowski_v0", "minkowski_v1", "minkowski_v2"}
    smallest = DOMAIN.observables(lognormal_maps(3, size=16))  # every band holds a mode at the smallest size
    assert all(np.isfinite(values).all() and np.all(values > -30) for values in smallest.values())
    bins = DOMAIN.condition_bins(events.condition_names, events.conditions, events.conditions[:3])
    assert len(bins) == 6 and all(mask.sum() == 1 for _, mask, _ in bins)
    many = np.random.default_rng(0).uniform(0.2, 0.4, (40, 2))
    bins = DOMAIN.condition_bins(("omega_m", "sigma8"), many, many)
    assert len(bins) == 6 and sum(mask.sum() for _, mask, _ in bins[:3]) == 40


def test_train_generate_validate_end_to_end(tmp_path):
    data = tmp_path / "maps.h5"
    events = lognormal_maps(48, size=64)
    formats.write_nbody(data, events.events, events.conditions, NAMES,
                        {"box_mpc_h": 100.0, "redshift": 0.0, "quantity": formats.CONTRAST},
                        map_run=np.arange(48) // 6)
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--data", str(data), "--loss", "r1", "--steps", "20", "--out",
                                 str(tmp_path / "run"), "--batch-size", "8", "--width", "32", "--depth", "1",
                                 "--latent-dim", "16", "--device", "cpu", "--no-progress", "--validate-every", "10",
                                 "--model-option", "a=10"])
    assert result.exit_code == 0, result.output
    assert float(load(tmp_path / "run").preprocessor.parameter) == 10.0
    generated = tmp_path / "generated.h5"
    result = runner.invoke(cli, ["generate", str(tmp_path / "run"), "--conditions", str(data), "--out",
                                 str(generated), "--device", "cpu", "--seed", "3"])
    assert result.exit_code == 0, result.output
    maps = DOMAIN.read(generated)
    assert maps.events.shape == (48, 64, 64) and np.array_equal(maps.conditions, events.conditions)
    assert np.all(maps.events >= -1.0) and np.isfinite(maps.events).all()
    assert maps.layout["box_mpc_h"] == 100.0 and maps.condition_names == NAMES
    # conditions from a CAMELS-style .npy stack, its parameter table given explicitly
    np.save(tmp_path / "stack.npy", events.events[:6] + 1.0)
    np.savetxt(tmp_path / "points.txt", events.conditions[[0, 3]], header="omega_m sigma8")
    result = runner.invoke(cli, ["generate", str(tmp_path / "run"), "--conditions", str(tmp_path / "stack.npy"),
                                 "--parameter-table", str(tmp_path / "points.txt"), "--out",
                                 str(tmp_path / "from_stack.h5"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(DOMAIN.read(tmp_path / "from_stack.h5").conditions, events.conditions[[0, 0, 0, 3, 3, 3]])
    result = runner.invoke(cli, ["generate", str(tmp_path / "run"), "--energy", "5", "--events", "2", "--out",
                                 str(tmp_path / "no.h5")])
    assert isinstance(result.exception, SurrogateError) and "one energy in MeV" in str(result.exception)
    assert not (tmp_path / "no.h5").exists()
    result = runner.invoke(cli, ["validate", "--reference", str(data), "--candidate", str(generated), "--out",
                                 str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert "pixel_std" in metrics["observables"]
    assert metrics["settings"]["groups"] == {"reference": 8, "candidate": None}  # boxes resampled whole
    assert (tmp_path / "report" / "plots" / "power_spectrum_ratio.png").exists()
