"""The ``layout`` dict of a shower EventSet: how its file was laid out, enough to write it back.

Keys: ``domain`` ("calorimeter"), ``format`` ("calochallenge", "calogan" or "root"), ``geometry`` (a
known geometry's name, or None), ``particle``, ``sampling_fraction``; ``binning_xml`` (the binning as
XML text) when the geometry is not a known one; for ROOT files ``tree``, ``energy_branch`` and
``showers_branch``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from surrogate.calorimeter.formats.binning import binning_particle, binning_to_xml, read_binning
from surrogate.calorimeter.formats.known_geometries import (
    DEFAULT_PARTICLE, geometry_named, geometry_with_values, known_geometries, known_name_of,
)
from surrogate.calorimeter.formats.options import ReaderOptions
from surrogate.calorimeter.geometry import Geometry
from surrogate.errors import SurrogateError

FORMATS = ("calochallenge", "calogan", "root")

#: Names used when writing ROOT files whose layout does not name its tree or branches.
DEFAULT_ROOT_NAMES = {"tree": "showers", "energy_branch": "incident_energy", "showers_branch": "showers"}


def make_layout(file_format: str, geometry: Geometry, *, particle: str | None = None,
                sampling_fraction: float | None = None, **extra: Any) -> dict[str, Any]:
    """The layout dict for showers of ``geometry`` stored in ``file_format``."""
    if file_format not in FORMATS:
        raise SurrogateError(f"unknown shower format {file_format!r}; known: {', '.join(FORMATS)}")
    name = known_name_of(geometry)
    layout: dict[str, Any] = {
        "domain": "calorimeter", "format": file_format, "geometry": name,
        "particle": particle, "sampling_fraction": sampling_fraction,
    }
    if name is None:
        layout["binning_xml"] = binning_to_xml(geometry, particle)
    layout.update(extra)
    return layout


def geometry_of(layout: dict[str, Any]) -> Geometry:
    """The :class:`Geometry` (cell positions, layer structure) of an EventSet's layout."""
    name = layout.get("geometry")
    if name:
        return geometry_named(name)
    if layout.get("binning_xml"):
        return _geometry_from_xml(layout["binning_xml"], layout.get("particle"))
    raise SurrogateError("the shower layout names no geometry and carries no binning")


def resolve_geometry(path: str | os.PathLike, n_values: int | None, file_layout: str, options: ReaderOptions,
                     recorded_name: str | None = None, recorded_xml: str | None = None) -> Geometry:
    """The geometry of a file with ``n_values`` values per event (None: not known from the file).

    In order of preference: ``--binning``, ``--geometry``, the binning or geometry name the file
    records, then the one known geometry of that size.
    """
    if options.binning is not None:
        geometry = read_binning(options.binning, particle=options.particle)
        source = f"binning {options.binning}"
    elif options.geometry is not None:
        geometry, source = geometry_named(options.geometry), f"geometry {options.geometry!r}"
    elif recorded_xml:
        geometry, source = read_binning(recorded_xml, is_text=True, name="recorded"), "the recorded binning"
    elif recorded_name in known_geometries():
        geometry, source = geometry_named(recorded_name), f"geometry {recorded_name!r}"
    elif n_values is not None and (found := geometry_with_values(
            n_values, None if file_layout == "root" else file_layout)) is not None:
        return found
    else:
        sizes = ", ".join(f"{g.name} {g.n_values}" for g in known_geometries().values()
                          if g.file_layout == file_layout or file_layout == "root")
        what = "an unknown number of" if n_values is None else str(n_values)
        raise SurrogateError(
            f"{what} values per event match no known geometry ({sizes}); "
            "give --binning FILE.xml, --geometry NAME or a dataset card", path)
    if n_values is not None and geometry.n_values != n_values:
        raise SurrogateError(
            f"{n_values} values per event, but {source} has {geometry.n_values}", path)
    known = known_name_of(geometry)
    return geometry if known is None else geometry_named(known)


def resolve_particle(geometry: Geometry, options: ReaderOptions, recorded: str | None) -> str | None:
    """The particle: given as an option, recorded in the file, in the binning's pid, or the dataset's."""
    if options.particle or recorded:
        return options.particle or recorded
    if options.binning is not None:
        return binning_particle(options.binning)
    return DEFAULT_PARTICLE.get(geometry.name)


@lru_cache(maxsize=8)
def _geometry_from_xml(text: str, particle: str | None) -> Geometry:
    return read_binning(text, particle=particle, is_text=True)
