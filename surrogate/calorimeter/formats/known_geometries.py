"""Geometries a shower file can be matched to by its number of values per event.

The simulator's geometries (``ds2``, ``calogan``) plus the readout binnings of the real CaloChallenge
datasets 1 (photons, pions) and 3, so their files load without a binning XML. The CaloChallenge-only
binnings carry no depths or materials: they can be read and written, not simulated.
"""
from __future__ import annotations

from functools import lru_cache

from surrogate.calorimeter.formats.binning import same_cells
from surrogate.calorimeter.geometry import GEOMETRIES, Geometry, PolarLayer
from surrogate.errors import SurrogateError

# CaloChallenge dataset 1 (ATLAS): radial edges in mm and angular bins per layer; layers not listed are
# present in the binning but hold no voxels.
_DS1_PHOTON_LAYERS = {
    0: ((0, 5, 10, 30, 50, 100, 200, 400, 600), 1),
    1: ((0, 2, 4, 6, 8, 10, 12, 15, 20, 30, 40, 50, 70, 90, 120, 150, 200), 10),
    2: ((0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400), 10),
    3: ((0, 50, 100, 200, 400, 600), 1),
    12: ((0, 100, 200, 400, 1000, 2000), 1),
}
_DS1_PION_LAYERS = {
    0: ((0, 5, 10, 30, 50, 100, 200, 400, 600), 1),
    1: ((0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200), 10),
    2: ((0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400), 10),
    3: ((0, 50, 100, 200, 400, 600), 1),
    12: ((0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000), 10),
    13: ((0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 600, 1000, 2000), 10),
    14: ((0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000), 1),
}
_DS1_LAYER_COUNT = 24

#: The particle each known binning was made for (used when a file does not say).
DEFAULT_PARTICLE = {"ds1-photons": "gamma", "ds1-pions": "pi+", "ds2": "e-", "ds3": "e-"}


def _ds1(name: str, layers: dict[int, tuple[tuple[float, ...], int]]) -> Geometry:
    readout = tuple(
        PolarLayer(tuple(float(r) for r in layers[i][0]), layers[i][1]) if i in layers else PolarLayer((0.0,), 1)
        for i in range(_DS1_LAYER_COUNT)
    )
    return Geometry(name, "calochallenge", readout)


def _ds3() -> Geometry:
    r_edges = tuple(round(2.325 * i, 4) for i in range(19))
    return Geometry("ds3", "calochallenge", tuple(PolarLayer(r_edges, 50) for _ in range(45)),
                    sampling_fraction=0.033, voxel_threshold_mev=0.01515)


@lru_cache(maxsize=None)
def known_geometries() -> dict[str, Geometry]:
    """Every geometry known by name: the simulator's and the CaloChallenge binnings."""
    extra = [_ds1("ds1-photons", _DS1_PHOTON_LAYERS), _ds1("ds1-pions", _DS1_PION_LAYERS), _ds3()]
    return {**GEOMETRIES, **{geometry.name: geometry for geometry in extra}}


def geometry_named(name: str) -> Geometry:
    """A known geometry by name; a one-line error listing the names otherwise."""
    geometries = known_geometries()
    if name not in geometries:
        raise SurrogateError(f"unknown geometry {name!r}; known: {', '.join(geometries)}")
    return geometries[name]


def geometry_with_values(n_values: int, file_layout: str | None = None) -> Geometry | None:
    """The known geometry (of ``file_layout``, if given) with ``n_values`` values per event, if exactly one."""
    found = [g for g in known_geometries().values()
             if g.n_values == n_values and file_layout in (None, g.file_layout)]
    return found[0] if len(found) == 1 else None


def known_name_of(geometry: Geometry) -> str | None:
    """The name of the known geometry with the same cells as ``geometry``, if any."""
    for name, known in known_geometries().items():
        if known.n_values == geometry.n_values and same_cells(known, geometry):
            return name
    return None
