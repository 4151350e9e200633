"""The calorimeter preprocessing is exactly invertible and keeps energies positive and zeros exact."""
import numpy as np
import pytest
import torch

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.networks import SimplexHead
from surrogate.calorimeter.preprocessing import ShowerPreprocessor, value_groups
from training_helpers import TINY_GEOMETRY, tiny_showers


def random_showers(geometry, n_events=300, seed=0):
    """Sparse showers with exact zeros, empty layers and a few empty events; E_inc 1-100 GeV."""
    rng = np.random.default_rng(seed)
    incident = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n_events))
    cells = rng.exponential(1.0, (n_events, geometry.n_values)) * (rng.random((n_events, geometry.n_values)) < 0.3)
    cells *= (incident / np.maximum(cells.sum(axis=1), 1e-9))[:, None]
    cells[cells < 0.5] = 0.0
    first_layer = geometry.layer_slices()[0]
    cells[: n_events // 3, first_layer] = 0.0  # empty layers
    cells[:3] = 0.0  # empty showers
    return cells.astype(np.float32), incident[:, None]


@pytest.fixture(params=["ds2", "calogan", "tiny"])
def fitted(request):
    geometry = TINY_GEOMETRY if request.param == "tiny" else get_geometry(request.param)
    cells, incident = random_showers(geometry)
    return geometry, ShowerPreprocessor(value_groups(geometry), [True]).fit(cells, incident), cells, incident


def test_inverse_undoes_forward_in_float64(fitted):
    geometry, preprocessor, cells, incident = fitted
    events = torch.tensor(cells, dtype=torch.float64)
    conditions = torch.tensor(incident, dtype=torch.float64)
    x, c = preprocessor(events, conditions)
    assert x.shape == (len(cells), preprocessor.n_features) and c.shape == (len(cells), 1)
    back = preprocessor.inverse(x, conditions)
    assert torch.equal(back == 0, events == 0)  # exact zeros, and nothing else zero
    torch.testing.assert_close(back, events, rtol=1e-12, atol=0)


def test_inverse_undoes_forward_in_float32(fitted):
    _, preprocessor, cells, incident = fitted
    events, conditions = torch.tensor(cells), torch.tensor(incident, dtype=torch.float32)
    back = preprocessor.inverse(preprocessor(events, conditions)[0], conditions)
    assert torch.equal(back == 0, events == 0)
    torch.testing.assert_close(back, events, rtol=2e-5, atol=0)


def test_any_network_output_inverts_to_a_valid_shower(fitted):
    geometry, preprocessor, _, incident = fitted
    x = 3 * torch.randn(len(incident), preprocessor.n_features, generator=torch.Generator().manual_seed(1))
    showers = preprocessor.inverse(x, torch.tensor(incident, dtype=torch.float32))
    assert torch.isfinite(showers).all() and (showers >= 0).all()
    positive = showers[showers > 0]
    assert positive.min() >= preprocessor.threshold_mev.float()  # below threshold means exactly 0
    assert (showers == 0).any()


def test_fit_standardises_features_and_conditions():
    showers = tiny_showers(2000, seed=3)
    preprocessor = ShowerPreprocessor(value_groups(TINY_GEOMETRY), [True]).fit(showers.events, showers.conditions)
    x, c = preprocessor(torch.tensor(showers.events, dtype=torch.float64),
                        torch.tensor(showers.conditions, dtype=torch.float64))
    torch.testing.assert_close(x.mean(dim=0), torch.zeros(preprocessor.n_features, dtype=torch.float64),
                               atol=1e-9, rtol=0)
    std = x.std(dim=0, correction=0)
    assert std[0] == pytest.approx(1.0, abs=1e-9)  # the response is standardised exactly
    assert ((std[1:] - 1).abs() < 1e-9).any() and (std[1:] <= 1 + 1e-9).all()  # fractions: std floor 1 nat
    assert c.mean().abs() < 1e-9 and (c.std(correction=0) - 1).abs() < 1e-9
    # the condition is log(E_inc): E_inc log-uniform on [1, 10] GeV has mean log E = (ln 1e3 + ln 1e4) / 2
    assert float(preprocessor.condition_mean) == pytest.approx(np.log(1e3 * 1e4) / 2, abs=0.03)
    assert float(preprocessor.threshold_mev) == pytest.approx(showers.events[showers.events > 0].min(), rel=2e-3)


def test_features_are_response_layer_fractions_then_cell_fractions():
    geometry = TINY_GEOMETRY
    cells = np.zeros((1, geometry.n_values))
    cells[0, 0], cells[0, 1], cells[0, 12] = 300.0, 100.0, 400.0  # layer 0: 400 MeV, layer 1: 400 MeV
    preprocessor = ShowerPreprocessor(value_groups(geometry), [True], alpha=0.0)
    x, _ = preprocessor(torch.tensor(cells), torch.tensor([[1000.0]], dtype=torch.float64))
    fractions = torch.exp(x[0])  # unfitted: mean 0, std 1, so x is the log of the fractions
    assert fractions[0] == pytest.approx(0.8)  # E_tot / E_inc
    assert fractions[1:4].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert fractions[4:6].tolist() == pytest.approx([0.75, 0.25])  # cells of layer 0
    assert fractions[16].item() == pytest.approx(1.0)  # the one cell of layer 1
    assert fractions[28:40].tolist() == pytest.approx([1 / 12] * 12)  # empty layer 2: uniform


def test_overflow_entries_belong_to_their_layer():
    groups = value_groups(get_geometry("calogan"))
    assert groups.tolist()[-3:] == [0, 1, 2]
    assert (groups[:288] == 0).all() and (groups[288:432] == 1).all() and (groups[432:504] == 2).all()


def test_simplex_head_outputs_fractions_that_sum_to_one(fitted):
    _, preprocessor, _, _ = fitted
    head = SimplexHead.like(preprocessor)
    raw = torch.randn(5, preprocessor.n_features, generator=torch.Generator().manual_seed(2))
    x = head(raw)
    std, mean = preprocessor.feature_std.float(), preprocessor.feature_mean.float()
    fractions = torch.exp(x * std + mean) - preprocessor.alpha
    assert torch.allclose(fractions[:, 1:1 + preprocessor.n_groups].sum(dim=1), torch.ones(5), atol=1e-4)
    cells = fractions[:, 1 + preprocessor.n_groups:].double()
    per_layer = torch.zeros(5, preprocessor.n_groups, dtype=torch.float64).index_add_(1, preprocessor.groups, cells)
    assert torch.allclose(per_layer, torch.ones_like(per_layer), atol=1e-3)
    torch.testing.assert_close(x[:, 0], raw[:, 0])  # the response passes through


def test_model_option_alpha_reaches_the_shower_preprocessor():
    from surrogate.calorimeter.models import build_model
    from surrogate.core.config import ModelConfig
    from surrogate.errors import SurrogateError

    geometry = TINY_GEOMETRY
    sizes = dict(latent_dim=4, generator_width=8, critic_width=8, depth=1)
    preprocessor, _, _ = build_model(geometry, ModelConfig(options={"alpha": "1e-4"}, **sizes))
    assert preprocessor.alpha == pytest.approx(1e-4)
    preprocessor, generator, _ = build_model(geometry, ModelConfig(options={"response_weight": "3"}, **sizes))
    assert preprocessor.response_weight == 3.0 and float(generator.head.response_scale) == 3.0
    with pytest.raises(SurrogateError, match="response_weight must be positive"):
        build_model(geometry, ModelConfig(options={"response_weight": "0"}, **sizes))
    with pytest.raises(SurrogateError, match="unknown model option 'a' for showers"):
        build_model(geometry, ModelConfig(options={"a": "4"}, **sizes))


def test_simplex_head_starts_at_the_mean_fractions(fitted):
    _, preprocessor, cells, incident = fitted
    head = SimplexHead.like(preprocessor)
    x = head(torch.zeros(2, preprocessor.n_features))
    std, mean = preprocessor.feature_std.float(), preprocessor.feature_mean.float()
    fractions = (torch.exp(x * std + mean) - preprocessor.alpha)[0, 1 + preprocessor.n_groups:].double()
    events = torch.tensor(cells, dtype=torch.float64)
    real, _ = preprocessor(events, torch.tensor(incident, dtype=torch.float64))
    real_fractions = torch.exp(real * preprocessor.feature_std + preprocessor.feature_mean) - preprocessor.alpha
    expected = real_fractions[:, 1 + preprocessor.n_groups:].mean(dim=0) + preprocessor.alpha
    expected = expected / torch.zeros(preprocessor.n_groups, dtype=torch.float64).index_add_(
        0, preprocessor.groups, expected)[preprocessor.groups]
    torch.testing.assert_close(fractions, expected, rtol=1e-3, atol=1e-6)


def test_simplex_head_loads_state_without_logit_offset(fitted):
    _, preprocessor, _, _ = fitted
    head = SimplexHead.like(preprocessor)
    state = {k: v for k, v in head.state_dict().items() if k != "logit_offset"}
    fresh = SimplexHead(preprocessor.groups, preprocessor.alpha)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.logit_offset, preprocessor.feature_mean[1:].float())


