"""A structure of arrays for a population of particles from many showers at once."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class Particles:
    """Positions (mm), unit directions, energy (MeV: total for photons, kinetic for e+-), owning shower.

    positron: True for e+, False for e- and photons.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    energy: np.ndarray
    shower: np.ndarray
    positron: np.ndarray

    @property
    def size(self) -> int:
        return self.energy.size

    def take(self, selection: np.ndarray) -> Particles:
        """The particles picked by a boolean mask or an index array."""
        return Particles(*(getattr(self, f.name)[selection] for f in fields(self)))

    @classmethod
    def empty(cls) -> Particles:
        f, i = np.empty(0), np.empty(0, dtype=np.intp)
        return cls(f, f, f, f, f, f, f, i, np.empty(0, dtype=bool))

    @classmethod
    def concatenate(cls, parts: list[Particles]) -> Particles:
        parts = [p for p in parts if p.size]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    @classmethod
    def at(cls, x: np.ndarray, y: np.ndarray, z: np.ndarray, u: np.ndarray, v: np.ndarray, w: np.ndarray,
           energy: np.ndarray, shower: np.ndarray, positron: bool | np.ndarray = False) -> Particles:
        """New particles (arrays are copied); scalars broadcast to the length of ``energy``."""
        n = np.asarray(energy).size

        def full(value, dtype=float):
            return np.full(n, value, dtype=dtype) if np.ndim(value) == 0 else np.array(value, dtype=dtype)

        return cls(full(x), full(y), full(z), full(u), full(v), full(w), full(energy),
                   full(shower, np.intp), full(positron, bool))
