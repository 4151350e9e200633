"""Dataset cards: small TOML files that say how to read a shower file.

A card is a flat TOML table whose keys are the reader options (see
:class:`~surrogate.calorimeter.formats.options.ReaderOptions`) plus an optional free-text
``description``. A relative ``binning`` path is taken relative to the card.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from surrogate.errors import SurrogateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_TYPES: dict[str, type | tuple[type, ...]] = {
    "format": str, "geometry": str, "binning": str, "particle": str, "sampling_fraction": (int, float),
    "tree": str, "energy_branch": str, "energy_unit": str, "showers_branch": str,
    "cell_index_branch": str, "cell_energy_branch": str, "cell_energy_unit": str, "description": str,
}


def read_card(path: Path) -> dict[str, Any]:
    """The reader options a card sets (``description`` dropped); one-line errors naming the card."""
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise SurrogateError("no such dataset card", path) from None
    except tomllib.TOMLDecodeError as error:
        raise SurrogateError(f"not a valid TOML dataset card ({error})", path) from None
    unknown = sorted(set(table) - set(_TYPES))
    if unknown:
        raise SurrogateError(f"unknown dataset card key(s) {', '.join(unknown)}; known: {', '.join(_TYPES)}", path)
    for key, value in table.items():
        if not isinstance(value, _TYPES[key]) or isinstance(value, bool):
            raise SurrogateError(f"dataset card key {key!r} has the wrong type ({type(value).__name__})", path)
    options = {key: value for key, value in table.items() if key != "description"}
    if "sampling_fraction" in options:
        options["sampling_fraction"] = float(options["sampling_fraction"])
    if "binning" in options:
        binning = Path(options["binning"])
        options["binning"] = binning if binning.is_absolute() else path.parent / binning
    options["card"] = path
    return options
