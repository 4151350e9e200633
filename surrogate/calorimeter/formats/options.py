"""Reader options for shower files, from keyword arguments and from a dataset card.

Every reader takes the same options; a dataset card (TOML, see :mod:`.cards`) provides defaults for
them and explicit options win. Energies are converted to MeV with the units given here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surrogate.errors import SurrogateError

#: Energy units a file may use, as multiples of one MeV.
MEV_PER_UNIT = {"kev": 1e-3, "mev": 1.0, "gev": 1e3, "tev": 1e6}


@dataclass(frozen=True)
class ReaderOptions:
    """How to read a shower file when its own contents do not say.

    format: force a layout ("calochallenge", "calogan", "root") instead of detecting it.
    geometry: a known geometry name (ds2, ds3, ds1-photons, ds1-pions, calogan).
    binning: a CaloChallenge binning XML for files of other voxel counts.
    particle, sampling_fraction: recorded in the layout when the file does not say.
    tree, energy_branch, showers_branch, cell_index_branch, cell_energy_branch: ROOT object names.
    energy_unit, cell_energy_unit: units of the incident energy and of the cell energies in the file.
    """

    card: Path | None = None
    format: str | None = None
    geometry: str | None = None
    binning: Path | None = None
    particle: str | None = None
    sampling_fraction: float | None = None
    tree: str | None = None
    energy_branch: str | None = None
    energy_unit: str | None = None
    showers_branch: str | None = None
    cell_index_branch: str | None = None
    cell_energy_branch: str | None = None
    cell_energy_unit: str | None = None

    @classmethod
    def from_kwargs(cls, **options: Any) -> "ReaderOptions":
        """Options from keywords (None means unset), completed by the card named in ``card``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SurrogateError(f"unknown shower reader option(s): {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(known))})")
        given = {key: value for key, value in options.items() if value is not None}
        if given.get("card") is not None:
            from surrogate.calorimeter.formats.cards import read_card

            given = {**read_card(Path(given["card"])), **given}
        for key in ("card", "binning"):
            if given.get(key) is not None:
                given[key] = Path(given[key])
        result = cls(**given)
        for unit in (result.energy_unit, result.cell_energy_unit):
            if unit is not None:
                mev_per(unit)
        return result


def mev_per(unit: str | None) -> float:
    """How many MeV one ``unit`` is (MeV when unset); a one-line error for unknown units."""
    if unit is None:
        return 1.0
    factor = MEV_PER_UNIT.get(unit.strip().lower())
    if factor is None:
        raise SurrogateError(f"unknown energy unit {unit!r}; use one of keV, MeV, GeV, TeV")
    return factor