def test_inverse_keeps_layer_energies_when_cells_fall_below_threshold(fitted):
    geometry, preprocessor, _, incident = fitted
    x = 3 * torch.randn(len(incident), preprocessor.n_features, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    conditions = torch.tensor(incident, dtype=torch.float64)
    showers = preprocessor.inverse(x, conditions)
    assert (showers == 0).any()
    fractions = torch.exp(x * preprocessor.feature_std + preprocessor.feature_mean) - preprocessor.alpha
    fractions = fractions.clamp_min(0)
    layers = fractions[:, 1:1 + preprocessor.n_groups]
    layer_mev = layers / layers.sum(dim=1, keepdim=True) * fractions[:, :1] * conditions
    got = torch.zeros_like(layer_mev).index_add_(1, preprocessor.groups, showers)
    survived = got > 0  # a layer whose cells all fall below the threshold is lost
    assert survived.float().mean() > 0.5
    torch.testing.assert_close(got[survived], layer_mev[survived], rtol=1e-10, atol=0)


def test_model_option_cell_noise_gives_every_cell_its_own_noise():
    from surrogate.calorimeter.models import build_model
    from surrogate.core.config import ModelConfig
    from surrogate.errors import SurrogateError

    geometry = TINY_GEOMETRY
    cells, incident = random_showers(geometry, n_events=50)
    sizes = dict(latent_dim=4, generator_width=8, critic_width=8, depth=1)
    from surrogate.core.domain import EventSet
    events = EventSet(incident, cells, ("incident_energy_mev",), {})
    preprocessor, generator, _ = build_model(geometry, ModelConfig(arch="dense", options={"cell_noise": "1.5"},
                                                                   **sizes), events)
    assert generator.latent_dim == 4 + geometry.n_values
    c = preprocessor.transform_conditions(torch.tensor(incident[:2], dtype=torch.float32))
    z = torch.randn(2, generator.latent_dim, generator=torch.Generator().manual_seed(0))
    z_other = z.clone()
    z_other[:, 4:] = torch.randn(2, geometry.n_values, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x, x_other = generator(z, c), generator(z_other, c)
    n_summary = 1 + preprocessor.n_groups
    torch.testing.assert_close(x[:, :n_summary], x_other[:, :n_summary])  # the noise moves cells only
    assert not torch.allclose(x[:, n_summary:], x_other[:, n_summary:])
    with pytest.raises(SurrogateError, match="cell_noise"):
        build_model(geometry, ModelConfig(arch="layer-streams", options={"cell_noise": "1"}, **sizes))


def test_response_weight_widens_the_response_feature_only(fitted):
    geometry, plain, cells, incident = fitted
    weighted = ShowerPreprocessor(value_groups(geometry), [True], response_weight=10.0).fit(cells, incident)
    events, conditions = torch.tensor(cells, dtype=torch.float64), torch.tensor(incident, dtype=torch.float64)
    x_plain, x = plain(events, conditions)[0], weighted(events, conditions)[0]
    torch.testing.assert_close(x[:, 0], 10 * x_plain[:, 0])
    torch.testing.assert_close(x[:, 1:], x_plain[:, 1:])
    torch.testing.assert_close(weighted.inverse(x, conditions), events, rtol=1e-12, atol=0)
    head = SimplexHead.like(weighted)  # the generator's raw response stays in standard units
    raw = torch.randn(4, weighted.n_features, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(head(raw)[:, 0], 10 * raw[:, 0])
    state = {k: v for k, v in head.state_dict().items() if k != "response_scale"}  # exports from before
    old = SimplexHead(weighted.groups, weighted.alpha)
    old.load_state_dict(state)
    torch.testing.assert_close(old(raw)[:, 0], raw[:, 0])
