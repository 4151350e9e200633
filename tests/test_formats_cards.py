"""Dataset cards: the shipped ones are valid, options from cards and from arguments combine as documented."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.cards import read_card
from surrogate.calorimeter.formats.known_geometries import known_geometries
from surrogate.calorimeter.formats.options import ReaderOptions
from surrogate.errors import SurrogateError

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


@pytest.mark.parametrize("card", sorted(DATASETS.glob("*.toml")), ids=lambda path: path.name)
def test_shipped_cards_are_valid(card):
    options = ReaderOptions.from_kwargs(card=card)
    assert options.format in ("calochallenge", "calogan", "root")
    assert options.geometry in known_geometries() or options.binning.is_file()


def test_card_values_are_defaults_and_binning_is_relative_to_the_card(tmp_path):
    (tmp_path / "cards").mkdir()
    card = tmp_path / "cards" / "mine.toml"
    card.write_text('format = "root"\nbinning = "b.xml"\ntree = "t"\nenergy_unit = "GeV"\nsampling_fraction = 1\n')
    options = ReaderOptions.from_kwargs(card=card, tree="other")
    assert options.tree == "other" and options.energy_unit == "GeV"
    assert options.binning == tmp_path / "cards" / "b.xml"
    assert options.sampling_fraction == 1.0 and options.card == card


@pytest.mark.parametrize("text, message", [
    ('tree = "t"\nbranch = "x"\n', "unknown dataset card key"),
    ("tree = 3\n", "'tree' has the wrong type"),
    ('tree = "t\n', "not a valid TOML"),
])
def test_bad_cards_are_reported(tmp_path, text, message):
    card = tmp_path / "bad.toml"
    card.write_text(text)
    with pytest.raises(SurrogateError, match=message):
        read_card(card)


def test_card_sets_particle_and_units_of_a_calochallenge_file(tmp_path):
    path = tmp_path / "gev.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("incident_energies", data=np.array([[1.0], [2.0]]))
        handle.create_dataset("showers", data=np.ones((2, 368), np.float32))
    card = tmp_path / "card.toml"
    card.write_text('format = "calochallenge"\nparticle = "gamma"\nenergy_unit = "GeV"\ncell_energy_unit = "keV"\n')
    events = DOMAIN.read(path, card=card)
    np.testing.assert_allclose(events.conditions[:, 0], [1000.0, 2000.0])
    np.testing.assert_allclose(events.events, 1e-3)
    assert events.layout["particle"] == "gamma"
    card.write_text('format = "root"\n')
    with pytest.raises(SurrogateError, match="options say layout 'root'"):
        DOMAIN.read(path, card=card)
